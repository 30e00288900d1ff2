"""WSGI entry point for gunicorn (`gunicorn -c config/gunicorn.py config.wsgi`).

The settings module must be named: production runs with
DJANGO_SETTINGS_MODULE=config.settings.production (the Dockerfile sets it), a trial on a laptop with
config.settings.local. Guessing either would be wrong for someone (manage.py defaults to local,
for development). Web requests get a database statement timeout below gunicorn's worker timeout
(DB_STATEMENT_TIMEOUT, 25 s unless set; core/db.py), so a slow query is stopped and answered with a message
instead of the worker being killed while PostgreSQL keeps running its query. The static-files
check runs at start-up: a server without collected static files would answer every page with 500."""

from django.core.exceptions import ImproperlyConfigured

from config import SETTINGS_MODULE_NAMED

if not SETTINGS_MODULE_NAMED:
    raise ImproperlyConfigured(
        "Set DJANGO_SETTINGS_MODULE: config.settings.production for production (with DJANGO_SECRET_KEY and "
        "DJANGO_ALLOWED_HOSTS), or config.settings.local for a trial."
    )

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from core.checks import refuse_to_serve_without_static_files  # noqa: E402
from core.db import limit_statements_of_this_process  # noqa: E402

refuse_to_serve_without_static_files()
limit_statements_of_this_process()
