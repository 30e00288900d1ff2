from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegalConfig(AppConfig):
    name = "legal"
    verbose_name = _("Legal")

    def ready(self):
        # The case timeline (collection) names the legal route's entries with the legal app's words.
        from collection.selectors import ACTIVITY_TITLES

        from .timeline import ACTIVITY_TITLES as LEGAL_TITLES

        ACTIVITY_TITLES.update(LEGAL_TITLES)
