"""The dashboard's case list (django-tables2): sortable columns over collection.selectors.worklist,
50 rows a page. Every sort ends on the case id, so a page never repeats or skips a row."""

import django_tables2 as tables
from django.db.models import F
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.templatetags.huishou import yuan

from .models import CollectionCase
from .templatetags.dashboard_nav import person

PER_PAGE = 50
SELECT_ALL = "document.querySelectorAll('input[name=case_ids]').forEach(box => box.checked = this.checked)"


def cells(*classes):
    """The same classes on a column's header and cells (the stylesheet aligns numbers right by `num`)."""
    names = " ".join(classes)
    return {"th": {"class": names}, "td": {"class": names}}


class CaseTable(tables.Table):
    """One row per case. Managers get the tick box for bulk reassignment and the officer column
    (`CaseTable(..., manager=True)`); officers see neither."""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            # With htmx loaded, the header box ticks or clears every row on the page.
            "th__input": {
                "aria-label": _("Select all on this page"),
                "hx-on:change": SELECT_ALL,
            },
            "td__input": {"name": "case_ids", "form": "reassign-form", "aria-label": _("Select case")},
        },
        orderable=False,
    )
    id = tables.Column(verbose_name="#", linkify=("dashboard:case", {"pk": tables.A("pk")}), attrs=cells("num", "id"))
    state = tables.TemplateColumn(
        verbose_name=_("State"), template_name="collection/_state_badge.html", order_by=("state", "id")
    )
    severity = tables.TemplateColumn(
        verbose_name=_("Severity"), template_name="collection/_severity_badge.html", order_by=("severity", "id")
    )
    days_past_due = tables.Column(
        verbose_name=_("DPD"),
        accessor="loan__days_past_due",
        order_by=("loan__days_past_due", "id"),
        attrs=cells("num"),
    )
    aging_bucket = tables.Column(
        verbose_name=_("Bucket"), accessor="loan__aging_bucket", order_by=("loan__aging_bucket", "id")
    )
    overdue_amount = tables.Column(
        verbose_name=_("Overdue"),
        accessor="loan__overdue_amount",
        order_by=("loan__overdue_amount", "id"),
        attrs=cells("num"),
    )
    last_contact_at = tables.DateTimeColumn(
        verbose_name=_("Last contact"), format="m-d H:i", order_by=("last_contact_at", "id")
    )
    next_promise_due = tables.DateColumn(verbose_name=_("Promise due"), format="Y-m-d")
    borrower = tables.Column(
        verbose_name=_("Borrower"),
        accessor="loan__borrower__name",
        linkify=("dashboard:case", {"pk": tables.A("pk")}),
        order_by=("loan__borrower__name", "id"),
        attrs=cells("borrower"),
    )
    loan = tables.Column(verbose_name=_("Loan"), accessor="loan__external_id", order_by=("loan__external_id", "id"))
    product = tables.Column(
        verbose_name=_("Product"), accessor="loan__product__name", order_by=("loan__product__name", "id")
    )
    officer = tables.Column(
        verbose_name=_("Officer"), accessor="officer__username", order_by=("officer__username", "id")
    )
    priority_score = tables.Column(verbose_name=_("Priority"), order_by=("priority_score", "id"), attrs=cells("num"))

    class Meta:
        model = CollectionCase
        fields = ()
        sequence = (
            "select",
            "id",
            "state",
            "severity",
            "days_past_due",
            "aging_bucket",
            "overdue_amount",
            "last_contact_at",
            "next_promise_due",
            "borrower",
            "loan",
            "product",
            "officer",
            "priority_score",
        )
        attrs = {"class": "data", "id": "case-table"}
        template_name = "collection/_table.html"
        empty_text = _("No case matches.")
        per_page = PER_PAGE

    def __init__(self, *args, manager=False, **kwargs):
        if not manager:
            kwargs["exclude"] = ("select", "officer")
        super().__init__(*args, **kwargs)

    def render_officer(self, record):
        return person(record.officer)

    def render_overdue_amount(self, value):
        return yuan(value)

    def render_aging_bucket(self, value, record):
        # The code (M2) in the cell, its meaning (31-60 days) on hover: the column stays narrow.
        return format_html(
            '<span title="{}">{}</span>', record.loan.get_aging_bucket_display(), record.loan.aging_bucket
        )

    def order_next_promise_due(self, queryset, is_descending):
        # Cases without a pending promise sort last whichever way the column is sorted.
        key = F("next_promise_due")
        key = key.desc(nulls_last=True) if is_descending else key.asc(nulls_last=True)
        return queryset.order_by(key, "-id" if is_descending else "id"), True
