"""`manage.py snapshot_portfolio [--date YYYY-MM-DD] [--rebuild-months N]`: write the portfolio snapshot
the KPI page reads. The daily run writes it every night; this writes a date again (after a correction)
or, with --rebuild-months, fills the month ends before the first run from the ledger (at go-live)."""

from django.core.management.base import BaseCommand, CommandError

from collection import snapshots
from core.dates import business_today, date_option


class Command(BaseCommand):
    help = "Write the portfolio snapshot of a business date; rebuild missing past month ends from the ledger."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="The business date (YYYY-MM-DD); today in the lender's time zone if omitted."
        )
        parser.add_argument(
            "--rebuild-months",
            type=int,
            default=0,
            help="First rebuild from the ledger the month ends of this many months before the date that have none.",
        )

    def handle(self, *args, date=None, rebuild_months, **options):
        as_of = date_option(date) if date else business_today()
        if as_of > business_today():
            raise CommandError("A snapshot cannot be written for a future date.")
        if rebuild_months < 0:
            raise CommandError("--rebuild-months cannot be negative.")
        if rebuild_months:
            rebuilt = snapshots.snapshots_rebuild(snapshots.month_ends_before(as_of, rebuild_months))
            listed = ", ".join(day.isoformat() for day in rebuilt) or "none missing"
            self.stdout.write(f"Month ends rebuilt from the ledger: {listed}")
        written = snapshots.snapshot_write(as_of)
        self.stdout.write(self.style.SUCCESS(f"Snapshot of {as_of}: {written.rows:,} rows, {written.flows:,} flows."))
