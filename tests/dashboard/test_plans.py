"""Restructuring plans on the case page: an officer proposes terms within the product's limits (the
case moves to restructuring with a submitted plan), a manager other than the proposer approves or
rejects, the approving manager records both signatures, a manager puts the plan in force; the
supplementary agreement downloads as a PDF for those who may see the case."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collection import restructuring
from collection.choices import CaseState, PlanState
from collection.models import CollectionCase, ContactAttempt, PromiseToPay, RestructuringPlan
from core.apps import sync_roles
from core.audit import build_entry
from core.models import ActivityLog
from loans.services import loan_refresh_balances
from tests import files
from tests.collection.factories import make_case, make_manager, make_officer

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The case page's 21 (one reads the schedule's penalties as of today), the latest restructuring
# plan, and the loan's position beside the proposal (3).
CASE_PAGE_MAX_QUERIES = 25
REASON = "Salary cut for three months; employer confirms."


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        yield TODAY


@pytest.fixture(autouse=True)
def role_permissions():
    sync_roles()


@pytest.fixture
def people():
    return {
        "officer": make_officer("planner"),
        "other_officer": make_officer("officer2"),
        "manager": make_manager("checker"),
        "other_manager": make_manager("boss2"),
    }


@pytest.fixture
def case(people):
    """A minor case on a ¥12,000 loan at 12% over 12 months, unpaid since its first due date."""
    case = make_case(state=CaseState.MINOR, officer=people["officer"])
    loan_refresh_balances(loan=case.loan, as_of=TODAY)
    case.refresh_from_db()
    return case


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def case_url(case, action=""):
    return f"/cases/{case.pk}/{action + '/' if action else ''}"


def plan_url(plan, step):
    return f"/cases/{plan.case_id}/plans/{plan.pk}/{step}/"


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def propose_on_page(client, case, follow=True, **fields):
    data = {f"propose_plan-{name}": value for name, value in fields.items()}
    data["propose_plan-version"] = case.version
    return client.post(case_url(case, "propose_plan"), data, follow=follow)


def post_step(client, plan, step, follow=True, **fields):
    return client.post(
        plan_url(plan, step), {f"plan_{step}-{name}": value for name, value in fields.items()}, follow=follow
    )


def submitted_plan(case, actor=None):
    actor = actor or case.officer
    plan = restructuring.plan_propose(
        actor=actor,
        case=case,
        reason=REASON,
        extension_months=6,
        new_annual_rate="0.09",
        arrears_instalments=3,
        penalty_waiver="5.00",
    )
    return restructuring.plan_submit(actor=actor, plan=plan)


def approved_plan(case, manager):
    return restructuring.plan_approve(actor=manager, plan=submitted_plan(case), note="Payslips seen.")


def signed_plan(case, manager):
    return restructuring.plan_sign(
        actor=manager,
        plan=approved_plan(case, manager),
        borrower_signed_on=TODAY,
        method="one_time_code",
        reference="OTP-1",
    )


# --- Proposing ------------------------------------------------------------------------------------------


def test_the_proposal_form_shows_what_the_loan_owes_and_the_products_limits(people, case):
    page = page_text(client_for(people["officer"]).get(case_url(case)))
    assert 'id="action-propose_plan"' in page
    for shown in (
        "What the loan owes today",
        f"¥{case.loan.principal_outstanding:,.2f}",  # the principal outstanding
        "12 months",  # the longest extension
        "6%",  # the largest rate cut
        "New annual rate (%)",
        "4.5 means 4.5% a year",
        'name="propose_plan-extension_months"',
        'name="propose_plan-first_due_date"',
    ):
        assert shown in page, shown
    assert 'name="propose_plan-note"' not in page  # the note-only form is gone


def test_an_officer_proposes_terms_and_the_case_waits_for_a_manager(people, case):
    response = propose_on_page(
        client_for(people["officer"]),
        case,
        extension_months="6",
        new_annual_rate="9",
        arrears_instalments="3",
        penalty_waiver="5.00",
        first_due_date="",
        reason=REASON,
    )
    assert messages_of(response) == ["The restructuring plan was proposed and sent to a manager for approval."]
    plan = RestructuringPlan.objects.get()
    assert (plan.state, plan.proposed_by, plan.reason) == (PlanState.SUBMITTED, people["officer"], REASON)
    assert (plan.extension_months, plan.new_annual_rate, plan.arrears_instalments, plan.penalty_waiver) == (
        6,
        Decimal("0.09"),
        3,
        Decimal("5.00"),
    )
    assert plan.first_due_date == date(2026, 5, 15)  # the current schedule's next due date
    case.refresh_from_db()
    assert case.state == CaseState.RESTRUCTURING
    page = page_text(response)
    assert 'id="plan"' in page and "Submitted for approval" in page
    for shown in ("Term extension", "Rate reduction", "Penalty waiver", plan.new_terms["end_date"], "9%"):
        assert shown in page, shown
    assert f"¥{Decimal(plan.new_terms['total_payable']):,.2f}" in page
    assert page.count('<td class="num">15</td>') >= 1  # the new schedule's last instalment
    assert "Waiting for a manager other than the proposer" in page
    assert 'id="plan-action-approve"' not in page  # the officer does not decide


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"extension_months": "13"}, "extension_months"),  # the product allows 12
        ({"new_annual_rate": "5"}, "new_annual_rate"),  # a 7-point cut; 6 allowed
        ({"new_annual_rate": "13"}, "new_annual_rate"),  # a rise
        ({"new_annual_rate": "abc"}, "new_annual_rate"),
        ({"penalty_waiver": "99999.00"}, "penalty_waiver"),
        ({}, "extension_months"),  # nothing changes
        ({"extension_months": "1", "first_due_date": "2026-04-20"}, "first_due_date"),
        ({"extension_months": "1", "reason": " "}, "reason"),
    ],
)
def test_a_proposal_beyond_the_limits_is_refused_on_its_field_and_nothing_is_saved(people, case, fields, field):
    fields = {"reason": REASON, **fields}
    response = propose_on_page(client_for(people["officer"]), case, follow=False, **fields)
    panel = next(panel for panel in response.context["transitions"] if panel.name == "propose_plan")
    assert panel.is_open and field in panel.form.errors, panel.form.errors
    assert not RestructuringPlan.objects.exists()
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.MINOR, 0)


def test_a_proposal_on_a_stale_page_changes_nothing(people, case):
    stale = CollectionCase.objects.get(pk=case.pk)
    CollectionCase.objects.filter(pk=case.pk).update(version=3)
    response = propose_on_page(client_for(people["officer"]), stale, extension_months="3", reason=REASON)
    assert "Someone else changed this case first" in messages_of(response)[0]
    assert not RestructuringPlan.objects.exists()


# --- Deciding -------------------------------------------------------------------------------------------


def test_a_manager_approves_a_plan_an_officer_proposed(people, case):
    plan = submitted_plan(case)
    client = client_for(people["manager"])
    page = page_text(client.get(case_url(case)))
    assert 'id="plan-action-approve"' in page and 'id="plan-action-reject"' in page
    response = post_step(client, plan, "approve", note="Payslips seen.")
    assert messages_of(response) == ["The plan was approved: print the agreement for the borrower to sign."]
    plan.refresh_from_db()
    assert (plan.state, plan.decided_by, plan.decision_note) == (
        PlanState.APPROVED,
        people["manager"],
        "Payslips seen.",
    )
    page = page_text(response)
    assert 'id="plan-action-sign"' in page and 'enctype="multipart/form-data"' in page
    # Only the approving manager signs for the lender.
    other = page_text(client_for(people["other_manager"]).get(case_url(case)))
    assert 'id="plan-action-sign"' not in other and "who approved it, to record both signatures" in other


def test_a_manager_never_approves_their_own_plan(people, case):
    manager = people["manager"]
    plan = submitted_plan(case, actor=manager)
    client = client_for(manager)
    assert 'id="plan-action-approve"' not in page_text(client.get(case_url(case)))
    response = post_step(client, plan, "approve", note="fine")
    assert messages_of(response) == ["You cannot approve your own request (maker-checker)."]
    plan.refresh_from_db()
    assert plan.state == PlanState.SUBMITTED


def test_an_officer_may_not_decide_a_plan(people, case):
    plan = submitted_plan(case, actor=people["manager"])
    response = post_step(client_for(people["officer"]), plan, "approve", note="fine")
    assert messages_of(response) == ["Only a manager may decide this."]
    plan.refresh_from_db()
    assert plan.state == PlanState.SUBMITTED


def test_a_rejection_needs_a_note_and_returns_the_case_to_minor(people, case):
    plan = submitted_plan(case)
    client = client_for(people["manager"])
    response = post_step(client, plan, "reject", follow=False, note="  ")
    assert response.status_code == 200
    action = next(action for action in response.context["plan_panel"].actions if action.name == "reject")
    assert action.is_open and "note" in action.form.errors
    plan.refresh_from_db()
    assert plan.state == PlanState.SUBMITTED
    # With htmx, only the form comes back, with the error on it.
    partial = page_text(client.post(plan_url(plan, "reject"), {"plan_reject-note": ""}, headers={"HX-Request": "true"}))
    assert partial.lstrip().startswith('<form method="post"') and "Say why the plan is rejected." in partial

    response = post_step(client, plan, "reject", note="Income not documented.")
    assert messages_of(response) == ["The plan was rejected; the case is back where it was."]
    plan.refresh_from_db()
    case.refresh_from_db()
    assert (plan.state, plan.decision_note, case.state) == (
        PlanState.REJECTED,
        "Income not documented.",
        CaseState.MINOR,
    )
    page = page_text(response)
    assert "Income not documented." in page and 'id="action-propose_plan"' in page  # a new proposal may follow


def test_deciding_a_plan_twice_is_refused_with_a_message(people, case):
    plan = submitted_plan(case)
    restructuring.plan_approve(actor=people["other_manager"], plan=plan)
    response = post_step(client_for(people["manager"]), plan, "reject", note="too late")
    assert messages_of(response) == ["This plan was already decided: Approved."]
    plan.refresh_from_db()
    assert plan.state == PlanState.APPROVED


# --- Signing and activation -----------------------------------------------------------------------------


def test_the_approving_manager_records_a_one_time_code_signature(people, case):
    manager = people["manager"]
    plan = approved_plan(case, manager)
    response = post_step(client_for(people["other_manager"]), plan, "sign", borrower_signed_on="2026-04-20",
                         method="one_time_code", reference="OTP-9")  # fmt: skip
    assert messages_of(response) == ["The manager who approved the plan signs it for the lender."]
    client = client_for(manager)
    response = post_step(client, plan, "sign", follow=False, borrower_signed_on="2026-04-20", method="one_time_code")
    action = next(action for action in response.context["plan_panel"].actions if action.name == "sign")
    assert "reference" in action.form.errors
    response = post_step(
        client, plan, "sign", borrower_signed_on="2026-04-20", method="one_time_code", reference="OTP-7731"
    )
    assert messages_of(response) == ["Both signatures were recorded: the plan can be put in force."]
    plan.refresh_from_db()
    assert (plan.state, plan.borrower_sign_method, plan.borrower_sign_reference, plan.lender_signed_by) == (
        PlanState.SIGNED,
        "one_time_code",
        "OTP-7731",
        manager,
    )
    page = page_text(response)
    assert "OTP-7731" in page and 'id="plan-action-activate"' in page


def test_a_paper_signature_comes_with_the_scan(people, case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    manager = people["manager"]
    plan = approved_plan(case, manager)
    client = client_for(manager)
    response = post_step(client, plan, "sign", follow=False, borrower_signed_on="2026-04-20", method="scan")
    action = next(action for action in response.context["plan_panel"].actions if action.name == "sign")
    assert "scan" in action.form.errors
    future = post_step(client, plan, "sign", follow=False, borrower_signed_on="2026-04-21", method="one_time_code",
                       reference="x")  # fmt: skip
    action = next(action for action in future.context["plan_panel"].actions if action.name == "sign")
    assert "borrower_signed_on" in action.form.errors
    scan = SimpleUploadedFile("signed.pdf", files.pdf("signed"), content_type="application/pdf")
    response = post_step(client, plan, "sign", borrower_signed_on="2026-04-20", method="scan", scan=scan)
    assert messages_of(response) == ["Both signatures were recorded: the plan can be put in force."]
    plan.refresh_from_db()
    assert (plan.state, plan.borrower_sign_method, plan.borrower_sign_reference) == (
        PlanState.SIGNED,
        "scan",
        "signed.pdf",
    )
    assert plan.borrower_scan.name.startswith("agreements/2026/04/")
    assert plan.borrower_scan.read() == files.pdf("signed")


def test_a_scan_must_be_a_pdf_or_an_image(people, case):
    manager = people["manager"]
    plan = approved_plan(case, manager)
    scan = SimpleUploadedFile("signed.exe", b"MZ", content_type="application/octet-stream")
    response = post_step(client_for(manager), plan, "sign", follow=False, borrower_signed_on="2026-04-20",
                         method="scan", scan=scan)  # fmt: skip
    action = next(action for action in response.context["plan_panel"].actions if action.name == "sign")
    assert "scan" in action.form.errors
    plan.refresh_from_db()
    assert plan.state == PlanState.APPROVED


def test_a_manager_puts_a_signed_plan_in_force(people, case):
    manager = people["manager"]
    plan = signed_plan(case, manager)
    officer = client_for(people["officer"])
    assert 'id="plan-action-activate"' not in page_text(officer.get(case_url(case)))
    response = post_step(officer, plan, "activate")
    assert messages_of(response) == ["Only a manager puts a plan in force."]
    assert RestructuringPlan.objects.get(pk=plan.pk).state == PlanState.SIGNED

    response = post_step(client_for(manager), plan, "activate")
    assert messages_of(response) == ["The new schedule is in force; the case is monitored for the observation period."]
    plan.refresh_from_db()
    case.refresh_from_db()
    case.loan.refresh_from_db()
    assert (plan.state, case.state, case.loan.status) == (PlanState.ACTIVE, CaseState.MONITORING, "restructured")
    page = page_text(response)
    assert "Observation until" in page and "2027-04-20" in page
    assert 'id="plan-action-' not in page  # nothing left to do on the plan
    response = post_step(client_for(manager), plan, "activate")
    assert messages_of(response) == ["Only a signed plan is activated; this one is “Active”."]


def test_an_unknown_plan_step_or_another_cases_plan_is_a_404(people, case):
    plan = submitted_plan(case)
    client = client_for(people["manager"])
    assert client.post(plan_url(plan, "default")).status_code == 404
    other = make_case(state=CaseState.MINOR, officer=people["officer"])
    assert client.post(f"/cases/{other.pk}/plans/{plan.pk}/approve/").status_code == 404
    assert client_for(people["other_officer"]).post(plan_url(plan, "approve")).status_code == 404


# --- The agreement --------------------------------------------------------------------------------------


def test_the_agreement_downloads_as_a_pdf_for_those_who_see_the_case_and_the_full_id(people, case):
    plan = approved_plan(case, people["manager"])
    url = f"/cases/{case.pk}/plans/{plan.pk}/agreement.pdf"
    assert f'href="{url}"' in page_text(client_for(people["manager"]).get(case_url(case)))
    response = client_for(people["manager"]).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="agreement-{plan.pk}.pdf"'
    assert response.content.startswith(b"%PDF")
    assert client_for(people["other_officer"]).get(url).status_code == 404
    entry = ActivityLog.objects.get(action="collection.plan.agreement_downloaded")
    assert (entry.actor_id, entry.target_id, entry.data["plan"]) == (people["manager"].pk, str(case.pk), plan.pk)


def test_an_officer_without_the_unmask_permission_is_refused_the_agreement(people, case):
    plan = approved_plan(case, people["manager"])
    url = f"/cases/{case.pk}/plans/{plan.pk}/agreement.pdf"
    officer = client_for(people["officer"])
    page = page_text(officer.get(case_url(case)))
    assert url not in page and "a manager or a legal officer prints it" in page
    assert officer.get(url).status_code == 403
    assert not ActivityLog.objects.filter(action="collection.plan.agreement_downloaded").exists()


# --- The old note-only steps ----------------------------------------------------------------------------


def test_the_note_only_propose_and_reject_steps_are_gone(people, case):
    officer = client_for(people["officer"])
    response = officer.post(
        case_url(case, "propose_plan"), {"propose_plan-version": 0, "propose_plan-note": "12 instalments"}
    )
    panel = next(panel for panel in response.context["transitions"] if panel.name == "propose_plan")
    assert "reason" in panel.form.errors
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.MINOR
    submitted_plan(case)
    case.refresh_from_db()
    for client in (officer, client_for(people["manager"])):
        page = page_text(client.get(case_url(case)))
        assert 'id="action-reject_plan"' not in page and 'id="action-activate_plan"' not in page
    response = client_for(people["manager"]).post(
        case_url(case, "reject_plan"), {"reject_plan-version": case.version, "reject_plan-note": "no"}
    )
    assert response.status_code == 404
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.RESTRUCTURING


# --- Query counts ---------------------------------------------------------------------------------------


def test_the_case_page_with_a_plan_runs_the_same_few_queries_for_10_timeline_entries_or_200(people, case):
    officer, manager = people["officer"], people["manager"]
    plan = submitted_plan(case)
    restructuring.plan_reject(actor=manager, plan=plan, note="Income not documented.")
    submitted = make_case(state=CaseState.SERIOUS, officer=officer)
    loan_refresh_balances(loan=submitted.loan, as_of=TODAY)
    submitted_plan(CollectionCase.objects.get(pk=submitted.pk))
    clients = [client_for(officer), client_for(manager)]
    # A minor case with a rejected plan (the panel and the proposal form) and a case whose plan awaits
    # the manager (the decision forms).
    cases = [case, submitted]

    def add_history(rows, start=0):
        for target in cases:
            numbers = range(start, start + rows)
            ContactAttempt.objects.bulk_create(
                ContactAttempt(case=target, channel="call", outcome="reached", by=officer,
                               attempted_at=datetime(2026, 4, 1, 9, tzinfo=SHANGHAI) + timedelta(minutes=n))
                for n in numbers
            )  # fmt: skip
            PromiseToPay.objects.bulk_create(
                PromiseToPay(case=target, amount=Decimal(n + 1), promised_for=TODAY, recorded_by=officer)
                for n in numbers
            )
            ActivityLog.objects.bulk_create(
                build_entry(actor=officer, action="collection.case.flagged", target=target, reason=f"flag {n}")
                for n in numbers
            )

    def measure():
        counts = []
        for client in clients:
            for target in cases:
                client.get(case_url(target))  # the content-type cache is filled once per process
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(case_url(target))
                assert response.status_code == 200 and 'id="plan"' in response.content.decode()
                counts.append(len(queries))
        return counts

    add_history(10)
    few = measure()
    add_history(190, start=10)
    many = measure()
    assert few == many
    assert max(many) <= CASE_PAGE_MAX_QUERIES
