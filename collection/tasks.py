"""Celery tasks: thin wrappers that take ids and dates and call collection.daily / reminders."""

import math
from datetime import date

from celery import chord, group, shared_task
from django.conf import settings

from core.dates import business_today

from . import daily, reminders, snapshots


@shared_task
def run_daily_chunk(as_of: str, first_id: int, last_id: int) -> dict:
    summary = daily.run_chunk(as_of=date.fromisoformat(as_of), first_id=first_id, last_id=last_id)
    return {key: value for key, value in vars(summary).items() if isinstance(value, int)}


@shared_task
def write_snapshot(_chunks=None, as_of: str | None = None) -> dict:
    """The day's portfolio snapshot, once every chunk of the run is done (the chord's body)."""
    written = snapshots.snapshot_write(date.fromisoformat(as_of) if as_of else business_today())
    snapshots.warm_book_figures()
    return {"as_of": written.as_of.isoformat(), "rows": written.rows, "flows": written.flows}


@shared_task
def dispatch_daily_run(as_of: str | None = None, chunk_size: int = daily.DEFAULT_CHUNK) -> int:
    """The nightly beat entry: one task per loan id range, so more workers finish sooner, then the
    portfolio snapshot (a chord: it waits for every chunk, and is not written if one fails)."""
    day = as_of or business_today().isoformat()
    ranges = daily.loan_id_ranges(chunk_size)
    if ranges:
        chord(group(run_daily_chunk.s(day, low, high) for low, high in ranges))(write_snapshot.s(as_of=day))
    else:
        write_snapshot.delay(as_of=day)  # an empty book still has a (empty) snapshot
    return len(ranges)


@shared_task
def refresh_book_figures():
    """Every minute (beat): the whole book's queue and worklist figures computed again into the cache
    (collection.book_figures), so the managers' pages read them instead of computing them."""
    snapshots.warm_book_figures()


@shared_task
def plan_reminders() -> int:
    """Every morning (beat, 06:00, after the nightly run): today's reminders from the strategies.
    Planning twice adds nothing, so a missed or repeated run is harmless."""
    return reminders.reminders_plan(as_of=business_today())


@shared_task(acks_late=True)
def send_reminders(budget_seconds: float = 50) -> dict:
    """One worker's share: claim and send batches for up to `budget_seconds`."""
    summary = reminders.reminders_dispatch(budget_seconds=budget_seconds)
    return {k: v for k, v in vars(summary).items() if k != "codes"} | {"codes": summary.codes}


@shared_task
def dispatch_reminders() -> int:
    """Every minute (beat): start as many `send_reminders` tasks as there are batches due, up to
    REMINDER_DISPATCH_TASKS, so the work spreads over the workers. Each claims its own rows with
    SKIP LOCKED, so two never take the same row."""
    due = reminders.due_count()
    tasks = min(math.ceil(due / settings.REMINDER_BATCH_SIZE), settings.REMINDER_DISPATCH_TASKS)
    if tasks:
        group(send_reminders.s() for _ in range(tasks)).apply_async()
    return tasks
