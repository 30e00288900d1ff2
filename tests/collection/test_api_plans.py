"""Restructuring plans over the API: propose (and submit), approve or reject (never one's own), sign,
activate, and the agreement as a PDF."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission, User

from collection.choices import CaseState, PlanState
from collection.models import CollectionCase, RestructuringPlan
from core import roles
from core.apps import sync_roles
from core.models import ActivityLog
from loans.services import loan_refresh_balances
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.collection.test_api import client_for

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)


@pytest.fixture(autouse=True)
def today():
    sync_roles()
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def case():
    case = make_case(state=CaseState.MINOR, officer=make_officer("planner"))
    loan_refresh_balances(loan=case.loan, as_of=TODAY)
    return CollectionCase.objects.get(pk=case.pk)


def propose(client, case, **body):
    body = {"extension_months": 6, "new_annual_rate": "0.09", "reason": "Salary cut for three months", **body}
    return client.post(f"/api/v1/cases/{case.pk}/plans/", body, format="json")


def test_a_plan_goes_from_proposal_to_force_over_the_api(case):
    officer, manager = case.officer, make_manager("checker")
    assert "propose_plan" in client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()["allowed_transitions"]
    response = propose(client_for(officer), case)
    assert response.status_code == 201, response.content
    plan = response.json()
    assert plan["state"] == PlanState.SUBMITTED and plan["kinds"] == ["term_extension", "rate_reduction"]
    assert plan["new_terms"]["end_date"] == "2027-07-15" and len(plan["new_schedule"]) == 15
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.RESTRUCTURING
    url = f"/api/v1/plans/{plan['id']}/"
    assert client_for(officer).post(url + "approve/", {}, format="json").status_code == 403  # an officer
    approved = client_for(manager).post(url + "approve/", {"note": "Payslips seen."}, format="json")
    assert approved.status_code == 200 and approved.json()["decided_by"] == "checker"
    signed = client_for(manager).post(
        url + "sign/",
        {"borrower_signed_on": "2026-04-20", "method": "one_time_code", "reference": "OTP-1"},
        format="json",
    )
    assert signed.status_code == 200 and signed.json()["lender_signed_by"] == "checker"
    active = client_for(manager).post(url + "activate/", {}, format="json")
    assert active.status_code == 200 and active.json()["state"] == PlanState.ACTIVE
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.MONITORING
    pdf = client_for(manager).get(url + "agreement/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf).startswith(b"%PDF")


def test_the_agreement_shows_the_full_id_number_so_only_those_who_may_see_it_download_it(case):
    plan = propose(client_for(case.officer), case).json()
    url = f"/api/v1/plans/{plan['id']}/agreement/"
    auditor = make_user("auditor", roles.AUDITOR)
    for reader in (case.officer, auditor):
        refused = client_for(reader).get(url)
        assert refused.status_code == 403, reader
        assert refused.json()["error"]["code"] == "permission_denied"
    assert not ActivityLog.objects.filter(action="collection.plan.agreement_downloaded").exists()
    case.officer.user_permissions.add(Permission.objects.get(codename="unmask_pii"))
    officer = User.objects.get(pk=case.officer.pk)  # permissions are cached on the instance
    assert client_for(officer).get(url).status_code == 200
    assert client_for(make_user("counsel", roles.LEGAL_OFFICER)).get(url).status_code == 200
    logged = ActivityLog.objects.filter(action="collection.plan.agreement_downloaded").order_by("id")
    assert [entry.actor_label for entry in logged] == [officer.username, "counsel"]
    assert logged[0].data == {"plan": plan["id"], "borrower": case.loan.borrower_id}


def test_terms_beyond_the_limits_are_a_400_naming_the_field(case):
    response = propose(client_for(case.officer), case, extension_months=24)
    assert response.status_code == 400
    assert "extension_months" in response.json()["error"]["fields"]
    assert not RestructuringPlan.objects.exists()


def test_the_proposer_never_approves_and_a_rejection_needs_a_reason(case):
    manager = make_manager("lead")
    plan = propose(client_for(manager), case).json()
    url = f"/api/v1/plans/{plan['id']}/"
    own = client_for(manager).post(url + "approve/", {}, format="json")
    assert own.status_code == 403 and "maker-checker" in own.json()["error"]["message"]
    checker = client_for(make_manager("checker"))
    assert checker.post(url + "reject/", {}, format="json").status_code == 400
    assert checker.post(url + "reject/", {"note": "No documents"}, format="json").status_code == 200
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.MINOR
    assert checker.post(url + "approve/", {}, format="json").status_code == 409  # already decided


def test_an_officer_does_not_see_another_officers_plans(case):
    plan = propose(client_for(case.officer), case).json()
    stranger = client_for(make_officer("stranger"))
    assert stranger.get(f"/api/v1/plans/{plan['id']}/").status_code == 404
    assert stranger.get(f"/api/v1/plans/{plan['id']}/agreement/").status_code == 404
    assert stranger.get(f"/api/v1/cases/{case.pk}/plans/").status_code == 404


@pytest.mark.parametrize("first_due_date", ["9999-12-31", "9999-01-01", "2027-05-01", "2026-04-20"])
def test_a_first_due_date_outside_the_coming_year_is_a_400_not_a_500(case, first_due_date):
    response = propose(client_for(case.officer), case, first_due_date=first_due_date)
    assert response.status_code == 400, response.content
    assert "first_due_date" in response.json()["error"]["fields"]
    assert not RestructuringPlan.objects.exists()
