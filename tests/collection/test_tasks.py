from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from collection.models import CollectionCase
from collection.tasks import dispatch_daily_run
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db


def test_the_nightly_task_fans_out_one_chunk_per_id_range():
    with time_machine.travel(datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        loans = [make_loan() for _ in range(3)]
    with time_machine.travel(datetime(2026, 2, 17, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        chunks = dispatch_daily_run.delay(chunk_size=1).get()  # eager in tests: the chunks run inline
    assert chunks == 3
    assert CollectionCase.objects.filter(loan__in=loans, opened_on=date(2026, 2, 17)).count() == 3


def test_beat_runs_it_after_midnight_in_the_lenders_time_zone():
    entry = settings.CELERY_BEAT_SCHEDULE["daily-run"]
    assert entry["task"] == "collection.tasks.dispatch_daily_run"
    assert entry["schedule"].hour == {0} and entry["schedule"].minute == {30}
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE == "Asia/Shanghai"
