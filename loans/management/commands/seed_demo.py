"""`manage.py seed_demo`: a believable demo portfolio and the demo logins (see loans.demo)."""

import time

from django.core.management.base import BaseCommand, CommandError

from loans import demo
from loans.models import Loan


class Command(BaseCommand):
    help = (
        "Create demo loan products, users, and a portfolio of borrowers, loans, schedules, collateral and "
        "repayment histories up to today's business date (written in bulk)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loans", type=int, default=2000, help="How many loans to create (default 2000).")
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"Random seed; the same seed on the same day gives the same data (default {demo.DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if the database already holds any loan."
        )

    def handle(self, *args, loans, seed, if_empty, **options):
        if loans < 0:
            raise CommandError("--loans must not be negative.")
        if if_empty and Loan.objects.exists():
            self.stdout.write("Loans exist already: demo data not seeded (--if-empty).")
            return
        self.stdout.write(f"Seeding {loans:,} demo loans (seed {seed})...")
        self.started = time.perf_counter()
        summary = demo.seed_demo(loans=loans, seed=seed, progress=self._progress)
        self._print_summary(summary, seconds=time.perf_counter() - self.started)

    def _progress(self, done, total):
        self.stdout.write(f"  {done:>9,} / {total:,} loans  {time.perf_counter() - self.started:6.1f} s")

    def _print_summary(self, summary, *, seconds):
        self.stdout.write(self.style.SUCCESS(f"Demo data as of {summary.as_of}, committed in {seconds:.1f} s:"))
        for label, count in [
            ("loan products", summary.products),
            ("borrowers", summary.borrowers),
            ("contact points", summary.contact_points),
            ("loans", summary.loans),
            ("instalments", summary.installments),
            ("payments", summary.payments),
            ("allocation lines", summary.allocations),
            ("collateral", summary.collateral),
        ]:
            self.stdout.write(f"  {label:<17} {count:>10,}")
        self.stdout.write(f"Demo logins (password {demo.DEMO_PASSWORD!r}):")
        for user in summary.users:
            role = "superuser" if user.is_superuser else user.group
            self.stdout.write(f"  {user.username:<10} {role}")
