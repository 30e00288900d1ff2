"""POST /api/v1/reminders/receipts/: the SMS gateway reports delivered or failed."""

from datetime import date

import pytest

from collection.choices import ReminderStatus
from collection.models import Reminder
from core.models import ActivityLog
from tests.collection.conftest import at
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db
URL = "/api/v1/reminders/receipts/"


@pytest.fixture
def sent():
    loan = make_loan()
    return Reminder.objects.create(
        idempotency_key="L1-S1-sms-P0-2026-02-12",
        loan=loan,
        channel="sms",
        address=loan.borrower.phone,
        planned_for=date(2026, 2, 12),
        due_at=at(date(2026, 2, 12), 9),
        status=ReminderStatus.SENT,
        sent_at=at(date(2026, 2, 12), 9),
        provider_message_id="gw-42",
    )


@pytest.fixture
def gateway_client(api_client_for):
    return api_client_for("sms-gateway", "collection.change_reminder")


def test_a_delivery_receipt_marks_the_reminder_delivered_once(gateway_client, sent):
    body = {"message_id": "gw-42", "status": "delivered", "at": "2026-02-12T09:00:05+08:00"}
    response = gateway_client.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "delivered"
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_at) == (ReminderStatus.DELIVERED, at(date(2026, 2, 12), 9).replace(second=5))
    again = gateway_client.post(URL, {**body, "at": "2026-02-12T10:00:00+08:00"}, format="json")
    assert again.status_code == 200
    sent.refresh_from_db()
    assert sent.delivered_at.second == 5  # the repeat changed nothing
    entry = ActivityLog.objects.get(action="collection.reminder.delivered")
    assert entry.actor_label == "sms-gateway"


def test_a_failure_receipt_keeps_the_error(gateway_client, sent):
    response = gateway_client.post(URL, {"message_id": "gw-42", "status": "failed", "error": "空号"}, format="json")
    assert response.status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.last_error) == (ReminderStatus.FAILED, "空号")


def test_an_unknown_message_id_is_a_404(gateway_client, sent):
    response = gateway_client.post(URL, {"message_id": "gw-999", "status": "delivered"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_bad_receipt_is_a_400_naming_the_field_and_changes_nothing(gateway_client, sent):
    response = gateway_client.post(URL, {"message_id": "gw-42", "status": "read"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]
    sent.refresh_from_db()
    assert sent.status == ReminderStatus.SENT


def test_a_client_without_the_permission_is_refused(api_client_for, sent):
    response = api_client_for("core-banking", "loans.view_loan").post(
        URL, {"message_id": "gw-42", "status": "delivered"}, format="json"
    )
    assert response.status_code == 403
