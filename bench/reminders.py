"""Plans N due reminders and dispatches them with real Celery workers to the fake SMS gateway on
loopback, killing one worker with SIGKILL mid-run. Prints planning speed, messages per second and
the duplicate count (must be 0) and the lost count (must be 0).

    .venv/bin/python bench/reminders.py --count 10000      # the private server (var/bench/reminders)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_reminders REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/reminders.py --count 100000 --workers 2

The book is N borrowers, each with one loan one day past due and an open case, written in bulk; the
planner then writes one D+1 SMS per case (the default strategy's step). Borrowers have agreed to
night-time contact so the bench may run at any hour. Every run starts from a fresh outbox."""

import argparse
import os
import signal
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.embedded import use_private_server_unless_configured  # noqa: E402

use_private_server_unless_configured("reminders")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from borrowers.models import Borrower  # noqa: E402
from collection.choices import CaseState, ReminderStatus  # noqa: E402
from collection.models import CollectionCase, Reminder  # noqa: E402
from collection.reminders import reminders_plan  # noqa: E402
from collection.tasks import send_reminders  # noqa: E402
from config.celery import app  # noqa: E402
from core.dates import business_today  # noqa: E402
from loans.choices import ProductKind, RepaymentMethod  # noqa: E402
from loans.models import Loan, LoanProduct  # noqa: E402
from tests.fakes.sms_gateway import FakeGateway  # noqa: E402
from tests.workers import database_url, start_worker  # noqa: E402

PRODUCT = "bench-reminders"
LEASE_SECONDS = 10


def build_book(count):
    """N borrowers, loans and open cases, one day past due, in bulk (only what is missing)."""
    product, _ = LoanProduct.objects.get_or_create(
        code=PRODUCT,
        defaults={
            "name": "Bench reminders",
            "kind": ProductKind.MICRO_LOAN,
            "repayment_method": RepaymentMethod.EQUAL_INSTALLMENT,
        },
    )
    have = Loan.objects.filter(product=product).count()
    today = business_today()
    for start in range(have, count, 5000):
        size = min(5000, count - start)
        borrowers = Borrower.objects.bulk_create(
            Borrower(
                name=f"压测{n}",
                id_number=f"BENCH{n:012d}",
                phone=f"+86138{n:08d}",
                agreed_to_quiet_hours_contact=True,
            )
            for n in range(start, start + size)
        )
        loans = Loan.objects.bulk_create(
            Loan(
                external_id=f"BENCH-{n:09d}",
                borrower=borrower,
                product=product,
                principal=Decimal("3000.00"),
                annual_rate=Decimal("0.18"),
                term_months=6,
                disbursed_on=today - timedelta(days=31),
                first_due_date=today - timedelta(days=1),
                maturity_date=today + timedelta(days=150),
                principal_outstanding=Decimal("3000.00"),
                overdue_amount=Decimal("530.00"),
                days_past_due=1,
                overdue_since=today,
                aging_bucket="M1",
            )
            for n, borrower in zip(range(start, start + size), borrowers, strict=True)
        )
        CollectionCase.objects.bulk_create(
            CollectionCase(loan=loan, state=CaseState.EARLY_WARNING, opened_on=today) for loan in loans
        )
    return product


def start_reminder_worker(name, gateway):
    return start_worker(
        "bench-reminders",
        name,
        DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"],
        DATABASE_URL=database_url(connection),
        SMS_BACKEND="http",
        SMS_HTTP_URL=gateway.url,
        SMS_HTTP_TOKEN=gateway.token,
        REMINDER_LEASE_SECONDS=LEASE_SECONDS,
    )


def sent_count():
    return Reminder.objects.filter(status=ReminderStatus.SENT).count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-kill", action="store_true", help="Do not kill a worker mid-run.")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build_book(args.count)
    print(f"book              {args.count:,} cases ready in {time.perf_counter() - started:.1f} s")

    today = business_today()
    Reminder.objects.all().delete()  # the bench database holds nothing else worth keeping
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    planned = reminders_plan(as_of=today)
    plan_seconds = time.perf_counter() - started
    again = reminders_plan(as_of=today)
    print(
        f"planning          {planned:,} reminders in {plan_seconds:.2f} s ({planned / plan_seconds:,.0f}/s); "
        f"planning again added {again}"
    )
    Reminder.objects.update(due_at=timezone.now())  # due now, whatever the hour the bench runs
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE collection_reminder")  # as autovacuum would after such a load

    app.conf.task_always_eager = False
    with FakeGateway(token="bench") as gateway:
        workers = [start_reminder_worker(f"bench{n}", gateway) for n in range(args.workers)]
        killed = None
        try:
            started = time.perf_counter()
            for _ in range(args.workers):
                send_reminders.apply_async(kwargs={"budget_seconds": 3600}, queue="bench-reminders")
            while sent_count() < planned:
                time.sleep(0.5)
                if not args.no_kill and killed is None and len(gateway.deliveries) >= planned // 3:
                    # Kill it mid-batch: while it holds a lease on rows it has not finished.
                    victim = workers[0]
                    leased = Reminder.objects.filter(
                        status=ReminderStatus.SENDING, claimed_by__endswith=f":{victim.pid}"
                    )
                    if leased.exists():
                        victim.send_signal(signal.SIGKILL)
                        victim.wait()
                        killed = victim
                        print(f"killed            worker pid {victim.pid} after {len(gateway.deliveries):,} deliveries")
                        print(f"stranded          {leased.count():,} rows leased to it")
                if killed and not Reminder.objects.filter(status=ReminderStatus.SCHEDULED).exists():
                    # What the next beat minute does: start a sender that reclaims expired leases.
                    time.sleep(LEASE_SECONDS + 1)
                    send_reminders.apply_async(kwargs={"budget_seconds": 3600}, queue="bench-reminders")
                    killed = False
            seconds = time.perf_counter() - started
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
                    worker.wait(30)
        counts = gateway.delivery_counts()
    duplicates = sum(n - 1 for n in counts.values())
    lost = planned - len(counts)
    print(f"database          {connection.settings_dict['NAME']}, broker {settings.CELERY_BROKER_URL.split('://')[0]}")
    print(
        f"dispatch          {planned:,} messages in {seconds:.1f} s with {args.workers} workers: "
        f"{planned / seconds:,.0f} messages/s"
    )
    print(f"gateway requests  {len(gateway.requests):,} (repeats answered from the idempotency key)")
    print(f"duplicates        {duplicates}")
    print(f"lost              {lost}")


if __name__ == "__main__":
    main()
