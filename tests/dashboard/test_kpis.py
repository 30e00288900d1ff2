"""The KPI maths on small portfolios whose answers are known by hand.

The book: four loans of ¥12,000 disbursed 2026-01-15, first due 2026-02-15, "today" 2026-04-20.
A pays every instalment on its due date; B never pays; C misses February and catches up on the
25th, then pays on time; E never pays and is written off on 2026-03-10."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import daily, kpis, ledger_history, snapshots
from collection.choices import CaseState, PromiseStatus, ResolutionReason
from collection.models import (
    MonthEndBucket,
    PortfolioFlow,
    PortfolioSnapshot,
    PromiseToPay,
    SnapshotSource,
    Team,
)
from core.dates import business_today
from loans.choices import LoanStatus, PaymentChannel, RegulatoryClass
from loans.models import Installment, Loan
from loans.services import loan_refresh_balances, payment_post, payment_reverse
from tests.collection.factories import make_case, make_manager, make_officer
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 4, 20)
D = Decimal
pytestmark = pytest.mark.django_db


def at(day, hour=10):
    return time_machine.travel(datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI), tick=False)


def pay(loan, day, amount, reference):
    with at(day):
        payment, _created = payment_post(
            actor="system", loan=loan, amount=amount, external_reference=reference, channel=PaymentChannel.BANK_TRANSFER
        )
    return payment


def instalment(loan, seq):
    return Installment.objects.get(loan=loan, seq=seq)


def contract_due(loan, seq):
    i = instalment(loan, seq)
    return i.principal_due + i.interest_due + i.fee_due


@pytest.fixture
def book():
    product = LoanProductFactory(code="consumer")
    with at(date(2026, 1, 15)):
        a, b, c, e = (make_loan(product=product) for _ in range(4))
    for seq, day in ((1, date(2026, 2, 15)), (2, date(2026, 3, 15)), (3, date(2026, 4, 15))):
        pay(a, day, contract_due(a, seq), f"A-{seq}")
    with at(date(2026, 2, 25)):
        c = loan_refresh_balances(loan=c, as_of=business_today())  # the overdue amount with penalty, as of the 25th
    pay(c, date(2026, 2, 25), c.overdue_amount, "C-1")
    pay(c, date(2026, 3, 15), contract_due(c, 2), "C-2")
    pay(c, date(2026, 4, 15), contract_due(c, 3), "C-3")
    Loan.objects.filter(pk=e.pk).update(status=LoanStatus.WRITTEN_OFF, closed_on=date(2026, 3, 10))
    with at(TODAY, 1):
        daily.run_daily(as_of=TODAY)
    principal = [instalment(a, seq).principal_due for seq in (1, 2, 3)]
    return {"a": a, "b": b, "c": c, "e": e, "principal": principal}


def test_month_ends_run_to_the_last_day_and_the_current_month_to_today():
    assert kpis.month_ends(TODAY, 4) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), TODAY]
    assert kpis.month_starts(TODAY, 3) == [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
    assert kpis.month_starts(date(2026, 1, 31), 2) == [date(2025, 12, 1), date(2026, 1, 1)]


def test_the_book_at_each_month_end_is_rebuilt_from_due_dates_and_allocation_dates(book):
    jan, feb, mar, apr = ledger_history.book_history(kpis.month_ends(TODAY, 4))
    p1, p2, p3 = book["principal"]
    assert dict(jan.loans) == {"M0": 4}
    assert jan.total_outstanding == D("48000.00")
    # B and E missed 15 February (13 days past due); C had caught up on the 25th.
    assert dict(feb.loans) == {"M0": 2, "M1": 2}
    assert feb.total_outstanding == D("48000.00") - 2 * p1
    assert feb.outstanding["M1"] == D("24000.00")
    # E was written off on 10 March: off the book. B is 44 days past due, then 64.
    assert dict(mar.loans) == {"M0": 2, "M2": 1}
    assert mar.total_outstanding == D("36000.00") - 2 * (p1 + p2)
    assert dict(apr.loans) == {"M0": 2, "M3": 1}
    assert apr.arrears["M3"] == sum((contract_due(book["b"], seq) for seq in (1, 2, 3)), D(0))
    assert apr.total_outstanding == D("36000.00") - 2 * (p1 + p2 + p3)


def test_the_latest_month_end_agrees_with_the_daily_run(book):
    *_, today = ledger_history.book_history(kpis.month_ends(TODAY, 2))
    aging = {row.bucket: row.loans for row in kpis.kpis(TODAY).aging if row.loans}
    assert dict(today.loans) == aging == {"M0": 2, "M3": 1}


def history_from_snapshots(months=4):
    data = kpis.kpis(TODAY, months=months - 1)
    return data, kpis.month_end_history(
        kpis.month_ends(TODAY, months), kpis.snapshot_rows(kpis.month_ends(TODAY, months))
    )


def test_month_ends_before_the_first_run_are_rebuilt_from_the_ledger(book):
    rebuilt = snapshots.snapshots_rebuild(snapshots.month_ends_before(TODAY, 3))
    assert rebuilt == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert snapshots.snapshots_rebuild(snapshots.month_ends_before(TODAY, 3)) == []  # nothing missing now
    assert PortfolioSnapshot.objects.get(as_of=date(2026, 3, 31)).source == SnapshotSource.LEDGER
    _data, history = history_from_snapshots()
    ledger = ledger_history.book_history(kpis.month_ends(TODAY, 4))
    for snapshot, rebuilt_from_ledger in zip(history, ledger, strict=True):
        assert dict(snapshot.loans) == dict(rebuilt_from_ledger.loans)
        assert snapshot.total_outstanding == rebuilt_from_ledger.total_outstanding
    # B was in M2 at the end of March, written down for April's roll rates.
    assert MonthEndBucket.objects.get(as_of=date(2026, 3, 31)).loan_id == book["b"].pk


def test_overdue_rate_is_overdue_loans_principal_over_the_books(book):
    snapshots.snapshots_rebuild(snapshots.month_ends_before(TODAY, 3))
    snapshots.snapshot_write(TODAY)  # April's snapshot reads March's buckets
    jan, feb, mar, apr = kpis.kpis(TODAY, months=4).overdue_rates
    p1, p2, p3 = book["principal"]
    assert jan.rate == 0
    assert feb.rate == D("24000.00") / (D("48000.00") - 2 * p1)
    assert mar.rate == D("12000.00") / (D("36000.00") - 2 * (p1 + p2))
    assert apr.rate == D("12000.00") / (D("36000.00") - 2 * (p1 + p2 + p3))
    assert {point.serious_rate for point in (jan, feb, mar, apr)} == {0}  # nobody beyond 90 days yet
    assert apr.percent == (apr.rate * 100).quantize(D("0.1"))


def test_roll_rates_follow_each_bucket_into_the_next_month_end(book):
    snapshots.snapshots_rebuild(snapshots.month_ends_before(TODAY, 4))
    snapshots.snapshot_write(TODAY)
    rolls = kpis.kpis(TODAY, months=3).roll_rates
    into = {bucket: [(r.as_of.month, r.rolled, r.loans) for r in rolls[bucket]] for bucket in ("M0", "M1", "M2")}
    # Into February 2 of the 4 current loans rolled (B, E); later nobody current fell behind.
    assert into["M0"] == [(2, 2, 4), (3, 0, 2), (4, 0, 2)]
    # Of February's two M1 loans B rolled on; E was written off, which is not a roll.
    assert into["M1"] == [(2, 0, 0), (3, 1, 2), (4, 0, 0)]
    assert into["M2"] == [(2, 0, 0), (3, 0, 0), (4, 1, 1)]
    assert rolls["M1"][1].rate == D("0.5")
    assert rolls["M1"][0].rate is None  # nothing in the bucket: no rate, not 0%


def test_snapshots_written_night_by_night_agree_with_the_ledger():
    """The book lived day by day, the daily run on each month end and today: its snapshots give the
    figures the ledger gives afterwards, and the roll rates from the month-end buckets it kept."""
    product = LoanProductFactory(code="consumer")
    with at(date(2026, 1, 15)):
        a, _b, c = (make_loan(product=product) for _ in range(3))

    def run(day):
        with at(day, 1):
            daily.run_daily(as_of=day)

    run(date(2026, 1, 31))
    pay(a, date(2026, 2, 15), contract_due(a, 1), "A-1")
    run(date(2026, 2, 28))  # B and C 13 days past due
    pay(c, date(2026, 3, 10), contract_due(c, 1) + contract_due(c, 2) + D("500.00"), "C-1")
    pay(a, date(2026, 3, 15), contract_due(a, 2), "A-2")
    run(date(2026, 3, 31))  # B 44 days; C caught up
    pay(a, date(2026, 4, 15), contract_due(a, 3), "A-3")
    run(TODAY)  # C's third instalment, due on the 15th, is not covered by the ¥500 it paid ahead
    data = kpis.kpis(TODAY, months=3)
    ends = kpis.month_ends(TODAY, 4)
    ledger = ledger_history.book_history(ends)
    lived = kpis.month_end_history(ends, kpis.snapshot_rows(ends))
    for snapshot, from_ledger in zip(lived, ledger, strict=True):
        assert dict(snapshot.loans) == dict(from_ledger.loans)
        assert snapshot.total_outstanding == from_ledger.total_outstanding
        assert dict(snapshot.rolled) == dict(from_ledger.rolled)
    assert [r.rolled for r in data.roll_rates["M0"]] == [2, 0, 1]
    assert [r.rolled for r in data.roll_rates["M1"]] == [0, 1, 0]
    assert [p.rate for p in data.overdue_rates] == [p.rate for p in kpis.overdue_rates(ledger[1:])]


def test_a_month_end_without_a_snapshot_has_no_roll_rate(book):
    snapshots.snapshot_write(TODAY)  # no snapshot of 31 March
    data = kpis.kpis(TODAY, months=2)
    assert data.roll_rates["M0"][-1].rate is None
    assert data.overdue_rates[0].rate is None  # March: nothing known, not 0%
    assert data.overdue_rates[-1].rate is not None


def test_writing_a_date_again_replaces_its_snapshot(book):
    first = snapshots.snapshot_write(TODAY)
    Loan.objects.filter(pk=book["b"].pk).update(aging_bucket="M4")
    again = snapshots.snapshot_write(TODAY)
    assert (again.rows, again.flows) == (first.rows, first.flows)
    assert PortfolioSnapshot.objects.filter(as_of=TODAY).count() == 1
    aging = {row.bucket: row.loans for row in kpis.kpis(TODAY).aging if row.loans}
    assert aging == {"M0": 2, "M4": 1}


def test_before_the_first_run_the_page_has_no_figures():
    data = kpis.kpis(TODAY)
    assert data.as_of is None
    assert data.overdue_amount == 0 and data.open_cases == 0
    assert {point.rate for point in data.overdue_rates} == {None}


def test_an_empty_book_has_no_rates():
    snapshots.snapshot_write(TODAY)
    data = kpis.kpis(TODAY, months=1)
    assert data.as_of == TODAY
    assert [point.rate for point in data.overdue_rates] == [None]
    assert data.roll_rates["M0"][0].rate is None


def test_aging_distribution_counts_loans_on_the_book_with_their_amounts():
    product = LoanProductFactory(code="consumer")
    loans = [make_loan(product=product) for _ in range(4)]
    rows = [("M1", D("100.00"), LoanStatus.OVERDUE), ("M1", D("50.50"), LoanStatus.OVERDUE)]
    rows += [("M3", D("900.00"), LoanStatus.OVERDUE), ("M0", D("0"), LoanStatus.PAID_OFF)]
    for loan, (bucket, overdue, status) in zip(loans, rows, strict=True):
        Loan.objects.filter(pk=loan.pk).update(aging_bucket=bucket, overdue_amount=overdue, status=status)
    snapshots.snapshot_write(TODAY)
    aging = {row.bucket: row for row in kpis.kpis(TODAY).aging}
    assert list(aging) == ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7"]
    assert (aging["M1"].loans, aging["M1"].overdue_amount) == (2, D("150.50"))
    assert (aging["M3"].loans, aging["M3"].overdue_amount) == (1, D("900.00"))
    assert aging["M0"].loans == 0  # the paid-off loan is off the book
    assert aging["M1"].principal_outstanding == 2 * loans[0].principal_outstanding


def test_cure_rate_is_the_share_of_a_months_new_cases_since_cured():
    resolved = {"state": CaseState.RESOLVED, "closed_on": date(2026, 3, 20)}
    make_case(opened_on=date(2026, 2, 16), resolution_reason=ResolutionReason.CURED, **resolved)
    make_case(state=CaseState.MINOR, opened_on=date(2026, 2, 20))
    make_case(opened_on=date(2026, 3, 2), resolution_reason=ResolutionReason.PAID_IN_FULL, **resolved)
    make_case(opened_on=date(2026, 3, 3), resolution_reason=ResolutionReason.SETTLED, **resolved)
    make_case(state=CaseState.WRITTEN_OFF, opened_on=date(2026, 3, 4), closed_on=date(2026, 3, 30))
    make_case(opened_on=date(2026, 1, 5), resolution_reason=ResolutionReason.CURED, **resolved)
    snapshots.snapshot_write(TODAY)
    feb, mar, apr = kpis.kpis(TODAY, months=3).cure_rates  # January is outside the window
    assert (feb.hits, feb.total, feb.rate) == (1, 2, D("0.5"))
    assert (mar.hits, mar.total) == (1, 3)
    assert mar.percent == D("33.3")
    assert (apr.total, apr.rate, apr.percent) == (0, None, None)
    # As known on 15 March, before the two cures of the 20th.
    snapshots.snapshot_write(date(2026, 3, 15))
    feb, mar = kpis.kpis(date(2026, 3, 15), months=2).cure_rates
    assert (feb.hits, feb.total, mar.hits, mar.total) == (0, 2, 0, 3)


def test_promise_kept_rate_counts_judged_promises_by_the_month_they_fell_due():
    case = make_case(state=CaseState.MINOR)
    outcomes = [
        (date(2026, 3, 5), PromiseStatus.KEPT),
        (date(2026, 3, 9), PromiseStatus.KEPT),
        (date(2026, 3, 12), PromiseStatus.PARTIALLY_KEPT),
        (date(2026, 3, 31), PromiseStatus.BROKEN),
        (date(2026, 3, 20), PromiseStatus.CANCELLED),  # not judged
        (date(2026, 4, 25), PromiseStatus.PENDING),  # not yet
        (date(2026, 2, 10), PromiseStatus.BROKEN),
    ]
    for promised_for, status in outcomes:
        PromiseToPay.objects.create(case=case, amount=D("500.00"), promised_for=promised_for, status=status)
    snapshots.snapshot_write(TODAY)
    feb, mar, apr = kpis.kpis(TODAY, months=3).promises
    assert (mar.hits, mar.partial, mar.misses, mar.total) == (2, 1, 1, 4)
    assert mar.rate == D("0.5")
    assert (feb.hits, feb.total, feb.rate) == (0, 1, 0)
    assert (apr.total, apr.rate) == (0, None)


def test_recovered_amount_counts_net_payments_while_a_case_was_open():
    closed = make_case(
        state=CaseState.RESOLVED,
        opened_on=date(2026, 2, 16),
        closed_on=date(2026, 3, 2),
        resolution_reason=ResolutionReason.CURED,
    )
    still_open = make_case(state=CaseState.MINOR, opened_on=date(2026, 3, 10))
    pay(closed.loan, date(2026, 2, 10), D("111.00"), "before")  # before the case opened
    pay(closed.loan, date(2026, 2, 20), D("200.00"), "during")
    pay(closed.loan, date(2026, 3, 2), D("300.00"), "closing-day")
    pay(closed.loan, date(2026, 3, 5), D("444.00"), "after")  # the case was closed by then
    pay(still_open.loan, date(2026, 3, 15), D("100.00"), "open-1")
    bounced = pay(still_open.loan, date(2026, 3, 16), D("50.00"), "open-2")
    with at(date(2026, 3, 20)):
        payment_reverse(actor="system", payment=bounced, reason="bounced")
    snapshots.snapshot_write(TODAY)
    feb, mar, apr = kpis.kpis(TODAY, months=3).recovered
    assert feb.amount == D("200.00")
    assert mar.amount == D("400.00")  # 300 + 100 + 50 - 50
    assert apr.amount == 0


def test_flows_are_kept_by_product_and_team():
    team = Team.objects.create(name="A")
    consumer, car = LoanProductFactory(code="consumer"), LoanProductFactory(code="car")
    make_case(state=CaseState.MINOR, opened_on=date(2026, 4, 2), team=team, loan=make_loan(product=consumer))
    make_case(state=CaseState.MINOR, opened_on=date(2026, 4, 3), loan=make_loan(product=car))
    snapshots.snapshot_write(TODAY)
    flows = PortfolioFlow.objects.filter(snapshot__as_of=TODAY, month=date(2026, 4, 1))
    assert {(f.product_id, f.team_id, f.cases_opened) for f in flows} == {(consumer.pk, team.pk, 1), (car.pk, None, 1)}


def test_provisions_apply_each_class_rate_to_the_exposure_of_the_book():
    product = LoanProductFactory(code="consumer")
    loans = [make_loan(product=product) for _ in range(4)]
    rows = [
        (RegulatoryClass.SPECIAL_MENTION, D("10000.00"), D("150.00"), LoanStatus.OVERDUE),
        (RegulatoryClass.SUBSTANDARD, D("8000.00"), D("0.01"), LoanStatus.OVERDUE),
        (RegulatoryClass.LOSS, D("5000.00"), D("0"), LoanStatus.OVERDUE),
        (RegulatoryClass.LOSS, D("9999.00"), D("0"), LoanStatus.WRITTEN_OFF),  # off the book
    ]
    for loan, (klass, principal, penalty, status) in zip(loans, rows, strict=True):
        Loan.objects.filter(pk=loan.pk).update(
            regulatory_class=klass,
            principal_outstanding=principal,
            interest_outstanding=0,
            fees_outstanding=0,
            penalty_outstanding=penalty,
            status=status,
        )
    snapshots.snapshot_write(TODAY)
    with at(TODAY):
        data = kpis.kpis(TODAY)
    provisions = {row.regulatory_class: row for row in data.provisions}
    assert list(provisions) == [1, 2, 3, 4, 5]
    assert (provisions[2].loans, provisions[2].exposure, provisions[2].specific) == (1, D("10150.00"), D("203.00"))
    assert provisions[3].specific == D("2000.00")  # 25% of 8,000.01, to the fen (half up)
    assert (provisions[5].loans, provisions[5].specific) == (1, D("5000.00"))
    assert data.exposure == D("23150.01") and data.specific_provision == D("7203.00")
    assert data.general_provision == D("231.50")
    assert data.npl_ratio == D("56.2")  # 13,000.01 of 23,150.01


def test_cases_by_state_and_the_tiles():
    officer = make_officer()
    make_case(state=CaseState.MINOR, officer=officer)
    make_case(state=CaseState.SERIOUS)
    make_case(state=CaseState.RESOLVED, closed_on=date(2026, 4, 2), resolution_reason=ResolutionReason.CURED)
    with at(TODAY):
        snapshots.snapshot_write(TODAY)
        make_case(state=CaseState.LEGAL)  # after the snapshot: tomorrow's figures
        data = kpis.kpis(TODAY)
    counts = {row.state: row.cases for row in data.cases_by_state}
    assert counts[CaseState.MINOR] == counts[CaseState.SERIOUS] == counts[CaseState.RESOLVED] == 1
    assert counts[CaseState.LEGAL] == 0
    assert data.open_cases == 2
    assert len(data.overdue_rates) == len(data.cure_rates) == len(data.roll_rates["M0"]) == kpis.MONTHS
    assert data.overdue_rates[-1].as_of == TODAY
    assert data.cure_rate_this_month.month == date(2026, 4, 1)


def test_the_nightly_task_writes_the_snapshot_after_the_chunks(book):
    from collection.tasks import dispatch_daily_run

    with at(TODAY, 1):
        dispatch_daily_run.delay(chunk_size=2).get()  # eager in tests: chunks, then the chord's body
    snapshot = PortfolioSnapshot.objects.get(as_of=TODAY)
    assert snapshot.source == SnapshotSource.RUN
    assert sum(snapshot.rows.values_list("loans", flat=True)) == 3


def test_the_queue_groups_open_cases_by_state_bucket_and_officer():
    o1, o2 = make_officer("o1"), make_officer("o2")
    team = Team.objects.create(name="A")
    cases = [
        make_case(state=CaseState.MINOR, officer=o1, team=team),
        make_case(state=CaseState.MINOR, officer=o1),
        make_case(state=CaseState.SERIOUS, officer=o2),
        make_case(state=CaseState.EARLY_WARNING),
        make_case(state=CaseState.RESOLVED, officer=o1, closed_on=TODAY),  # closed: not in the queue
    ]
    Loan.objects.filter(pk=cases[2].loan_id).update(aging_bucket="M3", overdue_amount=D("900.00"))
    Loan.objects.filter(pk__in=[c.loan_id for c in cases[:2]]).update(aging_bucket="M1", overdue_amount=D("10.00"))
    queue = kpis.queue_overview()
    assert queue.total().cases == 4
    assert queue.total(state=CaseState.MINOR, bucket="M1") == kpis.QueueCell(2, D("20.00"))
    assert queue.total(officer=o2.pk) == kpis.QueueCell(1, D("900.00"))
    assert queue.total(officer=None).cases == 1
    assert set(queue.officers) == {o1.pk, o2.pk}
    assert kpis.queue_overview(officer_id=o1.pk).total().cases == 2
    assert kpis.queue_overview(team_id=team.pk).total().cases == 1


def test_the_whole_books_figures_are_kept_a_minute_and_dropped_when_a_manager_reassigns(settings):
    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    o1, o2 = make_officer("o1"), make_officer("o2")
    case = make_case(state=CaseState.MINOR, officer=o1)
    assert kpis.queue_overview().total(officer=o1.pk).cases == 1
    make_case(state=CaseState.MINOR, officer=o1)  # a case opened since: shown within the minute
    assert kpis.queue_overview().total(officer=o1.pk).cases == 1
    from collection import services

    services.cases_reassign(actor=make_manager("boss"), case_ids=[case.pk], officer=o2)
    queue = kpis.queue_overview()
    assert (queue.total(officer=o1.pk).cases, queue.total(officer=o2.pk).cases) == (1, 1)
    assert queue.officers[o2.pk].username == "o2"


def test_the_night_computes_the_whole_books_figures_for_the_morning(book, settings, django_assert_max_num_queries):
    from collection import selectors

    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    with at(TODAY, 1):
        daily.run_daily(as_of=TODAY)
        with django_assert_max_num_queries(1):  # at most the officers the cells name: the cells are cached
            assert kpis.queue_overview().total().cases == 1  # B; the others paid
        with django_assert_max_num_queries(0):
            assert selectors.book_counts(today=TODAY)["open_cases"] == 1


def test_the_minute_task_refreshes_the_whole_books_figures_before_they_age(settings, django_assert_max_num_queries):
    from collection import selectors
    from collection.tasks import refresh_book_figures

    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    officer = make_officer("o1")
    make_case(state=CaseState.MINOR, officer=officer)
    with at(TODAY):  # the clock stands still: whatever is cached stays fresh
        assert kpis.queue_overview().total().cases == 1
        assert selectors.book_counts(today=TODAY)["open_cases"] == 1
        make_case(state=CaseState.MINOR, officer=officer)  # within the minute: not shown yet
        assert kpis.queue_overview().total().cases == 1
        refresh_book_figures.delay().get()
        with django_assert_max_num_queries(1):  # the officers named; the cells come from the cache
            assert kpis.queue_overview().total().cases == 2
        with django_assert_max_num_queries(0):
            assert selectors.book_counts(today=TODAY)["open_cases"] == 2


def test_beat_refreshes_the_figures_every_minute_and_drops_a_late_run(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["book-figures"]
    assert entry["task"] == "collection.tasks.refresh_book_figures"
    assert entry["schedule"].minute == set(range(60))
    assert entry["options"]["expires"] < 60
