"""`manage.py create_api_client NAME --perm loans.add_payment ...`: an API client (a user in the
api-client group) with exactly the permissions named, and its token."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from core import roles
from core.audit import log_action


class Command(BaseCommand):
    help = "Create (or update) an API client with the given permissions and print its token."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's user name, e.g. core-banking or payment-gateway.")
        parser.add_argument("--perm", action="append", default=[], help="app_label.codename; repeat for more.")

    def handle(self, *args, name, perm, **options):
        permissions = []
        for dotted in perm:
            app_label, _, codename = dotted.partition(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is None:
                raise CommandError(f"No permission {dotted!r}.")
            permissions.append(found)
        user, created = get_user_model().objects.get_or_create(username=name)
        if created:
            user.set_unusable_password()  # a system signs in with its token only
            user.save()
        user.groups.add(Group.objects.get_or_create(name=roles.API_CLIENT)[0])
        user.user_permissions.set(permissions)
        token, _ = Token.objects.get_or_create(user=user)
        log_action(actor="system", action="core.api_client.configured", target=user, data={"permissions": perm})
        self.stdout.write(token.key)
