"""Early settlement: the quote, and settling with it (or refusing less)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

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
