"""Back-office pages for collection teams, cases, contacts, promises and approvals.

Teams are edited here (every write logged). Everything else is recorded by the services and the
daily run, so it is read-only: a case is never added, edited or deleted in the admin, and its state
moves only through the actions below, which call the same services as the UI and the API. A service's
refusal (wrong state, not permitted, someone else was first) becomes a message, never an error page."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import flatten_fieldsets, quote
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from borrowers.validators import phone_search_term
from core import roles
from core.admin import AuditedAdminMixin, BigTableAdminMixin, ReadOnlyAdminMixin, audit_code
from core.audit import log_action
from core.errors import ApplicationError
from core.permissions import is_manager

from .choices import CaseState
from .models import (
    Approval,
    CollectionCase,
    CollectionStrategy,
    ContactAttempt,
    PromiseToPay,
    Reminder,
    ReminderTemplate,
    RestructuringPlan,
    StrategyStep,
    Team,
)
from .restructuring import plan_approve, plan_reject
from .services import approval_decide, case_resolve, cases_reassign


def _report(modeladmin, request, *, done, success, failures):
    """One success message for the items that went through, one error message per item that did not."""
    if done:
        modeladmin.message_user(request, success, messages.SUCCESS)
    for obj, error in failures:
        modeladmin.message_user(
            request, gettext("%(object)s: %(error)s") % {"object": obj, "error": error.message}, messages.ERROR
        )


# --- Teams ------------------------------------------------------------------------------------------


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Teams, their products and officers; editable, every change logged. AuditedAdminMixin logs the
    plain fields (name, lead); the products and members are logged here, once they are saved, as a
    second `collection.team.changed` entry with the ids before and after."""

    many_to_many = ("products", "members")

    list_display = ("name", "lead", "products_display", "member_count", "open_case_count")
    list_select_related = ("lead",)
    search_fields = ("name",)
    filter_horizontal = many_to_many
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "lead")}),
        (_("Work"), {"fields": many_to_many}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        open_cases = (
            CollectionCase.objects.filter(team=OuterRef("pk"), state__in=CaseState.open_states())
            .order_by()
            .values("team")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related("products")
            .annotate(
                member_count=Count("members", distinct=True),
                open_case_count=Coalesce(Subquery(open_cases, output_field=IntegerField()), Value(0)),
            )
        )

    @admin.display(description=_("products served"))
    def products_display(self, obj):
        return ", ".join(product.name for product in obj.products.all()) or "-"

    @admin.display(description=_("officers"), ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    @admin.display(description=_("open cases"), ordering="open_case_count")
    def open_case_count(self, obj):
        return obj.open_case_count

    def save_related(self, request, form, formsets, change):
        def ids(values):
            return sorted(getattr(value, "pk", value) for value in values)

        before = {name: ids(form.initial.get(name, [])) if change else [] for name in self.many_to_many}
        super().save_related(request, form, formsets, change)
        after = {name: ids(getattr(form.instance, name).all()) for name in self.many_to_many}
        changed = [name for name in self.many_to_many if before[name] != after[name]]
        if changed:
            log_action(
                actor=request.user,
                action=f"{audit_code(Team)}.changed",
                target=form.instance,
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )


# --- Cases ------------------------------------------------------------------------------------------


class ContactAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ContactAttempt
    fields = ("attempted_at", "channel", "direction", "party", "outcome", "by", "note")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by")


class PromiseToPayInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PromiseToPay
    fields = ("amount", "promised_for", "status", "paid_amount", "judged_on", "recorded_by", "note")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


class ApprovalInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Approval
    fields = ("created_at", "action", "status", "requested_by", "reason", "decided_by", "decided_at", "decision_note")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by", "decided_by")


class CaseActionForm(ActionForm):
    """The action menu, with the officer "Reassign to officer…" hands the selected cases to."""

    officer = forms.ModelChoiceField(
        queryset=get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.OFFICER, roles.MANAGER])
        .distinct()
        .order_by("username"),
        required=False,
        label=_("Reassign to"),
    )


@admin.register(CollectionCase)
class CollectionCaseAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """Cases, read-only: the daily run opens them and keeps their figures current, and their state
    moves only through the services. The actions here call those services case by case."""

    list_display = (
        "id",
        "loan_external_id",
        "borrower_name",
        "state",
        "severity",
        "officer",
        "team",
        "days_past_due",
        "overdue_amount",
        "priority_score",
        "opened_on",
        "next_action_at",
    )
    list_display_links = ("id", "loan_external_id")
    list_filter = (
        "state",
        "severity",
        "team",
        ("officer", admin.RelatedOnlyFieldListFilter),
        "loan__product__kind",
    )
    list_select_related = ("loan__borrower", "officer", "team")
    search_term_stored_as = staticmethod(phone_search_term)
    search_fields = (
        "loan__external_id__exact",
        "loan__borrower__name__exact",
        "loan__borrower__id_number__exact",
        "loan__borrower__phone__exact",
    )
    action_form = CaseActionForm
    actions = ["resolve_cases", "reassign_cases"]
    inlines = [ContactAttemptInline, PromiseToPayInline, ApprovalInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "loan",
                    "borrower_link",
                    ("state", "severity"),
                    ("team", "officer"),
                    "priority_score",
                    "next_action_at",
                )
            },
        ),
        (
            _("Overdue"),
            {
                "fields": (
                    "opened_on",
                    ("days_past_due", "overdue_amount"),
                    ("days_past_due_at_open", "overdue_amount_at_open"),
                )
            },
        ),
        (
            _("Classification"),
            {"fields": ("classification_reasons_display", "classified_by_officer", "override_reason", "classified_at")},
        ),
        (
            _("What the contacts have shown"),
            {
                "fields": (
                    ("last_contact_at", "last_reached_at"),
                    ("unreachable", "refused_to_pay", "hardship_documented"),
                    ("suspected_evasion", "collateral_at_risk"),
                    ("broken_promises", "kept_promises"),
                )
            },
        ),
        (_("Grace and hold"), {"fields": ("grace_until", ("hold_reason", "held_from_state"))}),
        (_("Closing"), {"fields": ("closed_on", "resolution_reason")}),
        (_("Record"), {"fields": ("version", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)

    def has_add_permission(self, request):
        return False  # the daily run opens cases

    def has_change_permission(self, request, obj=None):
        return False  # a case changes only through the services: see the actions

    def has_delete_permission(self, request, obj=None):
        return False

    def has_work_permission(self, request):
        """Who is offered the workflow actions: holders of the model's change permission (managers).
        The service still decides, case by case."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def has_manage_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.manage_cases")

    @admin.display(description=_("loan"), ordering="loan__external_id")
    def loan_external_id(self, obj):
        return obj.loan.external_id

    @admin.display(description=_("borrower"), ordering="loan__borrower__name")
    def borrower_name(self, obj):
        return obj.loan.borrower.name

    @admin.display(description=_("borrower"))
    def borrower_link(self, obj):
        borrower = obj.loan.borrower
        try:
            url = reverse(
                "admin:borrowers_borrower_change", args=[quote(borrower.pk)], current_app=self.admin_site.name
            )
        except NoReverseMatch:
            return borrower.name
        return format_html('<a href="{}">{}</a>', url, borrower.name)

    @admin.display(description=_("classification reasons"))
    def classification_reasons_display(self, obj):
        """The reasons the rules gave when the case was classified, as they were worded then."""
        reasons = [(reason.get("message") or reason.get("code", ""),) for reason in obj.classification_reasons or []]
        if not reasons:
            return "-"
        return format_html(
            '<ul style="margin: 0; padding-left: 1em">{}</ul>', format_html_join("", "<li>{}</li>", reasons)
        )

    @admin.action(description=_("Resolve selected cases (nothing overdue)"), permissions=["work"])
    def resolve_cases(self, request, queryset):
        resolved, failures = 0, []
        for case in queryset.select_related("loan", "team"):
            try:
                case_resolve(actor=request.user, case=case)
            except ApplicationError as error:
                failures.append((case, error))
            else:
                resolved += 1
        _report(
            self,
            request,
            done=resolved,
            success=ngettext("Resolved %(count)d case.", "Resolved %(count)d cases.", resolved) % {"count": resolved},
            failures=failures,
        )

    @admin.action(description=_("Reassign to officer…"), permissions=["manage"])
    def reassign_cases(self, request, queryset):
        try:
            officer = self.action_form.base_fields["officer"].clean(request.POST.get("officer"))
        except ValidationError:
            officer = None
        if officer is None:
            self.message_user(request, gettext("Choose the officer to reassign the cases to."), messages.ERROR)
            return
        case_ids = list(queryset.values_list("pk", flat=True))
        try:
            cases = cases_reassign(
                actor=request.user, case_ids=case_ids, officer=officer, reason=gettext("Reassigned in the admin")
            )
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            ngettext(
                "Reassigned %(count)d case to %(officer)s.", "Reassigned %(count)d cases to %(officer)s.", len(cases)
            )
            % {"count": len(cases), "officer": officer.get_username()},
            messages.SUCCESS,
        )


# --- Contacts and promises --------------------------------------------------------------------------


@admin.register(ContactAttempt)
class ContactAttemptAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Contact attempts, read-only: officers record them through `contact_log`."""

    list_display = ("attempted_at", "case", "channel", "direction", "party", "outcome", "by")
    list_filter = ("channel", "outcome", "party", "direction")
    list_select_related = ("case__loan", "by")
    search_fields = ("case__loan__external_id__exact",)


@admin.register(PromiseToPay)
class PromiseToPayAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Promises to pay, read-only: recorded through `promise_record`, judged by the daily run."""

    list_display = ("case", "amount", "promised_for", "status", "paid_amount", "judged_on", "recorded_by")
    list_filter = ("status",)
    list_select_related = ("case__loan", "recorded_by")
    search_fields = ("case__loan__external_id__exact",)


# --- Approvals --------------------------------------------------------------------------------------


class DecideActionsMixin:
    """Approve / reject actions for maker-checker objects, offered to managers (the services accept
    only them, and never for their own request). Subclasses decide one object and word the message."""

    actions = ["approve", "reject"]

    def has_decide_permission(self, request):
        return is_manager(request.user)

    def decide_one(self, request, obj, *, approve):
        raise NotImplementedError

    def decided_message(self, count, *, approve):
        raise NotImplementedError

    def _decide(self, request, queryset, *, approve):
        decided, failures = 0, []
        for obj in queryset:
            try:
                self.decide_one(request, obj, approve=approve)
            except ApplicationError as error:
                failures.append((obj, error))
            else:
                decided += 1
        success = self.decided_message(decided, approve=approve) % {"count": decided}
        _report(self, request, done=decided, success=success, failures=failures)

    @admin.action(description=_("Approve"), permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject"), permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)


@admin.register(Approval)
class ApprovalAdmin(DecideActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Maker-checker requests, read-only; a manager other than the requester approves (the case
    moves) or rejects them with the actions, through `approval_decide`."""

    list_display = ("action", "status", "case", "requested_by", "decided_by", "created_at")
    list_filter = ("action", "status")
    list_select_related = ("case__loan", "requested_by", "decided_by")
    search_fields = ("case__loan__external_id",)
    show_full_result_count = False

    def decide_one(self, request, approval, *, approve):
        note = "" if approve else gettext("Rejected in the admin")
        approval_decide(actor=request.user, approval=approval, approve=approve, note=note)

    def decided_message(self, count, *, approve):
        if approve:
            return ngettext("Approved %(count)d request.", "Approved %(count)d requests.", count)
        return ngettext("Rejected %(count)d request.", "Rejected %(count)d requests.", count)


# --- Reminders --------------------------------------------------------------------------------------


@admin.register(ReminderTemplate)
class ReminderTemplateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Reminder texts in both languages. Saving renders each text with sample values: a text that
    does not render (a typo in a variable, a broken tag, an amount in a third-party text) is refused
    with the error on its field. The lender's name and the opt-out line are added to every message."""

    list_display = ("code", "name", "channel", "recipient", "updated_at")
    list_filter = ("channel", "recipient")
    search_fields = ("code", "name", "body_zh_hans", "body_en")
    readonly_fields = ("variables_help", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "channel", "recipient", "variables_help")}),
        (_("Chinese"), {"fields": ("subject_zh_hans", "body_zh_hans")}),
        (_("English"), {"fields": ("subject_en", "body_en")}),
    )

    @admin.display(description=_("variables"))
    def variables_help(self, obj):
        from .templating import VARIABLES

        rows = [
            (title, format_html_join(", ", "<code>{{{{ {} }}}}</code> ({})", sorted(variables.items())))
            for title, variables in (
                (gettext("To the borrower"), VARIABLES["borrower"]),
                (gettext("To third parties"), VARIABLES["third_party"]),
            )
        ]
        return format_html_join("", "<p><strong>{}</strong>: {}</p>", rows)


class StrategyStepForm(forms.ModelForm):
    case_states = forms.MultipleChoiceField(
        label=_("case states"), choices=CaseState.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = StrategyStep
        fields = (
            "order",
            "anchor",
            "offset_days",
            "channel",
            "template",
            "grace_template",
            "case_states",
            "send_at",
            "is_active",
        )


class StrategyStepInline(admin.TabularInline):
    model = StrategyStep
    form = StrategyStepForm
    extra = 0


@admin.register(CollectionStrategy)
class CollectionStrategyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """One reminder cadence per product kind, with its ordered steps."""

    list_display = ("name", "product_kind", "is_active", "step_count")
    list_filter = ("is_active",)
    inlines = [StrategyStepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description=_("steps"), ordering="step_total")
    def step_count(self, obj):
        return obj.step_total


@admin.register(Reminder)
class ReminderAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox, read-only: planned by the daily run, sent by the dispatcher."""

    list_display = (
        "planned_for",
        "channel",
        "recipient",
        "status",
        "suppression_code",
        "case",
        "loan",
        "attempts",
        "sent_at",
        "delivered_at",
    )
    list_filter = ("status", "channel", "recipient", "suppression_code")
    list_select_related = ("case__loan", "loan")
    search_fields = ("loan__external_id__exact", "idempotency_key__exact", "provider_message_id__exact")


# --- Restructuring plans ----------------------------------------------------------------------------


@admin.register(RestructuringPlan)
class RestructuringPlanAdmin(DecideActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Plans, read-only: proposed through the services; a manager other than the proposer approves or
    rejects submitted ones with the actions (collection.restructuring, maker-checker)."""

    list_display = ("__str__", "case", "state", "kinds", "proposed_by", "decided_by", "created_at")
    list_filter = ("state",)
    list_select_related = ("case__loan", "proposed_by", "decided_by")
    search_fields = ("case__loan__external_id",)

    def decide_one(self, request, plan, *, approve):
        if approve:
            plan_approve(actor=request.user, plan=plan)
        else:
            plan_reject(actor=request.user, plan=plan, note=gettext("Rejected in the admin"))

    def decided_message(self, count, *, approve):
        if approve:
            return ngettext("Approved %(count)d plan.", "Approved %(count)d plans.", count)
        return ngettext("Rejected %(count)d plan.", "Rejected %(count)d plans.", count)
