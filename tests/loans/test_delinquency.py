"""The set-based delinquency update: penalty against an independent day-by-day computation, the cap
and grace days, re-runs of past dates after backdated payments and reversals, idempotency, the SQL
tables against the pure rules, and a query count that does not grow with the book."""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loans import delinquency, rules
from loans.choices import Component, InstallmentStatus, LoanStatus
from loans.models import Installment, Loan
from loans.services import payment_post, payment_reverse
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run(as_of, *loans):
    ids = [loan.pk for loan in loans] or list(Loan.objects.values_list("pk", flat=True))
    with transaction.atomic():
        return delinquency.update_range(as_of=as_of, first_id=min(ids), last_id=max(ids))


def pay(loan, amount, ref, day):
    with time_machine.travel(at(day), tick=False):
        return payment_post(actor="system", loan=loan, amount=Decimal(amount), external_reference=ref, channel="cash")


def expected_penalty(installment, as_of, annual_rate, grace_days=0):
    """Day by day: the principal still unpaid at the start of each day after the due date (money
    arriving on a day is charged that day). Nothing when the day is still within the grace days:
    paying within them is paying on time."""
    if (as_of - installment.due_date).days <= grace_days:
        return Decimal("0.00")
    paid = [
        (a.applied_on, a.amount)
        for a in installment.allocations.filter(component=Component.PRINCIPAL, applied_on__lte=as_of)
    ]
    total = Decimal(0)
    day = installment.due_date + timedelta(days=1)
    while day <= as_of:
        unpaid = installment.principal_due - sum((amount for when, amount in paid if when < day), Decimal(0))
        total += unpaid * annual_rate / 365
        day += timedelta(days=1)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_penalty_matches_a_day_by_day_computation_with_partial_payments():
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(principal="24000.00", annual_rate="0.06", penalty_rate=Decimal("0.18"))
    pay(loan, "500.00", "P-1", date(2026, 2, 25))
    pay(loan, "900.00", "P-2", date(2026, 3, 20))
    as_of = date(2026, 4, 30)
    stored = dict(Installment.objects.filter(loan=loan).values_list("pk", "penalty_accrued"))
    run(as_of, loan)
    # The run keeps the loan's penalty total; each instalment's is read as of the day.
    rows = delinquency.with_penalty(Installment.objects.filter(loan=loan, due_date__lt=as_of), as_of)
    for installment in rows:
        assert installment.penalty_accrued == expected_penalty(installment, as_of, Decimal("0.18")), installment.seq
    owed = sum(row.penalty_accrued - row.penalty_paid for row in rows)
    assert owed == Loan.objects.get(pk=loan.pk).penalty_outstanding > 0
    assert dict(Installment.objects.filter(loan=loan).values_list("pk", "penalty_accrued")) == stored  # not rewritten


def test_within_the_grace_days_an_instalment_is_on_time_and_beyond_them_overdue_from_its_due_date():
    product = LoanProductFactory(penalty_rate=Decimal("0.18"), cost_cap_rate=Decimal("0.24"), grace_days=3)
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(product=product, annual_rate="0.12")
    first = loan.installments.get(seq=1)
    for day in (1, 2, 3):
        run(first.due_date + timedelta(days=day), loan)
        loan.refresh_from_db()
        assert (loan.days_past_due, loan.overdue_amount, loan.penalty_outstanding) == (0, 0, 0)
        assert loan.status == LoanStatus.ACTIVE and loan.regulatory_class == 1 and loan.overdue_since is None
    run(first.due_date + timedelta(days=4), loan)
    loan.refresh_from_db()
    assert loan.days_past_due == 4 and loan.overdue_since == first.due_date + timedelta(days=1)
    assert loan.status == LoanStatus.OVERDUE and loan.regulatory_class == 2
    run(date(2026, 3, 1), loan)
    # 18% penalty on top of a 12% contract would exceed the 24% cap: only 12% is charged, from the due date.
    penalty = expected_penalty(first, date(2026, 3, 1), Decimal("0.12"), grace_days=3)
    assert delinquency.penalties(date(2026, 3, 1), [loan.pk])[first.pk] == penalty > 0
    assert Loan.objects.get(pk=loan.pk).penalty_outstanding == penalty  # the only instalment overdue


def test_paid_within_the_grace_days_costs_no_penalty():
    product = LoanProductFactory(grace_days=3)
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(product=product)
    first = loan.installments.get(seq=1)
    pay(loan, first.total_due, "P-1", first.due_date + timedelta(days=3))
    first.refresh_from_db()
    assert first.status == InstallmentStatus.PAID and first.penalty_paid == 0
    run(first.due_date + timedelta(days=10), loan)
    assert Loan.objects.get(pk=loan.pk).days_past_due == 0


@pytest.mark.parametrize(
    ("basis", "penalty_rate", "markup", "annual_rate", "annual_cost", "expected"),
    [
        ("add_on", "0.18", "0.5", "0.12", None, "0.12"),  # the cap leaves 12 points
        ("add_on", "0.18", "0.5", "0.0385", None, "0.18"),
        ("markup", "0.18", "0.5", "0.0385", None, "0.01925"),  # 3.85% raised by half
        ("markup", "0.18", "0.5", "0.20", None, "0.04"),  # 30% would pass the 24% cap
        ("add_on", "0.18", "0.5", "0.12", "0.15", "0.09"),  # fees count against the cap
    ],
)
def test_the_penalty_rate_follows_the_products_basis_within_the_cost_cap(
    basis, penalty_rate, markup, annual_rate, annual_cost, expected
):
    rate = rules.penalty_annual_rate(
        basis=basis,
        penalty_rate=Decimal(penalty_rate),
        markup=Decimal(markup),
        annual_rate=Decimal(annual_rate),
        cap_rate=Decimal("0.24"),
        annual_cost=Decimal(annual_cost) if annual_cost else None,
    )
    assert rate == Decimal(expected)


def test_the_daily_run_charges_a_markup_penalty_on_the_contract_rate():
    product = LoanProductFactory(penalty_basis="markup", penalty_markup=Decimal("0.5"), cost_cap_rate=Decimal("0.24"))
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(product=product, annual_rate="0.0385")
    first = loan.installments.get(seq=1)
    run(date(2026, 3, 1), loan)
    expected = expected_penalty(first, date(2026, 3, 1), Decimal("0.0385") * Decimal("0.5"))
    assert delinquency.penalties(date(2026, 3, 1), [loan.pk])[first.pk] == expected > 0


def test_a_partial_payment_day_is_charged_once_on_what_it_paid():
    """The penalty the posting service computes on the day of a partial payment (and the payment
    pays) is what later computations find for that day: nothing is left short or charged twice."""
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(principal="24000.00", annual_rate="0.06", penalty_rate=Decimal("0.18"))
    first = loan.installments.get(seq=1)
    pay(loan, "1000.00", "P-1", date(2026, 3, 1))
    first.refresh_from_db()
    at_posting = first.penalty_accrued
    assert first.penalty_paid == at_posting > 0
    later = delinquency.penalties(date(2026, 3, 1), [loan.pk]).get(first.pk, first.penalty_accrued)
    assert later == at_posting == expected_penalty(first, date(2026, 3, 1), Decimal("0.18"))
    run(date(2026, 3, 20), loan)
    rows = delinquency.with_penalty(Installment.objects.filter(pk=first.pk), date(2026, 3, 20))
    assert rows[0].penalty_accrued == expected_penalty(first, date(2026, 3, 20), Decimal("0.18"))


def test_ifrs9_stage_beyond_days_past_due():
    assert rules.ifrs9_stage(0) == 1
    assert rules.ifrs9_stage(0, under_observation=True) == 2
    assert rules.ifrs9_stage(10, 3) == 3
    assert rules.ifrs9_stage(95, 1) == 3


def test_running_the_same_date_twice_changes_nothing_the_second_time():
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loans = [make_loan() for _ in range(3)]
    first = run(date(2026, 5, 1))
    snapshot = list(Loan.objects.order_by("pk").values())
    second = run(date(2026, 5, 1))
    assert first["loans_in_arrears"] == 3
    assert second == {"installments": 0, "loans_in_arrears": 0, "loans_cleared": 0}
    assert list(Loan.objects.order_by("pk").values()) == snapshot
    assert len(loans) == 3


def test_a_backdated_payment_comes_out_as_if_posted_on_time():
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan()
        on_time = make_loan()
    first = loan.installments.get(seq=1)
    for day in (date(2026, 2, 20), date(2026, 3, 10)):  # the nightly runs before the money is found
        run(day, loan, on_time)
    assert Loan.objects.get(pk=loan.pk).days_past_due == 23

    # The bank's file arrives late: the money came in on the due date.
    with time_machine.travel(at(date(2026, 3, 11)), tick=False):
        payment_post(
            actor="system",
            loan=loan,
            amount=first.total_due,
            external_reference="LATE-FILE-1",
            channel="bank_transfer",
            received_at=at(date(2026, 2, 15), hour=16),
        )
    pay(on_time, first.total_due, "ON-TIME-1", date(2026, 2, 15))
    for day in (date(2026, 3, 10), date(2026, 3, 14)):
        run(day, loan, on_time)
        late, punctual = Loan.objects.get(pk=loan.pk), Loan.objects.get(pk=on_time.pk)
        fields = ["days_past_due", "overdue_amount", "penalty_outstanding", "aging_bucket", "regulatory_class"]
        assert [getattr(late, f) for f in fields] == [getattr(punctual, f) for f in fields], day
    first.refresh_from_db()
    assert first.status == InstallmentStatus.PAID and first.penalty_accrued == 0 and first.paid_on == date(2026, 2, 15)


def test_after_a_reversal_a_past_date_sees_the_payment_as_never_made():
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan()
        never_paid = make_loan()
    first = loan.installments.get(seq=1)
    payment, _ = pay(loan, first.total_due, "BOUNCED-1", date(2026, 2, 15))
    run(date(2026, 3, 1), loan, never_paid)
    assert Loan.objects.get(pk=loan.pk).days_past_due == 0
    with time_machine.travel(at(date(2026, 3, 5)), tick=False):
        payment_reverse(actor="system", payment=payment, reason="Bounced")
    run(date(2026, 3, 1), loan, never_paid)
    late, unpaid = Loan.objects.get(pk=loan.pk), Loan.objects.get(pk=never_paid.pk)
    assert (late.days_past_due, late.overdue_amount, late.status) == (
        unpaid.days_past_due,
        unpaid.overdue_amount,
        LoanStatus.OVERDUE,
    )
    assert late.overdue_since == date(2026, 2, 16)


def test_sql_buckets_classes_and_stages_follow_the_rules_tables():
    with time_machine.travel(at(date(2025, 1, 10)), tick=False):
        loan = make_loan(disbursed_on=date(2025, 1, 10), term_months=1, principal="1000.00")
    due = loan.installments.get().due_date
    for dpd in [0, 1, 30, 31, 60, 61, 90, 91, 120, 150, 151, 180, 181, 270, 271, 360, 361, 400]:
        run(due + timedelta(days=dpd), loan)
        loan.refresh_from_db()
        assert loan.days_past_due == dpd
        assert loan.aging_bucket == rules.aging_bucket(dpd), dpd
        assert loan.regulatory_class == rules.regulatory_class(dpd), dpd
        assert loan.ifrs9_stage == rules.ifrs9_stage(dpd), dpd


def test_a_manual_class_is_a_floor_the_days_cannot_lower():
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(manual_regulatory_class=4)
    run(date(2026, 2, 20), loan)
    assert Loan.objects.get(pk=loan.pk).regulatory_class == 4


def test_the_query_count_does_not_grow_with_the_book():
    def count_for(n):
        with time_machine.travel(at(date(2026, 1, 15)), tick=False):
            loans = [make_loan() for _ in range(n)]
        with CaptureQueriesContext(connection) as queries:
            run(date(2026, 5, 1), *loans)
        return len(queries)

    assert count_for(2) == count_for(20)
