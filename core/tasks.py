from celery import shared_task
from django.conf import settings


@shared_task
def ping(value):
    """Answers with what it was sent and the lender's time zone: proves a worker runs our Django."""
    return {"echo": value, "time_zone": settings.TIME_ZONE}


@shared_task
def seal_activity_log() -> int:
    """Every minute (beat): chain the entries committed since the last run (core.audit_chain)."""
    from core import audit_chain

    return audit_chain.seal()


@shared_task
def verify_activity_log() -> dict:
    """Every night (beat): walk the whole chain and record the result for the pages to show."""
    from core import audit_chain

    audit_chain.seal()
    result = audit_chain.verify()
    return {"entries": result.entries, "intact": result.intact, "first_broken": result.first_broken_id}
