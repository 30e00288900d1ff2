"""Re-running a past date gives what running that date gave on a book holding only the money received
by then, and never touches a case that did not exist on that date."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import daily
from collection.choices import CaseState
from collection.models import CollectionCase
from loans.choices import PaymentChannel
from loans.models import Loan
from loans.services import payment_post
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
FIELDS = [
    "days_past_due",
    "overdue_since",
    "overdue_amount",
    "penalty_outstanding",
    "aging_bucket",
    "regulatory_class",
    "ifrs9_stage",
    "status",
    "balances_as_of",
]
PAST, TODAY = date(2026, 3, 20), date(2026, 4, 20)


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run(day):
    with time_machine.travel(at(TODAY, 1), tick=False):
        return daily.run_daily(as_of=day)


def figures(loan):
    loan = Loan.objects.get(pk=loan.pk)
    return {name: getattr(loan, name) for name in FIELDS}


@pytest.fixture
def twins():
    """Two loans on the same terms (disbursed 2026-01-15, due on the 15th), and the figures of one of
    them as of PAST from a run on that day."""
    product = LoanProductFactory(code="consumer")
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        paid, unpaid = make_loan(product=product), make_loan(product=product)
    with time_machine.travel(at(PAST, 1), tick=False):
        daily.run_daily(as_of=PAST)
    return paid, unpaid, figures(unpaid)


def test_a_later_payment_of_penalty_does_not_change_a_past_day(twins):
    paid, unpaid, as_run_then = twins
    with time_machine.travel(at(TODAY), tick=False):
        run(TODAY)
        owed = Loan.objects.get(pk=paid.pk).overdue_amount
        payment_post(
            actor="system",
            loan=paid,
            amount=owed,
            external_reference="P-LATER",
            channel=PaymentChannel.BANK_TRANSFER,
        )
    assert Loan.objects.get(pk=paid.pk).penalty_outstanding == 0  # the penalty to date is paid

    run(PAST)

    assert as_run_then["penalty_outstanding"] > 0 and as_run_then["days_past_due"] == 33
    assert figures(paid) == figures(unpaid) == as_run_then


def test_a_re_run_clears_what_a_later_day_set_on_a_loan_not_yet_overdue_then():
    product = LoanProductFactory(code="consumer")
    with time_machine.travel(at(date(2026, 2, 25)), tick=False):
        loan = make_loan(product=product, disbursed_on=date(2026, 2, 25))  # first due 2026-03-25
    run(PAST)
    as_run_then = figures(loan)
    run(TODAY)
    assert figures(loan)["penalty_outstanding"] > 0 and figures(loan)["balances_as_of"] == TODAY

    run(PAST)

    # Nothing was in arrears: the run of PAST left the loan as booked. The re-run brings the figures
    # back to that, and dates them no later than PAST (balances move with time only in arrears).
    assert as_run_then["penalty_outstanding"] == 0 and as_run_then["days_past_due"] == 0
    again = figures(loan)
    assert again.pop("balances_as_of") == PAST
    assert again == {name: value for name, value in as_run_then.items() if name != "balances_as_of"}


def test_a_re_run_never_touches_a_case_opened_after_its_date():
    product = LoanProductFactory(code="consumer")
    with time_machine.travel(at(date(2026, 2, 25)), tick=False):
        loan = make_loan(product=product, disbursed_on=date(2026, 2, 25))  # first due 2026-03-25
    run(TODAY)
    case = CollectionCase.objects.get(loan=loan)
    state = case.state  # classified at once: 26 days past due
    assert case.opened_on == TODAY and state == CaseState.MINOR

    summary = run(PAST)  # nothing of this loan was overdue on PAST

    case.refresh_from_db()
    assert summary.cases_resolved == 0
    assert (case.state, case.closed_on) == (state, None)
    assert Loan.objects.get(pk=loan.pk).overdue_amount == 0  # the loan's figures are the past day's
    assert Decimal(0) == Loan.objects.get(pk=loan.pk).penalty_outstanding
