import random
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum

from core.dates import business_today
from core.errors import ApplicationError
from core.models import ActivityLog
from loans.choices import AllocationOrder, Component, InstallmentStatus, LoanStatus, PaymentChannel
from loans.models import Installment, Loan, Payment, PaymentAllocation
from loans.services import loan_apply_credit, loan_write_off, payment_post, payment_reverse
from tests.loans.factories import make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def today():
    """Business day 2026-04-20: the loan below (disbursed 2026-01-15, due on the 15th) has three
    instalments past due."""
    with time_machine.travel(at(date(2026, 4, 20)), tick=False):
        yield date(2026, 4, 20)


def post(loan, amount, ref, **kwargs):
    kwargs.setdefault("channel", PaymentChannel.BANK_TRANSFER)
    return payment_post(actor="system", loan=loan, amount=Decimal(amount), external_reference=ref, **kwargs)


def schedule(loan):
    return list(loan.installments.order_by("seq"))


def test_civil_code_order_pays_all_overdue_interest_before_any_principal(today):
    loan = make_loan()
    first, second, third, *_ = schedule(loan)
    overdue_interest = sum(i.interest_due + i.penalty_accrued for i in (first, second, third))
    assert first.penalty_accrued > 0  # penalty ranks with interest

    payment, created = post(loan, overdue_interest + Decimal("100.00"), "P-1")

    assert created
    first, second, third, fourth, *_ = schedule(loan)
    assert [i.interest_paid for i in (first, second, third)] == [i.interest_due for i in (first, second, third)]
    assert first.principal_paid == Decimal("100.00")  # oldest principal next
    assert second.principal_paid == third.principal_paid == 0
    assert fourth.interest_paid == 0  # not due yet
    lines = payment.allocations.values_list("component", flat=True)
    assert list(lines).count(Component.INTEREST) == 3


def test_installment_first_order_settles_the_oldest_instalment_in_full(today):
    loan = make_loan(allocation_order=AllocationOrder.INSTALLMENT_FIRST)
    first, second, *_ = schedule(loan)

    post(loan, first.total_due + Decimal("50.00"), "P-1")

    first, second, *_ = schedule(loan)
    assert first.status == InstallmentStatus.PAID and first.paid_on == today
    # Then the next instalment: its penalty, then its interest.
    assert second.penalty_paid == second.penalty_accrued > 0
    assert second.interest_paid == Decimal("50.00") - second.penalty_paid and second.principal_paid == 0


def test_partial_payment_leaves_the_instalment_partially_paid_and_the_loan_overdue(today):
    loan = make_loan()
    overdue_before = loan.overdue_amount

    post(loan, "200.00", "P-1")

    loan.refresh_from_db()
    first = schedule(loan)[0]
    assert first.status == InstallmentStatus.PARTIALLY_PAID
    assert loan.status == LoanStatus.OVERDUE
    assert loan.days_past_due == (today - date(2026, 2, 15)).days
    assert loan.overdue_since == date(2026, 2, 16)
    assert first.interest_paid == first.interest_due == Decimal("120.00")  # interest before principal
    assert loan.overdue_amount == overdue_before - Decimal("200.00")


def test_paying_all_arrears_cures_the_loan(today):
    loan = make_loan()
    post(loan, loan.overdue_amount, "P-1")
    loan.refresh_from_db()
    assert loan.overdue_amount == 0 and loan.days_past_due == 0 and loan.aging_bucket == "M0"
    assert loan.status == LoanStatus.ACTIVE
    assert [i.status for i in schedule(loan)[:3]] == [InstallmentStatus.PAID] * 3


def test_posting_the_same_payment_twice_changes_nothing_the_second_time(today):
    loan = make_loan()
    first, created = post(loan, "500.00", "GW-20260420-0001")
    counts = (Payment.objects.count(), PaymentAllocation.objects.count(), ActivityLog.objects.count())
    loan.refresh_from_db()
    balances = (loan.overdue_amount, loan.principal_outstanding, loan.interest_outstanding)

    again, created_again = post(loan, "500.00", "GW-20260420-0001")

    loan.refresh_from_db()
    assert created and not created_again
    assert again.pk == first.pk
    assert (Payment.objects.count(), PaymentAllocation.objects.count(), ActivityLog.objects.count()) == counts
    assert (loan.overdue_amount, loan.principal_outstanding, loan.interest_outstanding) == balances


def test_the_same_reference_for_a_different_amount_is_refused(today):
    loan = make_loan()
    post(loan, "500.00", "GW-1")
    with pytest.raises(ApplicationError) as error:
        post(loan, "600.00", "GW-1")
    assert error.value.code == "idempotency_mismatch" and error.value.field == "external_reference"
    assert Payment.objects.count() == 1


def test_overpayment_is_kept_as_credit_and_pays_the_next_instalments_as_they_fall_due(today):
    loan = make_loan()
    fourth = schedule(loan)[3]
    post(loan, loan.overdue_amount + Decimal("2000.00"), "P-1")
    loan.refresh_from_db()
    assert loan.credit_balance == Decimal("2000.00")
    assert schedule(loan)[3].total_paid == 0  # not due yet: the money waits

    with time_machine.travel(at(fourth.due_date), tick=False):
        loan_apply_credit(loan=loan, as_of=business_today())

    loan.refresh_from_db()
    fourth = schedule(loan)[3]
    assert fourth.status == InstallmentStatus.PAID and fourth.paid_on == date(2026, 5, 15)
    assert loan.credit_balance == Decimal("2000.00") - fourth.total_due
    assert fourth.allocations.get(component=Component.PRINCIPAL).applied_on == date(2026, 5, 15)


def test_paying_more_than_everything_pays_off_the_loan_and_keeps_the_rest_as_credit(today):
    loan = make_loan(principal="1000.00", term_months=3, disbursed_on=date(2026, 1, 15))
    total = loan.total_outstanding
    post(loan, total + Decimal("12.34"), "P-1")
    with time_machine.travel(at(date(2026, 4, 16)), tick=False):
        loan_apply_credit(loan=loan, as_of=business_today())
    loan.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF and loan.closed_on == date(2026, 4, 20)
    assert loan.credit_balance == Decimal("12.34")
    with pytest.raises(ApplicationError) as error:
        post(loan, "1.00", "P-2")
    assert error.value.code == "loan_closed"


def test_a_backdated_payment_is_dated_on_its_value_date(today):
    loan = make_loan()
    first = schedule(loan)[0]
    post(loan, first.total_due, "P-1", received_at=at(date(2026, 2, 15), hour=23))
    first = schedule(loan)[0]
    assert first.paid_on == date(2026, 2, 15)
    loan.refresh_from_db()
    assert loan.overdue_since == date(2026, 3, 16)


def test_money_paid_early_goes_to_each_instalment_on_its_due_date(today):
    loan = make_loan()
    first, second, *_ = schedule(loan)
    assert first.penalty_accrued > 0  # as seen today, 2026-04-20
    contract = [i.principal_due + i.interest_due + i.fee_due for i in (first, second)]
    # Paid a week before the first due date, enough for two instalments: each is paid on its due
    # date, so no penalty ever accrued on them.
    post(loan, sum(contract), "P-1", received_at=at(date(2026, 2, 8)))
    first, second, third, *_ = schedule(loan)
    assert (first.paid_on, second.paid_on) == (date(2026, 2, 15), date(2026, 3, 15))
    assert first.penalty_accrued == second.penalty_accrued == 0
    assert third.total_paid == 0


def test_reversal_is_a_new_negative_entry_that_reopens_what_the_payment_paid(today):
    loan = make_loan()
    before = loan.overdue_amount
    payment, _ = post(loan, before, "P-1")
    loan.refresh_from_db()
    assert loan.overdue_amount == 0

    reversal, created = payment_reverse(actor="system", payment=payment, reason="Bounced by the bank")

    loan.refresh_from_db()
    assert created and reversal.amount == -payment.amount and reversal.reverses == payment
    assert loan.overdue_amount == before and loan.status == LoanStatus.OVERDUE
    assert all(i.total_paid == 0 and i.status == InstallmentStatus.PENDING for i in schedule(loan))
    assert Payment.objects.filter(pk=payment.pk, amount=payment.amount).exists()  # the original is untouched
    assert reversal.allocations.aggregate(total=Sum("amount"))["total"] == -payment.amount
    # Each line is taken back on the day it took effect: as of any date the pair nets to zero.
    taken_back = sorted((a.installment_id, a.component, a.applied_on, -a.amount) for a in reversal.allocations.all())
    assert taken_back == sorted(
        (a.installment_id, a.component, a.applied_on, a.amount) for a in payment.allocations.all()
    )

    again, created_again = payment_reverse(actor="system", payment=payment, reason="Bounced by the bank")
    assert again.pk == reversal.pk and not created_again
    with pytest.raises(ApplicationError):
        payment_reverse(actor="system", payment=reversal, reason="oops")


def test_reversing_a_payment_that_paid_off_the_loan_reopens_it(today):
    loan = make_loan(principal="1000.00", term_months=3)
    payment, _ = post(loan, loan.total_outstanding, "P-1")
    with time_machine.travel(at(date(2026, 4, 16)), tick=False):
        loan_apply_credit(loan=loan, as_of=business_today())
    loan.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF
    payment_reverse(actor="system", payment=payment, reason="Chargeback")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.OVERDUE and loan.closed_on is None and loan.credit_balance == 0


def test_reversing_money_held_as_credit_takes_the_credit_back(today):
    loan = make_loan()
    payment, _ = post(loan, loan.overdue_amount + Decimal("300.00"), "P-1")
    payment_reverse(actor="system", payment=payment, reason="Duplicate transfer")
    loan.refresh_from_db()
    assert loan.credit_balance == 0
    with time_machine.travel(at(date(2026, 5, 16)), tick=False):
        loan_apply_credit(loan=loan, as_of=business_today())
    assert schedule(loan)[3].total_paid == 0


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        (Decimal("0"), "amount"),
        (Decimal("-5.00"), "amount"),
        (Decimal("1.005"), "amount"),
        (12.5, "amount"),
        ("abc", "amount"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(today, amount, field):
    loan = make_loan()
    with pytest.raises(ApplicationError) as error:
        payment_post(actor="system", loan=loan, amount=amount, external_reference="P-1", channel="bank_transfer")
    assert error.value.field == field
    assert not Payment.objects.exists()


def test_other_refusals_name_their_field(today):
    loan = make_loan()
    cases = [
        ({"currency": "USD"}, "currency"),
        ({"received_at": at(date(2026, 5, 1))}, "received_at"),
        ({"received_at": at(date(2026, 1, 1))}, "received_at"),
        ({"received_at": datetime(2026, 4, 1, 10)}, "received_at"),
        ({"external_reference": ""}, "external_reference"),
    ]
    for kwargs, field in cases:
        kwargs.setdefault("external_reference", "P-1")
        with pytest.raises(ApplicationError) as error:
            payment_post(actor="system", loan=loan, amount=Decimal("10.00"), channel="cash", **kwargs)
        assert error.value.field == field, kwargs
    assert not Payment.objects.exists()


def test_a_posted_payment_is_audited(today):
    loan = make_loan()
    post(loan, "88.00", "P-1")
    before = loan.principal_outstanding + loan.interest_outstanding
    entry = ActivityLog.objects.get(action="loans.payment.posted")
    assert entry.target_id == str(loan.pk) and entry.actor_label == "system"
    assert entry.data["amount"] == "88.00" and entry.data["payment"] == "P-1"
    owed_before = Decimal(entry.before["principal_outstanding"]) + Decimal(entry.before["interest_outstanding"])
    owed_after = Decimal(entry.after["principal_outstanding"]) + Decimal(entry.after["interest_outstanding"])
    assert owed_before == before and owed_before - owed_after <= Decimal("88.00")
    assert entry.before["overdue_amount"] != entry.after["overdue_amount"]


def test_a_reversal_and_credit_applied_are_audited_with_the_balances(today):
    loan = make_loan()
    payment, _created = post(loan, loan.overdue_amount + Decimal("50.00"), "P-1")
    payment_reverse(actor="system", payment=payment, reason="Bounced")
    reversed_entry = ActivityLog.objects.get(action="loans.payment.reversed")
    assert Decimal(reversed_entry.before["credit_balance"]) == Decimal("50.00")
    assert Decimal(reversed_entry.after["credit_balance"]) == 0
    assert Decimal(reversed_entry.after["overdue_amount"]) > Decimal(reversed_entry.before["overdue_amount"]) == 0

    credit_loan = make_loan()
    fourth = schedule(credit_loan)[3]
    post(credit_loan, credit_loan.overdue_amount + Decimal("2000.00"), "P-2")  # waits as credit
    with time_machine.travel(at(fourth.due_date), tick=False):
        loan_apply_credit(loan=credit_loan, as_of=business_today())
    applied = ActivityLog.objects.get(action="loans.credit.applied", target_id=str(credit_loan.pk))
    assert Decimal(applied.before["credit_balance"]) == Decimal("2000.00")
    assert Decimal(applied.after["credit_balance"]) == Decimal("2000.00") - fourth.total_due
    assert applied.actor_label == "system" and applied.data["allocation_lines"] > 0


def ledger_balances(loan, as_of):
    """Balances recomputed independently: schedule amounts minus the allocation lines."""
    paid = defaultdict(Decimal)
    for line in PaymentAllocation.objects.filter(installment__loan=loan):
        paid[(line.installment_id, line.component)] += line.amount
    principal = interest = fees = penalty = overdue = Decimal("0.00")
    oldest_unpaid = None
    for inst in Installment.objects.filter(loan=loan):
        owed = {
            Component.PRINCIPAL: inst.principal_due - paid[(inst.pk, Component.PRINCIPAL)],
            Component.INTEREST: inst.interest_due - paid[(inst.pk, Component.INTEREST)],
            Component.FEE: inst.fee_due - paid[(inst.pk, Component.FEE)],
        }
        penalty_owed = inst.penalty_accrued - paid[(inst.pk, Component.PENALTY)]
        assert all(v >= 0 for v in owed.values()) and penalty_owed >= 0
        principal += owed[Component.PRINCIPAL]
        interest += owed[Component.INTEREST]
        fees += owed[Component.FEE]
        penalty += penalty_owed
        if inst.due_date < as_of:
            overdue += sum(owed.values()) + penalty_owed
        if inst.due_date < as_of and sum(owed.values()) > 0:  # days past due count contractual arrears
            oldest_unpaid = min(oldest_unpaid or inst.due_date, inst.due_date)
        # The instalment's own paid fields agree with its lines.
        assert inst.principal_paid == paid[(inst.pk, Component.PRINCIPAL)]
        assert inst.interest_paid == paid[(inst.pk, Component.INTEREST)]
        assert inst.fee_paid == paid[(inst.pk, Component.FEE)]
    received = Payment.objects.filter(loan=loan).aggregate(total=Sum("amount"))["total"] or 0
    allocated = PaymentAllocation.objects.filter(payment__loan=loan).aggregate(total=Sum("amount"))["total"] or 0
    return {
        "principal_outstanding": principal,
        "interest_outstanding": interest,
        "fees_outstanding": fees,
        "penalty_outstanding": penalty,
        "overdue_amount": overdue,
        "credit_balance": received - allocated,
        "days_past_due": (as_of - oldest_unpaid).days if oldest_unpaid else 0,
    }


@pytest.mark.parametrize("seed", range(6))
def test_balances_match_the_ledger_after_random_payment_sequences(seed):
    rng = random.Random(seed)
    loan = make_loan(
        principal=str(rng.randint(1000, 50000)),
        term_months=rng.choice([3, 6, 12]),
        monthly_fee_rate=Decimal(rng.choice(["0", "0.002"])),
        allocation_order=rng.choice(list(AllocationOrder)),
    )
    day, payments = date(2026, 1, 20), []
    for step in range(25):
        day += timedelta(days=rng.randint(1, 25))
        with time_machine.travel(at(day), tick=False):
            action = rng.random()
            if action < 0.7 and not Loan.objects.get(pk=loan.pk).is_closed:
                amount = Decimal(rng.randint(1, 300000)) / 100
                try:
                    payment, _ = post(loan, amount, f"S{seed}-{step}")
                except ApplicationError as refused:  # beyond what the loan owes (less its credit) plus the allowance
                    now = Loan.objects.get(pk=loan.pk)
                    owed = max(now.total_outstanding - now.credit_balance, 0)
                    assert refused.field == "amount" and amount > owed + now.product.overpayment_allowance
                else:
                    payments.append(payment)
            elif action < 0.85 and payments:
                payment_reverse(actor="system", payment=rng.choice(payments), reason="random reversal")
            else:
                loan_apply_credit(loan=loan, as_of=business_today())
            loan.refresh_from_db()
            expected = ledger_balances(loan, loan.balances_as_of)  # a no-op (repeat reversal) refreshes nothing
            actual = {field: getattr(loan, field) for field in expected}
            assert actual == expected, (
                seed,
                step,
                [(i.seq, i.due_date, i.status, i.total_outstanding) for i in schedule(loan)],
            )


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_reference_book_one_payment():
    with time_machine.travel(at(date(2026, 4, 20)), tick=False):
        loan = make_loan()
    results, errors = [], []

    def worker():
        try:
            with time_machine.travel(at(date(2026, 4, 20)), tick=False):
                results.append(post(loan, "700.00", "RACE-1"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Payment.objects.filter(external_reference="RACE-1").count() == 1
    assert sum(created for _p, created in results) == 1
    assert PaymentAllocation.objects.aggregate(total=Sum("amount"))["total"] == Decimal("700.00")


def test_a_written_off_loan_still_collects_and_stays_written_off(today):
    loan = make_loan(disbursed_on=date(2026, 1, 15))
    loan_write_off(actor="system", loan=loan, on=date(2026, 4, 20), reason="Enforcement found nothing.")
    payment, _created = post(loan, "500.00", "AFTER-WRITE-OFF")
    loan.refresh_from_db()
    assert payment.unapplied_amount == 0 and payment.allocations.exists()
    assert (loan.status, loan.closed_on) == (LoanStatus.WRITTEN_OFF, date(2026, 4, 20))


def test_credit_applied_for_a_past_business_date_leaves_the_balances_as_of_that_date(today):
    """A re-run of a past date applies credit as of that date: the loan's days past due, penalty and
    balances date are that day's, not today's."""
    from loans import delinquency

    loan = make_loan()
    past = date(2026, 3, 1)  # the first instalment (2026-02-15) was 14 days overdue; the second not yet due
    loan_apply_credit(loan=loan, as_of=past)

    loan.refresh_from_db()
    assert loan.balances_as_of == past
    assert loan.days_past_due == 14
    assert loan.penalty_outstanding == sum(delinquency.penalties(past, [loan.pk]).values())
    assert loan.penalty_outstanding < sum(delinquency.penalties(today, [loan.pk]).values())


def _paid_by(payment):
    """What a payment has paid, net, by component."""
    rows = payment.allocations.values("component").annotate(total=Sum("amount"))
    return {row["component"]: row["total"] for row in rows if row["total"]}


def test_reversing_an_earlier_payment_reallocates_the_later_ones_in_the_civil_code_order(today):
    """Payment A paid fees and interest, payment B then paid principal; A bounces. B is taken back
    and spent again as if A had never come: on the interest and fees A no longer pays, before any
    principal."""
    loan = make_loan(monthly_fee_rate=Decimal("0.003"))
    first, second, third, *_ = schedule(loan)
    ahead_of_principal = sum(i.total_outstanding - i.principal_due for i in (first, second, third))
    a, _ = post(loan, ahead_of_principal, "A")
    b, _ = post(loan, Decimal("300.00"), "B")
    assert ahead_of_principal > Decimal("300.00")
    assert set(_paid_by(b)) == {Component.PRINCIPAL}

    payment_reverse(actor="system", payment=a, reason="Bounced by the bank")

    after = _paid_by(b)
    assert after.get(Component.PRINCIPAL, 0) == 0  # interest and fees are still open: no principal yet
    assert sum(after.values()) == Decimal("300.00")
    assert set(after) <= {Component.FEE, Component.PENALTY, Component.INTEREST}
    # B's old lines stay, taken back by mirror lines; the new lines follow.
    assert b.allocations.filter(component=Component.PRINCIPAL, amount__lt=0).exists()
    entry = ActivityLog.objects.get(action="loans.payment.reallocated")
    assert entry.data["after_reversal_of"] == "A"
    assert entry.data["payments"][0]["payment"] == "B"
    assert entry.data["payments"][0]["before"] == {Component.PRINCIPAL: "300.00"}
    loan.refresh_from_db()
    paid = sum(i.total_paid for i in schedule(loan))
    assert paid == Decimal("300.00")  # nothing created or lost


def test_credit_held_is_applied_at_once_when_a_reversal_reopens_instalments(today):
    """The loan holds credit (money for instalments not yet due) when an earlier payment bounces:
    that credit pays the re-opened instalments now, not at the next nightly run."""
    loan = make_loan()
    overdue = loan.overdue_amount
    a, _ = post(loan, overdue, "A")
    b, _ = post(loan, Decimal("2000.00"), "B")  # nothing else due: held as credit
    loan.refresh_from_db()
    assert loan.credit_balance == Decimal("2000.00") and loan.overdue_amount == 0

    payment_reverse(actor="system", payment=a, reason="Chargeback")

    loan.refresh_from_db()
    assert loan.credit_balance == 0
    assert loan.overdue_amount == overdue - Decimal("2000.00")
    b.refresh_from_db()
    assert b.unapplied_amount == 0


def test_reallocation_after_a_reversal_is_seen_right_by_a_rerun_of_a_past_day(today):
    """The mirror lines carry the dates of the lines they take back: re-running the day B came
    gives the figures of a book where only B had come."""
    loan = make_loan()
    a, _ = post(loan, Decimal("900.00"), "A", received_at=at(date(2026, 4, 16)))
    post(loan, Decimal("700.00"), "B", received_at=at(date(2026, 4, 18)))
    payment_reverse(actor="system", payment=a, reason="Bounced")
    loan_apply_credit(loan=loan, as_of=date(2026, 4, 18))
    rerun = Loan.objects.get(pk=loan.pk)

    other = make_loan(external_id="L-ONLY-B")
    post(other, Decimal("700.00"), "B2", received_at=at(date(2026, 4, 18)))
    loan_apply_credit(loan=other, as_of=date(2026, 4, 18))
    only_b = Loan.objects.get(pk=other.pk)
    for field in ("overdue_amount", "penalty_outstanding", "days_past_due", "principal_outstanding"):
        assert getattr(rerun, field) == getattr(only_b, field), field


def test_a_payment_posted_late_comes_before_the_later_payments_already_allocated(today):
    """A bank transfer received on 16 April reaches the books on the 19th, after a payment of the
    18th took the overdue interest: the 16 April money takes it instead, and the payment of the 18th
    is spent again after it."""
    loan = make_loan()
    first = schedule(loan)[0]
    interest = first.interest_due + first.penalty_accrued
    with time_machine.travel(at(date(2026, 4, 18)), tick=False):
        later, _ = post(loan, Decimal("50.00"), "LATER", received_at=at(date(2026, 4, 18)))
    early, _ = post(loan, Decimal("50.00"), "EARLY", received_at=at(date(2026, 4, 16)))
    assert early.allocations.filter(applied_on=date(2026, 4, 16)).aggregate(t=Sum("amount"))["t"] == Decimal("50.00")
    assert _paid_by(later) and sum(_paid_by(later).values()) == Decimal("50.00")
    entry = ActivityLog.objects.get(action="loans.payment.reallocated")
    assert entry.data["after_backdated"] == "EARLY" and entry.data["payments"][0]["payment"] == "LATER"
    assert interest > 0


def test_a_payment_dates_the_balances_of_a_loan_with_nothing_in_arrears(today):
    with time_machine.travel(at(date(2026, 4, 1)), tick=False):
        loan = make_loan(disbursed_on=date(2026, 4, 1))  # first due 1 May: nothing in arrears
    assert Loan.objects.get(pk=loan.pk).balances_as_of == date(2026, 4, 1)
    post(loan, Decimal("100.00"), "EARLY-MONEY")
    assert Loan.objects.get(pk=loan.pk).balances_as_of == today


# --- A payment no larger than the loan could take ---------------------------------------------------


def test_a_payment_may_exceed_what_is_owed_by_the_products_allowance_and_no_more(today):
    loan = make_loan(principal="4500.00", term_months=3, disbursed_on=date(2026, 1, 15))
    allowance = loan.product.overpayment_allowance
    assert allowance == Decimal("1000.00")
    limit = loan.total_outstanding + allowance
    with pytest.raises(ApplicationError) as refused:
        post(loan, "99999999999999.99", "P-huge")
    assert refused.value.field == "amount"
    assert f"¥{loan.total_outstanding:,.2f}" in refused.value.message and "¥1,000.00" in refused.value.message
    with pytest.raises(ApplicationError):
        post(loan, limit + Decimal("0.01"), "P-over")
    assert not Payment.objects.exists()
    payment, created = post(loan, limit, "P-limit")
    assert created and payment.amount == limit  # the excess is held as credit


def test_credit_already_held_counts_against_the_limit(today):
    loan = make_loan(principal="4500.00", term_months=3, disbursed_on=date(2026, 1, 15))
    Loan.objects.filter(pk=loan.pk).update(credit_balance=Decimal("300.00"))
    loan.refresh_from_db()
    with pytest.raises(ApplicationError):
        post(loan, loan.total_outstanding - Decimal("300.00") + Decimal("1000.01"), "P-1")


def test_the_refusal_names_no_balance_to_an_actor_that_may_not_read_the_loan(today):
    from django.contrib.auth.models import Permission, User

    gateway = User.objects.create_user("gateway")
    gateway.user_permissions.add(Permission.objects.get(codename="add_payment"))
    loan = make_loan(principal="4500.00")
    with pytest.raises(ApplicationError) as refused:
        payment_post(
            actor=gateway, loan=loan, amount="90000.00", external_reference="G-1", channel=PaymentChannel.BANK_TRANSFER
        )
    assert "¥" not in refused.value.message and "overpayment allowance" in refused.value.message


@pytest.mark.parametrize("typed", ["１０.00", "10．00", "١٠"])
def test_digits_other_than_0_to_9_are_refused(today, typed):
    loan = make_loan()
    with pytest.raises(ApplicationError) as refused:
        payment_post(
            actor="system", loan=loan, amount=typed, external_reference="P-1", channel=PaymentChannel.BANK_TRANSFER
        )
    assert refused.value.field == "amount" and "0-9" in refused.value.message
