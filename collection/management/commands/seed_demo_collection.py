"""`manage.py seed_demo_collection`: the collection side of the demo. A team serving every product
with the demo officers in it (the demo manager leads it), then the month ends of the year before
rebuilt from the ledger and the daily run for each of the last `--history-days` days up to today, so
the demo opens with cases in the officers' worklists and a year of history on the KPI page. Safe to
run again: it adds nothing that is there already."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from collection import daily, snapshots
from collection.models import CollectionCase, Team
from core.dates import business_today
from loans.models import LoanProduct

DEMO_TEAM = "催收一组"


class Command(BaseCommand):
    help = "Create the demo collection team and run the daily run over recent days if no case exists yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--history-days", type=int, default=90, help="Run the daily run for this many past days first (90)."
        )

    def handle(self, *args, history_days, **options):
        users = get_user_model().objects
        team, created = Team.objects.get_or_create(
            name=DEMO_TEAM, defaults={"lead": users.filter(username="manager").first()}
        )
        team.products.add(*LoanProduct.objects.all())
        team.members.add(*users.filter(username__in=["officer", "officer2"]))
        if created:
            self.stdout.write(
                f"Team {DEMO_TEAM} serves {team.products.count()} products with {team.members.count()} officers."
            )
        if CollectionCase.objects.exists():
            self.stdout.write("Cases exist already: the daily run is left to beat.")
            return
        today = business_today()
        # The month ends before the replayed days, from the ledger, so the KPI page has a year behind it.
        snapshots.snapshots_rebuild(snapshots.month_ends_before(today - timedelta(days=max(history_days, 0))))
        for days_ago in range(max(history_days, 0), 0, -1):
            day = today - timedelta(days=days_ago)
            # The KPI page reads month ends and the latest day: the days between need no snapshot.
            daily.run_daily(as_of=day, snapshot=snapshots.is_month_end(day))
        if history_days > 0:
            self.stdout.write(f"Daily run replayed for the {history_days} days before today.")
        call_command("run_daily", stdout=self.stdout)
