"""Back-office pages for borrowers and their contact points. The change forms run the models' own
validation (resident ID, credit code, phone, e-mail), and every write leaves an audit entry."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import AuditedAdminMixin, BigTableAdminMixin

from .models import Borrower, ContactPoint
from .services import borrower_add_own_contact_points
from .validators import phone_search_term


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    fields = ("relation", "contact_name", "channel", "value", "is_verified", "invalid_since", "refused_contact")


@admin.register(Borrower)
class BorrowerAdmin(BigTableAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    """Borrowers, with identifiers and phones masked in the list (the change page shows them whole)."""

    list_display = (
        "name",
        "kind",
        "masked_id_number_display",
        "masked_phone_display",
        "risk_grade",
        "do_not_contact",
        "sms_opt_out",
        "call_opt_out",
        "email_opt_out",
        "is_deceased",
        "is_bankrupt",
    )
    list_filter = ("kind", "risk_grade", "language", "do_not_contact", "is_deceased", "is_bankrupt")
    # contact_points__value spans a one-to-many relation; the admin removes the duplicate rows.
    search_term_stored_as = staticmethod(phone_search_term)
    search_fields = ("name__exact", "id_number__exact", "phone__exact", "email__exact", "contact_points__value__exact")
    inlines = [ContactPointInline]
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (_("Identity"), {"fields": ("kind", "name", "id_number")}),
        (_("Contact"), {"fields": ("phone", "email", "address", "language", "time_zone")}),
        (
            _("Finances"),
            {"fields": ("monthly_income", "employer", "industry", "external_credit_score", "risk_grade")},
        ),
        (
            _("Contact restrictions and consent"),
            {
                "fields": (
                    "do_not_contact",
                    "do_not_contact_reason",
                    "do_not_contact_until",
                    ("sms_opt_out", "call_opt_out", "email_opt_out"),
                    "agreed_to_quiet_hours_contact",
                    "credit_reporting_consent",
                    "is_deceased",
                    "is_bankrupt",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # As borrower_create does: the borrower's own phone, e-mail and address are contact points.
        borrower_add_own_contact_points(borrower=form.instance)

    @admin.display(description=_("ID number"), ordering="id_number")
    def masked_id_number_display(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("mobile phone"), ordering="phone")
    def masked_phone_display(self, obj):
        return obj.masked_phone


@admin.register(ContactPoint)
class ContactPointAdmin(BigTableAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    """Every phone, e-mail and address on file, the borrower's own and third parties'. Writes are
    logged against the borrower, as the contact-point service does."""

    list_display = (
        "value",
        "channel",
        "relation",
        "contact_name",
        "borrower",
        "is_verified",
        "invalid_since",
        "refused_contact",
    )
    list_filter = ("channel", "relation", "is_verified", "refused_contact")
    list_select_related = ("borrower",)
    search_term_stored_as = staticmethod(phone_search_term)
    search_fields = ("value__exact", "borrower__name__exact", "borrower__id_number__exact")
    autocomplete_fields = ("borrower",)
    fields = (
        "borrower",
        "relation",
        "contact_name",
        "channel",
        "value",
        "is_verified",
        "invalid_since",
        "refused_contact",
    )

    def audit_target(self, obj):
        return obj.borrower
