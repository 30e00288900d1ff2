"""Law firms are edited here (every change logged); legal actions and their costs are recorded by
legal/services.py and shown read-only."""

from django.contrib import admin

from core.admin import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import AssetDisposal, LawFirm, LegalAction, LegalCost, LegalDocument, LegalTask, PreservationOrder


@admin.register(LawFirm)
class LawFirmAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "contact_name", "phone", "email")
    search_fields = ("name", "contact_name")


class LegalCostInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LegalCost
    fields = ("incurred_on", "kind", "amount", "charged_to_loan", "note", "recorded_by")


class LegalTaskInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LegalTask
    fields = ("due_on", "kind", "note", "done_on", "done_by")


class LegalDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LegalDocument
    fields = ("created_at", "kind", "original_name", "content_type", "size", "generated", "step", "uploaded_by")


class PreservationOrderInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PreservationOrder
    fields = (
        "asset_kind",
        "description",
        "amount",
        "status",
        "applied_on",
        "granted_on",
        "ruling_number",
        "expires_on",
    )


class AssetDisposalInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AssetDisposal
    fields = (
        "collateral",
        "state",
        "appraised_value",
        "reserve_price",
        "round",
        "sale_price",
        "to_costs",
        "to_loan",
        "surplus",
    )


@admin.register(LegalAction)
class LegalActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "case", "state", "law_firm", "court_case_number", "hearing_on", "enforcement_deadline")
    list_filter = ("kind", "state", "law_firm")
    list_select_related = ("case__loan", "law_firm")
    search_fields = ("case__loan__external_id", "court_case_number")
    inlines = [LegalCostInline, LegalTaskInline, LegalDocumentInline, PreservationOrderInline, AssetDisposalInline]
