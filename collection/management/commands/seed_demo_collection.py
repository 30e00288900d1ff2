"""`manage.py seed_demo_collection`: the collection side of the demo. A team serving every product
with the demo officers in it (the demo manager leads it), then today's daily run, so the demo opens
with cases in the officers' worklists. Safe to run again: it adds nothing that is there already."""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from collection.models import CollectionCase, Team
from loans.models import LoanProduct

DEMO_TEAM = "催收一组"


class Command(BaseCommand):
    help = "Create the demo collection team and run today's daily run if no case exists yet."

    def handle(self, *args, **options):
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
        call_command("run_daily", stdout=self.stdout)
