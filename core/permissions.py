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


def is_system(actor):
    return actor is None or isinstance(actor, str)
