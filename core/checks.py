"""Start-up checks an operator must not miss: warnings in `manage.py check` and `migrate` (which must
still run before the static files are collected), a refusal to start in the web app itself
(config/wsgi.py)."""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register("huishou")
def static_files_collected(app_configs=None, **kwargs):
    """With hashed static file names (production), a page names files from the manifest that
    `collectstatic` writes; without it every page is a 500."""
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    manifest = Path(settings.STATIC_ROOT) / staticfiles_storage.manifest_name
    if manifest.exists():
        return []
    return [
        checks.Warning(
            f"The static files are not collected into STATIC_ROOT ({settings.STATIC_ROOT}): every page would "
            "fail to render.",
            hint="Run `python manage.py collectstatic --noinput` (DJANGO_STATIC_ROOT sets where) before starting "
            "the web app.",
            id="huishou.W001",
        )
    ]


def refuse_to_serve_without_static_files():
    """Fail the web app's start with the check's message rather than serve 500s."""
    errors = static_files_collected()
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint}")
