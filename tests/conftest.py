import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Nothing cached by one test (a user's permissions, throttle counts) is seen by the next."""
    cache.clear()


@pytest.fixture
def system():
    """The actor for work the system does on its own."""
    return "system"


@pytest.fixture
def api_client_for(db):
    """An API client signed in with a token as a user holding the given permissions."""
    from django.contrib.auth.models import Group, Permission, User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from core import roles

    def make(name="api-client", *perms, groups=()):
        user = User.objects.create_user(name)
        for dotted in perms:
            app_label, _, codename = dotted.partition(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        for group in groups or [roles.API_CLIENT]:
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        client.user = user
        return client

    return make


@pytest.fixture
def staff_client(db):
    """A signed-in member of one of the role groups, with the permissions core.roles gives it."""
    from django.contrib.auth.models import Group, User
    from rest_framework.test import APIClient

    from core.apps import sync_roles

    sync_roles()

    def make(role, *, session=False, username=None):
        user = User.objects.create_user(username or f"{role}-user", password="pw")
        user.groups.add(Group.objects.get(name=role))
        client = APIClient()
        if session:
            client.force_login(user)
        else:
            client.force_authenticate(user)
        return client

    return make


def password_login(client, username, password, address="127.0.0.1"):
    """Sign a test client in with a password, from `address`. django-axes checks every
    authentication against the request it came with, which `Client.login` does not pass by itself."""
    from django.test import RequestFactory

    request = RequestFactory(REMOTE_ADDR=address).post("/accounts/login/")
    return client.login(request=request, username=username, password=password)
