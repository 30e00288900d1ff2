"""Database session settings for the processes that need them."""

from django.conf import settings

_web_process = False


def limit_statements_of_this_process():
    """Called by the web app at start-up (config/wsgi.py): its database sessions get the statement
    timeout. Celery workers and management commands do not: their work is bounded otherwise (the
    task time limit; the daily run's statements are per chunk)."""
    global _web_process
    _web_process = True


def set_statement_timeout(sender, connection, **kwargs):
    """A new connection of the web app gets DB_STATEMENT_TIMEOUT (25 s unless set, below gunicorn's
    30 s worker timeout), so no request outlives its worker: PostgreSQL stops the query and the page
    says so (core.middleware.StatementTimeoutMiddleware), instead of the worker being killed while
    PostgreSQL keeps running the query. Batch work lifts it for its transactions (core.sql)."""
    if _web_process and settings.DB_STATEMENT_TIMEOUT:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [settings.DB_STATEMENT_TIMEOUT])
