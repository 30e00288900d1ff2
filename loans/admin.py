"""Back-office pages for products, loans, schedules, payments and collateral.

Balances and schedules are maintained only by the services and the daily run, so they are read-only
here. Loans and payments are added through the same services the API uses (`loan_create`,
`payment_post`); a payment is never edited or deleted (a reversal is a new entry)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from borrowers.validators import phone_search_term
from core.admin import AuditedAdminMixin, BigTableAdminMixin, ReadOnlyAdminMixin, audit_snapshot
from core.audit import log_action
from core.dates import business_today
from core.errors import ApplicationError

from . import delinquency
from .choices import InstallmentStatus
from .models import Collateral, Installment, Loan, LoanProduct, Payment, PaymentAllocation
from .services import loan_create, loan_refresh_balances, payment_post

# The loan fields loan_refresh_balances recomputes.
BALANCE_FIELDS = (
    "status",
    "closed_on",
    "principal_outstanding",
    "interest_outstanding",
    "fees_outstanding",
    "costs_outstanding",
    "penalty_outstanding",
    "overdue_amount",
    "credit_balance",
    "days_past_due",
    "overdue_since",
    "aging_bucket",
    "regulatory_class",
    "ifrs9_stage",
    "balances_as_of",
)


# --- Add forms that save through a service ----------------------------------------------------------


class ServiceAddForm(forms.ModelForm):
    """An admin add form whose save is a service call. The service validates, writes and logs, so it
    replaces Django's model validation (`_post_clean`, a hook contrib.auth's forms override too): a
    refusal becomes a form error naming the field, a repeat of an idempotent request becomes an
    error saying nothing changed, and a success leaves `instance` as the saved row, which the
    admin's `save_form` then hands back."""

    request = None  # set by the ModelAdmin on the class it builds for each request
    already_done_field = None
    already_done_message = None

    def call_service(self, *, actor, data):
        """Return (instance, created)."""
        raise NotImplementedError

    def _post_clean(self):
        if self.errors:
            return
        try:
            instance, created = self.call_service(actor=self.request.user, data=self.cleaned_data)
        except ApplicationError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
            return
        if not created:
            self.add_error(self.already_done_field, self.already_done_message)
            return
        self.instance = instance


class LoanAddForm(ServiceAddForm):
    already_done_field = "external_id"
    already_done_message = _("This loan was already booked under this external id; nothing was changed.")

    class Meta:
        model = Loan
        fields = (
            "external_id",
            "borrower",
            "product",
            "principal",
            "annual_rate",
            "term_months",
            "disbursed_on",
            "first_due_date",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["principal"].initial = None
        self.fields["product"].queryset = LoanProduct.objects.filter(is_active=True)
        self.fields["first_due_date"].required = False
        self.fields["first_due_date"].help_text = _("Leave empty for one month after disbursement.")

    def call_service(self, *, actor, data):
        return loan_create(
            actor=actor,
            external_id=data["external_id"].strip(),
            borrower=data["borrower"],
            product=data["product"],
            principal=data["principal"],
            annual_rate=data["annual_rate"],
            term_months=data["term_months"],
            disbursed_on=data["disbursed_on"],
            first_due_date=data.get("first_due_date"),
        )


class PaymentAddForm(ServiceAddForm):
    already_done_field = "external_reference"
    already_done_message = _("A payment with this external reference was already posted; nothing was changed.")

    class Meta:
        model = Payment
        fields = ("loan", "amount", "external_reference", "channel", "received_at", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = None
        self.fields["received_at"].initial = timezone.now

    def call_service(self, *, actor, data):
        return payment_post(
            actor=actor,
            loan=data["loan"],
            amount=data["amount"],
            external_reference=data["external_reference"],
            channel=data["channel"],
            received_at=data["received_at"],
            note=data.get("note", ""),
        )


class ServiceAddAdminMixin:
    """A ModelAdmin whose add page uses `add_form` and `add_fieldsets` (as contrib.auth's UserAdmin
    does) and whose save is the form's service call."""

    add_form = None
    add_fieldsets = ()

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_inline_instances(self, request, obj=None):
        return [] if obj is None else super().get_inline_instances(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change):
        """On add, the service has saved (and logged) the row already."""


# --- Products ---------------------------------------------------------------------------------------


@admin.register(LoanProduct)
class LoanProductAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The terms loans are sold under; editable, every change logged."""

    list_display = (
        "name",
        "code",
        "kind",
        "repayment_method",
        "penalty_rate",
        "grace_days",
        "allocation_order",
        "classify_day",
        "serious_days",
        "is_active",
    )
    list_filter = ("kind", "repayment_method", "is_active")
    search_fields = ("name", "code")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "repayment_method", "currency", "is_active")}),
        (
            _("Limits"),
            {"fields": (("min_principal", "max_principal"), ("min_term_months", "max_term_months"), "max_annual_rate")},
        ),
        (
            _("Charges"),
            {
                "fields": ("monthly_fee_rate", "first_period_basis", "cost_cap_rate", "grace_days"),
            },
        ),
        (
            _("Default interest"),
            {
                "fields": ("penalty_basis", ("penalty_rate", "penalty_markup")),
                "description": _(
                    "Add-on basis: overdue principal bears the penalty rate on top of the contract interest. "
                    "Markup basis (bank practice, 银发〔2003〕251号): it bears the contract rate raised by the "
                    "markup instead, so the penalty is the contract rate times the markup. Either way the loan's "
                    "comprehensive annual cost plus the penalty never exceeds the cost cap."
                ),
            },
        ),
        (_("Payments and collection"), {"fields": ("allocation_order", "classify_day", "serious_days")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )


# --- Loans ------------------------------------------------------------------------------------------


class InstallmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Installment
    fields = (
        "schedule_version",
        "seq",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "cost_due",
        "penalty_today",
        "total_paid_display",
        "status",
        "is_paid",
        "paid_on",
    )
    readonly_fields = fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.penalties = None  # an inline lives for one request: one loan's penalties, read once

    @admin.display(description=_("penalty as of today"))
    def penalty_today(self, obj):
        if self.penalties is None:
            self.penalties = delinquency.penalties(business_today(), [obj.loan_id])
        return self.penalties.get(obj.pk, obj.penalty_accrued)

    @admin.display(description=_("paid"))
    def total_paid_display(self, obj):
        return obj.total_paid

    @admin.display(description=_("paid in full"), boolean=True)
    def is_paid(self, obj):
        return obj.status == InstallmentStatus.PAID


class PaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Payment
    fk_name = "loan"
    fields = (
        "external_reference",
        "kind",
        "amount",
        "received_at",
        "value_date",
        "channel",
        "unapplied_amount",
        "note",
    )
    readonly_fields = fields
    show_change_link = True


class CollateralInline(admin.StackedInline):
    model = Collateral
    extra = 0
    fields = (
        ("kind", "status"),
        "description",
        ("identifier", "owner_name"),
        ("appraised_value", "appraised_on"),
        ("lien_registered", "lien_reference"),
    )


@admin.register(Loan)
class LoanAdmin(BigTableAdminMixin, ServiceAddAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    """Loans with their schedule, payments and collateral. Loans normally arrive from core banking
    through the API; the add page books one by hand through the same `loan_create` service. Nothing
    on a loan is edited here: balances belong to the services and the daily run (collateral, an
    inline, is editable)."""

    add_form = LoanAddForm
    add_fieldsets = (
        (None, {"fields": ("external_id", "borrower", "product")}),
        (_("Terms"), {"fields": ("principal", "annual_rate", "term_months", "disbursed_on", "first_due_date")}),
    )
    list_display = (
        "external_id",
        "borrower",
        "product",
        "principal",
        "status",
        "days_past_due",
        "aging_bucket",
        "regulatory_class",
        "overdue_amount",
    )
    list_filter = ("status", "aging_bucket", "regulatory_class", "ifrs9_stage", "product__kind", "product")
    list_select_related = ("borrower", "product")
    search_term_stored_as = staticmethod(phone_search_term)
    search_fields = (
        "external_id__exact",
        "borrower__name__exact",
        "borrower__id_number__exact",
        "borrower__phone__exact",
    )
    autocomplete_fields = ("borrower",)
    actions = ["refresh_balances"]
    inlines = [InstallmentInline, PaymentInline, CollateralInline]
    fieldsets = (
        (None, {"fields": ("external_id", "borrower", "product", "status", "closed_on")}),
        (
            _("Terms"),
            {
                "fields": (
                    "currency",
                    "principal",
                    "annual_rate",
                    "term_months",
                    "disbursed_on",
                    "first_due_date",
                    "maturity_date",
                    "annual_cost",
                )
            },
        ),
        (
            _("Balances"),
            {
                "fields": (
                    "principal_outstanding",
                    "interest_outstanding",
                    "fees_outstanding",
                    "costs_outstanding",
                    "penalty_outstanding",
                    "total_outstanding_display",
                    "overdue_amount",
                    "credit_balance",
                    "balances_as_of",
                )
            },
        ),
        (
            _("Delinquency and classification"),
            {
                "fields": (
                    "days_past_due",
                    "overdue_since",
                    "aging_bucket",
                    "regulatory_class",
                    "manual_regulatory_class",
                    "manual_class_reason",
                    "ifrs9_stage",
                    "observation_until",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)

    def has_delete_permission(self, request, obj=None):
        return False  # loans are closed, written off or transferred, never deleted

    def save_model(self, request, obj, form, change):
        """Every loan field is read-only here, so a change saves only the inlines; the loan row is
        not rewritten (which could overwrite balances a payment just changed)."""

    @admin.display(description=_("total outstanding"))
    def total_outstanding_display(self, obj):
        return obj.total_outstanding

    @admin.action(description=_("Refresh balances"), permissions=["change"])
    def refresh_balances(self, request, queryset):
        loan_ids = list(queryset.values_list("pk", flat=True))
        changed = 0
        for loan_id in loan_ids:
            with transaction.atomic():
                # Locked as the payment services lock it, so a refresh never races a posting.
                loan = Loan.objects.select_for_update().get(pk=loan_id)
                before = audit_snapshot(loan, BALANCE_FIELDS)
                loan_refresh_balances(loan=loan, as_of=business_today())
                after = audit_snapshot(loan, BALANCE_FIELDS)
                diff = [name for name in BALANCE_FIELDS if before[name] != after[name] and name != "balances_as_of"]
                if diff:
                    changed += 1
                    log_action(
                        actor=request.user,
                        action="loans.loan.balances_refreshed",
                        target=loan,
                        before={name: before[name] for name in diff},
                        after={name: after[name] for name in diff},
                    )
        count = len(loan_ids)
        self.message_user(
            request,
            ngettext(
                "Refreshed the balances of %(count)d loan (%(changed)d changed).",
                "Refreshed the balances of %(count)d loans (%(changed)d changed).",
                count,
            )
            % {"count": count, "changed": changed},
            messages.SUCCESS,
        )


@admin.register(Installment)
class InstallmentAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Schedule lines, read-only: only the services write them."""

    list_display = (
        "loan",
        "schedule_version",
        "seq",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "cost_due",
        "penalty_today",
        "total_paid_display",
        "status",
        "paid_on",
    )
    list_filter = ("status", "schedule_version")
    list_select_related = ("loan",)
    search_fields = ("loan__external_id__exact",)
    readonly_fields = ("total_paid_display", "total_outstanding_display")

    def get_changelist(self, request, **kwargs):
        return _ScheduleChangeList

    @admin.display(description=_("penalty as of today"))
    def penalty_today(self, obj):
        return obj.penalty_accrued  # set as of today by the change list

    @admin.display(description=_("paid"))
    def total_paid_display(self, obj):
        return obj.total_paid

    @admin.display(description=_("outstanding"))
    def total_outstanding_display(self, obj):
        return obj.total_outstanding


class _ScheduleChangeList(ChangeList):
    """The page's instalments carry their penalty as of today (one query for the page)."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = delinquency.with_penalty(self.result_list, business_today())


# --- Payments ---------------------------------------------------------------------------------------


class PaymentAllocationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentAllocation
    fields = ("installment", "component", "amount", "applied_on")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("installment")


@admin.register(Payment)
class PaymentAdmin(BigTableAdminMixin, ServiceAddAdminMixin, admin.ModelAdmin):
    """Money received. Adding posts through `payment_post` (idempotent by external reference);
    a payment is never changed or deleted here: a reversal is a new entry."""

    add_form = PaymentAddForm
    add_fieldsets = ((None, {"fields": ("loan", "amount", "external_reference", "channel", "received_at", "note")}),)
    list_display = (
        "external_reference",
        "loan",
        "kind",
        "amount",
        "value_date",
        "channel",
        "unapplied_amount",
        "received_at",
    )
    list_filter = ("kind", "channel", "value_date")
    list_select_related = ("loan",)
    search_fields = ("external_reference__exact", "loan__external_id__exact")
    autocomplete_fields = ("loan",)
    inlines = [PaymentAllocationInline]
    fieldsets = (
        (None, {"fields": ("external_reference", "loan", "kind", "amount", "currency", "channel", "note")}),
        (_("Dates"), {"fields": ("received_at", "value_date")}),
        (_("Application"), {"fields": ("unapplied_amount", "reverses", "reversed_by")}),
        (_("Record"), {"fields": ("posted_by", "created_at", "updated_at")}),
    )
    readonly_fields = ("reversed_by", "created_at", "updated_at")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reversed by"))
    def reversed_by(self, obj):
        return getattr(obj, "reversal", None) or "-"


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """How each payment was applied, line by line; read-only."""

    list_display = ("payment", "installment", "component", "amount", "applied_on")
    list_filter = ("component", "applied_on")
    list_select_related = ("payment", "installment")
    search_fields = ("payment__external_reference__exact", "installment__loan__external_id__exact")


# --- Collateral -------------------------------------------------------------------------------------


@admin.register(Collateral)
class CollateralAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Assets securing loans; editable, every change logged against the loan."""

    list_display = (
        "description",
        "kind",
        "identifier",
        "loan",
        "appraised_value",
        "appraised_on",
        "lien_registered",
        "status",
    )
    list_filter = ("kind", "status", "lien_registered")
    list_select_related = ("loan",)
    search_fields = ("identifier", "description", "loan__external_id")
    show_full_result_count = False
    autocomplete_fields = ("loan",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("loan", ("kind", "status"), "description", ("identifier", "owner_name"))}),
        (_("Value and lien"), {"fields": (("appraised_value", "appraised_on"), ("lien_registered", "lien_reference"))}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def audit_target(self, obj):
        return obj.loan
