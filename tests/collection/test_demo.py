from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from collection.models import CollectionCase, Team

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_cases_in_the_officers_worklists():
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        call_command("seed_demo", "--loans", "200")
        call_command("seed_demo_collection")
        cases = CollectionCase.objects.count()
        call_command("seed_demo_collection")  # again: nothing more
    assert cases > 0 and CollectionCase.objects.count() == cases
    assert Team.objects.count() == 1
    assert set(CollectionCase.objects.values_list("officer__username", flat=True)) == {"officer", "officer2"}
