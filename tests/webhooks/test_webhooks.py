"""Outbound webhooks, sent to a real HTTP receiver on 127.0.0.1."""

import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from core.models import ActivityLog
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from webhooks.services import event_publish, events_publish
from webhooks.tasks import deliver

pytestmark = pytest.mark.django_db


class Receiver:
    """Records every request; answers `status` (200 unless a test says otherwise)."""

    def __init__(self):
        self.requests = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def retries_run_eagerly():
    """Eagerly, Celery runs a task's retries at once, one inside the other; with eager propagation on
    (the test settings) the innermost Retry escapes to the caller. Off here, so the test sees the
    stored outcome as a worker would leave it."""
    conf = deliver.app.conf
    previous = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = previous


def subscribe(url, *event_types, name="core banking", secret="s3cret"):
    return WebhookSubscription.objects.create(name=name, url=url, secret=secret, event_types=list(event_types))


def test_only_subscribers_to_the_event_type_get_a_delivery(receiver, django_capture_on_commit_callbacks):
    payments = subscribe(receiver.url, "payment.posted", name="payments")
    subscribe(receiver.url, "case.opened", name="cases")
    subscribe(receiver.url, "payment.posted", name="switched off").__class__.objects.filter(name="switched off").update(
        is_active=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = event_publish(event_type="payment.posted", payload={"loan": "L-1", "amount": Decimal("120.50")})

    assert delivery.subscription == payments
    assert WebhookDelivery.objects.count() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None
    assert len(receiver.requests) == 1


def test_the_event_is_signed_json_with_its_id_type_and_data(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url, "case.state_changed", secret="shared-with-receiver")

    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = event_publish(
            event_type="case.state_changed", payload={"case": 7, "from": "early_warning", "to": "soft_collection"}
        )

    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Huishou-Event"] == "case.state_changed"
    assert headers["X-Huishou-Delivery"] == str(delivery.pk)
    expected = hmac.new(b"shared-with-receiver", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Huishou-Signature"], f"sha256={expected}")
    event = json.loads(body)
    assert event["id"] == str(delivery.event_id)
    assert event["type"] == "case.state_changed"
    assert event["created_at"].startswith(delivery.created_at.isoformat()[:19])
    assert event["data"] == {"case": 7, "from": "early_warning", "to": "soft_collection"}


def test_a_signature_made_with_another_secret_does_not_verify(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url, "promise.broken", secret="right")
    with django_capture_on_commit_callbacks(execute=True):
        event_publish(event_type="promise.broken", payload={"promise": 1})
    (request,) = receiver.requests
    forged = "sha256=" + hmac.new(b"wrong", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Huishou-Signature"] != forged


def test_a_receiver_answering_500_fails_the_delivery_after_the_retries(
    receiver, retries_run_eagerly, django_capture_on_commit_callbacks
):
    subscribe(receiver.url, "payment.posted")
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=False):  # sent by hand below, not on commit
        (delivery,) = event_publish(event_type="payment.posted", payload={"loan": "L-1"})

    deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 6  # the first try and five retries
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"  # the status, never the receiver's body ("receiver is down")
    assert len(receiver.requests) == 6
    # every attempt sent the same event, so the receiver can de-duplicate by its id
    assert len({r["body"] for r in receiver.requests}) == 1


def test_a_receiver_that_comes_back_gets_the_event_on_a_retry(
    receiver, retries_run_eagerly, django_capture_on_commit_callbacks
):
    subscribe(receiver.url, "payment.posted")
    answers = iter([503, 200])
    handler = receiver.server.RequestHandlerClass
    original = handler.do_POST

    def flaky(self):
        receiver.status = next(answers)
        original(self)

    handler.do_POST = flaky
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = event_publish(event_type="payment.posted", payload={"loan": "L-1"})
    deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)


def test_a_client_error_is_not_retried(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url, "case.opened")
    receiver.status = 410
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = event_publish(event_type="case.opened", payload={"case": 1})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 1, 410)


def test_an_unreachable_receiver_keeps_the_connection_error(retries_run_eagerly, django_capture_on_commit_callbacks):
    with Receiver() as gone:
        url = gone.url  # a port that nothing listens on once the receiver has stopped
    subscribe(url, "case.opened")
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = event_publish(event_type="case.opened", payload={"case": 1})
    deliver.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 6, None)
    assert delivery.last_error


def test_an_event_published_in_a_rolled_back_transaction_is_never_sent(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url, "payment.posted")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        event_publish(event_type="payment.posted", payload={"loan": "L-1"})
        raise RuntimeError("the payment failed")

    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_batch_gives_each_event_its_own_id_shared_by_its_subscribers(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url, "case.opened", name="a")
    subscribe(receiver.url, "case.opened", name="b")
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = events_publish(event_type="case.opened", payloads=[{"case": 1}, {"case": 2}])

    assert len(deliveries) == 4
    assert len({d.event_id for d in deliveries}) == 2
    assert len(receiver.requests) == 4
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 4


def test_an_unknown_event_type_is_a_programming_error():
    with pytest.raises(ValueError):
        event_publish(event_type="case.exploded", payload={})


def test_a_delivery_for_a_deactivated_subscription_is_not_sent(receiver, django_capture_on_commit_callbacks):
    subscription = subscribe(receiver.url, "case.opened")
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = event_publish(event_type="case.opened", payload={"case": 1})
    subscription.is_active = False
    subscription.save()

    deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert receiver.requests == []


def test_the_admin_edits_a_subscription_without_ever_showing_its_secret_and_lists_deliveries(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    subscription = subscribe("https://93.184.215.14/hooks", "case.opened", secret="keep-me")
    url = reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert b"keep-me" not in page.content
    response = client.post(
        url,
        {"name": "renamed", "url": "https://93.184.215.14/hooks", "event_types": ["case.opened"], "is_active": "on"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.secret) == ("renamed", "keep-me")
    changed = ActivityLog.objects.get(action="webhooks.webhook_subscription.changed")
    assert changed.after == {"name": "renamed"} and "keep-me" not in json.dumps([changed.before, changed.after])

    WebhookDelivery.objects.create(subscription=subscription, event_type="case.opened", payload={"case": 1})
    listing = client.get(reverse("admin:webhooks_webhookdelivery_changelist") + "?status=pending")
    assert listing.status_code == 200
    assert client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403


def test_the_secret_is_shown_once_at_creation_and_logged_as_hidden(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"name": "bank", "url": "https://93.184.215.14/hooks", "event_types": ["case.opened"], "is_active": "on"},
    )
    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert len(subscription.secret) == 64 and subscription.secret in response.content.decode()
    assert (
        subscription.secret
        not in client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk])).content.decode()
    )
    created = ActivityLog.objects.get(action="webhooks.webhook_subscription.created")
    assert created.after["secret"] == "(hidden)" and subscription.secret not in json.dumps(created.after)


def test_view_only_staff_never_see_the_secret(client):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhooksubscription"))
    client.force_login(viewer)
    subscription = subscribe("https://93.184.215.14/hooks", "case.opened", secret="do-not-show-me")
    page = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]))
    assert page.status_code == 200 and b"do-not-show-me" not in page.content
    listing = client.get(reverse("admin:webhooks_webhooksubscription_changelist"))
    assert b"do-not-show-me" not in listing.content
    rotated = client.post(
        reverse("admin:webhooks_webhooksubscription_changelist"),
        {"action": "rotate_secret", "_selected_action": [subscription.pk]},
    )
    subscription.refresh_from_db()
    assert subscription.secret == "do-not-show-me"  # a viewer may not rotate
    assert b"do-not-show-me" not in rotated.content


def test_rotating_gives_a_new_secret_shown_once_and_logged(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    subscription = subscribe("https://93.184.215.14/hooks", "case.opened", secret="old-secret")
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_changelist"),
        {"action": "rotate_secret", "_selected_action": [subscription.pk]},
    )
    subscription.refresh_from_db()
    assert subscription.secret != "old-secret" and len(subscription.secret) == 64
    assert subscription.secret in response.content.decode() and "old-secret" not in response.content.decode()
    entry = ActivityLog.objects.get(action="webhooks.webhook_subscription.secret_rotated")
    assert entry.target_id == str(subscription.pk) and subscription.secret not in json.dumps(entry.data)
