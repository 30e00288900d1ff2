"""The domain publishes its events: case opened and moved, payment posted, promise broken."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import daily, services
from collection.models import CollectionCase
from loans.services import payment_post
from tests.collection.factories import make_officer
from tests.loans.factories import make_loan
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day):
    return datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI)


def test_the_workflow_publishes_its_events():
    WebhookSubscription.objects.create(
        name="core banking",
        url="http://127.0.0.1:9/hook",
        event_types=["case.opened", "case.state_changed", "payment.posted", "promise.broken"],
    )
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan()
    with time_machine.travel(at(date(2026, 2, 16)), tick=False):
        daily.run_daily(as_of=date(2026, 2, 16))
    case = CollectionCase.objects.get(loan=loan)
    officer = make_officer()
    services.cases_reassign(actor="system", case_ids=[case.pk], officer=officer)
    with time_machine.travel(at(date(2026, 2, 17)), tick=False):
        case = CollectionCase.objects.get(pk=case.pk)
        services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 2, 18))
    with time_machine.travel(at(date(2026, 2, 20)), tick=False):  # too late for the promise
        payment_post(actor="system", loan=loan, amount=Decimal("10.00"), external_reference="E-1", channel="cash")
    with time_machine.travel(at(date(2026, 2, 23)), tick=False):
        daily.run_daily(as_of=date(2026, 2, 23))  # judges the promise (broken) and classifies the case
    events = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert events[0] == "case.opened"
    assert {"payment.posted", "promise.broken", "case.state_changed"} <= set(events)
    moved = WebhookDelivery.objects.filter(event_type="case.state_changed").first()
    assert moved.payload["from"] == "early_warning" and moved.payload["case"] == case.pk
