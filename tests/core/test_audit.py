from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from core.audit import log_action
from core.choices import ActorKind
from core.errors import ApplicationError
from core.models import ActivityLog, AppendOnlyError
from core.money import parse_amount, to_fen
from core.roles import API_CLIENT

pytestmark = pytest.mark.django_db


def test_log_action_records_the_actor_kind():
    officer = User.objects.create_user("officer1")
    client = User.objects.create_user("core-banking")
    client.groups.add(Group.objects.get_or_create(name=API_CLIENT)[0])

    by_system = log_action(actor="system", action="loans.daily.ran", data={"loans": 3})
    by_officer = log_action(actor=officer, action="borrowers.borrower.changed", target=officer, before={"a": 1})
    by_client = log_action(actor=client, action="loans.payment.posted", after={"amount": Decimal("1.50")})

    assert by_system.actor_kind == ActorKind.SYSTEM and by_system.actor is None
    assert by_officer.actor_kind == ActorKind.USER and by_officer.target_id == str(officer.pk)
    assert by_client.actor_kind == ActorKind.API_CLIENT
    assert ActivityLog.objects.get(pk=by_client.pk).after == {"amount": "1.50"}


def test_the_activity_log_is_append_only():
    entry = log_action(actor="system", action="x.y.z")
    entry.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        ActivityLog.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        ActivityLog.objects.update(reason="x")
    assert ActivityLog.objects.get(pk=entry.pk).reason == ""


def test_amounts_are_parsed_strictly():
    assert parse_amount("12.5") == Decimal("12.50")
    assert to_fen(Decimal("2.345")) == Decimal("2.35")
    for bad in ["1.001", "-1", "0", "NaN", "Infinity", "", None, 1.5]:
        with pytest.raises(ApplicationError):
            parse_amount(bad)


def test_a_batch_of_entries_asks_the_actors_role_once(django_assert_num_queries):
    from core.audit import build_entry

    officer = User.objects.create_user("batcher")
    with django_assert_num_queries(1):
        entries = [build_entry(actor=officer, action="x.y.z") for _ in range(5)]
    assert {e.actor_kind for e in entries} == {ActorKind.USER}
