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
        # The daily run leaves a case in legal open while one of its actions is under way.
        from collection import daily

        daily.LEGAL_WORK_OPEN.append(_action_under_way)


def _action_under_way():
    from django.db.models import Exists, OuterRef

    from .choices import ActionState
    from .models import LegalAction

    return Exists(LegalAction.objects.filter(case=OuterRef("pk")).exclude(state__in=ActionState.closed()))
