"""Answers for requests the database stopped."""

from django.conf import settings
from django.db import OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from psycopg2 import errors


class StatementTimeoutMiddleware:
    """A query that ran past the web's statement timeout (DB_STATEMENT_TIMEOUT) is stopped by
    PostgreSQL; the user gets a 503 that says so and what to do, in the API's error shape under
    /api/, never a dropped connection."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (isinstance(exception, OperationalError) and isinstance(exception.__cause__, errors.QueryCanceled)):
            return None
        message = _(
            "This took longer than %(limit)s and was stopped. Narrow the filters or the period, or try again later."
        ) % {"limit": settings.DB_STATEMENT_TIMEOUT}
        if request.path.startswith("/api/"):
            return JsonResponse({"error": {"code": "timeout", "message": message}}, status=503)
        return render(request, "timeout.html", {"message": message}, status=503)
