import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from borrowers.models import ContactPoint
from core.admin import audit_code, audit_snapshot
from core.audit import log_action
from core.models import ActivityLog
from tests.borrowers.factories import BorrowerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:core_activitylog_changelist")


@pytest.fixture
def borrower():
    return BorrowerFactory(name="李四")


@pytest.fixture
def entry(admin_user, borrower):
    return log_action(
        actor=admin_user,
        action="borrowers.borrower.changed",
        target=borrower,
        reason="moved house",
        before={"address": "北京市东城区"},
        after={"address": "上海市黄浦区", "phone": "+8613812345678"},
    )


@pytest.fixture
def system_entry():
    return log_action(actor="system", action="collection.case.opened", data={"days_past_due": 1})


def change_url(entry):
    return reverse("admin:core_activitylog_change", args=[entry.pk])


def results(response):
    return list(response.context["cl"].result_list)


def test_site_header_and_title_are_huishou(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["site_header"] == admin.site.site_header
    assert str(admin.site.site_header) == "Huishou collections administration"
    assert str(admin.site.site_title) == "Huishou"


def test_activity_log_changelist_shows_time_actor_action_and_linked_target(admin_client, entry, borrower):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert results(response) == [entry]
    content = response.content.decode()
    assert "borrowers.borrower.changed" in content
    assert "admin" in content
    assert reverse("admin:borrowers_borrower_change", args=[borrower.pk]) in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("borrowers.borrower", "entry"),
        ("collection.case", "system_entry"),
        ("李四", "entry"),
        ("system", "system_entry"),
    ],
)
def test_activity_log_search_by_action_actor_and_target(admin_client, entry, system_entry, query, expected):
    wanted = {"entry": entry, "system_entry": system_entry}[expected]

    response = admin_client.get(CHANGELIST, {"q": query})

    assert results(response) == [wanted]


def test_activity_log_search_by_target_id(admin_client, entry, system_entry, borrower):
    response = admin_client.get(CHANGELIST, {"q": str(borrower.pk)})

    assert results(response) == [entry]


def test_activity_log_filters_by_actor_kind_action_target_type_and_date(admin_client, entry, system_entry):
    assert results(admin_client.get(CHANGELIST, {"actor_kind": "system"})) == [system_entry]
    assert results(admin_client.get(CHANGELIST, {"action": "borrowers.borrower.changed"})) == [entry]
    assert results(admin_client.get(CHANGELIST, {"target_type__id__exact": entry.target_type_id})) == [entry]
    day = timezone.localtime(entry.created_at)  # the admin's date filter is in the lender's time zone
    by_day = {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day}
    response = admin_client.get(CHANGELIST, by_day)
    assert response.status_code == 200
    assert set(results(response)) >= {entry}


def test_activity_log_change_page_is_read_only_with_pretty_printed_json(admin_client, entry):
    response = admin_client.get(change_url(entry))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["adminform"].form.fields == {}  # every field is shown read-only
    content = response.content.decode()
    assert "<pre" in content
    assert "上海市黄浦区" in content  # readable, not \u-escaped
    assert "moved house" in content
    assert 'name="_save"' not in content


def test_activity_log_cannot_be_added_through_the_admin(admin_client):
    assert admin_client.get(reverse("admin:core_activitylog_add")).status_code == 403
    assert admin_client.post(reverse("admin:core_activitylog_add"), {"action": "forged"}).status_code == 403
    assert not ActivityLog.objects.filter(action="forged").exists()


def test_activity_log_cannot_be_changed_through_the_admin(admin_client, entry):
    response = admin_client.post(change_url(entry), {"action": "forged", "reason": "forged"})

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.action == "borrowers.borrower.changed"


def test_activity_log_cannot_be_deleted_through_the_admin(admin_client, entry):
    delete_url = reverse("admin:core_activitylog_delete", args=[entry.pk])

    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ActivityLog.objects.filter(pk=entry.pk).exists()


def test_activity_log_offers_no_bulk_delete(admin_client, entry):
    response = admin_client.get(CHANGELIST)
    assert response.context["action_form"] is None  # no delete permission: no actions at all

    admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert ActivityLog.objects.filter(pk=entry.pk).exists()


def test_activity_log_admin_denies_even_superusers(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[ActivityLog]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_audit_code_is_app_and_snake_case_model_name():
    assert audit_code(ContactPoint) == "borrowers.contact_point"
    assert audit_code(ActivityLog) == "core.activity_log"


def test_audit_snapshot_keeps_editable_fields_with_foreign_keys_as_ids(borrower):
    point = ContactPoint.objects.create(borrower=borrower, channel="email", value="a@example.cn")

    snapshot = audit_snapshot(point)

    assert snapshot["borrower"] == borrower.pk
    assert snapshot["value"] == "a@example.cn"
    assert "id" not in snapshot
    assert "created_at" not in snapshot
    assert audit_snapshot(point, ["value"]) == {"value": "a@example.cn"}


def test_activity_log_changelist_query_count_is_bounded(admin_client, admin_user, django_assert_max_num_queries):
    def add_entries(count):
        for _ in range(count):
            log_action(actor=admin_user, action="borrowers.borrower.changed", target=BorrowerFactory())

    add_entries(5)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    add_entries(20)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(CHANGELIST)

    assert len(results(response)) == 25


# --- Who changed whom: users, roles and permissions ---------------------------------------------------


def user_form(user, **changes):
    """The admin's change form for `user` as the page would post it, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [g.pk for g in user.groups.all()],
        "user_permissions": [p.pk for p in user.user_permissions.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_granting_staff_and_unmask_pii_leaves_an_entry_without_the_password(admin_client, admin_user):
    from django.contrib.auth.models import Permission, User

    officer = User.objects.create_user("wang", password="secret-pw")
    unmask = Permission.objects.get(codename="unmask_pii")
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[officer.pk]),
        user_form(officer, is_staff="on", user_permissions=[unmask.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entries = ActivityLog.objects.filter(action="auth.user.changed", target_id=str(officer.pk))
    assert any((entry.after or {}).get("is_staff") is True for entry in entries)
    granted = next(entry for entry in entries if "user_permissions" in (entry.after or {}))
    assert granted.before == {"user_permissions": []} and "unmask" in granted.after["user_permissions"][0].lower()
    assert all(entry.actor_id == admin_user.pk for entry in entries)
    officer.refresh_from_db()
    assert officer.password not in str([(e.before, e.after) for e in ActivityLog.objects.all()])


def test_changing_a_roles_permissions_leaves_an_entry(admin_client):
    from django.contrib.auth.models import Group, Permission

    role = Group.objects.create(name="auditor-2")
    view = Permission.objects.get(codename="view_activitylog")
    response = admin_client.post(
        reverse("admin:auth_group_change", args=[role.pk]), {"name": "auditor-2", "permissions": [view.pk]}
    )
    assert response.status_code == 302
    entry = ActivityLog.objects.get(action="auth.group.changed", target_id=str(role.pk))
    assert entry.before == {"permissions": []} and len(entry.after["permissions"]) == 1
