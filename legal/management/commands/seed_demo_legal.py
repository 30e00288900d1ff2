"""`manage.py seed_demo_legal`: a few serious demo cases taken to legal (see legal/demo.py). Safe to
run again: nothing is added once any legal action exists."""

from django.core.management.base import BaseCommand

from core.dates import business_today
from legal.demo import seed_demo_legal


class Command(BaseCommand):
    help = "Take a few serious demo cases to legal, at different stages, if no legal action exists yet."

    def handle(self, *args, **options):
        summary = seed_demo_legal(today=business_today())
        if summary.actions:
            self.stdout.write("Legal actions: " + "; ".join(summary.actions) + ".")
        else:
            self.stdout.write("Legal actions exist already (or no serious case to take to court): nothing added.")
