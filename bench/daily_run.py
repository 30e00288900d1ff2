"""Times the daily run against the practical floor: one hand-written set-based UPDATE over the same
rows. Prints both and the ratio.

    .venv/bin/python bench/daily_run.py --loans 100000     # the private server, its book kept in var/bench/book
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_daily .venv/bin/python bench/daily_run.py --loans 100000

The portfolio comes from seed_demo (about a sixth of the loans in arrears); when the database holds
fewer loans than --loans, the difference is seeded first. The run for yesterday is the warm-up (it
opens most cases; the tables are vacuumed and analysed after it) and is kept. The run for today is
the steady state that is timed, `--rounds` times from the same state: each round runs the day in a
transaction that is rolled back, then the floor, rolled back too.

The floor sets on every loan in arrears what the run sets on it (days past due, overdue amount,
penalty, bucket, class, stage, status) in one statement; the run does that and more (loans leaving
arrears, re-runs of past dates, cases opened, promises judged, priorities, classification,
escalation). The older, smaller floor that sets days past due alone is printed beside it.
`--statements N` lists the N statements of the first round that took longest altogether (timing
each statement adds a little to the run's time)."""

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

from bench.embedded import use_private_server_unless_configured

use_private_server_unless_configured("book")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench import floor  # noqa: E402
from collection import daily, reminders  # noqa: E402
from collection.models import CollectionCase  # noqa: E402
from core import sql  # noqa: E402
from core.dates import business_today  # noqa: E402
from loans import demo  # noqa: E402
from loans.models import Loan  # noqa: E402


def _timed_rolled_back(statement):
    """One statement ((text, parameters)) timed in a transaction rolled back, with the run's session
    settings: its seconds."""
    with transaction.atomic():
        sql.tune_for_batch()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(*statement)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def floor_seconds(as_of):
    return _timed_rolled_back(floor.statement(as_of))


def floor_dpd_seconds(as_of):
    return _timed_rolled_back(floor.days_past_due_statement(as_of))


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
    parser.add_argument("--rounds", type=int, default=3, help="times the day is run (rolled back) against the floor")
    parser.add_argument("--statements", type=int, default=0, help="list the N costliest statements of the timed run")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    call_command("migrate", verbosity=0)
    missing = args.loans - Loan.objects.count()
    if missing > 0:
        started = time.perf_counter()
        demo.seed_demo(loans=missing)
        print(f"seeded {missing:,} loans in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    today = business_today()
    warm = daily.run_daily(as_of=today - timedelta(days=1), chunk_size=args.chunk_size)
    # The warm-up opened most cases and rewrote the loans in arrears. Autovacuum would have vacuumed
    # and analysed them by the next night (it may be off on a bench server): plans made for an empty
    # case table are not the run's, and without the visibility map the floor's index-only scan reads
    # the heap.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    rounds = []
    for number in range(args.rounds):
        # Each round runs the same day from the same state: the run is rolled back, as the floor is.
        timer = StatementTimer()
        with transaction.atomic():
            with connection.execute_wrapper(timer) if args.statements and not number else nullcontext():
                steady = daily.run_daily(as_of=today, chunk_size=args.chunk_size)
            if not number:
                started = time.perf_counter()
                planned = reminders.reminders_plan(as_of=today)
                planning = time.perf_counter() - started
                summary, statements = steady, timer
            transaction.set_rollback(True)
        rounds.append((steady.seconds, floor_seconds(today), floor_dpd_seconds(today)))
    loans = Loan.objects.count()
    overdue = Loan.objects.filter(days_past_due__gt=0).count()
    print(f"database          {connection.settings_dict['NAME']} on {connection.settings_dict['HOST'] or 'localhost'}")
    print(
        f"loans             {loans:,} ({overdue / loans:.1%} in arrears), open cases {CollectionCase.objects.count():,}"
    )
    print(
        f"warm-up run       {warm.seconds:8.2f} s  (yesterday: {warm.cases_opened:,} cases opened, "
        f"{warm.cases_classified:,} classified, {warm.cases_escalated:,} escalated)"
    )
    print(
        f"today             {summary.loans_in_arrears:,} loans updated, {summary.cases_opened:,} cases opened, "
        f"{summary.cases_classified:,} classified, {summary.cases_escalated:,} escalated, "
        f"{summary.cases_resolved:,} resolved"
    )
    print(f"reminder planning {planning:8.2f} s  (the 06:00 task, not part of the run: {planned:,} new)")
    print("round   daily run   floor UPDATE   ratio   days-past-due-only UPDATE   ratio")
    for number, (run, full, dpd) in enumerate(rounds, start=1):
        print(f"{number:5d} {run:9.2f} s {full:12.2f} s {run / full:6.2f} x {dpd:23.2f} s {run / dpd:6.2f} x")
    ratios = sorted(run / full for run, full, _dpd in rounds)
    print(f"median ratio      {ratios[len(ratios) // 2]:8.2f} x  (target: at most 3x)")
    if args.statements:
        print("costliest statements of the first round:")
        statements.print(args.statements)


if __name__ == "__main__":
    main()
