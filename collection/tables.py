"""The dashboard's case list (django-tables2): sortable columns over collection.selectors.worklist,
50 rows a page. Every sort ends on the case id, so a page never repeats or skips a row.

django-tables2 draws the header, the sorting and the pages. The rows are drawn here (`html_rows`),
one small function per column: its own per-cell machinery (a signature inspected for every cell, a
template compiled for every date) took most of the worklist's server time."""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.templatetags.huishou import yuan

from .models import CollectionCase
from .templatetags.dashboard_nav import person

PER_PAGE = 50
EMPTY = "—"  # an empty cell, as django-tables2 draws one
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
    state = tables.Column(verbose_name=_("State"), order_by=("state", "id"))
    severity = tables.Column(verbose_name=_("Severity"), order_by=("severity", "id"))
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
    last_contact_at = tables.Column(verbose_name=_("Last contact"), order_by=("last_contact_at", "id"))
    next_promise_due = tables.Column(verbose_name=_("Promise due"))
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

    draws_rows = True  # collection/_table.html draws html_rows instead of django-tables2's cells

    def html_rows(self) -> list[list[tuple[str, str]]]:
        """The page's rows, each a list of (the cell's classes, its HTML) in the columns' order."""
        columns = [(column.name, column.column.attrs.get("td", {}).get("class", "")) for column in self.columns]
        draw = {name: getattr(self, f"cell_{name}") for name, _classes in columns}
        return [[(classes, draw[name](row.record)) for name, classes in columns] for row in self.paginated_rows]

    @staticmethod
    def cell_select(case):
        return format_html(
            '<input type="checkbox" name="case_ids" value="{}" form="reassign-form" aria-label="{}">',
            case.pk,
            _("Select case"),
        )

    @staticmethod
    def cell_id(case):
        return format_html('<a href="{}">{}</a>', reverse("dashboard:case", args=[case.pk]), case.pk)

    @staticmethod
    def cell_state(case):
        return format_html('<span class="badge badge-{}">{}</span>', case.state, case.get_state_display())

    @staticmethod
    def cell_severity(case):
        if not case.severity:
            return format_html('<span class="muted">{}</span>', EMPTY)
        return format_html('<span class="badge badge-{}">{}</span>', case.severity, case.get_severity_display())

    @staticmethod
    def cell_days_past_due(case):
        return case.loan.days_past_due

    @staticmethod
    def cell_aging_bucket(case):
        # The code (M2) in the cell, its meaning (31-60 days) on hover: the column stays narrow.
        return format_html('<span title="{}">{}</span>', case.loan.get_aging_bucket_display(), case.loan.aging_bucket)

    @staticmethod
    def cell_overdue_amount(case):
        return yuan(case.loan.overdue_amount)

    @staticmethod
    def cell_last_contact_at(case):
        moment = case.last_contact_at
        return format_date(timezone.localtime(moment), "m-d H:i") if moment else EMPTY

    @staticmethod
    def cell_next_promise_due(case):
        return format_date(case.next_promise_due, "Y-m-d") if case.next_promise_due else EMPTY

    @staticmethod
    def cell_borrower(case):
        return format_html('<a href="{}">{}</a>', reverse("dashboard:case", args=[case.pk]), case.loan.borrower.name)

    @staticmethod
    def cell_loan(case):
        return case.loan.external_id

    @staticmethod
    def cell_product(case):
        return case.loan.product.name

    @staticmethod
    def cell_officer(case):
        return person(case.officer) or EMPTY

    @staticmethod
    def cell_priority_score(case):
        return case.priority_score

    def order_next_promise_due(self, queryset, is_descending):
        # Cases without a pending promise sort last whichever way the column is sorted.
        key = F("next_promise_due")
        key = key.desc(nulls_last=True) if is_descending else key.asc(nulls_last=True)
        return queryset.order_by(key, "-id" if is_descending else "id"), True
