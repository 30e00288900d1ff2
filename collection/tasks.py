"""Celery tasks: thin wrappers that take ids and dates and call collection.daily."""

from datetime import date

from celery import group, shared_task

from core.dates import business_today

from . import daily


@shared_task
def run_daily_chunk(as_of: str, first_id: int, last_id: int) -> dict:
    summary = daily.run_chunk(as_of=date.fromisoformat(as_of), first_id=first_id, last_id=last_id)
    return {key: value for key, value in vars(summary).items() if isinstance(value, int)}


@shared_task
def dispatch_daily_run(as_of: str | None = None, chunk_size: int = daily.DEFAULT_CHUNK) -> int:
    """The nightly beat entry: one task per loan id range, so more workers finish sooner."""
    day = as_of or business_today().isoformat()
    ranges = daily.loan_id_ranges(chunk_size)
    group(run_daily_chunk.s(day, low, high) for low, high in ranges).apply_async()
    return len(ranges)
