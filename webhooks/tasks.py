"""Celery tasks: thin wrappers that take a delivery id and call the services."""

from celery import shared_task

from .models import DeliveryStatus, WebhookDelivery
from .services import DeliveryError, delivery_fail, delivery_send


class TransientDeliveryError(DeliveryError):
    """Raised to make Celery retry: the receiver was down, slow or answered 5xx / 429."""


@shared_task(
    bind=True,
    autoretry_for=(TransientDeliveryError,),
    max_retries=5,
    # Exponential backoff from a one-minute base (1, 2, 4, 8, 16 minutes, with jitter): about half an hour
    # for a receiver to come back before the delivery is given up.
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
)
def deliver(self, delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return "skipped"  # deleted, or already delivered / given up (a redelivered message)
    if not delivery.subscription.is_active:
        delivery.last_error = "The subscription was deactivated before the event could be sent."
        delivery_fail(delivery=delivery)
        return DeliveryStatus.FAILED
    try:
        delivery_send(delivery=delivery)
    except DeliveryError as exc:
        if not exc.transient or self.request.retries >= self.max_retries:
            delivery_fail(delivery=delivery)
            return DeliveryStatus.FAILED
        raise TransientDeliveryError(str(exc), status_code=exc.status_code) from exc
    return DeliveryStatus.DELIVERED
