"""The activity log API: read-only, for auditors and managers, newest first, with its filters."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from collection.choices import CaseState
from core import roles
from core.apps import sync_roles
from core.audit import log_action
from core.models import ActivityLog
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.conftest import password_login

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(day, hour):
    return datetime(2026, 4, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(at(20, 10), tick=False):
        yield


@pytest.fixture(autouse=True)
def role_permissions():
    sync_roles()


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def entries():
    """A payment yesterday, a case escalation at 00:30 today (still the 19th in UTC) and a system note."""
    officer = make_officer()
    with time_machine.travel(at(19, 9), tick=False):
        case = make_case(state=CaseState.MINOR, officer=officer)
        payment = log_action(actor=officer, action="loans.payment.posted", target=case.loan, data={"amount": "10.00"})
    with time_machine.travel(datetime(2026, 4, 20, 0, 30, tzinfo=SHANGHAI), tick=False):
        escalated = log_action(
            actor=officer,
            action="collection.case.escalated",
            target=case,
            reason="refused",
            before={"state": "minor"},
            after={"state": "serious"},
        )
    noted = log_action(actor="system", action="collection.case.noted", target=case)
    return {"officer": officer, "case": case, "payment": payment, "escalated": escalated, "noted": noted}


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def mine(response, entries):
    """The fixture's entries among the results (loan booking wrote its own)."""
    ours = {entries[name].pk for name in ("payment", "escalated", "noted")}
    return [pk for pk in ids(response) if pk in ours]


def test_auditors_and_managers_read_the_log_newest_first(entries):
    for user in (make_user("auditor", roles.AUDITOR), make_manager()):
        response = client_for(user).get("/api/v1/activity/")
        assert mine(response, entries) == [entries["noted"].pk, entries["escalated"].pk, entries["payment"].pk]
    row = next(r for r in response.json()["results"] if r["id"] == entries["escalated"].pk)
    assert row["actor_kind"] == "user" and row["actor_label"] == "officer" and row["actor"] == entries["officer"].pk
    assert row["target_type"] == "collection.collectioncase" and row["target_id"] == str(entries["case"].pk)
    assert (row["before"], row["after"], row["reason"]) == ({"state": "minor"}, {"state": "serious"}, "refused")
    detail = client_for(user).get(f"/api/v1/activity/{entries['payment'].pk}/").json()
    assert detail["action"] == "loans.payment.posted" and detail["data"] == {"amount": "10.00"}


def test_the_log_filters(entries):
    client = client_for(make_user("auditor", roles.AUDITOR))
    case = entries["case"]

    def found(query):
        return mine(client.get(f"/api/v1/activity/?{query}"), entries)

    assert found("action=collection.case.escalated") == [entries["escalated"].pk]
    assert found("action__startswith=collection.case.") == [entries["noted"].pk, entries["escalated"].pk]
    assert found("actor_kind=system") == [entries["noted"].pk]
    assert found("target_type=loans.loan") == [entries["payment"].pk]
    assert found(f"target_type=collection.collectioncase&target_id={case.pk}") == [
        entries["noted"].pk,
        entries["escalated"].pk,
    ]
    # Business days in the lender's time zone: 00:30 on the 20th belongs to the 20th.
    assert found("date_after=2026-04-20") == [entries["noted"].pk, entries["escalated"].pk]
    assert found("date_before=2026-04-19") == [entries["payment"].pk]
    assert found("date_after=2026-04-19&date_before=2026-04-19") == [entries["payment"].pk]
    assert len(found("date_after=0001-01-01&date_before=9999-12-31")) == 3
    assert found("date_before=0001-01-01") == found("date_after=9999-12-31") == []


@pytest.mark.parametrize(
    "query,field",
    [
        ("actor_kind=robot", "actor_kind"),
        ("date_after=yesterday", "date"),
        ("target_id=" + "9" * 65, "target_id"),
    ],
)
def test_bad_filters_are_a_400(entries, query, field):
    response = client_for(make_user("auditor", roles.AUDITOR)).get(f"/api/v1/activity/?{query}")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and any(name.startswith(field) for name in body["fields"])


def test_the_log_is_for_those_with_the_permission(entries, api_client_for):
    officer = client_for(entries["officer"])
    response = officer.get("/api/v1/activity/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert api_client_for("gateway").get("/api/v1/activity/").status_code == 403
    assert api_client_for("siem", "core.view_activitylog").get("/api/v1/activity/").status_code == 200
    response = APIClient().get("/api/v1/activity/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_the_log_is_read_only(entries):
    count = ActivityLog.objects.count()
    for user in (make_user("auditor", roles.AUDITOR), make_user("root", is_superuser=True)):
        client = client_for(user)
        assert client.post("/api/v1/activity/", {"action": "x"}).status_code in (403, 405)
        assert client.delete(f"/api/v1/activity/{entries['payment'].pk}/").status_code in (403, 405)
    assert ActivityLog.objects.count() == count


@pytest.mark.parametrize("extra", [2, 20])
def test_the_log_runs_a_bounded_number_of_queries(entries, extra, django_assert_max_num_queries):
    for n in range(extra):
        log_action(actor="system", action="core.test.entry", target=entries["case"], data={"n": n})
    client = APIClient()
    make_user("auditor", roles.AUDITOR)
    assert password_login(client, "auditor", "pw")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/activity/")
    assert len(response.json()["results"]) >= extra
