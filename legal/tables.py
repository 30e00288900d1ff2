"""The legal worklist's table (django-tables2) over legal.selectors.worklist: one row per action with
its case, loan and borrower, where it stands in court, the claim and the next deadline. 50 rows a
page; every sort ends on the id, so a page never repeats or skips a row."""

import django_tables2 as tables
from django.db.models import F
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from collection.tables import cells
from collection.templatetags.dashboard_nav import person
from core.templatetags.huishou import yuan

from .choices import TaskKind
from .models import LegalAction

PER_PAGE = 50


class LegalActionTable(tables.Table):
    id = tables.Column(verbose_name="#", linkify=("legal:action", {"pk": tables.A("pk")}), attrs=cells("num", "id"))
    case = tables.Column(
        verbose_name=_("Case"),
        accessor="case_id",
        linkify=("dashboard:case", {"pk": tables.A("case_id")}),
        order_by=("case_id", "id"),
        attrs=cells("num"),
    )
    borrower = tables.Column(
        verbose_name=_("Borrower"),
        accessor="case__loan__borrower__name",
        linkify=("legal:action", {"pk": tables.A("pk")}),
        order_by=("case__loan__borrower__name", "id"),
        attrs=cells("borrower"),
    )
    loan = tables.Column(
        verbose_name=_("Loan"), accessor="case__loan__external_id", order_by=("case__loan__external_id", "id")
    )
    kind = tables.Column(verbose_name=_("Kind"), order_by=("kind", "id"))
    state = tables.TemplateColumn(
        verbose_name=_("State"), template_name="legal/_state_badge.html", order_by=("state", "id")
    )
    court_case_number = tables.Column(verbose_name=_("Court case no."), order_by=("court_case_number", "id"))
    claim = tables.Column(verbose_name=_("Claim"), empty_values=(), orderable=False, attrs=cells("num"))
    next_due_on = tables.Column(verbose_name=_("Next deadline"), empty_values=(None,))
    open_tasks = tables.Column(verbose_name=_("Open tasks"), attrs=cells("num"), order_by=("open_tasks", "id"))
    handled_by = tables.Column(
        verbose_name=_("Legal officer"), accessor="handled_by__username", order_by=("handled_by__username", "id")
    )

    class Meta:
        model = LegalAction
        fields = ()
        sequence = (
            "id",
            "case",
            "borrower",
            "loan",
            "kind",
            "state",
            "court_case_number",
            "claim",
            "next_due_on",
            "open_tasks",
            "handled_by",
        )
        attrs = {"class": "data", "id": "legal-table"}
        template_name = "collection/_table.html"
        empty_text = _("No legal action matches.")
        per_page = PER_PAGE

    def __init__(self, *args, today, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def render_kind(self, record):
        return record.get_kind_display()

    def render_claim(self, record):
        return yuan(record.claim)

    def render_handled_by(self, record):
        return person(record.handled_by)

    def render_next_due_on(self, value, record):
        label = TaskKind(record.next_task_kind).label if record.next_task_kind in TaskKind.values else ""
        overdue = value < self.today
        return format_html(
            '<span class="{}">{}</span> <span class="muted small">{}</span>',
            "deadline-overdue" if overdue else "deadline",
            value.strftime("%Y-%m-%d"),
            label,
        )

    def order_next_due_on(self, queryset, is_descending):
        # Actions without an open task sort last whichever way the column is sorted.
        key = F("next_due_on")
        key = key.desc(nulls_last=True) if is_descending else key.asc(nulls_last=True)
        return queryset.order_by(key, "-id" if is_descending else "id"), True
