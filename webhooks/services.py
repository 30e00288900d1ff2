"""Publishing events and sending them. Publishing only writes delivery rows and, once the transaction
commits, enqueues one task per row: an event about a change that was rolled back is never sent."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .destinations import CheckedHTTPHandler, CheckedHTTPSHandler, ForbiddenDestination
from .models import DeliveryStatus, EventType, WebhookDelivery, WebhookSubscription

TIMEOUT_SECONDS = 10
USER_AGENT = "Huishou-Webhooks/1"
# Answers worth trying again later; any other non-2xx answer (a 404, a 410, a redirect) will not get
# better by retrying and fails the delivery at once.
TRANSIENT_STATUS_CODES = {408, 425, 429}


class DeliveryError(Exception):
    """The receiver did not take the event. `transient` says whether a retry may succeed."""

    def __init__(self, message, *, status_code=None, transient=True):
        super().__init__(message)
        self.status_code = status_code
        self.transient = transient


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following it would turn the POST into a GET or send
    the signed body somewhere nobody subscribed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy from the environment (the destination check must see the receiver, not a proxy), every
# connection made to a checked public address (webhooks.destinations), no redirect followed.
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), CheckedHTTPHandler, CheckedHTTPSHandler, _NoRedirect
)


def subscriptions_for(event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions to `event_type`. Filtered in Python: there are a handful of subscriptions,
    and JSON containment is not portable across databases."""
    return [s for s in WebhookSubscription.objects.filter(is_active=True) if event_type in s.event_types]


def event_publish(*, event_type: str, payload: dict) -> list[WebhookDelivery]:
    """Queue one event for every active subscription to its type."""
    return events_publish(event_type=event_type, payloads=[payload])


def events_publish(*, event_type: str, payloads: Iterable[dict]) -> list[WebhookDelivery]:
    """Queue many events of one type (the daily run's opened cases, broken promises) with one
    bulk_create; each event gets its own id, shared by its deliveries to different subscriptions."""
    if event_type not in EventType.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    subscriptions = subscriptions_for(event_type)
    if not subscriptions:
        return []
    deliveries = []
    for payload in payloads:
        event_id = uuid.uuid4()
        deliveries.extend(
            WebhookDelivery(subscription=subscription, event_type=event_type, event_id=event_id, payload=payload)
            for subscription in subscriptions
        )
    if not deliveries:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000)
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(delivery_ids):
    from .tasks import deliver  # tasks import this module

    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent, and signed; the same on every attempt."""
    return json.dumps(
        {
            "id": str(delivery.event_id),
            "type": delivery.event_type,
            "created_at": delivery.created_at,
            "data": delivery.payload,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-Huishou-Signature value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_send(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """POST the event once. A 2xx answer marks it delivered; anything else is recorded on the row
    (status code, error) and raised as DeliveryError for the task to retry or give up."""
    subscription = delivery.subscription
    body = delivery_body(delivery)
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Huishou-Event": delivery.event_type,
            "X-Huishou-Delivery": str(delivery.pk),
            "X-Huishou-Signature": signature(subscription.secret, body),
        },
    )
    delivery.attempts += 1
    if request.type not in ("http", "https"):  # urllib would also open file:// and ftp:// URLs
        delivery.last_error = f"Refusing to send to a {request.type!r} URL."
        delivery.save(update_fields=["attempts", "last_error"])
        raise DeliveryError(delivery.last_error, transient=False)
    # Only the status code and the kind of failure are kept, never what the receiver answered: a body
    # in the log would make a misdirected subscription a window into whatever it reached.
    status_code, error = None, ""
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, malformed URLs
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ForbiddenDestination):
            delivery.last_error = f"ForbiddenDestination: {reason}"
            delivery.save(update_fields=["attempts", "last_error"])
            raise DeliveryError(delivery.last_error, transient=False) from exc
        error = type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, timezone.now(), ""
        delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at"])
        return delivery
    delivery.last_error = error or f"HTTP {status_code}"
    delivery.save(update_fields=["attempts", "last_status_code", "last_error"])
    transient = status_code is None or status_code >= 500 or status_code in TRANSIENT_STATUS_CODES
    raise DeliveryError(delivery.last_error, status_code=status_code, transient=transient)


def delivery_fail(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Give up on a delivery; its last status code and error stay for whoever looks into it."""
    delivery.status = DeliveryStatus.FAILED
    delivery.save(update_fields=["status", "last_error"])
    return delivery
