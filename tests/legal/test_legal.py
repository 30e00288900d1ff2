"""The legal route, first slice: court and preservation fees, feasibility before filing, an action's
own state machine with its dates, costs, and recoveries posted as payments."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection.choices import CaseState
from collection.errors import NotPermitted, TransitionNotAllowed
from core import roles
from core.errors import ApplicationError
from core.models import ActivityLog
from legal import rules, services
from legal.choices import ActionState
from legal.models import LawFirm
from loans.claim import claim_as_of
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.legal.factories import make_legal_case

D = Decimal


@pytest.mark.parametrize(
    ("claim", "fee"),
    [
        ("5000", "50"),
        ("10000", "50"),
        ("50000", "1050.00"),
        ("100000", "2300.00"),
        ("200000", "4300.00"),
        ("1000000", "13800.00"),
        ("30000000", "191800.00"),
    ],
)
def test_the_court_fee_follows_the_progressive_table(claim, fee):
    assert rules.court_fee(D(claim)) == D(fee)


@pytest.mark.parametrize(
    ("amount", "fee"), [("500", "30"), ("50000", "520.00"), ("200000", "1520.00"), ("9e6", "5000")]
)
def test_the_preservation_fee_is_capped(amount, fee):
    assert rules.preservation_fee(D(amount)) == D(fee)


def test_feasibility_weighs_what_can_be_recovered_against_the_costs():
    worth = rules.feasibility(claim="200000", recoverable="150000", lawyer_fee="8000")
    assert (worth.court_fee, worth.preservation_fee) == (D("4300.00"), D("1270.00"))
    assert worth.expected_net == D("150000") - D("13570.00") and worth.worth_it
    hopeless = rules.feasibility(claim="200000", recoverable="0", lawyer_fee="8000")
    assert hopeless.expected_net < 0 and not hopeless.worth_it


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def legal_case():
    return make_legal_case(make_officer("zhao"))


@pytest.fixture
def lawyer():
    return make_user("counsel", roles.LEGAL_OFFICER)


def test_an_action_records_the_claim_and_its_feasibility(legal_case, lawyer):
    firm = LawFirm.objects.create(name="金杜律师事务所")
    action = services.action_open(
        actor=lawyer, case=legal_case, kind="lawsuit", law_firm=firm, lawyer_fee="3000", recoverable="20000"
    )
    claim = claim_as_of(legal_case.loan, date(2026, 4, 20))
    assert (action.claim_principal, action.claim_interest, action.claim_fees) == (
        claim.principal,
        claim.interest,
        claim.fees,
    )
    assert (action.claim_penalty, action.claim_costs, action.claim) == (claim.penalty, claim.costs, claim.total)
    assert D(action.feasibility["court_fee"]) == rules.court_fee(claim.total)
    assert action.state == ActionState.PREPARING
    with pytest.raises(ApplicationError, match="already under way"):
        services.action_open(actor=lawyer, case=legal_case, kind="lawsuit", lawyer_fee="3000", recoverable="20000")


def test_an_action_expected_to_lose_money_needs_a_managers_override(legal_case, lawyer):
    with pytest.raises(NotPermitted):
        services.action_open(actor=lawyer, case=legal_case, kind="lawsuit", lawyer_fee="3000", recoverable="0")
    manager = make_manager("boss")
    with pytest.raises(ApplicationError) as refused:
        services.action_open(actor=manager, case=legal_case, kind="lawsuit", lawyer_fee="3000", recoverable="0")
    assert refused.value.field == "override_reason"
    action = services.action_open(
        actor=manager,
        case=legal_case,
        kind="lawsuit",
        lawyer_fee="3000",
        recoverable="0",
        override_reason="Deterrence: the borrower has other debts with us.",
    )
    assert action.feasibility["override_reason"].startswith("Deterrence")


def test_only_a_case_in_legal_and_only_legal_staff(lawyer):
    with pytest.raises(TransitionNotAllowed):
        services.action_open(
            actor=lawyer, case=make_case(state=CaseState.SERIOUS), kind="lawsuit", lawyer_fee="1", recoverable="99999"
        )
    with pytest.raises(NotPermitted):
        services.action_open(
            actor=make_officer("x"),
            case=make_case(state=CaseState.LEGAL),
            kind="lawsuit",
            lawyer_fee="1",
            recoverable="99999",
        )


def on_day(day):
    """Moves the clock to 10:00 of `day` in the lender's zone (steps cannot be recorded ahead of today)."""
    return time_machine.travel(datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)


def test_a_lawsuit_goes_through_its_states_with_dates_costs_and_a_recovery(legal_case, lawyer):
    action = services.action_open(actor=lawyer, case=legal_case, kind="lawsuit", lawyer_fee="3000", recoverable="20000")
    advance = services.action_advance
    action = advance(
        actor=lawyer,
        action=action,
        step="file",
        on=date(2026, 4, 20),
        court="上海市黄浦区人民法院",
        court_case_number="(2026)沪0101民初1234号",
    )
    with pytest.raises(ApplicationError) as missing:
        advance(actor=lawyer, action=action, step="schedule_hearing", on=date(2026, 4, 20))
    assert missing.value.field == "hearing_on"
    with pytest.raises(ApplicationError) as ahead:
        advance(actor=lawyer, action=action, step="withdraw", on=date(2026, 4, 21))
    assert ahead.value.field == "on"
    with pytest.raises(TransitionNotAllowed):
        advance(actor=lawyer, action=action, step="record_judgment", on=date(2026, 4, 20), **EARLY)  # no hearing
    action = advance(
        actor=lawyer, action=action, step="schedule_hearing", on=date(2026, 4, 20), hearing_on=date(2026, 6, 1)
    )
    assert list(action.tasks.values_list("kind", "due_on")) == [("hearing", date(2026, 6, 1))]
    with on_day(date(2026, 6, 22)):
        action = advance(actor=lawyer, action=action, step="record_judgment", on=date(2026, 6, 20), **JUDGMENT)
    assert action.enforcement_deadline == date(2028, 7, 20)  # two years from the performance date
    assert action.appeal_deadline == date(2026, 7, 5)  # fifteen days from service
    assert set(action.tasks.filter(done_on=None).values_list("kind", "due_on")) == {
        ("appeal_deadline", date(2026, 7, 5)),
        ("performance_due", date(2026, 7, 20)),
        ("enforcement_application", date(2028, 7, 20)),
    }
    assert action.tasks.get(kind="hearing").done_on == date(2026, 6, 20)
    services.cost_add(actor=lawyer, action=action, kind="court_fee", amount="300.00", incurred_on=date(2026, 4, 20))
    services.cost_add(actor=lawyer, action=action, kind="lawyer_fee", amount="3000.00", incurred_on=date(2026, 4, 20))
    payment, created = services.recovery_post(
        actor=lawyer, action=action, amount="5000.00", external_reference="COURT-1", channel="bank_transfer"
    )
    again, created_again = services.recovery_post(
        actor=lawyer, action=action, amount="5000.00", external_reference="COURT-1", channel="bank_transfer"
    )
    assert (again, created, created_again) == (payment, True, False) and payment.loan == legal_case.loan
    with pytest.raises(ApplicationError) as ahead:
        services.cost_add(actor=lawyer, action=action, kind="other", amount="1", incurred_on=date(2026, 4, 21))
    assert ahead.value.field == "incurred_on"
    assert services.action_result(action) == {
        "recovered": D("5000.00"),
        "costs": D("3300.00"),
        "reimbursed": D("0"),
        "net": D("1700.00"),
    }
    with on_day(date(2026, 12, 1)):
        action = advance(actor=lawyer, action=action, step="apply_enforcement", on=date(2026, 7, 25))
        assert not action.tasks.filter(done_on=None).exists()
        action = advance(
            actor=lawyer, action=action, step="close_impossible", on=date(2026, 12, 1), note="No assets found"
        )
    assert (action.state, action.closed_on) == (ActionState.CLOSED_IMPOSSIBLE, date(2026, 12, 1))
    steps = list(ActivityLog.objects.filter(action__startswith="legal.action.").values_list("action", flat=True))
    assert "legal.action.record_judgment" in steps and "legal.action.close_impossible" in steps


JUDGMENT = {
    "judgment_on": date(2026, 6, 20),
    "performance_due_on": date(2026, 7, 20),
    "judgment_principal": "18000.00",
    "judgment_interest": "1500.00",
    "judgment_penalty": "200.00",
    "judgment_costs": "300.00",
}
EARLY = {**JUDGMENT, "judgment_on": date(2026, 4, 20)}
