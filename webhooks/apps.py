from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Outbound events: signed JSON posted to the systems that subscribed to them. Depends on core only,
    so any app may publish."""

    name = "webhooks"
    verbose_name = _("Webhooks")
