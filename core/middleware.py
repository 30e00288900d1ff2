"""Answers for requests the database stopped and for API bodies too large to read; what the
browser may keep; and how long an idle session lasts."""

import time

from django.conf import settings
from django.db import OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from psycopg2 import errors

from core import uploads


def api_body_limit(content_type: str) -> int:
    """The largest body the API reads: DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) of JSON or form fields;
    a multipart upload may carry one file of HUISHOU_MAX_UPLOAD_BYTES (10 MB) besides."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if content_type.startswith("multipart/"):
        limit += uploads.max_upload_bytes()
    return limit


def body_too_large(limit: int) -> JsonResponse:
    message = _("The request body is larger than the limit of %(limit)s; nothing was read.") % {
        "limit": filesizeformat(limit)
    }
    return JsonResponse({"error": {"code": "too_large", "message": message}}, status=413)


class ApiBodySizeMiddleware:
    """An API request whose declared length is over api_body_limit gets a 413 in the API's error
    shape before anything reads it (Django would raise RequestDataTooBig as an HTML 400 later, or
    DRF a parse error that does not say why)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = api_body_limit(request.META.get("CONTENT_TYPE", ""))
            if length > limit:
                return body_too_large(limit)
        return self.get_response(request)


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


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every API answer and every page a signed-in user gets: they carry
    names, ID numbers and balances, which no browser cache, proxy or shared computer should keep.
    (Static files are answered before this, by WhiteNoise, and stay cacheable.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or (user is not None and user.is_authenticated):
            patch_cache_control(response, no_store=True, private=True)
            response.headers.pop("Expires", None)
        return response


SESSION_REFRESHED = "_refreshed"
REFRESH_SECONDS = 5 * 60


def session_refreshed(session):
    session[SESSION_REFRESHED] = int(time.time())


class SessionIdleMiddleware:
    """A signed-in session ends SESSION_COOKIE_AGE after its last request: requests push the end on
    by saving the session, at most every five minutes (saving on every request, Django's
    SESSION_SAVE_EVERY_REQUEST, would cost every page three more queries). Login sets the mark
    (core.auth)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        stale = session is not None and time.time() - session.get(SESSION_REFRESHED, 0) > REFRESH_SECONDS
        if stale and not session.is_empty():
            session_refreshed(session)  # modified: SessionMiddleware saves it with a new expiry
        return response
