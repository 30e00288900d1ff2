"""The one way to write the audit log."""

from django.contrib.contenttypes.models import ContentType

from .choices import ActorKind
from .models import ActivityLog
from .roles import API_CLIENT
from .sql import insert_rows


def _actor_fields(actor):
    """A user, an API client (a user in the api-client group) or None / "system" for the system."""
    if actor is None or actor == "system":
        return {"actor_kind": ActorKind.SYSTEM, "actor": None, "actor_label": "system"}
    if isinstance(actor, str):
        return {"actor_kind": ActorKind.SYSTEM, "actor": None, "actor_label": actor}
    # Asked once per user object: a batch logs many entries for the same actor.
    if not hasattr(actor, "_is_api_client"):
        actor._is_api_client = actor.groups.filter(name=API_CLIENT).exists()
    is_client = actor._is_api_client
    return {
        "actor_kind": ActorKind.API_CLIENT if is_client else ActorKind.USER,
        "actor": actor,
        "actor_label": actor.get_username(),
    }


def build_entry(*, actor, action, target=None, reason="", before=None, after=None, data=None) -> ActivityLog:
    """An unsaved audit entry, for batch work that writes many with one bulk_create."""
    target_fields = {}
    if target is not None:
        target_fields = {
            "target_type": ContentType.objects.get_for_model(target),
            "target_id": str(target.pk),
            "target_repr": str(target)[:255],
        }
    return ActivityLog(
        action=action,
        reason=reason or "",
        before=before,
        after=after,
        data=data or {},
        **_actor_fields(actor),
        **target_fields,
    )


def log_action(*, actor, action, target=None, reason="", before=None, after=None, data=None) -> ActivityLog:
    """Append one audit entry. `action` is a dotted code such as `loans.payment.posted`."""
    entry = build_entry(actor=actor, action=action, target=target, reason=reason, before=before, after=after, data=data)
    entry.save()
    return entry


def log_batch(*, actor, action, model, entries, before=None, after=None):
    """Append one entry per (target id, target label, data) triple, all of `action` on targets of
    `model` (with the same `before` and `after`), in multi-row INSERTs (core.sql.insert_rows): for
    batch work that logs thousands of targets (the label is what str(target) gives)."""
    who = _actor_fields(actor)
    common = {
        "actor_kind": who["actor_kind"],
        "actor_id": getattr(who["actor"], "pk", None),
        "actor_label": who["actor_label"],
        "action": action,
        "target_type_id": ContentType.objects.get_for_model(model).pk,
        "before": before,
        "after": after,
    }
    insert_rows(
        ActivityLog,
        [
            {**common, "target_id": str(pk), "target_repr": label[:255], "data": data or {}}
            for pk, label, data in entries
        ],
    )


def log_pii_read(*, actor, model, targets, action):
    """An API read that answered with personal data unmasked (ID numbers, phones): one entry per
    object shown, `targets` as (id, label) pairs, in one INSERT. A read of masked data logs nothing."""
    log_batch(actor=actor, action=action, model=model, entries=[(pk, label, {"via": "api"}) for pk, label in targets])
