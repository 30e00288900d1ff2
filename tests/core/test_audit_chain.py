"""The activity log is tamper-evident: the database chains its entries and refuses to change them, and
an edit made behind the application's back (the guard switched off) is found by audit_verify."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core import audit_chain
from core.audit import log_action
from core.models import ActivityLog, AuditVerification

pytestmark = pytest.mark.django_db


def entries(n, action="x.y.z"):
    return [log_action(actor="system", action=action, data={"n": i}) for i in range(n)]


def test_sealing_chains_each_entry_to_the_one_before():
    first = entries(3)
    assert audit_chain.seal() == 3
    rows = list(ActivityLog.objects.filter(pk__in=[e.pk for e in first]).order_by("seq"))
    assert [row.seq for row in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert all(len(row.hash) == 64 for row in rows)
    entries(2)
    assert audit_chain.seal() == 2 and audit_chain.seal() == 0  # each entry once
    assert ActivityLog.objects.filter(seq__isnull=True).count() == 0


def test_the_database_refuses_to_change_or_remove_an_entry():
    [entry] = entries(1)
    audit_chain.seal()
    for statement in (
        "UPDATE core_activitylog SET reason = 'rewritten' WHERE id = %s",
        "UPDATE core_activitylog SET hash = repeat('a', 64) WHERE id = %s",
        "DELETE FROM core_activitylog WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    [unsealed] = entries(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_activitylog SET action = 'y', seq = 99 WHERE id = %s", [unsealed.pk])


def behind_the_applications_back(statement, params):
    """What someone with the database's superuser could do: switch triggers off for a moment and edit."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(statement, params)


def test_audit_verify_finds_the_first_entry_edited_or_removed(capsys):
    logged = entries(5)
    call_command("audit_verify")
    assert "intact: 5 entries verified" in capsys.readouterr().out
    behind_the_applications_back("UPDATE core_activitylog SET reason = 'nobody asked' WHERE id = %s", [logged[2].pk])
    with pytest.raises(CommandError, match=f"breaks at entry #{logged[2].pk} "):
        call_command("audit_verify")
    result = AuditVerification.objects.first()
    assert (result.entries, result.first_broken_id, result.intact) == (2, logged[2].pk, False)


def test_a_removed_entry_breaks_the_chain_at_the_next():
    logged = entries(4)
    audit_chain.seal()
    behind_the_applications_back("DELETE FROM core_activitylog WHERE id = %s", [logged[1].pk])
    result = audit_chain.verify()
    assert result.first_broken_id == logged[2].pk and result.entries == 1


@pytest.mark.django_db(transaction=True)
def test_two_sealers_at_once_make_one_chain():
    entries(40)
    done = []

    def sealer():
        try:
            done.append(audit_chain.seal(batch=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=sealer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(done) == 40
    seqs = list(ActivityLog.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 41))
    assert audit_chain.verify().intact


def test_those_who_read_the_log_see_the_last_verification(client, admin_user):
    from tests.collection.factories import make_officer

    client.force_login(admin_user)
    assert "has not been verified yet" in client.get("/cases/").content.decode()
    entries(3)
    audit_chain.seal()
    audit_chain.verify()
    assert (
        "its chain of" in client.get("/cases/").content.decode()
        and "is intact" in client.get("/cases/").content.decode()
    )
    client.force_login(make_officer("reader-not"))
    assert "Activity log verified" not in client.get("/cases/").content.decode()  # officers do not read the log
