import os

# Whether whoever started this process named the settings module: the Celery app below falls back to
# the development settings, which the web app must not do silently (config/wsgi.py).
SETTINGS_MODULE_NAMED = bool(os.environ.get("DJANGO_SETTINGS_MODULE"))

# Load Celery with Django so that @shared_task binds to our app.
from .celery import app as celery_app  # noqa: E402

__all__ = ("SETTINGS_MODULE_NAMED", "celery_app")
