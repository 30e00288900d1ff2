"""The seeds' first case study, end to end: an enterprise loan of ¥500,000 misses its first principal
payment, is classified minor and given a 30-day grace period, has its term extended and its interest
reduced, and is repaid in full within six months (early settlement): the case resolves as
restructured. The other endings: the new schedule kept until the observation period ends (resolved
too), or an instalment of the plan missed (the plan defaults, the case is serious again)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import daily, restructuring, services
from collection.choices import CaseState, ContactChannel, ContactOutcome, PlanState, ResolutionReason
from collection.models import CollectionCase, RestructuringPlan, Team
from loans.choices import ProductKind, RepaymentMethod
from loans.models import Loan
from loans.services import payment_post
from loans.settlement import loan_settle_early, payoff_quote
from tests.borrowers.factories import EnterpriseFactory
from tests.collection.factories import make_manager, make_officer
from tests.loans.factories import LoanProductFactory, make_loan

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run_until(start, end):
    day = start
    while day <= end:
        with time_machine.travel(at(day, 1), tick=False):
            daily.run_daily(as_of=day)
        day += timedelta(days=1)


def pay(loan, amount, day, reference):
    with time_machine.travel(at(day, 11), tick=False):
        payment_post(actor="system", loan=loan, amount=amount, external_reference=reference, channel="bank_transfer")


@pytest.fixture
def story():
    product = LoanProductFactory(
        code="enterprise-wc",
        kind=ProductKind.ENTERPRISE,
        repayment_method=RepaymentMethod.EQUAL_PRINCIPAL,
        grace_days=3,
        max_rate_cut=Decimal("0.02"),
    )
    officer, manager = make_officer("zhao"), make_manager("qian")
    team = Team.objects.create(name="Enterprise")
    team.products.add(product)
    team.members.add(officer)
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(
            product=product, borrower=EnterpriseFactory(), principal="500000.00", annual_rate="0.06", term_months=12
        )
    return {"loan": loan, "officer": officer, "manager": manager}


def restructure(story, *, on):
    """Classified minor after the borrower explains, 30 days' grace, then a plan: six months longer,
    rate 6% -> 4.5%, penalty waived; approved by the manager, signed, in force."""
    officer, manager, loan = story["officer"], story["manager"], story["loan"]
    case = CollectionCase.objects.get(loan=loan)
    assert case.officer == officer and case.state == CaseState.EARLY_WARNING
    with time_machine.travel(at(date(2026, 2, 20)), tick=False):
        services.contact_log(
            actor=officer,
            case=case,
            channel=ContactChannel.CALL,
            outcome=ContactOutcome.HARDSHIP,
            note="A customer paid late; cash arrives in March.",
        )
        case = services.case_classify(actor=officer, case=CollectionCase.objects.get(pk=case.pk))
        assert case.state == CaseState.MINOR
        case = services.case_grant_grace(actor=officer, case=case, until=date(2026, 3, 19), reason="Cash in March")
    run_until(date(2026, 2, 20), on - timedelta(days=1))
    with time_machine.travel(at(on), tick=False):
        case = CollectionCase.objects.get(pk=case.pk)
        assert case.state == CaseState.MINOR  # the grace period held it
        plan = restructuring.plan_propose(
            actor=officer,
            case=case,
            extension_months=6,
            new_annual_rate="0.045",
            penalty_waiver=Loan.objects.get(pk=loan.pk).penalty_outstanding,
            reason="Temporary cash-flow gap.",
        )
        plan = restructuring.plan_submit(actor=officer, plan=plan)
        plan = restructuring.plan_approve(actor=manager, plan=plan, note="Receivables confirmed.")
        plan = restructuring.plan_sign(
            actor=manager, plan=plan, borrower_signed_on=on, method="one_time_code", reference="OTP-500000"
        )
        return restructuring.plan_activate(actor=manager, plan=plan)


def test_the_enterprise_loan_is_restructured_and_repaid_in_full_within_six_months(story):
    loan = story["loan"]
    run_until(date(2026, 2, 15), date(2026, 2, 19))
    plan = restructure(story, on=date(2026, 3, 10))
    loan.refresh_from_db()
    for n, installment in enumerate(loan.installments.filter(schedule_version=2).order_by("seq")[:6]):
        pay(
            loan,
            installment.principal_due + installment.interest_due + installment.fee_due,
            installment.due_date,
            f"ENT-{n}",
        )
        run_until(installment.due_date, installment.due_date + timedelta(days=1))
    settle_on = date(2026, 8, 20)  # five months and ten days after the new terms took effect
    with time_machine.travel(at(settle_on, 11), tick=False):
        quote = payoff_quote(loan)
        # March to August paid on time; the running period (15 August - 15 September) has run five days.
        assert quote.due_now == 0 and quote.future_principal == Decimal("500000.00") - Decimal("29411.76") * 6
        assert quote.accrued_interest == (quote.future_principal * Decimal("0.045") / 12 * 5 / 31).quantize(
            Decimal("0.01")
        )
        loan_settle_early(
            actor="system", loan=loan, amount=quote.total, external_reference="ENT-SETTLE", channel="bank_transfer"
        )
    loan.refresh_from_db()
    assert (loan.status, loan.total_outstanding) == ("paid_off", 0)
    run_until(settle_on, settle_on)
    case, plan = CollectionCase.objects.get(pk=plan.case_id), RestructuringPlan.objects.get(pk=plan.pk)
    assert (case.state, case.resolution_reason, plan.state) == (
        CaseState.RESOLVED,
        ResolutionReason.RESTRUCTURED,
        PlanState.COMPLETED,
    )
    assert case.closed_on == settle_on


def test_the_enterprise_loan_is_restructured_and_kept_up_until_the_observation_period_ends(story):
    loan = story["loan"]
    # The first instalment is missed: past the product's 3 grace days, the case opens.
    run_until(date(2026, 2, 15), date(2026, 2, 18))
    assert not CollectionCase.objects.filter(loan=loan).exists()  # within grace: on time so far
    run_until(date(2026, 2, 19), date(2026, 2, 19))
    plan = restructure(story, on=date(2026, 3, 10))
    case = plan.case
    case.refresh_from_db()
    assert (case.state, plan.state) == (CaseState.MONITORING, PlanState.ACTIVE)
    assert plan.observation_until == date(2027, 3, 10)  # a year: longer than two periods
    loan.refresh_from_db()
    assert loan.status == "restructured" and loan.term_months == 18 and loan.annual_rate == Decimal("0.045")
    assert loan.penalty_outstanding == 0  # waived in full
    assert (plan.class_floor, loan.manual_regulatory_class, loan.regulatory_class) == (2, 2, 2)  # special mention
    assert (loan.observation_until, loan.ifrs9_stage) == (plan.observation_until, 2)  # under observation
    assert loan.annual_cost == Decimal(plan.new_terms["annual_cost"])  # the new terms' cost
    new = list(loan.installments.filter(schedule_version=2, due_date__lte=plan.observation_until).order_by("seq"))
    for n, installment in enumerate(new):  # every instalment paid on its due date
        pay(
            loan,
            installment.principal_due + installment.interest_due + installment.fee_due,
            installment.due_date,
            f"ENT-{n}",
        )
        run_until(installment.due_date, installment.due_date + timedelta(days=1))
        case.refresh_from_db()
        assert case.state == CaseState.MONITORING, installment.due_date
    run_until(date(2027, 3, 10), date(2027, 3, 10))
    case.refresh_from_db()
    plan.refresh_from_db()
    assert (case.state, case.resolution_reason, plan.state) == (
        CaseState.RESOLVED,
        ResolutionReason.RESTRUCTURED,
        PlanState.COMPLETED,
    )
    assert case.closed_on == date(2027, 3, 10)
    loan.refresh_from_db()
    assert (loan.manual_regulatory_class, loan.regulatory_class) == (None, 1)  # the observation's floor is lifted
    assert (loan.observation_until, loan.ifrs9_stage) == (None, 1)


def test_a_missed_instalment_of_the_plan_defaults_it_and_the_case_is_serious_again(story):
    run_until(date(2026, 2, 15), date(2026, 2, 19))
    plan = restructure(story, on=date(2026, 3, 10))
    first_due = plan.first_due_date
    run_until(first_due, first_due + timedelta(days=3))  # within the product's 3 grace days
    waiting = RestructuringPlan.objects.get(pk=plan.pk)
    assert waiting.state == PlanState.ACTIVE and waiting.observation_until == plan.observation_until
    loan = Loan.objects.get(pk=plan.case.loan_id)
    assert (loan.days_past_due, loan.ifrs9_stage) == (0, 2)  # on time, but under observation: stage 2
    run_until(first_due + timedelta(days=4), first_due + timedelta(days=4))
    plan.refresh_from_db()
    case = CollectionCase.objects.get(pk=plan.case_id)
    assert (plan.state, case.state) == (PlanState.DEFAULTED, CaseState.SERIOUS)
    assert case.version > 0
