import pytest
from django.contrib.auth.models import Group
from django.test import Client

from core import roles
from core.apps import sync_roles
from tests.collection.factories import make_user
from tests.conftest import password_login

pytestmark = pytest.mark.django_db


def codes(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_roles_get_the_permissions_the_table_lists():
    sync_roles()
    manager, officer, auditor = codes(roles.MANAGER), codes(roles.OFFICER), codes(roles.AUDITOR)
    assert {"loans.view_loan", "collection.manage_cases", "collection.unmask_pii", "loans.add_payment"} <= manager
    assert {"loans.view_loan", "collection.add_contactattempt"} <= officer
    assert "collection.change_collectioncase" not in officer and "loans.add_payment" not in officer
    assert "core.view_activitylog" in auditor
    assert not any(code.split(".")[1].startswith(("add_", "change_", "delete_")) for code in auditor)
    assert not codes(roles.API_CLIENT)


def test_a_demo_manager_can_browse_loans_in_the_admin():
    sync_roles()
    make_user("boss", roles.MANAGER, is_staff=True)
    client = Client()
    assert password_login(client, "boss", "pw")
    assert client.get("/admin/loans/loan/").status_code == 200
    assert client.get("/admin/core/activitylog/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403
