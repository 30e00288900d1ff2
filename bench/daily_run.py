"""Times the daily run against the practical floor: one hand-written set-based UPDATE over the same
rows. Prints both and the ratio.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_daily .venv/bin/python bench/daily_run.py --loans 100000

The portfolio comes from seed_demo (about a sixth of the loans in arrears); when the database holds
fewer loans than --loans, the difference is seeded first. The run for yesterday is the warm-up (it
opens most cases, and the tables are analysed after it); the run for today is the steady state that
is timed. The floor statement runs in a transaction that is rolled back. `--statements N` also
lists the N statements of the timed run that took longest altogether (timing each statement adds a
little to the run's time)."""

import argparse
import os
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from collection import daily, reminders  # noqa: E402
from collection.models import CollectionCase  # noqa: E402
from core import sql  # noqa: E402
from core.dates import business_today  # noqa: E402
from loans import demo  # noqa: E402
from loans.models import Loan  # noqa: E402


def floor_seconds(as_of):
    """Days past due for every loan from its oldest unpaid instalment, in one UPDATE."""
    d = sql.date_literal(as_of)
    statement = f"""
        UPDATE loans_loan SET days_past_due = x.dpd
        FROM (SELECT loan_id, {sql.days_between(d, "MIN(due_date)")} AS dpd
              FROM loans_installment
              WHERE status IN ('pending', 'partially_paid') AND due_date < {d}
              GROUP BY loan_id) x
        WHERE loans_loan.id = x.loan_id"""
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(statement)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


class StatementTimer:
    """Total time and count per statement, keyed by the statement's first words."""

    def __init__(self):
        self.totals = defaultdict(lambda: [0.0, 0])

    def __call__(self, execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            total = self.totals[" ".join(statement.split())[:100]]
            total[0] += time.perf_counter() - started
            total[1] += 1

    def print(self, count):
        for key, (seconds, times) in sorted(self.totals.items(), key=lambda item: -item[1][0])[:count]:
            print(f"  {seconds:6.3f} s {times:4d}x  {key}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=daily.DEFAULT_CHUNK)
    parser.add_argument("--statements", type=int, default=0, help="list the N costliest statements of the timed run")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    missing = args.loans - Loan.objects.count()
    if missing > 0:
        started = time.perf_counter()
        demo.seed_demo(loans=missing)
        print(f"seeded {missing:,} loans in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    today = business_today()
    warm = daily.run_daily(as_of=today - timedelta(days=1), chunk_size=args.chunk_size)
    if connection.vendor == "postgresql":
        # The warm-up opened most cases; autovacuum would have analysed them by the next night (it
        # may be off on a bench server), and plans made for an empty case table are not the run's.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    timer = StatementTimer()
    with connection.execute_wrapper(timer) if args.statements else nullcontext():
        steady = daily.run_daily(as_of=today, chunk_size=args.chunk_size)
    started = time.perf_counter()
    planned = reminders.reminders_plan(as_of=today)
    planning = time.perf_counter() - started
    floor = min(floor_seconds(today) for _ in range(3))
    loans = Loan.objects.count()
    overdue = Loan.objects.filter(days_past_due__gt=0).count()
    print(f"database          {connection.vendor}")
    print(
        f"loans             {loans:,} ({overdue / loans:.1%} in arrears), open cases {CollectionCase.objects.count():,}"
    )
    print(f"warm-up run       {warm.seconds:8.2f} s  (yesterday: {warm.cases_opened:,} cases opened)")
    print(
        f"daily run         {steady.seconds:8.2f} s  (today: {steady.loans_in_arrears:,} loans updated, "
        f"{steady.cases_classified:,} classified, {steady.cases_escalated:,} escalated)"
    )
    print(f"reminder planning {planning:8.2f} s  (the 06:00 task, not part of the run: {planned:,} new)")
    print(f"floor UPDATE      {floor:8.2f} s")
    print(f"ratio             {steady.seconds / floor:8.2f} x")
    if args.statements:
        print("costliest statements of the timed run:")
        timer.print(args.statements)


if __name__ == "__main__":
    main()
