"""A user's permissions and role names, kept in the shared cache between requests.

Django's ModelBackend reads a user's permissions from the database once per user object, and a token
request builds a new user object every time: an API client holding `collection.view_collectioncase`
paid three queries a request (its permissions, its groups' and its role names) before any work, which
cost the case list two fifths of its throughput. Here they are read once and kept in the cache
(settings.CACHES: Redis when REDIS_URL is set, so every web worker, Celery task and management
command shares it) under a version.

Any change that can alter what a user may do (a user's groups or permissions, a group's permissions
or name, a user, group or permission saved or deleted) sets a new version, and again once its
transaction has committed, so the next request anywhere reads the database again. Entries also expire after
ENTRY_SECONDS, which bounds what a change made behind the ORM's back (raw SQL) can leave stale. A
user's `is_active` and `is_superuser` are never cached: they come with the user row that every
request reads."""

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

VERSION_KEY = "auth:version"
ENTRY_SECONDS = 300


def _entry(user):
    """{"user": perms, "group": perms, "roles": group names} for a signed-in user, read once per user
    object, as ModelBackend keeps its own (the backend below grants an inactive user nothing)."""
    entry = getattr(user, "_auth_entry", None)
    if entry is not None:
        return entry
    key = f"auth:user:{user.pk}"
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    entry = found.get(key)
    if entry is None or entry["version"] != version:
        # Read after the version: a change committed meanwhile sets a newer one, and this entry,
        # stored under the older, is never used.
        entry = {"version": version, "user": ModelBackend().get_user_permissions(user), **_groups(user)}
        cache.set(key, entry, ENTRY_SECONDS)
    user._auth_entry = entry
    return entry


def _groups(user):
    """The user's group names and their permissions, in one query (ModelBackend takes one for the
    permissions alone; a group without any still names a role)."""
    rows = user.groups.values_list("name", "permissions__content_type__app_label", "permissions__codename")
    group = {f"{app_label}.{codename}" for _name, app_label, codename in rows if codename}
    if user.is_superuser:
        group = ModelBackend().get_group_permissions(user)  # every permission, as ModelBackend says
    return {"group": group, "roles": {name for name, _app_label, _codename in rows}}


def role_names(user) -> set:
    """The names of the user's groups (its roles, core/roles.py)."""
    if user is None or not user.is_authenticated:
        return set()
    return _entry(user)["roles"]


class CachedModelBackend(ModelBackend):
    """ModelBackend with each user's permissions read from the cache (see above)."""

    def get_user_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return _entry(user_obj)["user"]

    def get_group_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return _entry(user_obj)["group"]


def invalidate():
    """A new version now, and another once the current transaction commits: an entry read in between,
    from the database as it was before the commit, is stored under the first and never used."""
    _new_version()
    transaction.on_commit(_new_version)


def _new_version():
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _changed(sender, **kwargs):
    if sender is get_user_model() and kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # every sign-in saves the user; nothing it may do changes
    invalidate()


def _signed_in(sender, request, user, **kwargs):
    from .middleware import session_refreshed

    if request is not None and hasattr(request, "session"):
        session_refreshed(request.session)


def connect_signals():
    user_logged_in.connect(_signed_in, dispatch_uid="core.auth.signed_in")
    User = get_user_model()
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"core.auth.m2m.{through._meta.label}")
    for model in (User, Group, Permission):
        post_save.connect(_changed, sender=model, dispatch_uid=f"core.auth.save.{model._meta.label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"core.auth.delete.{model._meta.label}")
