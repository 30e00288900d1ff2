"""The collection API: the worklist and the case page, each transition as a POST (200 / 409 / 403 / 400),
contacts, promises and the approvals inbox, with the role matrix and bounded query counts."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from borrowers.models import ContactPoint
from collection import services
from collection.api import serializers as api_serializers
from collection.api import views as api_views
from collection.api import worklist
from collection.choices import (
    ApprovalAction,
    ApprovalStatus,
    CaseState,
    ContactChannel,
    ContactOutcome,
    HoldReason,
)
from collection.models import Approval, CollectionCase, ContactAttempt, PromiseToPay, Team
from core import roles
from core.apps import sync_roles
from core.models import ActivityLog
from loans.models import Loan
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.conftest import password_login
from tests.loans.factories import LoanProductFactory, make_loan

S = CaseState
TODAY = date(2026, 4, 20)
SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


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
        "officer": make_officer(),
        "other_officer": make_officer("officer2"),
        "manager": make_manager(),
        "checker": make_manager("manager2"),
        "auditor": make_user("auditor", roles.AUDITOR),
        "legal": make_user("lawyer", roles.LEGAL_OFFICER),
    }


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def signed_in(user):
    """A session like the browser's: the user is read afresh on every request, as in production."""
    client = APIClient()
    assert password_login(client, user.get_username(), "pw")
    return client


def error_of(response, status_code, code):
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def transition(client, case, name, version=None, **body):
    body["version"] = case.version if version is None else version
    return client.post(f"/api/v1/cases/{case.pk}/transitions/{name}/", body, format="json")


# --- The worklist -----------------------------------------------------------------------------------


def test_an_officer_sees_their_own_cases_and_their_teams_everyone_else_the_whole_book(people):
    own = make_case(officer=people["officer"])
    team = Team.objects.create(name="Team East", lead=people["officer"])
    led = make_case(officer=people["other_officer"], team=team)
    other = make_case(officer=people["other_officer"])
    assert sorted(ids(client_for(people["officer"]).get("/api/v1/cases/"))) == [own.pk, led.pk]
    assert ids(client_for(people["other_officer"]).get("/api/v1/cases/")) == [led.pk, other.pk]
    for role in ("manager", "auditor", "legal"):
        assert sorted(ids(client_for(people[role]).get("/api/v1/cases/"))) == [own.pk, led.pk, other.pk]


def test_an_officer_who_is_also_a_manager_sees_the_whole_book(people):
    both = make_user("both", roles.OFFICER, roles.MANAGER)
    case = make_case(officer=people["officer"])
    assert ids(client_for(both).get("/api/v1/cases/")) == [case.pk]


def test_api_clients_need_the_view_permission_and_anonymous_callers_are_unauthenticated(people, api_client_for):
    case = make_case(officer=people["officer"])
    error_of(api_client_for("gateway").get("/api/v1/cases/"), 403, "permission_denied")
    reader = api_client_for("core-banking", "collection.view_collectioncase")
    assert ids(reader.get("/api/v1/cases/")) == [case.pk]
    assert reader.get(f"/api/v1/cases/{case.pk}/").status_code == 200
    error_of(APIClient().get("/api/v1/cases/"), 401, "not_authenticated")
    error_of(APIClient().get(f"/api/v1/cases/{case.pk}/"), 401, "not_authenticated")


def test_the_worklist_is_ordered_by_priority_then_id(people):
    low = make_case(officer=people["officer"], priority_score=10)
    high = make_case(officer=people["officer"], priority_score=90)
    tie = make_case(officer=people["officer"], priority_score=10)
    client = client_for(people["officer"])
    assert ids(client.get("/api/v1/cases/")) == [high.pk, low.pk, tie.pk]
    assert ids(client.get("/api/v1/cases/?ordering=priority_score")) == [low.pk, tie.pk, high.pk]
    error_of(client.get("/api/v1/cases/?ordering=borrower"), 400, "invalid")


def _loan(**fields):
    loan = make_loan(**({"product": fields.pop("product")} if "product" in fields else {}))
    Loan.objects.filter(pk=loan.pk).update(**fields)
    loan.refresh_from_db()
    return loan


def test_the_worklist_filters(people):
    officer, manager = people["officer"], people["manager"]
    team = Team.objects.create(name="Team West")
    product = LoanProductFactory(code="car-title")
    early = make_case(officer=officer, loan=_loan(days_past_due=5, overdue_amount=Decimal("800.00"), aging_bucket="M1"))
    minor = make_case(
        state=S.MINOR,
        officer=officer,
        team=team,
        loan=_loan(days_past_due=40, overdue_amount=Decimal("2500.00"), aging_bucket="M2", product=product),
    )
    serious = make_case(
        state=S.SERIOUS,
        officer=people["other_officer"],
        loan=_loan(days_past_due=95, overdue_amount=Decimal("9000.00"), aging_bucket="M4"),
    )
    client = client_for(manager)

    def found(query):
        return sorted(ids(client.get(f"/api/v1/cases/?{query}")))

    assert found("state=minor") == [minor.pk]
    assert found("state=minor&state=serious") == [minor.pk, serious.pk]
    assert found("severity=serious") == [serious.pk]
    assert found(f"officer={officer.pk}") == [early.pk, minor.pk]
    assert found(f"team={team.pk}") == [minor.pk]
    assert found("product=car-title") == [minor.pk]
    assert found("aging_bucket=M1&aging_bucket=M4") == [early.pk, serious.pk]
    assert found("dpd_min=30&dpd_max=95") == [minor.pk, serious.pk]
    assert found("dpd_max=4") == []
    assert found("overdue_amount_min=1000&overdue_amount_max=2500.00") == [minor.pk]
    assert ids(client.get("/api/v1/cases/?ordering=-days_past_due")) == [serious.pk, minor.pk, early.pk]
    assert ids(client.get("/api/v1/cases/?ordering=overdue_amount")) == [early.pk, minor.pk, serious.pk]


@pytest.mark.parametrize(
    "query,field",
    [
        ("state=sleeping", "state"),
        ("dpd_min=many", "dpd_min"),
        ("dpd_min=1.5", "dpd_min"),
        ("dpd_max=1e30", "dpd_max"),
        ("officer=99999999999999999999", "officer"),
        ("overdue_amount_min=NaN", "overdue_amount_min"),
        ("overdue_amount_max=1.001", "overdue_amount_max"),
        ("aging_bucket=M9", "aging_bucket"),
        ("page_size=501", "page_size"),
        ("page=2", "page"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(people, query, field):
    error = error_of(client_for(people["manager"]).get(f"/api/v1/cases/?{query}"), 400, "invalid")
    assert field in error["fields"]


def _cases(count, officer):
    team = Team.objects.create(name=f"Team {count}", lead=officer)
    for n in range(count):
        make_case(officer=officer if n % 2 else None, team=team if not n % 2 else None)


@pytest.mark.parametrize("count", [2, 12])
def test_the_worklist_runs_a_bounded_number_of_queries(people, count, django_assert_max_num_queries):
    _cases(count, people["officer"])
    for role in ("officer", "manager"):
        client = signed_in(people[role])
        url, seen = "/api/v1/cases/?state=early_warning&ordering=-days_past_due&page_size=5", []
        while url:  # every page, the first and those after a cursor
            # Session, user, roles, an officer's led teams, 2 x permissions, the rows (no COUNT), and the
            # statement's PREPARE the first time on a connection.
            with django_assert_max_num_queries(8):
                response = client.get(url)
            seen += ids(response)
            url = response.json()["next"]
        assert len(seen) == len(set(seen)) == count


# --- The case page ----------------------------------------------------------------------------------


def test_the_case_page_shows_loan_borrower_officer_allowed_steps_and_timeline(people):
    officer = people["officer"]
    case = make_case(state=S.MINOR, officer=officer, classification_reasons=[{"code": "dpd", "text": "40 days"}])
    Loan.objects.filter(pk=case.loan_id).update(days_past_due=40, overdue_amount=Decimal("2500.00"), aging_bucket="M2")
    borrower = case.loan.borrower
    with time_machine.travel(datetime(2026, 4, 20, 9, tzinfo=SHANGHAI), tick=False):
        services.contact_log(actor=officer, case=case, channel=ContactChannel.CALL, outcome=ContactOutcome.PROMISED)
    with time_machine.travel(datetime(2026, 4, 20, 9, 5, tzinfo=SHANGHAI), tick=False):
        services.promise_record(actor=officer, case=case, amount="1000.00", promised_for=date(2026, 4, 25))
    case = services.case_escalate(actor=officer, case=case, reason="Refused on the phone")

    body = client_for(officer).get(f"/api/v1/cases/{case.pk}/").json()
    assert (body["state"], body["severity"], body["version"]) == ("serious", "serious", 1)
    assert body["loan"] == {
        "id": case.loan_id,
        "external_id": case.loan.external_id,
        "product": case.loan.product.code,
        "days_past_due": 40,
        "overdue_amount": "2500.00",
        "aging_bucket": "M2",
    }
    assert body["borrower"]["name"] == borrower.name
    assert body["borrower"]["id_number"] == borrower.masked_id_number != borrower.id_number
    assert body["borrower"]["phone"] == borrower.masked_phone != borrower.phone
    assert body["officer"] == {"id": officer.pk, "username": "officer"}
    assert body["classification_reasons"] == [{"code": "dpd", "text": "40 days"}]
    assert set(body["allowed_transitions"]) == {
        "propose_plan",
        "resolve",
        "hold",
        "request_deescalation",
        "request_legal_referral",
        "request_write_off",
        "request_transfer",
    }
    assert body["pending_approvals"] == []
    timeline = body["timeline"]
    assert [entry["entry_type"] for entry in timeline] == ["activity", "promise", "contact"]
    assert timeline[0]["action"] == "collection.case.escalated" and timeline[0]["note"] == "Refused on the phone"
    assert timeline[0]["summary"] == "minor → serious" and timeline[0]["actor"] == "officer"
    assert timeline[1]["data"]["amount"] == "1000.00" and timeline[2]["data"]["outcome"] == "promised"


def test_pii_is_unmasked_for_those_allowed_and_steps_only_for_those_who_may_act(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    borrower = case.loan.borrower
    managed = client_for(people["manager"]).get(f"/api/v1/cases/{case.pk}/").json()
    assert (managed["borrower"]["id_number"], managed["borrower"]["phone"]) == (borrower.id_number, borrower.phone)
    assert "escalate" in managed["allowed_transitions"]
    audited = client_for(people["auditor"]).get(f"/api/v1/cases/{case.pk}/").json()
    assert audited["borrower"]["phone"] == borrower.masked_phone
    assert audited["allowed_transitions"] == []


def test_an_officer_cannot_read_someone_elses_case(people):
    case = make_case(officer=people["other_officer"])
    error_of(client_for(people["officer"]).get(f"/api/v1/cases/{case.pk}/"), 404, "not_found")
    error_of(client_for(people["officer"]).get(f"/api/v1/cases/{case.pk}/contacts/"), 404, "not_found")
    error_of(client_for(people["officer"]).get(f"/api/v1/cases/{case.pk}/promises/"), 404, "not_found")
    error_of(client_for(people["manager"]).get("/api/v1/cases/999999/"), 404, "not_found")


@pytest.mark.parametrize("rows", [1, 8])
def test_the_case_page_runs_a_bounded_number_of_queries(people, rows, django_assert_max_num_queries):
    officer = people["officer"]
    case = make_case(state=S.MINOR, officer=officer, team=Team.objects.create(name="T", lead=people["manager"]))
    for n in range(rows):
        services.contact_log(  # one call a day: a day allows only so many (rules.call_cap_breached)
            actor=officer,
            case=case,
            channel=ContactChannel.CALL,
            outcome=ContactOutcome.REACHED,
            attempted_at=timezone.now() - timedelta(days=n),
        )
        services.promise_record(actor=officer, case=case, amount=f"{100 + n}.00", promised_for=TODAY)
        case = services.case_hold(actor=officer, case=case, reason=HoldReason.DISPUTE, note="disputes")
        case = services.case_release(actor=officer, case=case, note="settled")
    services.approval_request(actor=officer, case=case, action=ApprovalAction.TRANSFER, reason="sale")
    client = signed_in(officer)
    with django_assert_max_num_queries(12):  # 11, and the teams the officer leads
        body = client.get(f"/api/v1/cases/{case.pk}/").json()
    assert len(body["timeline"]) == 4 * rows + 1  # holds, releases, contacts, promises, the request
    assert len(body["pending_approvals"]) == 1


# --- Transitions ------------------------------------------------------------------------------------

HAPPY = [
    ("classify", S.EARLY_WARNING, {"severity": "minor"}, S.MINOR),
    ("classify", S.EARLY_WARNING, {"severity": "serious", "override_reason": "hiding assets"}, S.SERIOUS),
    ("escalate", S.MINOR, {"reason": "refused to pay"}, S.SERIOUS),
    ("grant_grace", S.MINOR, {"until": "2026-05-10", "reason": "salary delayed"}, S.MINOR),
    ("hold", S.SERIOUS, {"reason": "complaint", "note": "complaint #12"}, S.ON_HOLD),
    ("release", S.ON_HOLD, {"note": "answered"}, S.MINOR),
    ("resolve", S.LEGAL, {"reason": "settled", "note": "settled before the hearing"}, S.RESOLVED),
]


@pytest.mark.parametrize("name,state,body,target", HAPPY)
def test_each_transition_is_a_post_returning_the_new_case(people, name, state, body, target):
    case = make_case(state=state, officer=people["officer"], days_past_due=10)  # the rules say minor
    response = transition(client_for(people["officer"]), case, name, **body)
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["version"]) == (target, case.version + 1)
    case.refresh_from_db()
    assert case.state == target
    assert ActivityLog.objects.filter(action__startswith="collection.case.", target_id=str(case.pk)).count() == 1


@pytest.mark.parametrize(
    "name,action,body",
    [
        ("request_deescalation", ApprovalAction.DEESCALATE, {}),
        ("request_legal_referral", ApprovalAction.REFER_TO_LEGAL, {"feasibility_note": "house worth 2x the claim"}),
        ("request_write_off", ApprovalAction.WRITE_OFF, {}),
        ("request_transfer", ApprovalAction.TRANSFER, {}),
    ],
)
def test_steps_a_manager_must_approve_are_requested(people, name, action, body):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    response = transition(client_for(people["officer"]), case, name, reason="nothing more to do", **body)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "serious"
    [pending] = response.json()["pending_approvals"]
    assert (pending["action"], pending["status"], pending["requested_by"]) == (action, "pending", "officer")
    assert Approval.objects.get(case=case).details == body


def test_a_step_the_state_does_not_allow_now_is_a_409(people):
    case = make_case(state=S.EARLY_WARNING, officer=people["officer"])
    client = client_for(people["officer"])
    error = error_of(transition(client, case, "escalate", reason="x"), 409, "transition_not_allowed")
    assert "Early warning" in error["message"]
    error_of(transition(client, case, "request_write_off", reason="x"), 409, "transition_not_allowed")
    # Resolving as cured while the loan is overdue is refused as not allowed now.
    Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal("10.00"))
    error_of(transition(client, case, "resolve"), 409, "transition_not_allowed")
    case.refresh_from_db()
    assert (case.state, case.version) == (S.EARLY_WARNING, 0)


def test_a_step_on_a_stale_view_is_a_409_and_changes_nothing(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    manager, officer = client_for(people["manager"]), client_for(people["officer"])
    assert transition(manager, case, "grant_grace", until="2026-05-01", reason="first").status_code == 200
    # The officer still has version 0: same state, but the case moved on.
    error = error_of(transition(officer, case, "escalate", version=0, reason="late"), 409, "conflict")
    assert "Minor overdue" in error["message"]
    error_of(transition(officer, case, "request_transfer", version=0, reason="sale"), 409, "conflict")
    case.refresh_from_db()
    assert (case.state, case.version) == (S.MINOR, 1)
    assert not Approval.objects.exists()
    assert transition(officer, case, "escalate", version=1, reason="late").status_code == 200


def test_the_service_refuses_a_stale_view_it_locks_even_if_the_view_saw_it_current(people, monkeypatch):
    """Between the view's read and the service's lock someone else moved the case."""
    case = make_case(state=S.MINOR, officer=people["officer"])
    real = services.case_escalate

    def someone_else_first(*, actor, case, reason):
        services.case_grant_grace(actor=people["manager"], case=case, until=TODAY + timedelta(days=5), reason="x")
        return real(actor=actor, case=case, reason=reason)

    monkeypatch.setitem(api_views.TRANSITIONS, "escalate", (api_serializers.EscalateSerializer, someone_else_first))
    error_of(transition(client_for(people["officer"]), case, "escalate", reason="late"), 409, "conflict")
    assert CollectionCase.objects.get(pk=case.pk).state == S.MINOR


def test_acting_on_someone_elses_case_is_a_403(people):
    case = make_case(state=S.MINOR, officer=people["other_officer"])
    officer = client_for(people["officer"])
    error_of(transition(officer, case, "escalate", reason="x"), 403, "permission_denied")
    error_of(transition(officer, case, "escalate", version=7, reason="x"), 403, "permission_denied")
    error_of(transition(officer, case, "request_write_off", reason="x"), 403, "permission_denied")
    # Roles that read every case but do not work them are refused by the service.
    for role in ("auditor", "legal"):
        error_of(transition(client_for(people[role]), case, "escalate", reason="x"), 403, "permission_denied")
        error_of(transition(client_for(people[role]), case, "request_transfer", reason="x"), 403, "permission_denied")
    case.refresh_from_db()
    assert (case.state, case.version) == (S.MINOR, 0) and not Approval.objects.exists()
    # The team lead and any manager may.
    case.team = Team.objects.create(name="North", lead=people["officer"])
    case.save()
    assert transition(officer, case, "escalate", reason="x").status_code == 200


def test_transitions_need_the_case_view_permission_and_credentials(people, api_client_for):
    case = make_case(state=S.MINOR, officer=people["officer"])
    error_of(transition(api_client_for("gateway"), case, "escalate", reason="x"), 403, "permission_denied")
    reader = api_client_for("core-banking", "collection.view_collectioncase")
    error_of(transition(reader, case, "escalate", reason="x"), 403, "permission_denied")  # not a collector
    error_of(transition(APIClient(), case, "escalate", reason="x"), 401, "not_authenticated")
    assert CollectionCase.objects.get(pk=case.pk).state == S.MINOR


@pytest.mark.parametrize(
    "name,body,field",
    [
        ("escalate", {"reason": "  "}, "reason"),
        ("escalate", {}, "reason"),
        ("hold", {"reason": "boredom", "note": "x"}, "reason"),
        ("hold", {"reason": "dispute", "note": ""}, "note"),
        ("grant_grace", {"until": "2026-07-01", "reason": "salary delayed"}, "until"),
        ("grant_grace", {"until": "next week", "reason": "salary delayed"}, "until"),
        ("classify", {"severity": "serious"}, "override_reason"),
        ("classify", {"severity": "catastrophic"}, "severity"),
        ("request_legal_referral", {"reason": "won't pay"}, "feasibility_note"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(people, name, body, field):
    state = {"grant_grace": S.MINOR, "classify": S.EARLY_WARNING, "request_legal_referral": S.SERIOUS}.get(
        name, S.MINOR
    )
    case = make_case(state=state, officer=people["officer"], days_past_due=3)
    error = error_of(transition(client_for(people["officer"]), case, name, **body), 400, "invalid")
    assert field in error["fields"], error
    case.refresh_from_db()
    assert (case.state, case.version) == (state, 0)


def test_the_version_the_client_saw_is_required(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    client = client_for(people["officer"])
    for version in (None, "latest", -1):
        body = {"reason": "x"} if version is None else {"reason": "x", "version": version}
        response = client.post(f"/api/v1/cases/{case.pk}/transitions/escalate/", body, format="json")
        assert "version" in error_of(response, 400, "invalid")["fields"]


def test_malformed_json_is_a_400(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    response = client_for(people["officer"]).post(
        f"/api/v1/cases/{case.pk}/transitions/escalate/", "{not json", content_type="application/json"
    )
    error_of(response, 400, "parse_error")


def test_an_unknown_transition_or_case_is_a_404(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    client = client_for(people["manager"])
    assert transition(client, case, "teleport").status_code == 404
    assert transition(client, case, "activate_plan").status_code == 404  # not offered by the API
    assert client.post("/api/v1/cases/999999/transitions/escalate/", {"version": 0, "reason": "x"}).status_code == 404


def test_a_second_request_for_the_same_step_is_a_409(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    client = client_for(people["officer"])
    assert transition(client, case, "request_write_off", reason="gone").status_code == 200
    error_of(transition(client, case, "request_write_off", reason="gone"), 409, "conflict")


# --- Approvals (maker-checker) ----------------------------------------------------------------------


def test_maker_checker_through_the_api(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    maker, checker = client_for(people["manager"]), client_for(people["checker"])
    assert transition(maker, case, "request_write_off", reason="nothing to recover").status_code == 200
    approval = Approval.objects.get(case=case)
    url = f"/api/v1/approvals/{approval.pk}/decide/"
    error = error_of(maker.post(url, {"approve": True}, format="json"), 403, "permission_denied")
    assert "maker-checker" in error["message"]
    error_of(client_for(people["officer"]).post(url, {"approve": True}, format="json"), 403, "permission_denied")
    error_of(client_for(people["auditor"]).post(url, {"approve": True}, format="json"), 403, "permission_denied")
    assert "note" in error_of(checker.post(url, {"approve": False}, format="json"), 400, "invalid")["fields"]
    assert "approve" in error_of(checker.post(url, {}, format="json"), 400, "invalid")["fields"]
    response = checker.post(url, {"approve": True, "note": "agreed"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decided_by"]) == ("approved", "manager2")
    case.refresh_from_db()
    assert case.state == S.WRITTEN_OFF
    error_of(checker.post(url, {"approve": True}, format="json"), 409, "conflict")
    error_of(checker.post("/api/v1/approvals/999999/decide/", {"approve": True}, format="json"), 404, "not_found")


def test_a_rejected_request_leaves_the_case_where_it_was(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    transition(client_for(people["officer"]), case, "request_deescalation", reason="paying again")
    approval = Approval.objects.get(case=case)
    response = client_for(people["manager"]).post(
        f"/api/v1/approvals/{approval.pk}/decide/", {"approve": False, "note": "wait a month"}, format="json"
    )
    assert response.json()["status"] == "rejected"
    case.refresh_from_db()
    assert case.state == S.SERIOUS


def test_the_approvals_inbox_lists_pending_requests_by_default(people):
    mine = make_case(state=S.SERIOUS, officer=people["officer"])
    theirs = make_case(state=S.SERIOUS, officer=people["other_officer"])
    another = make_case(state=S.SERIOUS, officer=people["officer"])  # one request waits per case
    write_off = services.approval_request(
        actor=people["officer"], case=mine, action=ApprovalAction.WRITE_OFF, reason="gone"
    )
    transfer = services.approval_request(
        actor=people["other_officer"], case=theirs, action=ApprovalAction.TRANSFER, reason="sale"
    )
    deescalate = services.approval_request(
        actor=people["officer"], case=another, action=ApprovalAction.DEESCALATE, reason="paying"
    )
    services.approval_decide(actor=people["manager"], approval=deescalate, approve=False, note="no")
    manager = client_for(people["manager"])
    assert sorted(ids(manager.get("/api/v1/approvals/"))) == [write_off.pk, transfer.pk]
    assert ids(manager.get("/api/v1/approvals/?status=rejected")) == [deescalate.pk]
    assert ids(manager.get("/api/v1/approvals/?action=transfer")) == [transfer.pk]
    assert ids(manager.get(f"/api/v1/approvals/?case={mine.pk}")) == [write_off.pk]
    assert ids(client_for(people["officer"]).get("/api/v1/approvals/")) == [write_off.pk]
    error_of(manager.get("/api/v1/approvals/?status=maybe"), 400, "invalid")
    row = manager.get(f"/api/v1/approvals/?action=write_off&status={ApprovalStatus.PENDING}").json()["results"][0]
    assert (row["case"], row["requested_by"], row["reason"]) == (mine.pk, "officer", "gone")


def test_the_approvals_inbox_needs_the_permission(people, api_client_for):
    error_of(api_client_for("gateway").get("/api/v1/approvals/"), 403, "permission_denied")
    error_of(APIClient().get("/api/v1/approvals/"), 401, "not_authenticated")


# --- Contacts and promises --------------------------------------------------------------------------


def test_logging_and_listing_contacts(people):
    case = make_case(officer=people["officer"])
    point = ContactPoint.objects.create(borrower=case.loan.borrower, channel="mobile", value="+8613800138000")
    client = client_for(people["officer"])
    url = f"/api/v1/cases/{case.pk}/contacts/"
    response = client.post(
        url, {"channel": "call", "outcome": "no_answer", "contact_point": point.pk, "note": "rang out"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["by"], body["direction"], body["party"], body["contact_point"]) == (
        "officer",
        "outbound",
        "borrower",
        point.pk,
    )
    assert ContactAttempt.objects.get(case=case).note == "rang out"
    assert ActivityLog.objects.filter(action="collection.contact.logged").count() == 1
    earlier = datetime(2026, 4, 19, 15, tzinfo=SHANGHAI).isoformat()
    assert client.post(url, {"channel": "sms", "outcome": "reached", "attempted_at": earlier}).status_code == 201
    rows = client.get(url).json()["results"]
    assert [row["channel"] for row in rows] == ["call", "sms"]  # newest first
    assert client_for(people["auditor"]).get(url).status_code == 200


@pytest.mark.parametrize(
    "body,field",
    [
        ({"channel": "call", "outcome": "no_answer", "attempted_at": "2026-04-19T23:00:00+08:00"}, "attempted_at"),
        ({"channel": "call", "outcome": "reached", "attempted_at": "0001-01-01T10:00:00+08:00"}, "attempted_at"),
        ({"channel": "call", "outcome": "reached", "attempted_at": "9999-12-31T10:00:00+08:00"}, "attempted_at"),
        ({"channel": "call", "outcome": "reached", "attempted_at": "2025-04-01T10:00:00+08:00"}, "attempted_at"),
        ({"channel": "call", "outcome": "reached", "attempted_at": "2026-04-19T10:00:00"}, "attempted_at"),  # naive
        ({"channel": "call", "outcome": "reached", "party": "third_party"}, "party"),
        ({"channel": "pigeon", "outcome": "reached"}, "channel"),
        ({"channel": "call"}, "outcome"),
    ],
)
def test_contact_rules_refuse_with_the_field(people, body, field):
    case = make_case(officer=people["officer"])
    error = error_of(client_for(people["officer"]).post(f"/api/v1/cases/{case.pk}/contacts/", body), 400, "invalid")
    assert field in error["fields"]
    assert not ContactAttempt.objects.exists()


def test_a_contact_point_must_be_the_cases_borrowers(people):
    case = make_case(officer=people["officer"])
    stranger = ContactPoint.objects.create(borrower=make_loan().borrower, channel="mobile", value="+8613900139000")
    response = client_for(people["officer"]).post(
        f"/api/v1/cases/{case.pk}/contacts/",
        {"channel": "call", "outcome": "reached", "contact_point": stranger.pk},
        format="json",
    )
    assert "contact_point" in error_of(response, 400, "invalid")["fields"]


def test_who_may_log_contacts(people, api_client_for):
    case = make_case(officer=people["other_officer"])
    url = f"/api/v1/cases/{case.pk}/contacts/"
    body = {"channel": "call", "outcome": "reached"}
    error_of(client_for(people["officer"]).post(url, body), 403, "permission_denied")  # not their case
    error_of(client_for(people["auditor"]).post(url, body), 403, "permission_denied")  # read-only
    error_of(api_client_for("gateway").get(url), 403, "permission_denied")
    error_of(APIClient().post(url, body), 401, "not_authenticated")
    assert client_for(people["manager"]).post(url, body).status_code == 201
    assert ContactAttempt.objects.count() == 1


def test_recording_and_listing_promises(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    client = client_for(people["officer"])
    url = f"/api/v1/cases/{case.pk}/promises/"
    response = client.post(url, {"amount": "1500.00", "promised_for": "2026-04-30", "note": "after payday"})
    assert response.status_code == 201, response.content
    assert (response.json()["amount"], response.json()["status"], response.json()["recorded_by"]) == (
        "1500.00",
        "pending",
        "officer",
    )
    assert PromiseToPay.objects.get(case=case).amount == Decimal("1500.00")
    assert [row["promised_for"] for row in client.get(url).json()["results"]] == ["2026-04-30"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"amount": "100.00", "promised_for": "2026-06-30"}, "promised_for"),
        ({"amount": "-5.00", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "0", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "12.345", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "lots", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": 10.5, "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "1" * 20, "promised_for": "2026-04-25"}, "amount"),
        ({"promised_for": "2026-04-25"}, "amount"),
    ],
)
def test_bad_promises_are_refused_with_the_field(people, body, field):
    case = make_case(state=S.MINOR, officer=people["officer"])
    response = client_for(people["officer"]).post(f"/api/v1/cases/{case.pk}/promises/", body, format="json")
    assert field in error_of(response, 400, "invalid")["fields"]
    assert not PromiseToPay.objects.exists()


def test_a_promise_on_a_closed_case_is_a_409(people):
    case = make_case(state=S.RESOLVED, officer=people["officer"])
    response = client_for(people["officer"]).post(
        f"/api/v1/cases/{case.pk}/promises/", {"amount": "10.00", "promised_for": "2026-04-25"}
    )
    error_of(response, 409, "transition_not_allowed")


def test_worklist_rows_are_what_the_case_serializer_gives_for_each_case(db):
    """The list builds its rows directly for speed; they must stay what the schema documents."""
    officer = make_officer("row-officer")
    team = Team.objects.create(name="Rows")
    make_case(officer=officer, team=team, next_action_at=timezone.now())
    make_case()  # no officer, no team, no next action
    cases = api_views.CASES.order_by("id")
    rows = worklist.case_rows(worklist.page_statement(cases), keys=[("id", False)], after=None, limit=10)
    assert rows == [api_serializers.CaseSerializer(case).data for case in cases]
    assert rows[0]["officer"] == {"id": officer.pk, "username": "row-officer"} and rows[1]["team"] is None
