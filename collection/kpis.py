"""The numbers managers steer by: the queue overview and the KPI page. The KPI page reads the
portfolio snapshot the daily run writes (collection/snapshots.py): three queries over a few hundred
grouped rows, whatever the size of the book, and never the ledger. The queue overview is live: one
GROUP BY over the open cases, kept a minute (collection/book_figures.py). Python only reshapes grouped
rows (never one per loan or case).

The definitions, which the KPI page repeats to its readers:

- **As of**: the business date of the latest snapshot, normally today's nightly run.
- **Aging distribution**: loans on the book (active, overdue, restructured) by their aging bucket as the
  daily run set it (M0 current ... M7+ over 180 days past due), with their number, overdue amount
  (arrears including penalty) and principal outstanding.
- **Overdue rate** at a month end: principal outstanding of the loans with an instalment overdue that day
  ÷ principal outstanding of every loan on the book that day, for "1+ days" and "over 90 days", from
  the month end's snapshot. Month ends before the first daily run are rebuilt from the schedule and the
  dated allocation lines (collection/ledger_history.py).
- **Roll rate** from bucket k into the month: of the loans in bucket k at one month end, the share in a
  worse bucket at the next one (normally k+1; a loan can skip one when a 31-day month meets a 30-day
  bucket). Loans paid off or closed in between count as not rolled. Each loan's bucket at a month end
  is kept for the loans in arrears (`MonthEndBucket`).
- **Cure rate** of a month: of the cases opened in the month, the share since resolved because the
  borrower paid (resolution "cured" or "paid in full"). The latest months are still maturing.
- **Promise-kept rate** of a month: of the promises falling due in the month that the daily run has
  judged, the share kept in full (partially kept counts as not kept; cancelled ones are left out).
- **Recovered amount** of a month: payments received (net of reversals, by value date) on loans that had
  a collection case open on the day the money arrived.
- **Cases by state**: every case ever opened, by its state on the snapshot's date.

The flows (cure, promise-kept, recovered) are counted as known on the snapshot's date.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise, product

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from core.money import ZERO, to_fen
from loans import rules as loan_rules
from loans.choices import AgingBucket, LoanStatus, RegulatoryClass

from . import book_figures
from .choices import CaseState, PromiseStatus, ResolutionReason
from .models import CollectionCase, PortfolioFlow, PortfolioSnapshot, PortfolioSnapshotRow

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


def money_or_zero(value) -> Decimal:
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


def aging_distribution(latest: list[dict]) -> list[BucketRow]:
    """Loans on the book by aging bucket: count, overdue amount and principal outstanding, from the
    latest snapshot's grouped rows."""
    rows = _totals_by(latest, "aging_bucket")
    return [
        BucketRow(
            bucket=bucket.value,
            label=bucket.label,
            loans=row["loans"],
            overdue_amount=row["overdue"],
            principal_outstanding=row["outstanding"],
        )
        for bucket, row in ((bucket, rows[bucket]) for bucket in BUCKETS)
    ]


def _totals_by(rows: list[dict], key: str) -> dict:
    """Snapshot rows summed by one of their keys."""
    totals = defaultdict(lambda: {"loans": 0, "outstanding": ZERO, "overdue": ZERO, "exposure": ZERO})
    for row in rows:
        total = totals[row[key]]
        for name in total:
            total[name] += row[name]
    return totals


# --- Loan-loss provisions (the book by regulatory class) ------------------------------------------------


@dataclass(frozen=True)
class ProvisionRow:
    regulatory_class: int
    label: str
    loans: int
    exposure: Decimal
    rate: Decimal
    specific: Decimal


def provisions(latest: list[dict]) -> list[ProvisionRow]:
    """Loans on the book by regulatory class: count, exposure (everything outstanding) and the specific
    reserve the class calls for (loans.rules.provision), from the latest snapshot's grouped rows."""
    rows = _totals_by(latest, "regulatory_class")
    result = []
    for klass in RegulatoryClass:
        row = rows[klass.value]
        result.append(
            ProvisionRow(
                regulatory_class=klass.value,
                label=klass.label,
                loans=row["loans"],
                exposure=row["exposure"],
                rate=loan_rules.SPECIFIC_PROVISION_RATES[klass],
                specific=loan_rules.provision(row["exposure"], klass).specific,
            )
        )
    return result


# --- The book at past month ends: overdue rates and roll rates ---------------------------------------


@dataclass
class Snapshot:
    """The book at one month end, by aging bucket as of that day (empty when it has no snapshot)."""

    as_of: date
    loans: dict = field(default_factory=lambda: defaultdict(int))  # bucket -> loans
    outstanding: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # bucket -> principal
    arrears: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))  # bucket -> contractual arrears
    rolled: dict = field(default_factory=lambda: defaultdict(int))  # bucket a month earlier -> loans now worse
    # Whether the loans' buckets a month earlier are known (false when that month end has no snapshot).
    previous_known: bool = False

    def add(self, bucket, previous_bucket, loans, outstanding, arrears):
        """Loans in `bucket` that were in `previous_bucket` at the month end before (None or blank:
        not on the book then, or not known)."""
        self.loans[bucket] += loans
        self.outstanding[bucket] += outstanding
        self.arrears[bucket] += arrears
        if previous_bucket:
            self.previous_known = True
            if BUCKETS.index(bucket) > BUCKETS.index(previous_bucket):
                self.rolled[previous_bucket] += loans

    @property
    def total_outstanding(self) -> Decimal:
        return sum(self.outstanding.values(), ZERO)

    def outstanding_beyond(self, bucket: str) -> Decimal:
        """Principal outstanding of the loans in a bucket worse than `bucket`."""
        worse = BUCKETS[BUCKETS.index(bucket) + 1 :]
        return sum((self.outstanding[b] for b in worse), ZERO)


def month_end_history(ends: list[date], rows: list[dict]) -> list[Snapshot]:
    """The book at each of `ends` (oldest first) from the snapshot rows of those dates."""
    snapshots = {day: Snapshot(as_of=day) for day in ends}
    for row in rows:
        snapshot = snapshots.get(row["as_of"])
        if snapshot is not None:
            snapshot.add(row["aging_bucket"], row["previous_bucket"], row["loans"], row["outstanding"], row["overdue"])
    return list(snapshots.values())


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
    rolled: int | None  # of those, in a worse bucket at `as_of` (None: not known)

    @property
    def rate(self):
        return None if self.rolled is None else ratio(self.rolled, self.loans)

    @property
    def percent(self):
        return as_percent(self.rate)


def roll_rates(history: list[Snapshot]) -> dict[str, list[RollRate]]:
    """For each bucket that can get worse (M0..M6), its roll rate into each month after the first."""
    return {
        bucket: [
            RollRate(
                bucket=bucket,
                as_of=current.as_of,
                loans=previous.loans[bucket],
                rolled=current.rolled[bucket] if current.previous_known else None,
            )
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


def flows_by_month(snapshot: PortfolioSnapshot | None, months: list[date]) -> dict[date, dict]:
    """The snapshot's flows summed by month (one query), every month in `months` present."""
    names = [
        "cases_opened",
        "cases_cured",
        "promises_kept",
        "promises_partially_kept",
        "promises_broken",
        "recovered",
    ]
    found = {}
    if snapshot is not None:
        rows = (
            PortfolioFlow.objects.filter(snapshot=snapshot, month__in=months)
            .values("month")
            .annotate(**{name: Sum(name) for name in names})
            .order_by()
        )
        found = {row["month"]: row for row in rows}
    empty = dict.fromkeys(names, 0) | {"recovered": ZERO}
    return {month: found.get(month, empty) for month in months}


def cure_rates(flows: dict[date, dict]) -> list[MonthCount]:
    """Cases opened per month, and how many of them have been resolved because the borrower paid."""
    return [MonthCount(month=m, total=row["cases_opened"], hits=row["cases_cured"]) for m, row in flows.items()]


def promise_outcomes(flows: dict[date, dict]) -> list[MonthCount]:
    """Judged promises per month they fell due: kept, partially kept, broken."""
    return [
        MonthCount(
            month=month,
            total=row["promises_kept"] + row["promises_partially_kept"] + row["promises_broken"],
            hits=row["promises_kept"],
            partial=row["promises_partially_kept"],
            misses=row["promises_broken"],
        )
        for month, row in flows.items()
    ]


@dataclass(frozen=True)
class MonthAmount:
    month: date
    amount: Decimal


def recovered_by_month(flows: dict[date, dict]) -> list[MonthAmount]:
    """Money received (net of reversals) on loans with a case open on the day it arrived."""
    return [MonthAmount(month=month, amount=money_or_zero(row["recovered"])) for month, row in flows.items()]


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    cases: int
    is_open: bool


def cases_by_state(snapshot: PortfolioSnapshot | None) -> list[StateCount]:
    counts = snapshot.cases_by_state if snapshot else {}
    return [
        StateCount(state=state.value, label=state.label, cases=counts.get(state, 0), is_open=state in OPEN_STATES)
        for state in CaseState
    ]


# --- The whole KPI page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    today: date
    as_of: date | None  # the snapshot's business date; None before the first daily run
    source: str  # how that snapshot was made (SnapshotSource)
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


def snapshot_rows(ends: list[date]) -> list[dict]:
    """The snapshot rows of `ends` summed by date, bucket, previous bucket and class (one query)."""
    rows = (
        PortfolioSnapshotRow.objects.filter(snapshot__as_of__in=ends)
        .values("snapshot__as_of", "aging_bucket", "previous_bucket", "regulatory_class")
        .annotate(
            n=Sum("loans"),
            principal=Sum("principal_outstanding"),
            arrears=Sum("overdue_amount"),
            owed=Sum("exposure"),
        )
        .order_by()
    )
    return [
        {
            "as_of": row["snapshot__as_of"],
            "aging_bucket": row["aging_bucket"],
            "previous_bucket": row["previous_bucket"],
            "regulatory_class": row["regulatory_class"],
            "loans": row["n"],
            "outstanding": money_or_zero(row["principal"]),
            "overdue": money_or_zero(row["arrears"]),
            "exposure": money_or_zero(row["owed"]),
        }
        for row in rows
    ]


def latest_snapshot(today: date) -> PortfolioSnapshot | None:
    return PortfolioSnapshot.objects.filter(as_of__lte=today).order_by("-as_of").first()


def kpis(today: date, months: int = MONTHS) -> Kpis:
    """Everything the KPI page shows, from the latest snapshot on or before `today` and the snapshots
    of the month ends before it: three queries over grouped rows."""
    snapshot = latest_snapshot(today)
    as_of = snapshot.as_of if snapshot else today
    # One month end more than shown: the first month's roll rates start from the month before it.
    ends = month_ends(as_of, months + 1)
    rows = snapshot_rows(ends) if snapshot else []
    history = month_end_history(ends, rows)
    latest = [row for row in rows if row["as_of"] == as_of]
    flows = flows_by_month(snapshot, month_starts(as_of, months))
    return Kpis(
        today=today,
        as_of=snapshot.as_of if snapshot else None,
        source=snapshot.source if snapshot else "",
        aging=aging_distribution(latest),
        overdue_rates=overdue_rates(history[1:]),
        roll_rates=roll_rates(history),
        cure_rates=cure_rates(flows),
        promises=promise_outcomes(flows),
        recovered=recovered_by_month(flows),
        cases_by_state=cases_by_state(snapshot),
        provisions=provisions(latest),
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


def queue_overview(*, officer_id: int | None = None, team_id: int | None = None, refresh: bool = False) -> Queue:
    """Open cases by state × aging bucket × officer, optionally narrowed to one officer or team: one
    GROUP BY for the cells (kept a minute, collection.book_figures; `refresh` computes them now) and
    one query for the officers named in them."""
    cells = book_figures.cached(
        f"queue:{officer_id}:{team_id}", lambda: _queue_cells(officer_id, team_id), refresh=refresh
    )
    officer_ids = {officer for _state, _bucket, officer in cells if officer is not None}
    officers = get_user_model().objects.filter(pk__in=officer_ids).order_by("username").in_bulk() if officer_ids else {}
    return Queue(cells=cells, officers=officers)


def _queue_cells(officer_id, team_id) -> dict:
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
    return {
        (row["state"], row["loan__aging_bucket"], row["officer_id"]): QueueCell(row["cases"], row["amount"] or ZERO)
        for row in rows
    }
