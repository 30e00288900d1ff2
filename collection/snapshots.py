"""Portfolio snapshots: the book on a business date, grouped, written once after the daily run, so the
KPI page reads a few hundred rows instead of the ledger (DESIGN section 8).

A snapshot holds three things, all set-based:

- **rows**: loans on the book grouped by product, aging bucket, bucket at the previous month end, class,
  stage, team and case state, with their count, principal outstanding, overdue amount and exposure;
- **flows**: for each of the last months, cases opened and since cured, promises falling due by
  outcome, and money recovered on loans with a case open, by product and team, as known that day;
- **cases by state**: every case ever opened, by its state that day.

On a month end the snapshot also records each loan in arrears with its bucket (`MonthEndBucket`), which
the next month's snapshots read for roll rates. Writing a date again replaces its snapshot, so a re-run
of a past date corrects it. Month ends from before the first run are rebuilt from the ledger
(`snapshots_rebuild`): their rows carry bucket, previous bucket and amounts as the ledger has them,
and no class, stage, team or case state, which the ledger does not keep per day."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncMonth

from core import sql
from core.dates import business_today
from core.money import ZERO
from loans.choices import AgingBucket
from loans.models import Payment

from . import kpis, ledger_history, selectors
from .book_figures import book_figures_changed
from .choices import CaseState, PromiseStatus
from .models import CollectionCase, MonthEndBucket, PortfolioFlow, PortfolioSnapshot, PromiseToPay, SnapshotSource


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def previous_month_end(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class Written:
    as_of: date
    rows: int
    flows: int
    month_end_loans: int  # loans in arrears recorded for the next month's roll rates (0 unless a month end)


def snapshot_write(as_of: date) -> Written:
    """The snapshot of `as_of` from the loans and cases as the daily run left them, replacing any
    earlier one of that date. One transaction; a few statements whatever the size of the book."""
    with transaction.atomic():
        sql.tune_for_batch()
        _delete(as_of)
        month_end_loans = _record_month_end(as_of) if is_month_end(as_of) else 0
        snapshot = PortfolioSnapshot.objects.create(as_of=as_of, cases_by_state=_cases_by_state())
        rows = _write_rows(snapshot)
        flows = _write_flows(snapshot)
        book_figures_changed()  # the night moved the book: live figures again, now and once committed
        transaction.on_commit(book_figures_changed)
    return Written(as_of=as_of, rows=rows, flows=flows, month_end_loans=month_end_loans)


def warm_book_figures():
    """The whole book's live figures computed again now: right after the night moved the book (the
    daily run's last step, once its snapshot is committed), so that the first manager of the morning
    does not wait for them, and every minute by beat, so that no request pays for them."""
    if settings.BOOK_FIGURES_CACHE_SECONDS:
        kpis.queue_overview(refresh=True)
        selectors.book_counts(today=business_today(), refresh=True)


def _delete(as_of):
    """The date's snapshot, rows and flows: three statements, found or not (no per-row cascade)."""
    with connection.cursor() as cursor:
        for table in ("collection_portfoliosnapshotrow", "collection_portfolioflow"):
            cursor.execute(
                f"DELETE FROM {table} WHERE snapshot_id IN "
                "(SELECT id FROM collection_portfoliosnapshot WHERE as_of = %s)",
                [as_of],
            )
        cursor.execute("DELETE FROM collection_portfoliosnapshot WHERE as_of = %s", [as_of])


def _record_month_end(as_of):
    MonthEndBucket.objects.filter(as_of=as_of).delete()
    p = sql.Params(as_of=as_of, current=AgingBucket.M0.value, book=[status.value for status in kpis.BOOK_STATUSES])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO collection_monthendbucket (as_of, loan_id, bucket)
            SELECT %(as_of)s, id, aging_bucket FROM loans_loan
            WHERE status = ANY(%(book)s) AND aging_bucket <> %(current)s""",
            p,
        )
        return cursor.rowcount


def _write_rows(snapshot):
    """One INSERT … SELECT … GROUP BY over the book. A loan on the book at the previous month end and
    not recorded in arrears then was current (M0); without a snapshot of that month end, blank."""
    previous_end = previous_month_end(snapshot.as_of)
    known = PortfolioSnapshot.objects.filter(as_of=previous_end).exists()
    p = sql.Params(
        snapshot=snapshot.pk,
        previous_end=previous_end,
        known=known,
        current=AgingBucket.M0.value,
        book=[status.value for status in kpis.BOOK_STATUSES],
        open=[state.value for state in CaseState.open_states()],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO collection_portfoliosnapshotrow (
                snapshot_id, product_id, aging_bucket, previous_bucket, regulatory_class, ifrs9_stage,
                team_id, case_state, loans, principal_outstanding, overdue_amount, exposure)
            SELECT %(snapshot)s, l.product_id, l.aging_bucket,
                   CASE WHEN %(known)s AND l.disbursed_on <= %(previous_end)s
                        THEN COALESCE(m.bucket, %(current)s) ELSE '' END,
                   l.regulatory_class, l.ifrs9_stage, c.team_id, COALESCE(c.state, ''),
                   COUNT(*), SUM(l.principal_outstanding), SUM(l.overdue_amount),
                   SUM(l.principal_outstanding + l.interest_outstanding + l.penalty_outstanding
                       + l.fees_outstanding + l.costs_outstanding)
            FROM loans_loan l
            LEFT JOIN collection_monthendbucket m ON m.as_of = %(previous_end)s AND m.loan_id = l.id
            LEFT JOIN collection_collectioncase c ON c.loan_id = l.id AND c.state = ANY(%(open)s)
            WHERE l.status = ANY(%(book)s)
            GROUP BY 2, 3, 4, 5, 6, 7, 8""",
            p,
        )
        return cursor.rowcount


def _cases_by_state():
    return dict(CollectionCase.objects.values_list("state").annotate(n=Count("id")).order_by())


def _write_flows(snapshot):
    """The flows of the months the KPI page shows, as known on the snapshot's date: three grouped
    queries (cases, promises, payments) merged by (month, product, team)."""
    as_of = snapshot.as_of
    first = kpis.month_starts(as_of)[0]
    flows = {}

    def flow(month, product, team):
        key = (month, product, team)
        if key not in flows:
            flows[key] = PortfolioFlow(snapshot=snapshot, month=month, product_id=product, team_id=team)
        return flows[key]

    cases = (
        CollectionCase.objects.filter(opened_on__gte=first, opened_on__lte=as_of)
        .annotate(month=TruncMonth("opened_on"))
        .values("month", "loan__product_id", "team_id")
        .annotate(
            opened=Count("id"),
            cured=Count(
                "id", filter=Q(state=CaseState.RESOLVED, resolution_reason__in=kpis.CURED_REASONS, closed_on__lte=as_of)
            ),
        )
        .order_by()
    )
    for row in cases:
        item = flow(row["month"], row["loan__product_id"], row["team_id"])
        item.cases_opened, item.cases_cured = row["opened"], row["cured"]

    outcomes = {
        PromiseStatus.KEPT: "promises_kept",
        PromiseStatus.PARTIALLY_KEPT: "promises_partially_kept",
        PromiseStatus.BROKEN: "promises_broken",
    }
    promises = (
        PromiseToPay.objects.filter(promised_for__gte=first, promised_for__lte=as_of, status__in=list(outcomes))
        .annotate(month=TruncMonth("promised_for"))
        .values("month", "case__loan__product_id", "case__team_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in promises:
        item = flow(row["month"], row["case__loan__product_id"], row["case__team_id"])
        setattr(item, outcomes[row["status"]], row["n"])

    case_open_then = CollectionCase.objects.filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=OuterRef("value_date")),
        loan_id=OuterRef("loan_id"),
        opened_on__lte=OuterRef("value_date"),
    )
    recovered = (
        Payment.objects.filter(Exists(case_open_then), value_date__gte=first, value_date__lte=as_of)
        .annotate(month=TruncMonth("value_date"), case_team=Subquery(case_open_then.values("team_id")[:1]))
        .values("month", "loan__product_id", "case_team")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for row in recovered:
        flow(row["month"], row["loan__product_id"], row["case_team"]).recovered = row["amount"] or ZERO

    PortfolioFlow.objects.bulk_create(flows.values())
    return len(flows)


# --- Month ends from before the first run ----------------------------------------------------------


def month_ends_before(day: date, months: int = kpis.MONTHS + 1) -> list[date]:
    """The last `months` month ends before `day`, oldest first."""
    return [end for end in kpis.month_ends(day - timedelta(days=1), months + 1) if is_month_end(end)][-months:]


def snapshots_rebuild(ends: list[date]) -> list[date]:
    """Snapshots for the month ends in `ends` (oldest first) that have none, rebuilt from the schedule
    and the dated allocation lines; returns the dates written. Month ends that already have a
    snapshot are kept, and each rebuilt month end reads the one before it for roll rates."""
    missing = set(ends) - set(PortfolioSnapshot.objects.filter(as_of__in=ends).values_list("as_of", flat=True))
    if not missing:
        return []
    written = []
    with transaction.atomic():
        sql.tune_for_batch()
        per_loan = ledger_history.loans_at_month_ends(ends)
        for index, as_of in enumerate(ends):
            if as_of not in missing:
                continue
            snapshot = PortfolioSnapshot.objects.create(as_of=as_of, source=SnapshotSource.LEDGER)
            ledger_history.write_rebuilt(per_loan, index=index, snapshot=snapshot, first=index == 0)
            written.append(as_of)
    return written
