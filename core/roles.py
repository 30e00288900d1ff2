"""The roles are Django groups; their names and what each may do live here only. After every
`migrate` the groups are brought in line with this table (core.apps), so a new model's permissions
reach the roles without a hand-written migration."""

from fnmatch import fnmatch

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

# "app_label.codename" patterns. Object-level limits (an officer sees only their own cases) are
# applied on top of these by the selectors and services.
_READ_BOOK = ["borrowers.view_*", "loans.view_*", "collection.view_*"]
ROLE_PERMISSIONS = {
    OFFICER: [
        *_READ_BOOK,
        "collection.add_contactattempt",
        "collection.add_promisetopay",
        "collection.add_restructuringplan",
    ],
    MANAGER: [
        *_READ_BOOK,
        "borrowers.add_*",
        "borrowers.change_*",
        "loans.add_payment",
        "loans.reverse_payment",
        "loans.settle_loan",
        "loans.change_collateral",
        "loans.change_loanproduct",
        "collection.*",
        "core.view_activitylog",
        "webhooks.view_*",
        "legal.*",
    ],
    LEGAL_OFFICER: [*_READ_BOOK, "legal.*", "loans.change_collateral"],
    AUDITOR: [*_READ_BOOK, "legal.view_*", "core.view_activitylog", "webhooks.view_*"],
    API_CLIENT: [],
}


def permission_matches(patterns, app_label, codename):
    return any(fnmatch(f"{app_label}.{codename}", pattern) for pattern in patterns)
