"""The roles are Django groups; their names live here only."""

from django.utils.translation import gettext_lazy as _

OFFICER = "officer"
MANAGER = "manager"
LEGAL_OFFICER = "legal_officer"
AUDITOR = "auditor"
API_CLIENT = "api-client"

ROLE_LABELS = {
    OFFICER: _("Collection officer"),
    MANAGER: _("Manager"),
    LEGAL_OFFICER: _("Legal officer"),
    AUDITOR: _("Auditor"),
    API_CLIENT: _("API client"),
}
