from celery import shared_task
from django.conf import settings


@shared_task
def ping(value):
    """Answers with what it was sent and the lender's time zone: proves a worker runs our Django."""
    return {"echo": value, "time_zone": settings.TIME_ZONE}
