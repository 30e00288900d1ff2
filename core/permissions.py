"""Who may do what, by role (Django groups). The role names live in core/roles.py."""

from . import roles
from .auth import role_names


def has_role(user, *names):
    if user is None or isinstance(user, str) or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return not role_names(user).isdisjoint(names)


def is_manager(user):
    return has_role(user, roles.MANAGER)


def may_read_loans(actor) -> bool:
    """Whether the actor may see loans' balances (the system may): what an error message may tell it."""
    return is_system(actor) or actor.has_perm("loans.view_loan")


UNMASK_PII = "collection.unmask_pii"


def may_see_full_id(user) -> bool:
    """Documents that carry the borrower's full ID number (court papers, generated letters, the
    supplementary agreement of a restructuring) open for legal officers, managers and whoever holds
    `collection.unmask_pii`; everyone else sees the number masked on the pages and may not open them."""
    if is_system(user):
        return False
    return has_role(user, roles.LEGAL_OFFICER, roles.MANAGER) or user.has_perm(UNMASK_PII)


def is_system(actor):
    return actor is None or isinstance(actor, str)
