"""Early settlement: the quote, and settling with it (or refusing less)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import models

from core.errors import ApplicationError
from core.models import ActivityLog
from loans.models import Payment
from loans.settlement import loan_settle_early, payoff_quote
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def loan():
    """¥12,000 at 12% over 12 equal instalments from 2026-02-15; the first two paid."""
    from loans.services import payment_post

    with time_machine.travel(datetime(2026, 1, 15, 10, tzinfo=SHANGHAI), tick=False):
        loan = make_loan()
    for n, day in enumerate([date(2026, 2, 15), date(2026, 3, 15)]):
        row = loan.installments.get(due_date=day)
        with time_machine.travel(datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI), tick=False):
            payment_post(
                actor="system",
                loan=loan,
                amount=row.principal_due + row.interest_due,
                external_reference=f"P{n}",
                channel="bank_transfer",
            )
    return loan


def test_the_quote_is_the_principal_left_and_the_interest_of_the_days_run(loan):
    quote = payoff_quote(loan, date(2026, 3, 25))  # ten days into the period 15 March - 15 April
    running = loan.installments.get(due_date=date(2026, 4, 15))
    left = sum(row.principal_due for row in loan.installments.filter(due_date__gte=date(2026, 4, 15)))
    assert (quote.due_now, quote.future_principal) == (0, left)
    assert quote.accrued_interest == (running.interest_due * 10 / 31).quantize(Decimal("0.01"))


def test_settling_pays_the_loan_off_and_keeps_the_old_instalments(loan):
    with time_machine.travel(datetime(2026, 3, 25, 10, tzinfo=SHANGHAI), tick=False):
        quote = payoff_quote(loan)
        with pytest.raises(ApplicationError) as short:
            loan_settle_early(
                actor="system",
                loan=loan,
                amount=quote.total - Decimal("0.01"),
                external_reference="S1",
                channel="bank_transfer",
            )
        assert short.value.field == "amount" and not Payment.objects.filter(external_reference="S1").exists()
        payment = loan_settle_early(
            actor="system", loan=loan, amount=quote.total, external_reference="S1", channel="bank_transfer"
        )
        again = loan_settle_early(
            actor="system", loan=loan, amount=quote.total, external_reference="S1", channel="bank_transfer"
        )
    loan.refresh_from_db()
    assert again == payment and Payment.objects.filter(external_reference="S1").count() == 1
    assert (loan.status, loan.total_outstanding, loan.closed_on) == ("paid_off", 0, date(2026, 3, 25))
    assert loan.installments.filter(status="superseded").count() == 10  # nothing deleted
    assert ActivityLog.objects.filter(action="loans.loan.settled_early").count() == 1


def test_money_already_held_is_spent_first_so_settling_takes_that_much_less(loan):
    from loans.services import payment_post

    with time_machine.travel(datetime(2026, 3, 20, 10, tzinfo=SHANGHAI), tick=False):
        payment_post(
            actor="system", loan=loan, amount=Decimal("500.00"), external_reference="EARLY", channel="bank_transfer"
        )
    loan.refresh_from_db()
    assert loan.credit_balance == Decimal("500.00")  # nothing was due: held for the next instalment
    with time_machine.travel(datetime(2026, 3, 25, 10, tzinfo=SHANGHAI), tick=False):
        quote = payoff_quote(loan)
        assert (quote.credit, quote.to_pay) == (Decimal("500.00"), quote.total - Decimal("500.00"))
        with pytest.raises(ApplicationError) as short:
            loan_settle_early(
                actor="system",
                loan=loan,
                amount=quote.to_pay - Decimal("0.01"),
                external_reference="S2",
                channel="bank_transfer",
            )
        assert short.value.field == "amount"
        loan_settle_early(
            actor="system", loan=loan, amount=quote.to_pay, external_reference="S2", channel="bank_transfer"
        )
    loan.refresh_from_db()
    assert (loan.status, loan.total_outstanding, loan.credit_balance) == ("paid_off", 0, 0)
    assert not Payment.objects.filter(loan=loan, unapplied_amount__gt=0).exists()  # nothing left over


def test_the_payments_note_is_in_the_lenders_language_whoever_settles(loan, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"  # the lender's (the tests' default is English)
    with translation.override("zh-hans"):
        chinese = translation.gettext("Early settlement")
    assert chinese != "Early settlement"
    with time_machine.travel(datetime(2026, 3, 25, 10, tzinfo=SHANGHAI), tick=False), translation.override("en"):
        payment = loan_settle_early(
            actor="system", loan=loan, amount=payoff_quote(loan).to_pay, external_reference="S3", channel="cash"
        )
    assert payment.note == chinese


def test_after_a_restructuring_interest_accrues_from_the_plans_start_not_the_disbursement():
    """Interest was paid to 5 December; the plan's first period runs 5 December - 5 January. Settled
    on 8 December, three days of the plan's interest are owed, not 33/61 of it counted from the
    disbursement on 5 November."""
    from loans.schedule import build_schedule
    from loans.services import loan_reschedule, payment_post

    with time_machine.travel(datetime(2026, 11, 5, 10, tzinfo=SHANGHAI), tick=False):
        loan = make_loan(principal="500000.00", annual_rate="0.06", term_months=12, disbursed_on=date(2026, 11, 5))
    first = loan.installments.get(seq=1)
    with time_machine.travel(datetime(2026, 12, 5, 10, tzinfo=SHANGHAI), tick=False):
        payment_post(
            actor="system", loan=loan, amount=first.interest_due, external_reference="INT", channel="bank_transfer"
        )
        lines = build_schedule(
            method="equal_installment",
            principal=loan.installments.filter(status__in=["pending", "partially_paid"]).aggregate(
                p=models.Sum("principal_due")
            )["p"],
            annual_rate=Decimal("0.05"),
            term_months=18,
            first_due_date=date(2027, 1, 5),
        )
        loan_reschedule(
            actor="system",
            loan=loan,
            lines=lines,
            annual_rate=Decimal("0.05"),
            penalty_waived=Decimal("0"),
            reason="plan",
            on=date(2026, 12, 5),
        )
    quote = payoff_quote(loan, date(2026, 12, 8))
    running = loan.installments.get(schedule_version=2, seq=1)
    assert running.interest_due == Decimal("2083.33")  # ¥500,000 at 5% for a month
    assert quote.accrued_interest == (running.interest_due * 3 / 31).quantize(Decimal("0.01")) == Decimal("201.61")


def test_the_claim_and_a_write_off_count_no_interest_or_fees_of_periods_to_come():
    from loans.claim import claim_as_of
    from loans.services import loan_write_off

    with time_machine.travel(datetime(2026, 1, 15, 10, tzinfo=SHANGHAI), tick=False):
        loan = make_loan(principal="200000.00", annual_rate="0.12", term_months=24, monthly_fee_rate=Decimal("0.001"))
    day = date(2026, 4, 25)  # three instalments overdue, the fourth period ten days run
    loan.refresh_from_db()
    due = list(loan.installments.filter(due_date__lte=day))
    running = loan.installments.get(due_date=date(2026, 5, 15))
    claim = claim_as_of(loan, day)
    assert claim.principal == Decimal("200000.00")
    assert claim.interest == sum(row.interest_due for row in due) + (running.interest_due * 10 / 30).quantize(
        Decimal("0.01")
    )
    assert claim.fees == sum(row.fee_due for row in due) == Decimal("600.00")  # three months' fees, not 24
    assert claim.total < loan.principal + sum(row.interest_due + row.fee_due for row in loan.installments.all())
    with time_machine.travel(datetime(2026, 4, 25, 10, tzinfo=SHANGHAI), tick=False):
        loan_write_off(actor="system", loan=loan, on=day, reason="nothing to enforce")
    entry = ActivityLog.objects.get(action="loans.loan.written_off")
    assert Decimal(str(entry.data["exposure"])) == claim.total
    assert Decimal(str(entry.data["fees"])) == Decimal("600.00")
