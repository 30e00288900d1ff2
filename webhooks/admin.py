"""Subscriptions are managed here; the delivery log is read-only."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin

from .models import EventType, WebhookDelivery, WebhookSubscription


class WebhookSubscriptionForm(forms.ModelForm):
    """The secret is write-only: it is never shown again, and leaving it blank keeps the current one."""

    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    secret = forms.CharField(
        label=_("secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave blank to keep the current secret (a new subscription gets a random one)."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "event_types", "is_active"]

    def clean_secret(self):
        return self.cleaned_data["secret"] or self.instance.secret


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "event_types", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "event_type", "subscription", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event_type", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["event_id", "last_error"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "subscription",
        "event_type",
        "event_id",
        "payload",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    ]
