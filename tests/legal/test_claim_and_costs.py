"""The money of a legal action: the claim is what the loan owes on the day, never the interest and fees
of periods still to come; a judgment records what it awards component by component; and a cost the
lender advances that the borrower owes is charged to the loan, whose next payment meets it first."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from core import roles
from core.apps import sync_roles
from core.errors import ApplicationError
from core.models import ActivityLog
from legal import services
from legal.models import LegalAction, LegalCost
from loans.choices import CollateralKind
from loans.claim import claim_as_of
from loans.models import Collateral, Loan
from loans.services import loan_refresh_balances, loan_write_off, payment_post
from loans.settlement import loan_settle_early, payoff_quote
from tests.collection.factories import make_case, make_officer, make_user
from tests.collection.test_api import client_for as api_client
from tests.collection.test_api import error_of
from tests.legal.factories import make_legal_case
from tests.loans.factories import make_loan

D = Decimal
TODAY = date(2026, 4, 20)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def lawyer():
    sync_roles()
    return make_user("counsel", roles.LEGAL_OFFICER)


@pytest.fixture
def case():
    return make_legal_case(make_officer("zhao"))


def open_lawsuit(lawyer, case):
    return services.action_open(actor=lawyer, case=case, kind="lawsuit", lawyer_fee="1000", recoverable="100000")


def heard(lawyer, action):
    action = services.action_advance(actor=lawyer, action=action, step="file", on=date(2026, 3, 2), court="某法院")
    return services.action_advance(
        actor=lawyer, action=action, step="schedule_hearing", on=date(2026, 3, 5), hearing_on=date(2026, 4, 1)
    )


def record_judgment(lawyer, action, **awarded):
    return services.action_advance(
        actor=lawyer,
        action=action,
        step="record_judgment",
        on=date(2026, 4, 2),
        judgment_on=date(2026, 4, 2),
        performance_due_on=date(2026, 4, 17),
        **awarded,
    )


# --- The claim ------------------------------------------------------------------------------------------


def test_the_claim_leaves_out_the_interest_and_fees_of_periods_still_to_come(lawyer):
    """A three-year loan with a monthly service fee, three instalments missed: the claim is all the
    principal, the interest and fees fallen due, and the running period's interest for its five days
    so far; the thirty-two periods still to come add nothing."""
    loan = make_loan(principal="36000.00", term_months=36, monthly_fee_rate=D("0.002"))
    case = make_case(state="legal", officer=make_officer("zhao"), loan=loan)
    loan_refresh_balances(loan=loan, as_of=TODAY)
    loan.refresh_from_db()
    due = list(loan.installments.filter(due_date__lte=TODAY))
    future = list(loan.installments.filter(due_date__gt=TODAY).order_by("due_date"))
    assert len(due) == 3 and len(future) == 33

    action = open_lawsuit(lawyer, case)

    running = future[0]  # 15 April to 15 May: five of thirty days have run
    accrued = (running.interest_due * 5 / 30).quantize(D("0.01"))
    assert action.claim_principal == loan.principal_outstanding == D("36000.00")
    assert action.claim_interest == sum(row.interest_due for row in due) + accrued
    assert action.claim_fees == sum(row.fee_due for row in due) == D("216.00")
    assert loan.interest_outstanding - action.claim_interest == sum(row.interest_due for row in future) - accrued
    assert loan.fees_outstanding - action.claim_fees == sum(row.fee_due for row in future) > 0
    assert action.claim == claim_as_of(loan, TODAY).total
    assert action.claim == (
        action.claim_principal + action.claim_interest + action.claim_fees + action.claim_penalty + action.claim_costs
    )
    assert D(action.feasibility["claim"]) == action.claim
    opened = ActivityLog.objects.get(action="legal.action.opened")
    assert opened.data["claim"]["fees"] == "216.00"


def test_the_action_page_and_the_open_page_show_the_claim_by_component(lawyer, case):
    client = Client()
    client.force_login(lawyer)
    claim = claim_as_of(case.loan, TODAY)
    open_page = client.get(f"/legal/cases/{case.pk}/open/").content.decode()
    assert f"¥{claim.total:,.2f}" in open_page and f"¥{case.loan.total_outstanding:,.2f}" in open_page
    action = open_lawsuit(lawyer, case)
    text = client.get(f"/legal/actions/{action.pk}/").content.decode()
    assert f"¥{action.claim_fees:,.2f}" in text and f"¥{action.claim:,.2f}" in text


# --- The judgment ---------------------------------------------------------------------------------------


def test_a_judgment_records_what_it_awards_by_component(lawyer, case):
    action = record_judgment(
        lawyer,
        heard(lawyer, open_lawsuit(lawyer, case)),
        judgment_principal="12000.00",
        judgment_interest="480.25",
        judgment_fees="36.00",
        judgment_penalty="90.10",
        judgment_costs="50.00",
    )
    action.refresh_from_db()
    assert (
        action.judgment_principal,
        action.judgment_interest,
        action.judgment_fees,
        action.judgment_penalty,
        action.judgment_costs,
    ) == (D("12000.00"), D("480.25"), D("36.00"), D("90.10"), D("50.00"))
    assert action.judgment_total == D("12656.35")
    entry = ActivityLog.objects.get(action="legal.action.record_judgment")
    assert entry.data["judgment_interest"] == "480.25" and entry.data["judgment_fees"] == "36.00"


def test_a_component_the_judgment_does_not_mention_is_zero_but_the_principal_must_be_given(lawyer, case):
    action = heard(lawyer, open_lawsuit(lawyer, case))
    with pytest.raises(ApplicationError) as missing:
        record_judgment(lawyer, action, judgment_interest="10.00")
    assert missing.value.field == "judgment_principal"
    action = record_judgment(lawyer, action, judgment_principal="0", judgment_costs="50.00")
    assert (action.judgment_principal, action.judgment_interest, action.judgment_total) == (0, 0, D("50.00"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("judgment_principal", "-1.00"),
        ("judgment_interest", "10.001"),
        ("judgment_fees", "lots"),
        ("judgment_penalty", 10.5),  # a float cannot carry an exact amount
        ("judgment_costs", "-0.01"),
    ],
)
def test_each_awarded_amount_is_checked_and_refused_on_its_own_field(lawyer, case, field, value):
    action = heard(lawyer, open_lawsuit(lawyer, case))
    awarded = {"judgment_principal": "100.00", field: value}
    with pytest.raises(ApplicationError) as refused:
        record_judgment(lawyer, action, **awarded)
    assert refused.value.field == field
    action.refresh_from_db()
    assert action.judgment_on is None and action.judgment_total == 0


def test_the_form_and_the_api_refuse_a_bad_component_on_its_field(lawyer, case):
    action = heard(lawyer, open_lawsuit(lawyer, case))
    client = Client()
    client.force_login(lawyer)
    response = client.post(
        f"/legal/actions/{action.pk}/record_judgment/",
        {
            "record_judgment-on": "2026-04-02",
            "record_judgment-judgment_on": "2026-04-02",
            "record_judgment-performance_due_on": "2026-04-17",
            "record_judgment-judgment_principal": "100.00",
            "record_judgment-judgment_penalty": "-5.00",
        },
    )
    [panel] = [p for p in response.context["page"].shown_forms() if p.form.prefix == "record_judgment"]
    assert set(panel.form.errors) == {"judgment_penalty"}
    body = {
        "on": "2026-04-02",
        "judgment_on": "2026-04-02",
        "performance_due_on": "2026-04-17",
        "judgment_principal": "100.00",
        "judgment_fees": "1.234",
    }
    url = f"/api/v1/legal-actions/{action.pk}/steps/record_judgment/"
    error = error_of(api_client(lawyer).post(url, body, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"judgment_fees"}
    action.refresh_from_db()
    assert action.judgment_on is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_carries_a_judgment_amount_into_the_principal_the_fees_claimed_and_the_steps_days():
    before, after = (
        [("legal", "0002_preservation_disposal_tasks_documents")],
        [("legal", "0003_judgment_components_claim_fees_calendar")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        with transaction.atomic():  # the refresh locks the loan's row
            case = make_legal_case()
        lawyer = make_user("counsel", roles.LEGAL_OFFICER)
        action = old.get_model("legal", "LegalAction").objects.create(
            case_id=case.pk,
            kind="lawsuit",
            state="judgment",
            opened_by_id=lawyer.pk,
            judgment_on=date(2026, 4, 2),
            judgment_amount=D("15000.50"),
            claim_principal=D("12000.00"),
            claim_costs=D("216.00"),  # the loan's fees, where an action opened then kept them
        )
        for code, day in (
            ("file", "2026-03-02"),
            ("schedule_hearing", "2026-03-05"),
            ("record_judgment", "2026-04-03"),
        ):
            ActivityLog.objects.create(
                actor_kind="system", action=f"legal.action.{code}", data={"action": action.pk, "on": day}
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    migrated = LegalAction.objects.get(pk=action.pk)
    assert (migrated.judgment_principal, migrated.judgment_interest, migrated.judgment_total) == (
        D("15000.50"),
        0,
        D("15000.50"),
    )
    assert (migrated.filed_on, migrated.last_step_on) == (date(2026, 3, 2), date(2026, 4, 3))
    assert (migrated.claim_fees, migrated.claim_costs, migrated.claim) == (D("216.00"), 0, D("12216.00"))

    # Going back adds the components up again.
    LegalAction.objects.filter(pk=action.pk).update(judgment_interest=D("99.50"), judgment_costs=D("0.50"))
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        back = old.get_model("legal", "LegalAction").objects.get(pk=action.pk)
        assert (back.judgment_amount, back.claim_costs) == (D("15100.50"), D("216.00"))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)


# --- Costs charged to the loan -------------------------------------------------------------------------------


def test_a_court_fee_booked_is_charged_to_the_loan_and_the_next_payment_pays_it_first(lawyer, case):
    loan = case.loan
    before = loan.costs_outstanding, loan.total_outstanding, loan.overdue_amount
    action = open_lawsuit(lawyer, case)
    cost = services.cost_add(
        actor=lawyer, action=action, kind="court_fee", amount="300.00", incurred_on=date(2026, 4, 15)
    )
    assert cost.charged_to_loan
    loan.refresh_from_db()
    assert loan.costs_outstanding == before[0] + D("300.00")
    assert (loan.total_outstanding, loan.overdue_amount) == (before[1] + D("300.00"), before[2] + D("300.00"))
    assert ActivityLog.objects.get(action="loans.cost.charged").data["reference"] == f"legal-cost-{cost.pk}"

    payment, _created = payment_post(
        actor="system", loan=loan, amount="200.00", external_reference="PAY-1", channel="bank_transfer"
    )
    assert [(line.component, line.amount) for line in payment.allocations.all()] == [("cost", D("200.00"))]
    payment_post(actor="system", loan=loan, amount="150.00", external_reference="PAY-2", channel="bank_transfer")
    loan.refresh_from_db()
    assert loan.costs_outstanding == 0
    assert services.action_result(action)["costs"] == D("300.00")


def test_a_lawyers_fee_is_charged_to_the_borrower_only_when_the_officer_says_so(lawyer, case):
    action = open_lawsuit(lawyer, case)
    own = services.cost_add(actor=lawyer, action=action, kind="lawyer_fee", amount="3000", incurred_on=TODAY)
    case.loan.refresh_from_db()
    assert not own.charged_to_loan and case.loan.costs_outstanding == 0
    owed = services.cost_add(
        actor=lawyer, action=action, kind="lawyer_fee", amount="2000", incurred_on=TODAY, charge_to_borrower=True
    )
    kept = services.cost_add(
        actor=lawyer, action=action, kind="preservation", amount="520", incurred_on=TODAY, charge_to_borrower=False
    )
    case.loan.refresh_from_db()
    assert (owed.charged_to_loan, kept.charged_to_loan, case.loan.costs_outstanding) == (True, False, D("2000.00"))
    entry = ActivityLog.objects.filter(action="legal.cost.added").order_by("id").last()
    assert entry.data["charged_to_loan"] is False


def test_a_paid_off_loan_takes_no_cost_and_the_officer_is_told_on_the_field(lawyer, case):
    action = open_lawsuit(lawyer, case)
    loan = case.loan
    loan_settle_early(
        actor="system",
        loan=loan,
        amount=payoff_quote(loan, TODAY).to_pay,
        external_reference="SETTLE-1",
        channel="bank_transfer",
    )
    assert Loan.objects.get(pk=loan.pk).is_closed
    with pytest.raises(ApplicationError) as refused:
        services.cost_add(actor=lawyer, action=action, kind="court_fee", amount="50", incurred_on=TODAY)
    assert refused.value.field == "charge_to_borrower" and not LegalCost.objects.exists()
    cost = services.cost_add(
        actor=lawyer, action=action, kind="court_fee", amount="50", incurred_on=TODAY, charge_to_borrower=False
    )
    assert not cost.charged_to_loan


def test_the_form_and_the_api_take_whether_the_borrower_owes_the_cost(lawyer, case):
    action = open_lawsuit(lawyer, case)
    client = Client()
    client.force_login(lawyer)
    fields = {"cost_add-amount": "800.00", "cost_add-incurred_on": "2026-04-20"}
    client.post(f"/legal/actions/{action.pk}/cost_add/", {**fields, "cost_add-kind": "lawyer_fee"})
    client.post(
        f"/legal/actions/{action.pk}/cost_add/",
        {**fields, "cost_add-kind": "lawyer_fee", "cost_add-charge_to_borrower": "true"},
    )
    client.post(
        f"/legal/actions/{action.pk}/cost_add/",
        {**fields, "cost_add-kind": "appraisal", "cost_add-charge_to_borrower": ""},
    )
    assert list(action.costs.order_by("id").values_list("kind", "charged_to_loan")) == [
        ("lawyer_fee", False),
        ("lawyer_fee", True),
        ("appraisal", True),
    ]
    text = client.get(f"/legal/actions/{action.pk}/").content.decode()
    assert "the borrower (charged to the loan)" in text and "the lender" in text

    api = api_client(lawyer)
    url = f"/api/v1/legal-actions/{action.pk}/costs/"
    court_fee = api.post(url, {"kind": "court_fee", "amount": "300.00"}, format="json").json()
    own = api.post(url, {"kind": "court_fee", "amount": "10.00", "charge_to_borrower": False}, format="json").json()
    assert (court_fee["charged_to_loan"], own["charged_to_loan"]) == (True, False)
    case.loan.refresh_from_db()
    assert case.loan.costs_outstanding == D("800.00") + D("800.00") + D("300.00")
    error = error_of(
        api.post(url, {"kind": "court_fee", "amount": "1", "charge_to_borrower": "maybe"}, format="json"),
        400,
        "invalid",
    )
    assert "charge_to_borrower" in error["fields"]


def test_the_sale_of_a_written_off_loans_collateral_pays_its_claim_not_the_interest_still_to_come(lawyer, case):
    car = Collateral.objects.create(loan=case.loan, kind=CollateralKind.VEHICLE, description="帕萨特")
    action = services.action_advance(
        actor=lawyer, action=open_lawsuit(lawyer, case), step="file", on=TODAY, court="某法院"
    )
    loan_write_off(actor="system", loan=case.loan, on=TODAY, reason="Approved.")
    disposal = services.disposal_open(actor=lawyer, action=action, collateral=car, seized_on=TODAY)
    disposal = services.disposal_appraise(actor=lawyer, disposal=disposal, value="50000", on=TODAY, appraiser="A")
    disposal = services.disposal_list(
        actor=lawyer, disposal=disposal, method="negotiated_sale", reserve_price="40000", on=TODAY
    )
    disposal = services.disposal_sell(actor=lawyer, disposal=disposal, price="40000", on=TODAY, buyer="B")
    loan = Loan.objects.get(pk=case.loan_id)
    claim = claim_as_of(loan, TODAY).total
    assert claim < loan.total_outstanding
    disposal = services.disposal_distribute(actor=lawyer, disposal=disposal, on=TODAY, external_reference="SALE-1")
    assert (disposal.to_loan, disposal.surplus) == (claim, D("40000.00") - claim)
