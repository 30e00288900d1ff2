"""The admin site's titles, the read-only audit log, the mixin that makes admin writes leave an
audit entry like service writes do, and the users' unlock action."""

import json
import re

from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .audit import log_action
from .models import ActivityLog, AuditVerification

admin.site.site_header = _("Huishou collections administration")
admin.site.site_title = _("Huishou")
admin.site.index_title = _("Back office")


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted through the admin (works for inlines too)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BoundedCountPaginator(Paginator):
    """For the admin's lists of tables that grow to millions of rows (loans, instalments, payments,
    allocation lines, cases, the audit log): an exact COUNT(*) reads the whole table or the whole
    match and took seconds on a million-loan book. The whole table is counted from PostgreSQL's own
    estimate (pg_class.reltuples, kept by autovacuum); a search or a filter is counted up to
    COUNT_LIMIT rows, which is as far as anyone pages."""

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        if not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                estimate = cursor.fetchone()[0]
            if estimate > self.COUNT_LIMIT:  # -1: never analysed; small: counted exactly below
                return estimate
        return queryset[: self.COUNT_LIMIT + 1].count()


class BigTableAdminMixin:
    """A changelist that stays fast on a million-row table: bounded counts, no second count of the
    whole table, no date drill-down (it reads every row's date)."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    date_hierarchy = None
    # Search fields are exact lookups, which the tables' indexes answer (a `contains` search reads
    # every row). A model may name how a typed term is stored (a phone number without its country
    # code): the list then matches either.
    search_term_stored_as = None

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        stored = self.search_term_stored_as(search_term.strip()) if self.search_term_stored_as else None
        if stored and stored != search_term.strip():
            more, more_duplicates = super().get_search_results(request, queryset, stored)
            return results | more, may_have_duplicates or more_duplicates
        return results, may_have_duplicates


# --- Audit of admin writes --------------------------------------------------------------------------


def audit_code(model):
    """The dotted prefix of a model's audit actions: ContactPoint in borrowers -> `borrowers.contact_point`."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", model._meta.object_name).lower()
    return f"{model._meta.app_label}.{name}"


def audit_snapshot(obj, names=None):
    """A row's editable field values as the audit log keeps them (foreign keys as ids)."""
    return {
        field.name: field.value_from_object(obj)
        for field in obj._meta.concrete_fields
        if field.editable and not field.primary_key and (names is None or field.name in names)
    }


def _changes(initial, obj, names):
    """The fields among `names` whose saved value differs from the form's initial value, before and
    after. A form may report a field as changed when only its spelling did (a phone number typed
    without +86 that cleans to the same canonical value); that is no change."""
    after = audit_snapshot(obj, names)
    changed = [name for name in after if initial.get(name) != after[name]]
    return {name: initial.get(name) for name in changed}, {name: after[name] for name in changed}


def _without_pk(values, model):
    return {name: value for name, value in values.items() if name != model._meta.pk.name}


class AuditedAdminMixin:
    """Admin writes leave the same kind of ActivityLog entry as service writes: `<app>.<model>.created`
    (with the values), `.changed` (the changed fields before and after; nothing is logged when nothing
    changed) and `.deleted`. Rows saved through an inline are logged against the parent row, so they
    show up in its history. The actor is the signed-in user. Fields named in `audit_hidden` (a
    secret) are logged as changed, never with their value."""

    audit_hidden = ()
    audit_m2m = ()  # many-to-many fields whose changes are logged too (a user's groups and permissions)

    def _shown(self, values):
        return {name: "(hidden)" if name in self.audit_hidden else value for name, value in values.items()}

    def audit_target(self, obj):
        """The row an entry is filed under; a child row (a contact point) may answer its parent."""
        return obj

    def save_model(self, request, obj, form, change):
        initial = dict(form.initial)  # the values the form was opened with
        super().save_model(request, obj, form, change)
        code, target = audit_code(type(obj)), self.audit_target(obj)
        data = {} if target is obj else {"id": obj.pk, "object": str(obj)}
        if not change:
            after = self._shown(audit_snapshot(obj))
            log_action(actor=request.user, action=f"{code}.created", target=target, after=after, data=data)
            return
        before, after = _changes(initial, obj, form.changed_data)
        if after:
            before, after = self._shown(before), self._shown(after)
            log_action(
                actor=request.user, action=f"{code}.changed", target=target, before=before, after=after, data=data
            )

    def save_related(self, request, form, formsets, change):
        names = [name for name in self.audit_m2m if name in form.fields]
        before = {name: sorted(str(item) for item in form.initial.get(name) or []) for name in names}
        super().save_related(request, form, formsets, change)
        obj = form.instance
        after = {name: sorted(str(item) for item in getattr(obj, name).all()) for name in names}
        changed = [name for name in names if before[name] != after[name]]
        if changed:
            log_action(
                actor=request.user,
                action=f"{audit_code(type(obj))}.changed",
                target=self.audit_target(obj),
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )

    def delete_model(self, request, obj):
        # Logged first: after the delete the row has no primary key left to name.
        self._log_deleted(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._log_deleted(request, obj)
        super().delete_queryset(request, queryset)

    def _log_deleted(self, request, obj):
        target = self.audit_target(obj)
        data = {} if target is obj else {"id": obj.pk, "object": str(obj)}
        log_action(
            actor=request.user,
            action=f"{audit_code(type(obj))}.deleted",
            target=target,
            before=self._shown(audit_snapshot(obj)),
            data=data,
        )

    def save_formset(self, request, form, formset, change):
        # Taken before saving: the forms' instances already carry the new values, and a deleted row
        # loses its primary key.
        initial = {id(f.instance): (f.instance.pk, f.initial) for f in formset.initial_forms}
        super().save_formset(request, form, formset, change)
        code, parent = audit_code(formset.model), form.instance
        for obj in formset.new_objects:
            log_action(
                actor=request.user,
                action=f"{code}.created",
                target=parent,
                after=audit_snapshot(obj),
                data={"id": obj.pk, "object": str(obj)},
            )
        for obj, names in formset.changed_objects:
            before, after = _changes(initial[id(obj)][1], obj, names)
            if after:
                log_action(
                    actor=request.user,
                    action=f"{code}.changed",
                    target=parent,
                    before=before,
                    after=after,
                    data={"id": obj.pk, "object": str(obj)},
                )
        for obj in formset.deleted_objects:
            pk, values = initial[id(obj)]
            log_action(
                actor=request.user,
                action=f"{code}.deleted",
                target=parent,
                before=_without_pk(values, formset.model),
                data={"id": pk, "object": str(obj)},
            )


# --- The audit log ----------------------------------------------------------------------------------


def _pretty_json(value):
    if value in (None, {}, []):
        return "-"
    text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


@admin.register(ActivityLog)
class ActivityLogAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log, read-only for everyone: the model is append-only, and nobody (superusers
    included) may add, change or delete an entry through the admin."""

    list_display = ("created_at", "actor_label", "actor_kind", "action", "target_type", "target_link")
    list_filter = ("actor_kind", "action", "target_type")
    list_select_related = ("target_type",)
    search_fields = ("action", "actor_label", "target_repr", "=target_id")
    fieldsets = (
        (None, {"fields": ("created_at", "action", "reason")}),
        (_("Actor"), {"fields": ("actor_kind", "actor", "actor_label")}),
        (_("Target"), {"fields": ("target_type", "target_id", "target_link")}),
        (_("Data"), {"fields": ("before_pretty", "after_pretty", "data_pretty")}),
    )
    readonly_fields = (
        "created_at",
        "action",
        "reason",
        "actor_kind",
        "actor",
        "actor_label",
        "target_type",
        "target_id",
        "target_link",
        "before_pretty",
        "after_pretty",
        "data_pretty",
    )

    @admin.display(description=_("target"), ordering="target_repr")
    def target_link(self, obj):
        """The target's admin page when the admin has one; its recorded name otherwise."""
        if obj.target_type is None or not obj.target_id:
            return obj.target_repr or "-"
        try:
            url = reverse(
                f"admin:{obj.target_type.app_label}_{obj.target_type.model}_change",
                args=[quote(obj.target_id)],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return obj.target_repr
        return format_html('<a href="{}">{}</a>', url, obj.target_repr or obj.target_id)

    @admin.display(description=_("before"))
    def before_pretty(self, obj):
        return _pretty_json(obj.before)

    @admin.display(description=_("after"))
    def after_pretty(self, obj):
        return _pretty_json(obj.after)

    @admin.display(description=_("data"))
    def data_pretty(self, obj):
        return _pretty_json(obj.data)


# --- Users: unlocking sign-in -----------------------------------------------------------------------

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AuditedAdminMixin, auth_admin.UserAdmin):
    """contrib.auth's user admin, audited (who made whom staff, a superuser, a member of a role or
    the holder of a permission such as `unmask_pii`; the password hash is never logged), with an
    action that lifts django-axes' lock on the chosen users at once instead of after the cool-off."""

    actions = ["unlock_sign_in"]
    audit_hidden = ("password",)
    audit_m2m = ("groups", "user_permissions")

    @admin.action(description=_("Unlock sign-in (clear failed attempts)"), permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        for user in queryset:
            cleared = axes_reset(username=user.username)
            log_action(actor=request.user, action="auth.user.unlocked", target=user, data={"attempts": cleared})
        self.message_user(
            request,
            ngettext("Sign-in unlocked for %(count)d user.", "Sign-in unlocked for %(count)d users.", len(queryset))
            % {"count": len(queryset)},
            messages.SUCCESS,
        )


@admin.register(Group)
class GroupAdmin(AuditedAdminMixin, auth_admin.GroupAdmin):
    """A role's permissions, audited (core.roles sets them on every migrate: a change made here lasts
    until then, and the log says who made it)."""

    audit_m2m = ("permissions",)


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each walk of the activity log's chain (manage.py audit_verify, nightly by beat)."""

    list_display = ["checked_at", "entries", "unsealed", "first_broken"]
    list_select_related = ["first_broken"]
