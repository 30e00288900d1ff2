"""Exactly once, with real worker processes on Redis: two Celery workers dispatch reminders to the
fake gateway; one is killed with SIGKILL mid-batch. Its leased rows are reclaimed once the lease
expires and sent again with the same idempotency key, so the gateway's log shows every due reminder
delivered exactly once, and no row is lost."""

import signal
import time
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from borrowers.models import Borrower
from collection.choices import CaseState, ReminderStatus
from collection.models import Reminder, ReminderTemplate
from collection.tasks import send_reminders
from config.celery import app
from loans.models import Loan
from tests.collection.factories import make_case
from tests.fakes.sms_gateway import FakeGateway
from tests.loans.factories import make_loan
from tests.workers import database_url, start_worker

pytestmark = pytest.mark.worker
REMINDERS = 240
LEASE_SECONDS = 4


@pytest.fixture
def due_reminders(transactional_db, default_strategies):
    template = ReminderTemplate.objects.get(code="overdue-d1-sms")
    rows = []
    for n in range(REMINDERS):
        case = make_case(state=CaseState.MINOR, loan=make_loan())
        Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal("500.00"), days_past_due=1)
        # The workers run on the real clock: agreeing to night-time contact keeps quiet hours out of it.
        Borrower.objects.filter(loans=case.loan_id).update(agreed_to_quiet_hours_contact=True)
        rows.append(
            Reminder(
                idempotency_key=f"kill-test-{n}",
                loan_id=case.loan_id,
                case=case,
                template=template,
                channel="sms",
                address=f"+86138{n:08d}",
                planned_for=date.today(),
                due_at=_now(),
            )
        )
    Reminder.objects.bulk_create(rows)


def _now():
    from django.utils import timezone

    return timezone.now()


def start_reminder_worker(queue, name, gateway):
    return start_worker(
        queue,
        name,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url(connection),
        SMS_BACKEND="http",
        SMS_HTTP_URL=gateway.url,
        SMS_HTTP_TOKEN=gateway.token,
        REMINDER_BATCH_SIZE=20,
        REMINDER_LEASE_SECONDS=LEASE_SECONDS,
    )


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")
def test_a_worker_killed_mid_batch_causes_no_duplicate_and_loses_nothing(due_reminders):
    queue = f"reminders-{uuid.uuid4().hex[:8]}"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with FakeGateway(token="kill-test", delay=0.01) as gateway:
        victim, survivor = (
            start_reminder_worker(queue, "victim", gateway),
            start_reminder_worker(queue, "survivor", gateway),
        )
        try:
            for _ in range(2):  # what the beat task would start: one sender per worker
                send_reminders.apply_async(kwargs={"budget_seconds": 60}, queue=queue)
            # Kill the victim in the middle of a send: the gateway holds every request after the
            # 40th delivery, so both workers end up waiting on one with their batches leased.
            gateway.hold_after(40)
            wait_for(
                lambda: (
                    Reminder.objects.filter(
                        status=ReminderStatus.SENDING, claimed_by__contains=f"{victim.pid}"
                    ).exists()
                    and gateway.waiting >= 2  # each solo worker sends one message at a time
                ),
                90,
                "both workers to be held mid-send",
            )
            time.sleep(0.5)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            stranded = Reminder.objects.filter(status=ReminderStatus.SENDING, claimed_by__contains=f"{victim.pid}")
            stranded_ids = list(stranded.values_list("id", flat=True))
            gateway.release()
            # The survivor sends the rest; the stranded rows wait for their lease to expire, then the
            # next beat's sender reclaims them.
            wait_for(
                lambda: not Reminder.objects.filter(status=ReminderStatus.SCHEDULED).exists(), 90, "the rest to go"
            )
            time.sleep(LEASE_SECONDS + 0.5)
            send_reminders.apply_async(kwargs={"budget_seconds": 60}, queue=queue)
            wait_for(
                lambda: Reminder.objects.filter(status=ReminderStatus.SENT).count() == REMINDERS, 90, "all to be sent"
            )
        finally:
            app.conf.task_always_eager = eager
            for worker in (victim, survivor):
                if worker.poll() is None:
                    worker.terminate()
                    worker.wait(20)
        counts = gateway.delivery_counts()
    assert stranded_ids
    assert len(counts) == REMINDERS  # every due reminder delivered ...
    assert set(counts.values()) == {1}  # ... exactly once
    assert sorted(counts) == sorted(Reminder.objects.values_list("idempotency_key", flat=True))
    assert not Reminder.objects.exclude(status=ReminderStatus.SENT).exists()  # nothing lost
    reclaimed = Reminder.objects.filter(id__in=stranded_ids)
    assert not reclaimed.filter(claimed_by__contains=f"{victim.pid}").exists()  # the survivor took them over
