"""The portfolio snapshot of one business date as CSV files a manager takes into a spreadsheet: the
book (one line per product, aging bucket, bucket at the previous month end, class, stage, team and
case state, with counts and amounts) and the monthly flows (cases opened and cured, promises by
outcome, money recovered, by month, product and team). Both read only the snapshot tables, so an
export costs what the KPI page costs, whatever the size of the book."""

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from django.utils.translation import gettext as _

from loans.choices import RegulatoryClass

from .choices import CaseState
from .kpis import latest_snapshot
from .models import PortfolioFlow, PortfolioSnapshot, PortfolioSnapshotRow

BOOK, FLOWS = "book", "flows"


def snapshot_on(day: date | None, today: date) -> PortfolioSnapshot | None:
    """The snapshot of `day`; without one, the latest on or before today (what the KPI page shows)."""
    if day:
        return PortfolioSnapshot.objects.filter(as_of=day).first()
    return latest_snapshot(today)


def filename(kind: str, snapshot: PortfolioSnapshot) -> str:
    return f"huishou-{kind}-{snapshot.as_of:%Y-%m-%d}.csv"


def _class_label(value) -> str:
    return str(RegulatoryClass(value).label) if value is not None else ""


def _state_label(value) -> str:
    return str(CaseState(value).label) if value else _("No open case")


def book_lines(snapshot: PortfolioSnapshot) -> Iterator[list]:
    """Header, then one line per snapshot row (products, teams and states named, amounts in yuan)."""
    yield [
        _("Business date"),
        _("Product"),
        _("Aging bucket"),
        _("Bucket at the previous month end"),
        _("Regulatory class"),
        _("IFRS 9 stage"),
        _("Team"),
        _("Case state"),
        _("Loans"),
        _("Principal outstanding"),
        _("Overdue amount"),
        _("Exposure"),
    ]
    rows = (
        PortfolioSnapshotRow.objects.filter(snapshot=snapshot)
        .select_related("product", "team")
        .order_by("product__name", "aging_bucket", "previous_bucket", "regulatory_class", "team__name", "case_state")
    )
    for row in rows:
        yield [
            snapshot.as_of.isoformat(),
            row.product.name,
            row.aging_bucket,
            row.previous_bucket,
            _class_label(row.regulatory_class),
            row.ifrs9_stage or "",
            row.team.name if row.team else "",
            _state_label(row.case_state),
            row.loans,
            row.principal_outstanding,
            row.overdue_amount,
            row.exposure,
        ]


def flow_lines(snapshot: PortfolioSnapshot) -> Iterator[list]:
    """Header, then one line per month, product and team of the snapshot's flows, oldest month first."""
    yield [
        _("Business date"),
        _("Month"),
        _("Product"),
        _("Team"),
        _("Cases opened"),
        _("Cases cured"),
        _("Promises kept"),
        _("Promises partially kept"),
        _("Promises broken"),
        _("Recovered amount"),
    ]
    flows = (
        PortfolioFlow.objects.filter(snapshot=snapshot)
        .select_related("product", "team")
        .order_by("month", "product__name", "team__name")
    )
    for flow in flows:
        yield [
            snapshot.as_of.isoformat(),
            f"{flow.month:%Y-%m}",
            flow.product.name,
            flow.team.name if flow.team else "",
            flow.cases_opened,
            flow.cases_cured,
            flow.promises_kept,
            flow.promises_partially_kept,
            flow.promises_broken,
            flow.recovered,
        ]


def lines(kind: str, snapshot: PortfolioSnapshot) -> Iterator[list]:
    return book_lines(snapshot) if kind == BOOK else flow_lines(snapshot)


def write_csv(out, rows: Iterable[list]):
    """UTF-8 with a byte-order mark: spreadsheet programs set to a Chinese locale otherwise read the
    file as GBK and garble every name."""
    out.write("\ufeff")
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(row)
