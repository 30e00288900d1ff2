"""A user's permissions and roles are read once and kept in the shared cache (core/auth.py); every
change that can alter them is seen by the next request."""

import os

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache, caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from core import auth, roles
from core.apps import sync_roles
from core.permissions import has_role
from tests.collection.factories import make_case

pytestmark = pytest.mark.django_db
CASES = "/api/v1/cases/"


@pytest.fixture(autouse=True)
def role_permissions():
    sync_roles()


def permission(dotted):
    app_label, _, codename = dotted.partition(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def auth_queries(client, path=CASES):
    """The response's status and the queries it made on users' groups and permissions."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, [q["sql"] for q in queries if "auth_permission" in q["sql"] or "auth_user_groups" in q["sql"]]


def test_an_api_clients_permissions_and_roles_are_read_once_then_kept(api_client_for):
    make_case()
    client = api_client_for("core-banking", "collection.view_collectioncase")
    status, first = auth_queries(client)
    assert status == 200 and len(first) == 2  # its own permissions; its groups with theirs
    assert auth_queries(client) == (200, [])
    assert auth_queries(client) == (200, [])


def test_a_permission_granted_or_taken_away_counts_from_the_next_request(api_client_for):
    client = api_client_for("gateway")
    assert client.get(CASES).status_code == 403
    client.user.user_permissions.add(permission("collection.view_collectioncase"))
    assert client.get(CASES).status_code == 200
    client.user.user_permissions.clear()
    assert client.get(CASES).status_code == 403


def test_a_groups_permissions_and_membership_count_from_the_next_request(api_client_for):
    client = api_client_for("reporting", groups=["reporting"])
    group = Group.objects.get(name="reporting")
    assert client.get(CASES).status_code == 403
    group.permissions.add(permission("collection.view_collectioncase"))
    assert client.get(CASES).status_code == 200
    client.user.groups.remove(group)
    assert client.get(CASES).status_code == 403
    client.user.groups.add(group)
    assert client.get(CASES).status_code == 200
    group.delete()  # its memberships go by cascade, which sends no m2m signal
    assert client.get(CASES).status_code == 403


def test_roles_follow_group_changes_and_renames():
    user = User.objects.create_user("li")
    assert not has_role(User.objects.get(pk=user.pk), roles.MANAGER)
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    assert has_role(User.objects.get(pk=user.pk), roles.MANAGER)
    Group.objects.filter(name=roles.MANAGER).update(name="renamed")  # behind the ORM's signals
    assert has_role(User.objects.get(pk=user.pk), roles.MANAGER)  # kept until a change is signalled
    group = Group.objects.get(name="renamed")
    group.save()
    assert not has_role(User.objects.get(pk=user.pk), roles.MANAGER)
    assert auth.role_names(User.objects.get(pk=user.pk)) == {"renamed"}


def test_a_sign_in_does_not_throw_the_cache_away_but_other_user_changes_do():
    user = User.objects.create_user("wang")
    auth.role_names(user)
    version = cache.get(auth.VERSION_KEY)
    user.save(update_fields=["last_login"])
    assert cache.get(auth.VERSION_KEY) == version
    user.is_staff = True
    user.save()
    assert cache.get(auth.VERSION_KEY) != version


def test_a_change_sets_a_new_version_again_once_committed(django_capture_on_commit_callbacks):
    user = User.objects.create_user("zhao")
    auth.role_names(user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user.groups.add(Group.objects.get(name=roles.OFFICER))
        in_transaction = cache.get(auth.VERSION_KEY)
    assert callbacks and cache.get(auth.VERSION_KEY) != in_transaction


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_with_redis_every_process_shares_the_entries_and_their_version(api_client_for):
    """The product's cache when REDIS_URL is set (settings.CACHES), on a database of Redis of its own:
    what one process stores, another reads, and a change made in one is seen by the other."""
    location = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/15"
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, "KEY_PREFIX": "t"}
    with override_settings(CACHES={"default": redis}):
        cache.clear()
        try:
            client = api_client_for("core-banking", "collection.view_collectioncase")
            assert client.get(CASES).status_code == 200
            other_process = caches.create_connection("default")
            entry = other_process.get(f"auth:user:{client.user.pk}")
            assert entry["user"] == {"collection.view_collectioncase"} and roles.API_CLIENT in entry["roles"]
            assert entry["version"] == other_process.get(auth.VERSION_KEY)
            client.user.user_permissions.clear()
            assert other_process.get(auth.VERSION_KEY) != entry["version"]
            assert client.get(CASES).status_code == 403
        finally:
            cache.clear()


def test_an_inactive_user_is_granted_nothing_its_groups_hold():
    user = User.objects.create_user("qian")
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    assert User.objects.get(pk=user.pk).has_perm("collection.view_collectioncase")
    user.is_active = False
    user.save()
    assert not User.objects.get(pk=user.pk).has_perm("collection.view_collectioncase")
