"""The legal route end to end, as the seeds tell it.

1. A ¥200,000 credit loan to a sole trader: every call fails, the case is classified serious
   (unreachable), referred to legal with a feasibility note, a lawsuit is filed with an account
   frozen, judgment for principal, penalty and costs, enforcement finds nothing beyond a few yuan in the
   frozen account, the action closes as enforcement impossible (终结本次执行) and the loan is written
   off, only with a manager's approval; enforcement waits for the judgment to become final and due.
2. A car-title loan whose vehicle is seized and auctioned (the first round fails, the second sells):
   the court and appraisal fees were charged to the loan, so the proceeds pay the loan (those costs
   first, then the rest: paid off), the lender bears its own lawyer's fee, and the rest is paid back
   to the borrower."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum

from collection import daily, services
from collection.choices import ApprovalAction, ApprovalStatus, CaseState, ContactChannel, ContactOutcome, Severity
from collection.errors import NotPermitted
from collection.models import Approval, CollectionCase, Team
from collection.selectors import case_timeline
from core import roles
from core.errors import ApplicationError
from core.models import ActivityLog
from legal import rules
from legal import services as legal
from legal.choices import ActionState, AssetKind, DisposalState, TaskKind
from legal.models import LawFirm
from legal.timeline import ACTIVITY_TITLES as LEGAL_TITLES
from loans.choices import CollateralKind, CollateralStatus, LoanStatus, ProductKind, RegulatoryClass
from loans.claim import claim_as_of
from loans.models import Collateral
from loans.settlement import payoff_quote
from tests.borrowers.factories import BorrowerFactory
from tests.collection.factories import make_manager, make_officer, make_user
from tests.loans.factories import LoanProductFactory, make_loan

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run(*days):
    for day in days:
        with time_machine.travel(at(day, 1), tick=False):
            daily.run_daily(as_of=day)


def on(day):
    return time_machine.travel(at(day), tick=False)


@pytest.fixture
def people():
    officer, manager, lawyer = make_officer("zhao"), make_manager("qian"), make_user("sun", roles.LEGAL_OFFICER)
    return {"officer": officer, "manager": manager, "second_manager": make_manager("li"), "lawyer": lawyer}


def book_loan(kind, people, **loan_fields):
    product = LoanProductFactory(code=f"{kind}-story", kind=kind)
    team = Team.objects.create(name=f"Team {kind}")
    team.products.add(product)
    team.members.add(people["officer"])
    with on(date(2026, 1, 15)):
        return make_loan(product=product, disbursed_on=date(2026, 1, 15), **loan_fields)


def refer_to_legal(case, people, day, note):
    with on(day):
        approval = services.approval_request(
            actor=people["officer"],
            case=case,
            action=ApprovalAction.REFER_TO_LEGAL,
            reason=note,
            details={"feasibility_note": note},
        )
        services.approval_decide(actor=people["manager"], approval=approval, approve=True, note="Go ahead.")
    case.refresh_from_db()
    assert case.state == CaseState.LEGAL
    return case


def test_a_sole_traders_loan_goes_to_court_finds_no_assets_and_is_written_off_with_approval(people):
    lawyer, officer, manager = people["lawyer"], people["officer"], people["manager"]
    loan = book_loan(
        ProductKind.ENTERPRISE,
        people,
        borrower=BorrowerFactory(name="钱小五"),  # trades as a sole proprietor (个体工商户)
        principal="200000.00",
        annual_rate="0.10",
        term_months=12,
    )
    run(date(2026, 2, 16))  # the first instalment (15 February) is missed
    case = CollectionCase.objects.get(loan=loan)
    assert (case.state, case.officer) == (CaseState.EARLY_WARNING, officer)

    # Three calls on three days, nobody answers: unreachable, so the daily run classifies serious.
    for day, outcome in (
        (17, ContactOutcome.NO_ANSWER),
        (18, ContactOutcome.NO_ANSWER),
        (19, ContactOutcome.WRONG_NUMBER),
    ):
        with on(date(2026, 2, day)):
            services.contact_log(actor=officer, case=case, channel=ContactChannel.CALL, outcome=outcome)
    run(date(2026, 2, 22))
    case.refresh_from_db()
    assert (case.state, case.severity) == (CaseState.SERIOUS, Severity.SERIOUS)
    reasons = ActivityLog.objects.get(action="collection.case.classified").data["reasons"]
    assert [reason["code"] for reason in reasons] == ["unreachable"]

    run(date(2026, 3, 9))
    case = refer_to_legal(case, people, date(2026, 3, 9), "Shop closed; a flat in his name worth about ¥60,000 net.")
    firm = LawFirm.objects.create(name="中伦律师事务所", contact_name="周律师", phone="021-60000000")
    with on(date(2026, 3, 10)):
        action = legal.action_open(
            actor=lawyer, case=case, kind="lawsuit", law_firm=firm, lawyer_fee="8000", recoverable="60000"
        )
        feasibility = action.feasibility
        assert D(feasibility["expected_net"]) == D("60000") - D(feasibility["costs"]) > 0
        assert D(feasibility["court_fee"]) == rules.court_fee(action.claim)
        action = legal.action_advance(
            actor=lawyer,
            action=action,
            step="file",
            on=date(2026, 3, 10),
            court="上海市浦东新区人民法院",
            court_case_number="(2026)沪0115民初8888号",
        )
        legal.cost_add(
            actor=lawyer,
            action=action,
            kind="court_fee",
            amount=D(feasibility["court_fee"]),
            incurred_on=date(2026, 3, 10),
        )
        order = legal.preservation_apply(
            actor=lawyer,
            action=action,
            asset_kind=AssetKind.BANK_ACCOUNT,
            description="工商银行 6222 **** 1234",
            amount="60000.00",
            applied_on=date(2026, 3, 10),
        )
    with on(date(2026, 3, 16)):
        order = legal.preservation_decide(
            actor=lawyer, order=order, granted=True, on=date(2026, 3, 15), ruling_number="(2026)沪0115财保12号"
        )
        legal.cost_add(
            actor=lawyer,
            action=action,
            kind="preservation",
            amount=rules.preservation_fee(D("60000")),
            incurred_on=date(2026, 3, 15),
        )
        action = legal.action_advance(
            actor=lawyer, action=action, step="schedule_hearing", on=date(2026, 3, 16), hearing_on=date(2026, 4, 20)
        )
    action.refresh_from_db()
    assert action.state == ActionState.HEARING and order.expires_on == date(2027, 3, 15)  # a frozen account: one year
    assert set(action.tasks.filter(done_on=None).values_list("kind", "due_on")) == {
        (TaskKind.PRESERVATION_EXPIRY, date(2027, 2, 13)),  # renew a month before it lapses
        (TaskKind.HEARING, date(2026, 4, 20)),
    }

    run(date(2026, 5, 10))
    loan.refresh_from_db()
    with on(date(2026, 5, 11)):
        action = legal.action_advance(
            actor=lawyer,
            action=action,
            step="record_judgment",
            on=date(2026, 5, 11),
            judgment_on=date(2026, 5, 10),
            performance_due_on=date(2026, 5, 25),
            judgment_principal=loan.principal_outstanding,
            judgment_penalty=loan.penalty_outstanding,
            judgment_costs=loan.costs_outstanding,  # the court and preservation fees, on the borrower
            note="Judgment for the principal, the penalty interest and the costs; the borrower did not appear.",
        )
    assert (action.appeal_deadline, action.enforcement_deadline) == (date(2026, 5, 25), date(2028, 5, 25))
    assert action.judgment_total == loan.principal_outstanding + loan.penalty_outstanding + loan.costs_outstanding
    assert action.judgment_costs == rules.court_fee(action.claim) + rules.preservation_fee(D("60000"))
    # The borrower may still pay, and appeal, on the 25th: enforcement waits for the day after.
    with on(date(2026, 5, 25)), pytest.raises(ApplicationError) as early:
        legal.action_advance(actor=lawyer, action=action, step="apply_enforcement", on=date(2026, 5, 25))
    assert (early.value.field, early.value.code) == ("on", "too_early") and "2026-05-26" in early.value.message
    with on(date(2026, 6, 1)):
        action = legal.action_advance(actor=lawyer, action=action, step="apply_enforcement", on=date(2026, 6, 1))
        legal.cost_add(actor=lawyer, action=action, kind="lawyer_fee", amount="8000.00", incurred_on=date(2026, 6, 1))
    # The court's search finds only what the frozen account held.
    with on(date(2026, 8, 3)):
        legal.recovery_post(
            actor=lawyer,
            action=action,
            amount="1234.56",
            external_reference="(2026)沪0115执3456号-1",
            channel="legal_recovery",
        )
    run(date(2026, 8, 3))
    loan.refresh_from_db()
    assert loan.status == LoanStatus.OVERDUE and loan.overdue_amount > 0

    with on(date(2026, 9, 1)):
        action = legal.action_advance(
            actor=lawyer,
            action=action,
            step="close_impossible",
            on=date(2026, 9, 1),
            note="(2026)沪0115执3456号: no property found to enforce against; enforcement ended for now.",
        )
    assert action.state == ActionState.CLOSED_IMPOSSIBLE
    assert not action.tasks.filter(done_on=None).exists()
    case.refresh_from_db()
    assert case.state == CaseState.LEGAL  # nothing is written off without a manager's approval
    approval = Approval.objects.get(case=case, action=ApprovalAction.WRITE_OFF)
    assert (approval.status, approval.requested_by, approval.details["legal_action"]) == (
        ApprovalStatus.PENDING,
        lawyer,
        action.pk,
    )
    assert D(approval.details["unrecovered"]) == claim_as_of(loan, date(2026, 9, 1)).total < loan.total_outstanding

    with on(date(2026, 9, 2)):
        with pytest.raises(NotPermitted):
            services.approval_decide(actor=lawyer, approval=approval, approve=True)
        services.approval_decide(actor=manager, approval=approval, approve=True, note="Uncollectable; keep the claim.")
    case.refresh_from_db()
    loan.refresh_from_db()
    assert (case.state, case.closed_on) == (CaseState.WRITTEN_OFF, date(2026, 9, 2))
    assert (loan.status, loan.closed_on, loan.regulatory_class) == (
        LoanStatus.WRITTEN_OFF,
        date(2026, 9, 2),
        RegulatoryClass.LOSS,
    )
    written_off = ActivityLog.objects.get(action="loans.loan.written_off")
    assert D(written_off.data["exposure"]) == claim_as_of(loan, date(2026, 9, 2)).total > D("190000")
    assert D(written_off.data["provision_held"]) + D(written_off.data["charge_beyond_provision"]) == D(
        written_off.data["exposure"]
    )
    # The legal history stays with the case, and the written-off loan opens no new case.
    assert case.legal_actions.get() == action
    assert ActivityLog.objects.filter(action__startswith="legal.", target_id=str(case.pk)).count() >= 10
    run(date(2026, 9, 3))
    assert CollectionCase.objects.filter(loan=loan).count() == 1
    result = legal.action_result(action)
    assert result["recovered"] == D("1234.56") and result["net"] < 0

    # Years later the borrower's new income is found: the written-off claim is still collected.
    with on(date(2027, 3, 1)):
        legal.recovery_post(
            actor=lawyer,
            action=action,
            amount="5000.00",
            external_reference="(2027)沪0115执恢12号-1",
            channel="legal_recovery",
        )
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WRITTEN_OFF and loan.total_outstanding < D(written_off.data["exposure"])
    assert legal.action_result(action)["recovered"] == D("6234.56")


def test_a_car_title_loans_vehicle_is_seized_auctioned_and_the_surplus_goes_back(people):
    lawyer, manager = people["lawyer"], people["manager"]
    loan = book_loan(ProductKind.CAR_TITLE, people, principal="40000.00", annual_rate="0.12", term_months=12)
    car = Collateral.objects.create(
        loan=loan,
        kind=CollateralKind.VEHICLE,
        description="2021 比亚迪 汉 EV",
        identifier="LGXC16DF0M0123456 沪A·D12345",
        appraised_value=D("110000.00"),
        lien_registered=True,
    )
    run(date(2026, 2, 16), date(2026, 2, 22), date(2026, 4, 16), date(2026, 4, 17))  # nothing paid: past 60 days
    case = CollectionCase.objects.get(loan=loan)
    case.refresh_from_db()
    assert case.state == CaseState.SERIOUS
    case = refer_to_legal(case, people, date(2026, 4, 17), "The car secures the loan and is worth far more.")

    with on(date(2026, 4, 20)):
        action = legal.action_open(
            actor=lawyer, case=case, kind="lawsuit", lawyer_fee="3000", recoverable=car.appraised_value
        )
        action = legal.action_advance(
            actor=lawyer, action=action, step="file", on=date(2026, 4, 20), court="上海市闵行区人民法院"
        )
        for kind, amount in (("court_fee", rules.court_fee(action.claim)), ("lawyer_fee", D("3000.00"))):
            legal.cost_add(actor=lawyer, action=action, kind=kind, amount=amount, incurred_on=date(2026, 4, 20))
        order = legal.preservation_apply(
            actor=lawyer,
            action=action,
            asset_kind=AssetKind.VEHICLE,
            description=car.identifier,
            amount=action.claim,
            applied_on=date(2026, 4, 20),
            collateral=car,
        )
    with on(date(2026, 4, 24)):
        legal.preservation_decide(
            actor=lawyer, order=order, granted=True, on=date(2026, 4, 24), ruling_number="财保88号"
        )
    car.refresh_from_db()
    assert car.status == CollateralStatus.SEIZED
    with on(date(2026, 6, 30)):
        action = legal.action_advance(
            actor=lawyer, action=action, step="schedule_hearing", on=date(2026, 5, 6), hearing_on=date(2026, 6, 1)
        )
        action = legal.action_advance(
            actor=lawyer,
            action=action,
            step="record_judgment",
            on=date(2026, 6, 10),
            judgment_on=date(2026, 6, 10),
            performance_due_on=date(2026, 6, 25),
            judgment_principal=action.claim_principal,
            judgment_interest=action.claim_interest,
            judgment_fees=action.claim_fees,
            judgment_penalty=action.claim_penalty,
            judgment_costs=rules.court_fee(action.claim),
        )
        action = legal.action_advance(actor=lawyer, action=action, step="apply_enforcement", on=date(2026, 6, 30))

        disposal = legal.disposal_open(
            actor=lawyer, action=action, collateral=car, seized_on=date(2026, 6, 30), location="闵行法院停车场"
        )
        with pytest.raises(ApplicationError, match="already being disposed"):
            legal.disposal_open(actor=lawyer, action=action, collateral=car, seized_on=date(2026, 6, 30))
        disposal = legal.disposal_appraise(
            actor=lawyer,
            disposal=disposal,
            value="90000.00",
            on=date(2026, 6, 30),
            appraiser="上海某评估公司",
            fee="1500",
        )
        with pytest.raises(ApplicationError) as too_low:  # a first auction starts at 70% of the appraisal or more
            legal.disposal_list(
                actor=lawyer,
                disposal=disposal,
                method="judicial_auction",
                reserve_price="62999.99",
                on=date(2026, 6, 30),
            )
        assert too_low.value.field == "reserve_price"
        disposal = legal.disposal_list(
            actor=lawyer, disposal=disposal, method="judicial_auction", reserve_price="63000.00", on=date(2026, 6, 30)
        )
    car.refresh_from_db()
    assert (car.status, car.appraised_value) == (CollateralStatus.AT_AUCTION, D("90000.00"))

    with on(date(2026, 7, 31)):
        disposal = legal.disposal_unsold(actor=lawyer, disposal=disposal, on=date(2026, 7, 31), note="No bids.")
        with pytest.raises(ApplicationError, match=r"50,400\.00"):  # the next round at most 20% lower
            legal.disposal_list(
                actor=lawyer, disposal=disposal, method="judicial_auction", reserve_price="50000", on=date(2026, 7, 31)
            )
        disposal = legal.disposal_list(
            actor=lawyer, disposal=disposal, method="judicial_auction", reserve_price="50400", on=date(2026, 7, 31)
        )
    with on(date(2026, 8, 31)):
        with pytest.raises(ApplicationError, match="below the reserve"):
            legal.disposal_sell(actor=lawyer, disposal=disposal, price="50000", on=date(2026, 8, 31), buyer="x")
        disposal = legal.disposal_sell(
            actor=lawyer, disposal=disposal, price="58000.00", on=date(2026, 8, 31), buyer="王某 (竞买号 0042)"
        )
    assert (disposal.round, disposal.state) == (2, DisposalState.SOLD)
    car.refresh_from_db()
    assert car.status == CollateralStatus.SOLD

    run(date(2026, 9, 10))
    with on(date(2026, 9, 10)):
        costs = legal.action_result(action)["costs"]
        loan.refresh_from_db()
        owed = payoff_quote(loan).total  # all it owes, the rest of the schedule accelerated
        disposal = legal.disposal_distribute(
            actor=lawyer, disposal=disposal, on=date(2026, 9, 10), external_reference="闵行执-拍卖款-1"
        )
    assert costs == rules.court_fee(action.claim) + D("3000.00") + D("1500.00")
    # The court and appraisal fees were charged to the loan (part of what it owes, met first); the
    # lawyer's fee is the lender's own and does not come out of the borrower's surplus.
    assert (disposal.to_costs, disposal.to_loan) == (0, owed)
    assert disposal.surplus == D("58000.00") - owed > 0
    assert disposal.payment.allocations.filter(component="cost").aggregate(paid=Sum("amount"))["paid"] == (
        rules.court_fee(action.claim) + D("1500.00")
    )
    loan.refresh_from_db()
    assert (loan.status, loan.total_outstanding) == (LoanStatus.PAID_OFF, 0)
    assert disposal.payment.amount == owed and disposal.payment in action.recoveries.all()
    refund = action.tasks.get(kind=TaskKind.SURPLUS_REFUND)
    assert refund.done_on is None

    with on(date(2026, 9, 11)):
        action = legal.action_advance(actor=lawyer, action=action, step="close_recovered", on=date(2026, 9, 11))
    case.refresh_from_db()
    assert (case.state, case.resolution_reason) == (CaseState.RESOLVED, "recovered")
    refund.refresh_from_db()
    assert refund.done_on is None  # the borrower's money outlives the action
    with on(date(2026, 9, 15)):
        legal.disposal_surplus_paid(actor=lawyer, disposal=disposal, on=date(2026, 9, 15), reference="CMB-20260915-77")
        with pytest.raises(ApplicationError):
            legal.disposal_surplus_paid(actor=lawyer, disposal=disposal, on=date(2026, 9, 15), reference="again")
    refund.refresh_from_db()
    assert refund.done_on == date(2026, 9, 15)
    result = legal.action_result(action)
    assert (result["recovered"], result["reimbursed"], result["net"]) == (owed, 0, owed - costs)
    assert manager  # the manager approved the referral only; the sale needed no write-off

    # Every step is on the case's timeline under its own name.
    codes = set(ActivityLog.objects.filter(action__startswith="legal.").values_list("action", flat=True))
    assert codes <= set(LEGAL_TITLES)
    titles = {entry.title for entry in case_timeline(case, limit=200)}
    assert {"Collateral sold", "Sale proceeds distributed", "Legal action closed: recovered"} <= titles
