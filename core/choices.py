from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorKind(models.TextChoices):
    USER = "user", _("User")
    API_CLIENT = "api_client", _("API client")
    SYSTEM = "system", _("System")
