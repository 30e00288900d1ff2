"""The legal route over the API: the worklist and the action page, opening an action, its steps as
POSTs (200 / 409 / 403 / 400), costs, idempotent recoveries, tasks, documents up and down, preservation
and collateral disposal, with the role matrix and bounded query counts."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from rest_framework.test import APIClient

from collection.choices import CaseState
from core import roles
from core.apps import sync_roles
from legal import services
from legal.choices import ActionState, DisposalState, PreservationStatus
from legal.models import LawFirm, LegalAction, LegalDocument
from loans.choices import CollateralKind, CollateralStatus
from loans.claim import claim_as_of
from loans.models import Collateral, Payment
from tests import files
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.collection.test_api import client_for, error_of, ids
from tests.legal.factories import make_legal_case

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)
PDF = files.pdf("summons")


@pytest.fixture(autouse=True)
def today():
    sync_roles()
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield TODAY


@pytest.fixture
def people():
    return {
        "legal": make_user("counsel", roles.LEGAL_OFFICER),
        "manager": make_manager("boss"),
        "auditor": make_user("auditor", roles.AUDITOR),
        "officer": make_officer("zhao"),
    }


def legal_case(officer=None):
    return make_legal_case(officer, as_of=TODAY)


@pytest.fixture
def case(people):
    return legal_case(people["officer"])


def open_action(client, case, /, **body):
    body = {"case": case.pk, "kind": "lawsuit", "lawyer_fee": "3000.00", "recoverable": "20000.00", **body}
    return client.post("/api/v1/legal-actions/", body, format="json")


@pytest.fixture
def action(case, people):
    return services.action_open(
        actor=people["legal"], case=case, kind="lawsuit", lawyer_fee="3000", recoverable="20000"
    )


@pytest.fixture
def filed(action, people):
    return services.action_advance(actor=people["legal"], action=action, step="file", on=TODAY, court="黄浦区人民法院")


def step(client, action, name, **body):
    return client.post(f"/api/v1/legal-actions/{action.pk}/steps/{name}/", body, format="json")


def pdf(name="ruling.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def car(case, description="比亚迪 汉 沪A12345"):
    return Collateral.objects.create(loan=case.loan, kind=CollateralKind.VEHICLE, description=description)


# --- Opening and reading ----------------------------------------------------------------------------


def test_a_legal_officer_opens_an_action_and_reads_its_page(case, people):
    firm = LawFirm.objects.create(name="金杜律师事务所")
    client = client_for(people["legal"])
    response = open_action(client, case, law_firm=firm.pk)
    assert response.status_code == 201, response.content
    page = response.json()
    loan = case.loan
    assert page["state"] == ActionState.PREPARING and page["kind"] == "lawsuit"
    assert page["case"] == {"id": case.pk, "state": "legal", "loan": loan.external_id, "borrower": loan.borrower.name}
    assert page["law_firm"] == {"id": firm.pk, "name": "金杜律师事务所"}
    assert page["handled_by"]["username"] == "counsel" and page["opened_by"] == "counsel"
    claim = claim_as_of(loan, TODAY)
    assert page["claim"] == {
        "principal": f"{claim.principal:.2f}",
        "interest": f"{claim.interest:.2f}",
        "fees": f"{claim.fees:.2f}",
        "penalty": f"{claim.penalty:.2f}",
        "costs": f"{claim.costs:.2f}",
        "total": f"{claim.total:.2f}",
    }
    assert claim.total < loan.total_outstanding  # the interest of the periods still to come is not claimed
    assert page["feasibility"]["lawyer_fee"] == "3000.00" and "expected_net" in page["feasibility"]
    assert page["allowed_steps"] == ["send_letter", "file", "withdraw"]
    assert page["result"] == {"recovered": "0.00", "costs": "0.00", "reimbursed": "0.00", "net": "0.00"}
    assert [entry["code"] for entry in page["history"]] == ["legal.action.opened"]
    assert page["history"][0]["who"] == "counsel"
    assert client.get(f"/api/v1/legal-actions/{page['id']}/").json() == page
    assert ids(client.get("/api/v1/legal-actions/")) == [page["id"]]


def test_an_action_expected_to_lose_money_needs_a_manager_and_a_reason(case, people):
    hopeless = {"recoverable": "0.00"}
    error_of(open_action(client_for(people["legal"]), case, **hopeless), 403, "permission_denied")
    manager = client_for(people["manager"])
    refused = error_of(open_action(manager, case, **hopeless), 400, "invalid")
    assert "override_reason" in refused["fields"]
    response = open_action(manager, case, override_reason="Deterrence.", **hopeless)
    assert response.status_code == 201 and response.json()["feasibility"]["override_reason"] == "Deterrence."
    error_of(open_action(manager, case, override_reason="Again."), 409, "conflict")  # one open lawsuit a case


def test_an_action_is_opened_only_on_a_case_in_legal(people):
    error_of(
        open_action(client_for(people["legal"]), make_case(state=CaseState.SERIOUS)), 409, "transition_not_allowed"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "duel"}, "kind"),
        ({"lawyer_fee": "-1.00"}, "lawyer_fee"),
        ({"recoverable": 20000.5}, "recoverable"),  # a float is not money
        ({"case": 999999}, "case"),
        ({"handled_by": 999999}, "handled_by"),
    ],
)
def test_bad_input_to_open_is_a_400_naming_the_field(case, people, body, field):
    error = error_of(open_action(client_for(people["legal"]), case, **body), 400, "invalid")
    assert field in error["fields"]
    assert not LegalAction.objects.exists()


def test_the_worklist_filters_and_orders_open_actions_by_their_next_deadline(people):
    lawyer = people["legal"]
    first, second, closed_case = legal_case(), legal_case(), legal_case()
    later = services.action_open(actor=lawyer, case=first, kind="lawsuit", lawyer_fee="1", recoverable="20000")
    sooner = services.action_open(actor=lawyer, case=second, kind="lawsuit", lawyer_fee="1", recoverable="20000")
    closed = services.action_open(actor=lawyer, case=closed_case, kind="lawsuit", lawyer_fee="1", recoverable="20000")
    services.task_add(actor=lawyer, action=later, due_on=date(2026, 6, 1), note="Collect the ruling")
    services.task_add(actor=lawyer, action=sooner, due_on=date(2026, 5, 1), note="Call the clerk")
    services.action_advance(actor=lawyer, action=closed, step="withdraw", on=TODAY)
    client = client_for(people["auditor"])
    assert ids(client.get("/api/v1/legal-actions/")) == [sooner.pk, later.pk, closed.pk]
    assert ids(client.get("/api/v1/legal-actions/?open=true")) == [sooner.pk, later.pk]
    assert ids(client.get("/api/v1/legal-actions/?state=withdrawn")) == [closed.pk]
    assert ids(client.get(f"/api/v1/legal-actions/?case={first.pk}")) == [later.pk]
    assert ids(client.get("/api/v1/legal-actions/?due_by=2026-05-15")) == [sooner.pk]
    row = client.get("/api/v1/legal-actions/").json()["results"][0]
    assert (row["next_due_on"], row["next_task_kind"], row["open_tasks"]) == ("2026-05-01", "other", 1)
    page = client.get("/api/v1/legal-actions/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2
    error_of(client.get("/api/v1/legal-actions/?state=lost"), 400, "invalid")
    error_of(client.get("/api/v1/legal-actions/?due_by=someday"), 400, "invalid")


@pytest.mark.parametrize("count", [1, 6])
def test_the_worklist_and_the_page_run_a_bounded_number_of_queries(people, count, django_assert_max_num_queries):
    lawyer = people["legal"]
    for _ in range(count):
        action = services.action_open(
            actor=lawyer, case=legal_case(), kind="lawsuit", lawyer_fee="1", recoverable="20000"
        )
        services.cost_add(actor=lawyer, action=action, kind="court_fee", amount="50", incurred_on=TODAY)
        services.task_add(actor=lawyer, action=action, due_on=TODAY, note="Call the clerk")
        services.document_upload(actor=lawyer, action=action, kind="complaint", file=pdf())
    client = client_for(lawyer)
    with django_assert_max_num_queries(5):
        assert len(ids(client.get("/api/v1/legal-actions/"))) == count
    with django_assert_max_num_queries(14):
        assert client.get(f"/api/v1/legal-actions/{action.pk}/").status_code == 200


# --- Who may do what --------------------------------------------------------------------------------


def test_reading_needs_the_view_permission(action, people, api_client_for):
    for role in ("legal", "manager", "auditor"):
        assert ids(client_for(people[role]).get("/api/v1/legal-actions/")) == [action.pk], role
        assert client_for(people[role]).get(f"/api/v1/legal-actions/{action.pk}/").status_code == 200
    error_of(client_for(people["officer"]).get("/api/v1/legal-actions/"), 403, "permission_denied")
    error_of(client_for(people["officer"]).get(f"/api/v1/legal-actions/{action.pk}/"), 403, "permission_denied")
    error_of(api_client_for("gateway").get("/api/v1/legal-actions/"), 403, "permission_denied")
    reader = api_client_for("core-banking", "legal.view_legalaction")
    assert ids(reader.get("/api/v1/legal-actions/")) == [action.pk]
    error_of(APIClient().get("/api/v1/legal-actions/"), 401, "not_authenticated")
    error_of(APIClient().get(f"/api/v1/legal-actions/{action.pk}/"), 401, "not_authenticated")


def test_an_officer_allowed_to_read_sees_only_the_actions_on_their_own_cases(action, people):
    officer = people["officer"]
    officer.user_permissions.add(Permission.objects.get(codename="view_legalaction"))
    other = services.action_open(
        actor=people["legal"], case=legal_case(make_officer("qian")), kind="lawsuit", lawyer_fee="1", recoverable="9e3"
    )
    client = client_for(officer)
    assert ids(client.get("/api/v1/legal-actions/")) == [action.pk]
    error_of(client.get(f"/api/v1/legal-actions/{other.pk}/"), 404, "not_found")
    assert client.get(f"/api/v1/legal-actions/{action.pk}/").json()["allowed_steps"] == []


def test_writing_needs_the_legal_role_or_a_manager_and_the_change_permission(action, case, people, api_client_for):
    for role in ("auditor", "officer"):
        error_of(step(client_for(people[role]), action, "send_letter"), 403, "permission_denied")
        error_of(open_action(client_for(people[role]), legal_case()), 403, "permission_denied")
    reader = api_client_for("reader", "legal.view_legalaction")
    error_of(step(reader, action, "send_letter"), 403, "permission_denied")
    # The permission without the role: the service refuses.
    granted = api_client_for("granted", "legal.view_legalaction", "legal.add_legalaction", "legal.change_legalaction")
    error_of(step(granted, action, "send_letter"), 403, "permission_denied")
    error_of(open_action(granted, legal_case()), 403, "permission_denied")
    error_of(step(APIClient(), action, "send_letter"), 401, "not_authenticated")
    assert client_for(people["auditor"]).get(f"/api/v1/legal-actions/{action.pk}/").json()["allowed_steps"] == []
    response = step(client_for(people["manager"]), action, "send_letter")
    assert response.status_code == 200 and response.json()["state"] == ActionState.LETTER_SENT
    assert LegalAction.objects.get(pk=action.pk).state == ActionState.LETTER_SENT


def test_acting_on_an_action_the_user_may_not_see_is_a_403_and_a_missing_one_a_404(action, people):
    officer = make_user("both", roles.OFFICER)
    officer.user_permissions.add(*Permission.objects.filter(codename__in=["view_legalaction", "change_legalaction"]))
    error_of(step(client_for(officer), action, "send_letter"), 403, "permission_denied")
    error_of(step(client_for(people["legal"]), LegalAction(pk=999999), "send_letter"), 404, "not_found")
    assert client_for(people["legal"]).post(f"/api/v1/legal-actions/{action.pk}/steps/appeal/").status_code == 404


# --- Steps ------------------------------------------------------------------------------------------


def test_a_lawsuit_goes_through_its_steps_over_the_api(action, people):
    client = client_for(people["legal"])
    filed = step(
        client, action, "file", on="2026-03-02", court="黄浦区人民法院", court_case_number="(2026)沪0101民初1234号"
    )
    assert filed.status_code == 200, filed.content
    assert filed.json()["state"] == ActionState.FILED and filed.json()["court"] == "黄浦区人民法院"
    assert filed.json()["filed_on"] == "2026-03-02" and filed.json()["enforcement_from"] is None
    assert "schedule_hearing" in filed.json()["allowed_steps"] and "file" not in filed.json()["allowed_steps"]
    hearing = step(client, action, "schedule_hearing", on="2026-03-05", hearing_on="2026-03-25", note="Courtroom 3")
    assert hearing.status_code == 200 and hearing.json()["hearing_on"] == "2026-03-25"
    assert [(t["kind"], t["due_on"]) for t in hearing.json()["tasks"]] == [("hearing", "2026-03-25")]
    judgment = step(
        client,
        action,
        "record_judgment",
        on="2026-04-02",
        judgment_on="2026-04-01",
        performance_due_on="2026-04-11",
        judgment_principal="12000.00",
        judgment_interest="480.50",
        judgment_penalty="90.00",
        judgment_costs="300.00",
    )
    assert judgment.status_code == 200, judgment.content
    page = judgment.json()
    assert (page["state"], page["appeal_deadline"], page["enforcement_deadline"]) == (
        ActionState.JUDGMENT,
        "2026-04-16",
        "2028-04-11",
    )
    assert [page[f"judgment_{name}"] for name in ("principal", "interest", "fees", "penalty", "costs", "total")] == [
        "12000.00",
        "480.50",
        "0.00",
        "90.00",
        "300.00",
        "12870.50",
    ]
    assert page["enforcement_from"] == "2026-04-17"  # the day after the appeal deadline, the later date
    assert step(client, action, "apply_enforcement").status_code == 200
    closed = step(client, action, "close_settled", note="Paid in instalments")
    assert closed.status_code == 200 and closed.json()["state"] == ActionState.CLOSED_SETTLED
    assert closed.json()["closed_on"] == "2026-04-20" and closed.json()["allowed_steps"] == []
    history = [entry["code"] for entry in closed.json()["history"]]
    assert history[:2] == ["legal.action.close_settled", "legal.action.apply_enforcement"]
    assert closed.json()["history"][0]["reason"] == "Paid in instalments"


def test_a_step_the_state_does_not_allow_now_is_a_409_with_the_reason(action, people):
    error = error_of(
        step(
            client_for(people["legal"]),
            action,
            "record_judgment",
            judgment_on="2026-04-18",
            performance_due_on="2026-05-03",
            judgment_principal="1.00",
        ),
        409,
        "transition_not_allowed",
    )
    assert "Preparing" in error["message"] or "准备" in error["message"]
    assert LegalAction.objects.get(pk=action.pk).state == ActionState.PREPARING


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("file", {}, "court"),
        ("file", {"court": ""}, "court"),
        ("file", {"court": "x" * 201}, "court"),
        ("withdraw", {"on": "2026-13-01"}, "on"),
        ("withdraw", {"on": "2026-04-21"}, "on"),  # a future day: the service's rule
        ("withdraw", {"on": "9999-12-31"}, "on"),
        ("schedule_hearing", {}, "hearing_on"),
        ("withdraw", {"document_kind": "poem"}, "document_kind"),
    ],
)
def test_bad_step_input_is_a_400_naming_the_field(action, people, name, body, field):
    if name == "schedule_hearing":
        services.action_advance(actor=people["legal"], action=action, step="file", on=TODAY, court="Court")
    error = error_of(step(client_for(people["legal"]), action, name, **body), 400, "invalid")
    assert field in error["fields"], error


def test_a_judgment_cannot_be_due_before_it_was_served(filed, people):
    services.action_advance(
        actor=people["legal"], action=filed, step="schedule_hearing", on=TODAY, hearing_on=date(2026, 4, 20)
    )
    body = {"judgment_on": "2026-04-20", "performance_due_on": "2026-04-01", "judgment_principal": "1.00"}
    error = error_of(step(client_for(people["legal"]), filed, "record_judgment", **body), 400, "too_early")
    assert "performance_due_on" in error["fields"]


def test_a_step_may_bring_its_document_as_multipart(action, people):
    client = client_for(people["legal"])
    response = client.post(
        f"/api/v1/legal-actions/{action.pk}/steps/file/",
        {"court": "黄浦区人民法院", "document": pdf("complaint.pdf"), "document_kind": "complaint", "note": "Filed"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    [document] = response.json()["documents"]
    assert (document["kind"], document["step"], document["original_name"]) == ("complaint", "file", "complaint.pdf")
    text = SimpleUploadedFile("notes.txt", b"just text", content_type="application/pdf")
    refused = client.post(
        f"/api/v1/legal-actions/{action.pk}/steps/schedule_hearing/",
        {"hearing_on": "2026-05-01", "document": text},
        format="multipart",
    )
    assert "document" in error_of(refused, 400, "invalid")["fields"]
    assert LegalAction.objects.get(pk=action.pk).state == ActionState.FILED


# --- Costs, recoveries, tasks -----------------------------------------------------------------------


def test_costs_are_booked_and_bad_amounts_refused(action, people):
    client = client_for(people["legal"])
    url = f"/api/v1/legal-actions/{action.pk}/costs/"
    response = client.post(url, {"kind": "court_fee", "amount": "300.00", "note": "Acceptance fee"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "300.00" and response.json()["incurred_on"] == "2026-04-20"
    assert response.json()["recorded_by"] == "counsel"
    for body, field in [
        ({"kind": "court_fee", "amount": "-5.00"}, "amount"),
        ({"kind": "court_fee", "amount": 5.5}, "amount"),
        ({"kind": "court_fee", "amount": "5.001"}, "amount"),
        ({"kind": "bribe", "amount": "5.00"}, "kind"),
        ({"kind": "court_fee", "amount": "5.00", "incurred_on": "20-04-2026"}, "incurred_on"),
    ]:
        assert field in error_of(client.post(url, body, format="json"), 400, "invalid")["fields"], body
    page = client.get(f"/api/v1/legal-actions/{action.pk}/").json()
    assert [cost["amount"] for cost in page["costs"]] == ["300.00"] and page["result"]["costs"] == "300.00"


def test_a_recovery_is_a_payment_to_the_loan_and_idempotent_by_reference(action, people):
    client = client_for(people["legal"])
    url = f"/api/v1/legal-actions/{action.pk}/recoveries/"
    body = {"amount": "500.00", "external_reference": "COURT-2026-1"}
    first = client.post(url, body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["channel"] == "legal_recovery" and first.json()["amount"] == "500.00"
    again = client.post(url, body, format="json")
    assert again.status_code == 200 and again.json() == first.json()
    assert Payment.objects.filter(external_reference="COURT-2026-1").count() == 1
    error_of(client.post(url, {**body, "amount": "600.00"}, format="json"), 422, "idempotency_mismatch")
    assert "amount" in error_of(client.post(url, {**body, "amount": "-1"}, format="json"), 400, "invalid")["fields"]
    page = client.get(f"/api/v1/legal-actions/{action.pk}/").json()
    assert [(r["id"], r["amount"]) for r in page["recoveries"]] == [(first.json()["id"], "500.00")]
    assert page["result"]["recovered"] == "500.00"


def test_tasks_are_added_listed_on_the_calendar_and_done(action, people):
    client = client_for(people["legal"])
    added = client.post(
        f"/api/v1/legal-actions/{action.pk}/tasks/", {"due_on": "2026-05-10", "note": "Call the clerk"}, format="json"
    )
    assert added.status_code == 201, added.content
    task = added.json()
    assert (task["kind"], task["due_on"], task["done_on"]) == ("other", "2026-05-10", None)
    assert ids(client.get("/api/v1/legal-tasks/")) == [task["id"]]
    assert ids(client.get("/api/v1/legal-tasks/?until=2026-05-01")) == []
    assert ids(client.get("/api/v1/legal-tasks/?start=2026-05-11&until=2026-06-01")) == []
    error_of(client.get("/api/v1/legal-tasks/?until=tomorrow"), 400, "invalid")
    blank = client.post(
        f"/api/v1/legal-actions/{action.pk}/tasks/", {"due_on": "2026-05-10", "note": " "}, format="json"
    )
    assert "note" in error_of(blank, 400, "invalid")["fields"]
    error_of(
        client_for(people["auditor"]).post(f"/api/v1/legal-tasks/{task['id']}/done/", {}), 403, "permission_denied"
    )
    done = client.post(f"/api/v1/legal-tasks/{task['id']}/done/", {}, format="json")
    assert done.status_code == 200 and (done.json()["done_on"], done.json()["done_by"]) == ("2026-04-20", "counsel")
    error_of(client.post(f"/api/v1/legal-tasks/{task['id']}/done/", {}, format="json"), 409, "conflict")
    assert ids(client.get("/api/v1/legal-tasks/")) == []
    error_of(client.post("/api/v1/legal-tasks/999999/done/", {}, format="json"), 404, "not_found")


# --- Documents --------------------------------------------------------------------------------------


def test_a_document_is_uploaded_and_downloaded_by_those_who_may_read(action, people, api_client_for):
    client = client_for(people["legal"])
    url = f"/api/v1/legal-actions/{action.pk}/documents/"
    response = client.post(url, {"kind": "ruling", "file": pdf(), "note": "Preservation ruling"}, format="multipart")
    assert response.status_code == 201, response.content
    document = response.json()
    assert (document["content_type"], document["size"], document["uploaded_by"]) == (
        "application/pdf",
        len(PDF),
        "counsel",
    )
    assert document["url"] == f"http://testserver/api/v1/legal-documents/{document['id']}/file/"
    # Court papers show the borrower's full ID number: an auditor opens them only with the unmask permission.
    error_of(client_for(people["auditor"]).get(document["url"]), 403, "permission_denied")
    people["auditor"].user_permissions.add(Permission.objects.get(codename="unmask_pii"))
    auditor = type(people["auditor"]).objects.get(pk=people["auditor"].pk)  # without the cached permissions
    for reader in (client, client_for(auditor), client_for(people["manager"])):
        download = reader.get(document["url"])
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert b"".join(download.streaming_content) == PDF
        assert "ruling.pdf" in download["Content-Disposition"]
    error_of(client_for(people["officer"]).get(document["url"]), 403, "permission_denied")
    error_of(api_client_for("gateway").get(document["url"]), 403, "permission_denied")
    error_of(APIClient().get(document["url"]), 401, "not_authenticated")
    stranger = make_officer("qian")
    stranger.user_permissions.add(Permission.objects.get(codename="view_legalaction"))
    error_of(client_for(stranger).get(document["url"]), 404, "not_found")
    error_of(client.get("/api/v1/legal-documents/999999/file/"), 404, "not_found")


def test_a_document_that_is_not_a_pdf_or_an_image_is_refused(action, people):
    client = client_for(people["legal"])
    url = f"/api/v1/legal-actions/{action.pk}/documents/"
    text = SimpleUploadedFile("ruling.pdf", b"plain text, not a PDF", content_type="application/pdf")
    error = error_of(client.post(url, {"kind": "ruling", "file": text}, format="multipart"), 400, "invalid")
    assert "file" in error["fields"]
    assert "file" in error_of(client.post(url, {"kind": "ruling"}, format="multipart"), 400, "invalid")["fields"]
    error_of(client.post(url, {"kind": "ruling", "file": "x"}, format="json"), 415, "unsupported_media_type")
    assert not LegalDocument.objects.exists()


# --- Preservation -----------------------------------------------------------------------------------


def test_preservation_is_applied_for_granted_and_lifted(filed, people):
    client = client_for(people["legal"])
    vehicle = car(filed.case)
    applied = client.post(
        f"/api/v1/legal-actions/{filed.pk}/preservations/",
        {"asset_kind": "vehicle", "description": "沪A12345", "amount": "12000.00", "collateral": vehicle.pk},
        format="json",
    )
    assert applied.status_code == 201, applied.content
    order = applied.json()
    assert (order["status"], order["applied_on"]) == (PreservationStatus.APPLIED, "2026-04-20")
    assert LegalAction.objects.get(pk=filed.pk).state == ActionState.PRESERVATION_APPLIED
    url = f"/api/v1/preservations/{order['id']}/"
    missing = client.post(url + "decide/", {"granted": True}, format="json")
    assert "ruling_number" in error_of(missing, 400, "invalid")["fields"]
    granted = client.post(url + "decide/", {"granted": True, "ruling_number": "(2026)沪0101财保1号"}, format="json")
    assert granted.status_code == 200, granted.content
    assert (granted.json()["status"], granted.json()["expires_on"]) == ("granted", "2028-04-20")
    assert LegalAction.objects.get(pk=filed.pk).state == ActionState.PRESERVATION_GRANTED
    assert Collateral.objects.get(pk=vehicle.pk).status == CollateralStatus.SEIZED
    error_of(client.post(url + "decide/", {"granted": False}, format="json"), 409, "conflict")
    assert client_for(people["auditor"]).get(url).json()["ruling_number"] == "(2026)沪0101财保1号"
    lifted = client.post(url + "lift/", {"note": "Paid"}, format="json")
    assert lifted.status_code == 200 and lifted.json()["status"] == PreservationStatus.LIFTED
    error_of(client.post(url + "lift/", {}, format="json"), 409, "conflict")


def test_preservation_before_filing_is_a_409(action, people):
    response = client_for(people["legal"]).post(
        f"/api/v1/legal-actions/{action.pk}/preservations/",
        {"asset_kind": "bank_account", "description": "ICBC 6222…", "amount": "1000.00"},
        format="json",
    )
    error_of(response, 409, "transition_not_allowed")


# --- Collateral disposal ----------------------------------------------------------------------------


def test_collateral_is_seized_appraised_listed_sold_and_the_proceeds_distributed(filed, people):
    client = client_for(people["legal"])
    vehicle = car(filed.case)
    seized = client.post(
        f"/api/v1/legal-actions/{filed.pk}/disposals/", {"collateral": vehicle.pk, "location": "Lot 7"}, format="json"
    )
    assert seized.status_code == 201, seized.content
    disposal = seized.json()
    assert (disposal["state"], disposal["allowed_steps"]) == (DisposalState.SEIZED, ["appraise", "release"])
    url = f"/api/v1/disposals/{disposal['id']}/"
    appraised = client.post(
        url + "appraise/", {"value": "10000.00", "appraiser": "上海评估", "fee": "500.00"}, format="json"
    )
    assert appraised.status_code == 200, appraised.content
    assert appraised.json()["lowest_reserve"] == "7000.00"
    low = client.post(url + "list/", {"method": "judicial_auction", "reserve_price": "6999.99"}, format="json")
    assert "reserve_price" in error_of(low, 400, "invalid")["fields"]
    listed = client.post(url + "list/", {"method": "judicial_auction", "reserve_price": "7000.00"}, format="json")
    assert listed.status_code == 200 and listed.json()["round"] == 1
    assert client.post(url + "unsold/", {"note": "No bidder"}, format="json").json()["state"] == DisposalState.UNSOLD
    assert client.get(url).json()["lowest_reserve"] == "5600.00"  # 80% of the last reserve
    relisted = client.post(url + "list/", {"method": "judicial_auction", "reserve_price": "5600.00"}, format="json")
    assert relisted.status_code == 200 and relisted.json()["round"] == 2
    cheap = client.post(url + "sell/", {"price": "5000.00", "buyer": "王五"}, format="json")
    assert "price" in error_of(cheap, 400, "invalid")["fields"]
    sold = client.post(url + "sell/", {"price": "6000.00", "buyer": "王五"}, format="json")
    assert sold.status_code == 200 and sold.json()["state"] == DisposalState.SOLD
    error_of(client.post(url + "release/", {"note": "Changed our minds"}, format="json"), 409, "transition_not_allowed")
    distributed = client.post(url + "distribute/", {"external_reference": "AUCTION-1"}, format="json")
    assert distributed.status_code == 200, distributed.content
    result = distributed.json()
    # The appraisal fee was charged to the loan: the whole price pays the loan, which meets the fee first.
    assert (result["to_costs"], result["to_loan"], result["surplus"]) == ("0.00", "6000.00", "0.00")
    payment = Payment.objects.get(pk=result["payment"])
    assert payment.amount == Decimal("6000.00")
    assert payment.allocations.filter(component="cost").aggregate(paid=Sum("amount"))["paid"] == Decimal("500.00")
    error_of(client.post(url + "surplus-paid/", {"reference": "TX-1"}, format="json"), 409, "conflict")
    page = client.get(f"/api/v1/legal-actions/{filed.pk}/").json()
    assert page["costs"][0]["charged_to_loan"] is True
    assert page["result"] == {"recovered": "6000.00", "costs": "500.00", "reimbursed": "0.00", "net": "5500.00"}
    assert [d["state"] for d in page["disposals"]] == [DisposalState.DISTRIBUTED]


def test_a_seized_asset_is_released_with_a_reason(filed, people):
    client = client_for(people["legal"])
    disposal = client.post(
        f"/api/v1/legal-actions/{filed.pk}/disposals/", {"collateral": car(filed.case).pk}, format="json"
    ).json()
    url = f"/api/v1/disposals/{disposal['id']}/release/"
    assert "note" in error_of(client.post(url, {}, format="json"), 400, "invalid")["fields"]
    released = client.post(url, {"note": "Debt paid"}, format="json")
    assert released.status_code == 200 and released.json()["state"] == DisposalState.RELEASED
    error_of(client_for(people["auditor"]).post(url, {"note": "x"}, format="json"), 403, "permission_denied")


def test_collateral_of_another_loan_is_refused(filed, people):
    other = car(legal_case())
    response = client_for(people["legal"]).post(
        f"/api/v1/legal-actions/{filed.pk}/disposals/", {"collateral": other.pk}, format="json"
    )
    assert "collateral" in error_of(response, 400, "invalid")["fields"]
