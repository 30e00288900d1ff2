from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from collection import sms
from collection.models import Team
from loans.choices import ProductKind
from tests.collection.factories import make_officer
from tests.fakes.sms_gateway import FakeGateway
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hour=10, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def sms_outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def reminder_book(default_strategies):
    """Consumer loans disbursed 2026-01-15 (first due 2026-02-15) with a team to work them; the
    default consumer-credit strategy comes from the data migration."""
    product = LoanProductFactory(code="consumer", kind=ProductKind.CONSUMER_CREDIT)
    team = Team.objects.create(name="Consumer A")
    team.products.add(product)
    team.members.add(make_officer("o1"))
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loans = [make_loan(product=product) for _ in range(3)]
    return {"product": product, "loans": loans}


@pytest.fixture
def gateway(settings):
    """The fake SMS gateway on loopback, with the HTTP backend pointed at it."""
    with FakeGateway(token="test-token") as fake:
        settings.SMS_BACKEND = "http"
        settings.SMS_HTTP_URL = fake.url
        settings.SMS_HTTP_TOKEN = "test-token"
        settings.SMS_HTTP_TIMEOUT = 0.5
        yield fake


@pytest.fixture
def default_strategies(db):
    """The data migration's templates and strategies (a flushed test database may have lost them)."""
    from collection.default_strategies import create_defaults, link_grace_templates
    from collection.models import CollectionStrategy, ReminderTemplate, StrategyStep

    create_defaults(ReminderTemplate, CollectionStrategy, StrategyStep)
    link_grace_templates(ReminderTemplate, StrategyStep)
