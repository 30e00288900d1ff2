"""Restructuring plans: proposed within the product's limits, decided by a manager who did not
propose them (maker-checker); the case moves to restructuring and back on a rejection."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import restructuring
from collection.choices import CaseState, PlanState
from collection.errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from collection.models import RestructuringPlan
from core.errors import ApplicationError
from core.models import ActivityLog
from loans.services import loan_refresh_balances
from tests.collection.factories import make_case, make_manager, make_officer

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def case():
    """A minor case on a ¥12,000 loan at 12% over 12 months, unpaid since its first due date."""
    officer = make_officer("planner")
    case = make_case(state=CaseState.MINOR, officer=officer)
    loan_refresh_balances(loan=case.loan, as_of=TODAY)
    case.refresh_from_db()
    return case


def propose(case, **terms):
    terms.setdefault("reason", "Salary cut for three months; employer confirms.")
    return restructuring.plan_propose(actor=case.officer, case=case, **terms)


def test_a_proposal_shows_old_and_new_terms_and_respreads_everything_owed(case):
    loan = case.loan
    plan = propose(case, extension_months=6, new_annual_rate="0.09", arrears_instalments=3, penalty_waiver="10.00")
    assert plan.state == PlanState.DRAFT
    assert plan.kinds == ["term_extension", "rate_reduction", "arrears_instalments", "penalty_waiver"]
    assert plan.first_due_date == date(2026, 5, 15)  # the next due date of the current schedule
    schedule = plan.new_schedule
    assert len(schedule) == 9 + 6  # nine instalments were still to come, plus the extension
    assert sum(Decimal(line["principal"]) for line in schedule) == loan.principal_outstanding
    assert plan.new_terms["end_date"] == "2027-07-15" and plan.old_terms["end_date"] == "2027-01-15"
    assert plan.new_terms["waived"] == "10.00"
    assert Decimal(plan.new_terms["regular_amount"]) < Decimal(plan.old_terms["regular_amount"])
    assert ActivityLog.objects.filter(action="collection.plan.proposed").count() == 1


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"extension_months": 13}, "extension_months"),  # the product allows 12
        ({"new_annual_rate": "0.05"}, "new_annual_rate"),  # a 7-point cut; 6 allowed
        ({"new_annual_rate": "abc"}, "new_annual_rate"),
        ({"penalty_waiver": "99999.00"}, "penalty_waiver"),
        ({}, "extension_months"),  # nothing changes
        ({"extension_months": 1, "first_due_date": TODAY}, "first_due_date"),
        ({"extension_months": 1, "reason": " "}, "reason"),
    ],
)
def test_a_proposal_beyond_the_limits_is_refused_naming_the_field_and_nothing_is_saved(case, terms, field):
    with pytest.raises(ApplicationError) as refused:
        propose(case, **terms)
    assert refused.value.field == field
    assert not RestructuringPlan.objects.exists()


def test_only_minor_or_serious_cases_get_a_plan_and_only_one_at_a_time(case):
    early = make_case(officer=case.officer)
    with pytest.raises(TransitionNotAllowed):
        propose(early, extension_months=3)
    propose(case, extension_months=3)
    with pytest.raises(ApplicationError, match="already has a plan"):
        propose(case, extension_months=4)


def test_submitting_moves_the_case_and_a_manager_who_did_not_propose_approves(case):
    plan = restructuring.plan_submit(actor=case.officer, plan=propose(case, extension_months=3))
    case.refresh_from_db()
    assert (plan.state, case.state) == (PlanState.SUBMITTED, CaseState.RESTRUCTURING)
    with pytest.raises(NotPermitted):
        restructuring.plan_approve(actor=case.officer, plan=plan)  # an officer is not a checker
    approved = restructuring.plan_approve(actor=make_manager("boss"), plan=plan, note="Income documents seen.")
    assert (approved.state, approved.decided_by.username) == (PlanState.APPROVED, "boss")
    with pytest.raises(ConcurrentChange):
        restructuring.plan_reject(actor=make_manager("boss2"), plan=plan, note="Too late")


def test_a_manager_never_approves_their_own_plan(case):
    manager = make_manager("lead")
    plan = restructuring.plan_propose(actor=manager, case=case, extension_months=2, reason="Seasonal business.")
    restructuring.plan_submit(actor=manager, plan=plan)
    with pytest.raises(NotPermitted, match="maker-checker"):
        restructuring.plan_approve(actor=manager, plan=plan)
    plan.refresh_from_db()
    assert plan.state == PlanState.SUBMITTED


def test_a_rejection_needs_a_reason_and_returns_the_case_to_where_it_was(case):
    plan = restructuring.plan_submit(actor=case.officer, plan=propose(case, extension_months=3))
    manager = make_manager("boss")
    with pytest.raises(ApplicationError) as refused:
        restructuring.plan_reject(actor=manager, plan=plan, note="")
    assert refused.value.field == "note"
    rejected = restructuring.plan_reject(actor=manager, plan=plan, note="Income not documented.")
    case.refresh_from_db()
    assert (rejected.state, case.state) == (PlanState.REJECTED, CaseState.MINOR)
    assert propose(case, extension_months=2).state == PlanState.DRAFT  # a new proposal may follow


def test_the_admin_refuses_a_manager_approving_their_own_plan(case):
    from django.test import Client

    manager = make_manager("lead")
    manager.is_staff = True
    manager.save()
    plan = restructuring.plan_propose(actor=manager, case=case, extension_months=2, reason="Seasonal business.")
    restructuring.plan_submit(actor=manager, plan=plan)
    client = Client()
    client.force_login(manager)
    response = client.post(
        "/admin/collection/restructuringplan/", {"action": "approve", "_selected_action": [plan.pk]}, follow=True
    )
    assert "maker-checker" in response.content.decode()
    plan.refresh_from_db()
    assert plan.state == PlanState.SUBMITTED


# --- Signing, the agreement and activation ------------------------------------------------------------


@pytest.fixture
def approved(case):
    plan = propose(case, extension_months=6, new_annual_rate="0.09", arrears_instalments=3, penalty_waiver="5.00")
    plan = restructuring.plan_submit(actor=case.officer, plan=plan)
    return restructuring.plan_approve(actor=make_manager("checker"), plan=plan, note="Payslips seen.")


def test_the_agreement_names_the_parties_the_terms_and_the_schedule(approved, settings):
    from io import BytesIO

    from pypdf import PdfReader

    from collection.agreements import agreement_pdf

    borrower = approved.case.loan.borrower
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(agreement_pdf(approved))).pages)
    for expected in (
        settings.LENDER_NAME,
        borrower.name,
        borrower.id_number,
        approved.case.loan.external_id,
        "补充协议",
        "展期",
        "¥5.00",
        approved.new_terms["end_date"],
    ):
        assert expected in text, expected
    assert text.count("2026-05-15") >= 1 and "借款人（签字）" in text
    borrower.language = "en"
    borrower.save()
    english = "".join(page.extract_text() for page in PdfReader(BytesIO(agreement_pdf(approved))).pages)
    assert "Supplementary agreement" in english and "Term extension" in english and borrower.name in english


def test_both_parties_sign_before_the_plan_replaces_the_schedule(approved):
    checker = approved.decided_by
    with pytest.raises(TransitionNotAllowed):
        restructuring.plan_activate(actor=checker, plan=approved)  # not signed yet
    with pytest.raises(NotPermitted):
        restructuring.plan_sign(
            actor=make_manager("other"),
            plan=approved,
            borrower_signed_on=TODAY,
            method="one_time_code",
            reference="OTP-1",
        )  # only the approving manager signs for the lender
    with pytest.raises(ApplicationError) as refused:
        restructuring.plan_sign(actor=checker, plan=approved, borrower_signed_on=TODAY, method="scan")
    assert refused.value.field == "scan"
    signed = restructuring.plan_sign(
        actor=checker, plan=approved, borrower_signed_on=TODAY, method="one_time_code", reference="OTP-7731"
    )
    assert (signed.state, signed.lender_signed_by) == (PlanState.SIGNED, checker)
    with pytest.raises(NotPermitted):
        restructuring.plan_activate(actor=approved.case.officer, plan=signed)  # managers put plans in force

    loan = approved.case.loan
    old_unpaid = set(loan.installments.filter(status__in=["pending", "partially_paid"]).values_list("pk", flat=True))
    active = restructuring.plan_activate(actor=checker, plan=signed)
    loan.refresh_from_db()
    case = active.case
    case.refresh_from_db()
    assert (active.state, case.state, loan.status) == (PlanState.ACTIVE, CaseState.MONITORING, "restructured")
    assert active.observation_until == date(2027, 4, 20)  # a year, longer than two periods
    assert set(loan.installments.filter(status="superseded").values_list("pk", flat=True)) == old_unpaid
    new = loan.installments.filter(schedule_version=2).order_by("seq")
    assert [row.due_date.isoformat() for row in new] == [line["due_date"] for line in approved.new_schedule]
    assert (loan.days_past_due, loan.overdue_amount, loan.annual_rate) == (0, 0, Decimal("0.09"))
    assert loan.principal_outstanding == Decimal(approved.position["principal"])
    assert loan.total_outstanding == Decimal(approved.new_terms["total_payable"])
    waived = ActivityLog.objects.get(action="loans.penalty.waived")
    assert waived.data["amount"] == "5.00"


def test_a_plan_costing_more_than_the_products_cap_is_refused_and_its_cost_is_kept(case):
    product = case.loan.product
    product.cost_cap_rate = Decimal("0.05")  # below the loan's 12%: no plan at the current rate fits
    product.save()
    with pytest.raises(ApplicationError) as refused:
        propose(case, extension_months=6)
    assert (refused.value.field, refused.value.code) == ("new_annual_rate", "cost_cap")
    assert not RestructuringPlan.objects.exists()
    product.cost_cap_rate = Decimal("0.24")
    product.save()
    plan = propose(case, extension_months=6)
    assert Decimal("0.10") < Decimal(plan.new_terms["annual_cost"]) <= Decimal("0.24")
