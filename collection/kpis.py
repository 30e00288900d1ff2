"""The numbers managers steer by: the queue overview and the KPI page. Every function here is one
aggregate query (GROUP BY in the database), so a page runs the same few queries whatever the size of
the book; Python only reshapes the grouped rows (a few hundred at most, never one per loan or case).

The definitions, which the KPI page repeats to its readers:

- **Aging distribution**: loans on the book (active, overdue, restructured) by their aging bucket as the
  daily run last set it (M0 current ... M7+ over 180 days past due), with their number, overdue amount
  (arrears including penalty) and principal outstanding.
- **Overdue rate** at a month end: principal outstanding of the loans with an instalment overdue that day
  ÷ principal outstanding of every loan on the book that day, for "1+ days" and "over 90 days". Rebuilt
  from the schedule and the dated allocation lines (see `book_history`), so it shows what the daily run
  would have seen then; penalty is left out (it is not kept per day).
- **Roll rate** from bucket k into the month: of the loans in bucket k at one month end, the share in a
  worse bucket at the next one (normally k+1; a loan can skip one when a 31-day month meets a 30-day
  bucket). Loans paid off or closed in between count as not rolled.
- **Cure rate** of a month: of the cases opened in the month, the share since resolved because the
  borrower paid (resolution "cured" or "paid in full"). The latest months are still maturing.
- **Promise-kept rate** of a month: of the promises falling due in the month that the daily run has
  judged, the share kept in full (partially kept counts as not kept; cancelled ones are left out).
- **Recovered amount** of a month: payments received (net of reversals, by value date) on loans that had
  a collection case open on the day the money arrived.
- **Cases by state**: every case ever opened, by its current state.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise, product

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth

from core import sql
from core.money import ZERO, to_fen
from loans import rules as loan_rules
from loans.choices import AgingBucket, Component, InstallmentStatus, LoanStatus, RegulatoryClass
from loans.models import Loan, Payment

from .choices import CaseState, PromiseStatus, ResolutionReason
from .models import CollectionCase, PromiseToPay

BUCKETS = list(AgingBucket)
OPEN_STATES = CaseState.open_states()
# Loans still owed money under their contract; paid-off, written-off and transferred loans are off the book.
BOOK_STATUSES = [LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.RESTRUCTURED]
CURED_REASONS = [ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL]
JUDGED_PROMISES = [PromiseStatus.KEPT, PromiseStatus.PARTIALLY_KEPT, PromiseStatus.BROKEN]
MONTHS = 12


def ratio(part, whole) -> Decimal | None:
    """part ÷ whole as a Decimal, or None when there is nothing to divide by (shown as "–", not 0%)."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def as_percent(rate) -> Decimal | None:
    """A ratio as a percentage with one decimal (12.3), None staying None."""
    return None if rate is None else (rate * 100).quantize(Decimal("0.1"))


def _money(value) -> Decimal:
    """A sum read back from the database (a Decimal, or None over no rows) in yuan to the fen."""
    return to_fen(value) if value is not None else ZERO


# --- Months -----------------------------------------------------------------------------------------


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last `months` months, oldest first, the current month last."""
    current = today.replace(day=1)
    return [current - relativedelta(months=back) for back in range(months - 1, -1, -1)]


def month_ends(today: date, months: int = MONTHS) -> list[date]:
    """The last days of the last `months` months, oldest first; the current month's is today."""
    ends = [start + relativedelta(months=1) - timedelta(days=1) for start in month_starts(today, months)]
    ends[-1] = today
    return ends


# --- Aging distribution (the book as the daily run left it) -----------------------------------------


@dataclass(frozen=True)
class BucketRow:
    bucket: str
    label: str
    loans: int
    overdue_amount: Decimal
    principal_outstanding: Decimal


def aging_distribution() -> list[BucketRow]:
    """Loans on the book by aging bucket: count, overdue amount and principal outstanding (one query)."""
    rows = {
        row["aging_bucket"]: row
        for row in Loan.objects.filter(status__in=BOOK_STATUSES)
        .values("aging_bucket")
        .annotate(loans=Count("id"), overdue=Sum("overdue_amount"), principal=Sum("principal_outstanding"))
        .order_by()
    }
    empty = {"loans": 0, "overdue": ZERO, "principal": ZERO}
    return [
        BucketRow(
            bucket=bucket.value,
            label=bucket.label,
            loans=row["loans"],
            overdue_amount=row["overdue"] or ZERO,
            principal_outstanding=row["principal"] or ZERO,
        )
        for bucket, row in ((bucket, rows.get(bucket, empty)) for bucket in BUCKETS)
    ]


# --- Loan-loss provisions (the book by regulatory class) ------------------------------------------------


@dataclass(frozen=True)
class ProvisionRow:
    regulatory_class: int
    label: str
    loans: int
    exposure: Decimal
    rate: Decimal
    specific: Decimal


def provisions() -> list[ProvisionRow]:
    """Loans on the book by regulatory class: count, exposure (everything outstanding) and the specific
    reserve the class calls for (loans.rules.provision; one query)."""
    exposure = Sum("principal_outstanding") + Sum("interest_outstanding") + Sum("penalty_outstanding")
    rows = {
        row["regulatory_class"]: row
        for row in Loan.objects.filter(status__in=BOOK_STATUSES)
        .values("regulatory_class")
        .annotate(loans=Count("id"), exposure=exposure + Sum("fees_outstanding") + Sum("costs_outstanding"))
        .order_by()
    }
    result = []
    for klass in RegulatoryClass:
        row = rows.get(klass, {"loans": 0, "exposure": ZERO})
        amount = _money(row["exposure"])
        result.append(
            ProvisionRow(
                regulatory_class=klass.value,
                label=klass.label,
                loans=row["loans"],
                exposure=amount,
                rate=loan_rules.SPECIFIC_PROVISION_RATES[klass],
                specific=loan_rules.provision(amount, klass).specific,
            )
        )
    return result


# --- The book at past month ends: overdue rates and roll rates ---------------------------------------


@dataclass
class Snapshot:
    """The book at one month end, by aging bucket as of that day."""

    as_of: date
    loans: dict = field(default_factory=lambda: defaultdict(int))  # bucket -> loans
    outstanding: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # bucket -> principal
    arrears: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # bucket -> contractual arrears
    rolled: dict = field(default_factory=lambda: defaultdict(int))  # bucket a month earlier -> loans now worse

    @property
    def total_outstanding(self) -> Decimal:
        return sum(self.outstanding.values(), ZERO)

    def outstanding_beyond(self, bucket: str) -> Decimal:
        """Principal outstanding of the loans in a bucket worse than `bucket`."""
        worse = BUCKETS[BUCKETS.index(bucket) + 1 :]
        return sum((self.outstanding[b] for b in worse), ZERO)


def _bucket_of_days(days_past_due_sql, params):
    return sql.case_by_upper_bound(days_past_due_sql, loan_rules.AGING_BUCKETS, AgingBucket.M7, params)


def _book_history_sql(ends: list[date]) -> tuple[str, sql.Params]:
    """One statement and its parameters: every loan on the book at each month end, its principal
    outstanding, contractual arrears and days past due that day (from the instalments' due dates and
    the allocation lines applied on or before it, as loans/delinquency.py computes them), its bucket
    then and a month earlier; grouped by (month end, bucket, bucket a month earlier). Raw SQL: the
    ORM has no way to write the month ends as a table joined to every loan, nor the window that
    carries the principal repaid forward.

    It is built to cost about one pass over allocations and instalments, with plans that do not hang
    on the planner's row estimates: principal repaid is summed per loan and month once and carried
    forward by a window; only instalments paid late (or not yet) can be overdue at a month end, so
    only they meet the list of month ends (a VALUES list, so the planner knows how many there are);
    and the per-loan figures meet in one GROUP BY rather than in joins."""
    p = sql.Params(
        first=ends[0],
        last=ends[-1],
        superseded=InstallmentStatus.SUPERSEDED,
        principal=Component.PRINCIPAL,
        penalty=Component.PENALTY,
    )
    values = ", ".join(f"({p.add(index)}, {p.add(day)})" for index, day in enumerate(ends))
    # The first month end on or after the day an allocation took effect (later days are filtered out).
    month_of_applied = sql.case_by_upper_bound(
        "a.applied_on", [(day, index) for index, day in enumerate(ends)], len(ends) - 1, p
    )
    bucket = _bucket_of_days("dpd", p)
    text = f"""
        WITH ends(idx, as_of) AS (VALUES {values}),
        book AS (
            SELECT l.id AS loan_id, e.idx, l.principal
            FROM loans_loan l
            JOIN ends e ON l.disbursed_on <= e.as_of AND (l.closed_on IS NULL OR l.closed_on > e.as_of)
        ),
        repaid_in_month AS (
            SELECT i.loan_id, {month_of_applied} AS idx, SUM(a.amount) AS amount
            FROM loans_paymentallocation a
            JOIN loans_installment i ON i.id = a.installment_id
            WHERE a.component = %(principal)s AND a.applied_on <= %(last)s
            GROUP BY i.loan_id, {month_of_applied}
        ),
        late AS (
            SELECT i.id, i.loan_id, i.due_date, i.paid_on,
                   i.principal_due + i.interest_due + i.fee_due + i.cost_due AS due
            FROM loans_installment i
            WHERE i.status <> %(superseded)s AND i.due_date < %(last)s
              AND (i.paid_on IS NULL OR (i.paid_on > i.due_date AND i.paid_on > %(first)s))
        ),
        unpaid AS (
            SELECT i.loan_id, e.idx, e.as_of - i.due_date AS days,
                   i.due - COALESCE(SUM(a.amount), 0) AS amount
            FROM late i
            JOIN ends e ON i.due_date < e.as_of AND (i.paid_on IS NULL OR i.paid_on > e.as_of)
            LEFT JOIN loans_paymentallocation a
                   ON a.installment_id = i.id AND a.applied_on <= e.as_of AND a.component <> %(penalty)s
            GROUP BY i.id, i.loan_id, e.idx, e.as_of, i.due_date, i.due
        ),
        steps AS (
            SELECT loan_id, idx, 1 AS on_book, principal, 0 AS repaid, 0 AS arrears, 0 AS dpd FROM book
            UNION ALL
            SELECT loan_id, idx, 0, 0, amount, 0, 0 FROM repaid_in_month
            UNION ALL
            SELECT loan_id, idx, 0, 0, 0, amount, days FROM unpaid WHERE amount > 0
        ),
        running AS (
            -- Every row of a (loan, month end) sees the principal repaid up to that month end.
            SELECT loan_id, idx, on_book, principal, arrears, dpd,
                   SUM(repaid) OVER (PARTITION BY loan_id ORDER BY idx) AS repaid
            FROM steps
        ),
        loan_days AS (
            SELECT loan_id, idx, MAX(principal) - MAX(repaid) AS outstanding, SUM(arrears) AS arrears,
                   MAX(dpd) AS dpd
            FROM running
            GROUP BY loan_id, idx
            HAVING MAX(on_book) = 1
        ),
        moves AS (
            SELECT idx, outstanding, arrears, {bucket} AS bucket,
                   LAG(idx) OVER by_loan AS previous_idx, LAG({bucket}) OVER by_loan AS previous_bucket
            FROM loan_days
            WINDOW by_loan AS (PARTITION BY loan_id ORDER BY idx)
        )
        SELECT idx, bucket, CASE WHEN previous_idx = idx - 1 THEN previous_bucket END AS previous_bucket,
               COUNT(*), SUM(outstanding), SUM(arrears)
        FROM moves
        GROUP BY idx, bucket, CASE WHEN previous_idx = idx - 1 THEN previous_bucket END"""
    return text, p


def book_history(ends: list[date]) -> list[Snapshot]:
    """The book at each of `ends` (oldest first), with the loans that rolled into a worse bucket since
    the previous end. One query; its cost grows with instalments × month ends, not with page views."""
    snapshots = [Snapshot(as_of=day) for day in ends]
    with connection.cursor() as cursor:
        cursor.execute(*_book_history_sql(ends))
        rows = cursor.fetchall()
    for idx, bucket, previous_bucket, loans, outstanding, arrears in rows:
        snapshot = snapshots[idx]
        snapshot.loans[bucket] += loans
        snapshot.outstanding[bucket] += _money(outstanding)
        snapshot.arrears[bucket] += _money(arrears)
        if previous_bucket is not None and BUCKETS.index(bucket) > BUCKETS.index(previous_bucket):
            snapshot.rolled[previous_bucket] += loans
    return snapshots


@dataclass(frozen=True)
class OverdueRatePoint:
    as_of: date
    outstanding: Decimal
    overdue_outstanding: Decimal  # principal outstanding of loans 1+ days past due
    serious_outstanding: Decimal  # ... over 90 days past due

    @property
    def rate(self):
        return ratio(self.overdue_outstanding, self.outstanding)

    @property
    def serious_rate(self):
        return ratio(self.serious_outstanding, self.outstanding)

    @property
    def percent(self):
        return as_percent(self.rate)

    @property
    def serious_percent(self):
        return as_percent(self.serious_rate)


def overdue_rates(history: list[Snapshot]) -> list[OverdueRatePoint]:
    return [
        OverdueRatePoint(
            as_of=snapshot.as_of,
            outstanding=snapshot.total_outstanding,
            overdue_outstanding=snapshot.outstanding_beyond(AgingBucket.M0),
            serious_outstanding=snapshot.outstanding_beyond(AgingBucket.M3),  # over 90 days: substandard
        )
        for snapshot in history
    ]


@dataclass(frozen=True)
class RollRate:
    bucket: str  # the bucket the loans were in at the previous month end
    as_of: date
    loans: int  # in `bucket` at the previous month end
    rolled: int  # of those, in a worse bucket at `as_of`

    @property
    def rate(self):
        return ratio(self.rolled, self.loans)

    @property
    def percent(self):
        return as_percent(self.rate)


def roll_rates(history: list[Snapshot]) -> dict[str, list[RollRate]]:
    """For each bucket that can get worse (M0..M6), its roll rate into each month after the first."""
    return {
        bucket: [
            RollRate(bucket=bucket, as_of=current.as_of, loans=previous.loans[bucket], rolled=current.rolled[bucket])
            for previous, current in pairwise(history)
        ]
        for bucket in BUCKETS[:-1]
    }


# --- Cases, promises and money by month ---------------------------------------------------------------


@dataclass(frozen=True)
class MonthCount:
    month: date
    total: int
    hits: int  # the numerator: cured cases, kept promises
    partial: int = 0
    misses: int = 0

    @property
    def rate(self):
        return ratio(self.hits, self.total)

    @property
    def percent(self):
        return as_percent(self.rate)


def _by_month(rows, months, make):
    found = {row["month"]: row for row in rows}
    return [make(month, found.get(month)) for month in months]


def cure_rates(months: list[date]) -> list[MonthCount]:
    """Cases opened per month, and how many of them have been resolved because the borrower paid."""
    rows = (
        CollectionCase.objects.filter(opened_on__gte=months[0])
        .annotate(month=TruncMonth("opened_on"))
        .values("month")
        .annotate(
            opened=Count("id"),
            cured=Count("id", filter=Q(state=CaseState.RESOLVED, resolution_reason__in=CURED_REASONS)),
        )
        .order_by()
    )
    return _by_month(
        rows,
        months,
        lambda month, row: MonthCount(month=month, total=row["opened"] if row else 0, hits=row["cured"] if row else 0),
    )


def promise_outcomes(months: list[date]) -> list[MonthCount]:
    """Judged promises per month they fell due: kept, partially kept, broken."""
    by_status = {status: Count("id", filter=Q(status=status)) for status in JUDGED_PROMISES}
    rows = (
        PromiseToPay.objects.filter(promised_for__gte=months[0], status__in=JUDGED_PROMISES)
        .annotate(month=TruncMonth("promised_for"))
        .values("month")
        .annotate(**by_status)
        .order_by()
    )

    def make(month, row):
        row = row or dict.fromkeys(JUDGED_PROMISES, 0)
        kept, partial, broken = (row[s] for s in JUDGED_PROMISES)
        return MonthCount(month=month, total=kept + partial + broken, hits=kept, partial=partial, misses=broken)

    return _by_month(rows, months, make)


@dataclass(frozen=True)
class MonthAmount:
    month: date
    amount: Decimal


def recovered_by_month(months: list[date]) -> list[MonthAmount]:
    """Money received (net of reversals) on loans with a case open on the day it arrived."""
    case_open_then = CollectionCase.objects.filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=OuterRef("value_date")),
        loan_id=OuterRef("loan_id"),
        opened_on__lte=OuterRef("value_date"),
    )
    rows = (
        Payment.objects.filter(Exists(case_open_then), value_date__gte=months[0])
        .annotate(month=TruncMonth("value_date"))
        .values("month")
        .annotate(amount=Coalesce(Sum("amount"), ZERO))
        .order_by()
    )
    return _by_month(rows, months, lambda month, row: MonthAmount(month=month, amount=row["amount"] if row else ZERO))


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    cases: int
    is_open: bool


def cases_by_state() -> list[StateCount]:
    counts = dict(CollectionCase.objects.values_list("state").annotate(n=Count("id")).order_by())
    return [
        StateCount(state=state.value, label=state.label, cases=counts.get(state, 0), is_open=state in OPEN_STATES)
        for state in CaseState
    ]


# --- The whole KPI page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    today: date
    aging: list[BucketRow]
    overdue_rates: list[OverdueRatePoint]
    roll_rates: dict[str, list[RollRate]]
    cure_rates: list[MonthCount]
    promises: list[MonthCount]
    recovered: list[MonthAmount]
    cases_by_state: list[StateCount]
    provisions: list[ProvisionRow]

    @property
    def open_cases(self) -> int:
        return sum(row.cases for row in self.cases_by_state if row.is_open)

    @property
    def overdue_amount(self) -> Decimal:
        return sum((row.overdue_amount for row in self.aging), ZERO)

    @property
    def loans_in_arrears(self) -> int:
        return sum(row.loans for row in self.aging if row.bucket != AgingBucket.M0)

    @property
    def exposure(self) -> Decimal:
        return sum((row.exposure for row in self.provisions), ZERO)

    @property
    def specific_provision(self) -> Decimal:
        return sum((row.specific for row in self.provisions), ZERO)

    @property
    def general_provision(self) -> Decimal:
        return loan_rules.provision(self.exposure, RegulatoryClass.NORMAL).general

    @property
    def npl_ratio(self):
        """Non-performing loans (substandard, doubtful, loss) as a share of the exposure, in percent."""
        npl = sum(
            (row.exposure for row in self.provisions if row.regulatory_class >= RegulatoryClass.SUBSTANDARD), ZERO
        )
        return as_percent(ratio(npl, self.exposure))

    @property
    def cure_rate_this_month(self):
        return self.cure_rates[-1]

    @property
    def promises_this_month(self):
        return self.promises[-1]


def kpis(today: date, months: int = MONTHS) -> Kpis:
    """Everything the KPI page shows, in seven aggregate queries."""
    starts = month_starts(today, months)
    # One month end more than shown: the first month's roll rates start from the month before it.
    history = book_history(month_ends(today, months + 1))
    return Kpis(
        today=today,
        aging=aging_distribution(),
        overdue_rates=overdue_rates(history[1:]),
        roll_rates=roll_rates(history),
        cure_rates=cure_rates(starts),
        promises=promise_outcomes(starts),
        recovered=recovered_by_month(starts),
        cases_by_state=cases_by_state(),
        provisions=provisions(),
    )


# --- The queue overview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCell:
    cases: int = 0
    overdue_amount: Decimal = ZERO

    def __add__(self, other):
        return QueueCell(self.cases + other.cases, self.overdue_amount + other.overdue_amount)


ANY = object()  # a key left open when summing the queue's cells


class Queue:
    """Open cases grouped by (state, aging bucket, officer id or None for unassigned), with every
    subtotal: each cell is added once to each of the 8 ways of leaving keys open, so a page asking
    for a few hundred figures does a dictionary lookup for each."""

    def __init__(self, cells: dict, officers: dict):
        self.cells = cells  # (state, bucket, officer_id) -> QueueCell
        self.officers = officers  # officer id -> user
        self._totals = defaultdict(QueueCell)
        for (state, bucket, officer), cell in cells.items():
            for key in product((state, ANY), (bucket, ANY), (officer, ANY)):
                self._totals[key] += cell

    def total(self, state=ANY, bucket=ANY, officer=ANY) -> QueueCell:
        """The sum over the cells matching every key given (officer=None: the unassigned cases)."""
        return self._totals.get((state, bucket, officer), QueueCell())


def queue_overview(*, officer_id: int | None = None, team_id: int | None = None) -> Queue:
    """Open cases by state × aging bucket × officer, optionally narrowed to one officer or team: one
    GROUP BY for the cells and one query for the officers named in them."""
    cases = CollectionCase.objects.filter(state__in=OPEN_STATES)
    if officer_id:
        cases = cases.filter(officer_id=officer_id)
    if team_id:
        cases = cases.filter(team_id=team_id)
    rows = (
        cases.values("state", "loan__aging_bucket", "officer_id")
        .annotate(cases=Count("id"), amount=Sum("loan__overdue_amount"))
        .order_by()
    )
    cells = {
        (row["state"], row["loan__aging_bucket"], row["officer_id"]): QueueCell(row["cases"], row["amount"] or ZERO)
        for row in rows
    }
    officer_ids = {officer for _state, _bucket, officer in cells if officer is not None}
    officers = get_user_model().objects.filter(pk__in=officer_ids).order_by("username").in_bulk() if officer_ids else {}
    return Queue(cells=cells, officers=officers)
