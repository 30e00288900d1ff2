from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.db.backends.signals import connection_created

        from . import auth, checks, db  # noqa: F401 (checks registers the start-up checks)

        post_migrate.connect(sync_roles, dispatch_uid="core.sync_roles")
        connection_created.connect(db.set_statement_timeout, dispatch_uid="core.statement_timeout")
        auth.connect_signals()


def sync_roles(*, using="default", apps=None, **kwargs):
    """Give each role group exactly the permissions core.roles lists (runs after every migrate,
    once the permissions of new models exist)."""
    from django.contrib.auth.models import Group, Permission

    from .roles import ROLE_PERMISSIONS, permission_matches

    permissions = list(Permission.objects.using(using).select_related("content_type"))
    for name, patterns in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(
            [p for p in permissions if permission_matches(patterns, p.content_type.app_label, p.codename)]
        )
