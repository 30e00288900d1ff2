"""Subscriptions are managed here; the delivery log is read-only.

The signing secret is shown once: on the page that follows creating a subscription, and on the page
that follows rotating it (the list's action). It is never a form field or a read-only value, so
staff who may only view subscriptions never see it, and it never passes through a cookie or the
audit log (which records that it changed, not what it is)."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from core.admin import AuditedAdminMixin, ReadOnlyAdminMixin
from core.audit import log_action

from .destinations import url_problem
from .models import EventType, WebhookDelivery, WebhookSubscription, new_secret


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "event_types", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if problem := url_problem(url):
            raise forms.ValidationError(
                _(
                    "Webhooks go to public internet addresses only: %(problem)s. A receiver on your own network "
                    "needs its network in WEBHOOK_ALLOWED_NETWORKS."
                )
                % {"problem": problem}
            )
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = WebhookSubscriptionForm
    fields = ["name", "url", "event_types", "is_active"]
    list_display = ["name", "url", "event_types", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    actions = ["rotate_secret"]
    audit_hidden = ("secret",)

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_secrets(request, [obj], created=True)

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        rotated = []
        for subscription in queryset:
            subscription.secret = new_secret()
            subscription.save(update_fields=["secret"])
            log_action(actor=request.user, action="webhooks.webhook_subscription.secret_rotated", target=subscription)
            rotated.append(subscription)
        return self._show_secrets(request, rotated, created=False)

    def _show_secrets(self, request, subscriptions, *, created):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Signing secret") if len(subscriptions) == 1 else _("Signing secrets"),
            "subscriptions": subscriptions,
            "created": created,
        }
        response = TemplateResponse(request, "admin/webhooks/secret_shown_once.html", context)
        response["Cache-Control"] = "no-store"
        return response


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
