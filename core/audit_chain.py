"""The activity log's chain: what makes it tamper-evident, not only append-only.

Each entry, once committed, gets its place in the chain (`seq`), the previous entry's hash and its
own: SHA-256 over the previous hash and the entry's content. The database does it
(`core_activitylog_seal()`, migration core/0003), one sealer at a time under an advisory lock, so the
chain cannot fork. Sealing runs after the fact (beat, every minute) rather than as each entry is
written: a trigger that chained entries as they were inserted would have to hold the chain's head
until the writing transaction committed, making every write in the product wait for the daily
run's longest transaction.

The database also refuses any UPDATE or DELETE of an entry (a trigger), except the sealer setting
an entry's chain once. Someone who gets round that (a superuser disabling the trigger) and edits or
removes an entry breaks the chain from that entry on: `manage.py audit_verify` walks it and names the
first broken entry, and the nightly verification's result is on the screen of everyone who reads the
log."""

from django.core.cache import cache
from django.db import connection, transaction

from .models import ActivityLog, AuditVerification

LAST_VERIFICATION = "audit:last-verification"


def seal(batch: int = 100_000) -> int:
    """Chain the committed entries not chained yet (at most `batch`); returns how many."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT core_activitylog_seal(%s)", [batch])
        return cursor.fetchone()[0]


def verify() -> AuditVerification:
    """Walk the chain from its start, record the result and return it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT checked, broken_id, unsealed FROM core_activitylog_verify()")
        checked, broken_id, unsealed = cursor.fetchone()
    result = AuditVerification.objects.create(entries=checked, unsealed=unsealed, first_broken_id=broken_id)
    cache.delete(LAST_VERIFICATION)
    return result


def last_verification() -> AuditVerification | None:
    """The latest verification, kept in the cache for the pages that show it (an hour, or until the
    next verification)."""
    found = cache.get(LAST_VERIFICATION)
    if found is None:
        found = AuditVerification.objects.select_related("first_broken").first() or False
        cache.set(LAST_VERIFICATION, found, timeout=3600)
    return found or None


def broken_entry_label(result: AuditVerification) -> str:
    entry: ActivityLog = result.first_broken
    return f"#{entry.pk} ({entry.created_at:%Y-%m-%d %H:%M} {entry.action})"
