"""What every response tells the browser: a Content-Security-Policy that allows no inline script or
style and nothing from elsewhere; no caching of what carries personal data; and staff sessions
that end when idle or when the browser closes."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.collection.factories import make_case, make_officer

pytestmark = pytest.mark.django_db


def policy(response) -> dict:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/api/docs/", "/api/v1/loans/"])
def test_every_response_carries_a_strict_content_security_policy(client, path):
    rules = policy(client.get(path))
    assert rules["default-src"] == ["'self'"] and rules["script-src"] == ["'self'"]
    assert rules["style-src"] == ["'self'"] and rules["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in str(rules) and "'unsafe-eval'" not in str(rules)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle=\"", re.I)


def test_the_pages_hold_no_inline_script_or_style(admin_client):
    officer = make_officer()
    case = make_case(officer=officer)
    pages = [
        admin_client.get("/api/docs/"),
        admin_client.get("/manager/kpis/"),
        admin_client.get("/manager/queue/"),
        admin_client.get(f"/cases/{case.pk}/"),
        admin_client.get("/cases/"),
    ]
    for response in pages:
        assert response.status_code == 200, response.request["PATH_INFO"]
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), response.request["PATH_INFO"]
        assert not INLINE_STYLE.search(html), response.request["PATH_INFO"]
    assert 'name="htmx-config"' in pages[2].content.decode()  # htmx's own indicator style switched off
    script = admin_client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_api_answers_and_signed_in_pages_are_not_stored(client, admin_client):
    assert "no-store" in admin_client.get("/api/v1/loans/")["Cache-Control"]
    assert "no-store" in client.get("/api/v1/loans/")["Cache-Control"]  # a refusal too
    assert "no-store" in admin_client.get("/cases/")["Cache-Control"]
    static = client.get("/static/css/huishou.css")
    assert "no-store" not in static.get("Cache-Control", "")


def test_a_staff_session_ends_after_eight_idle_hours_and_with_the_browser(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    officer = make_officer()
    client = Client()
    client.force_login(officer)
    start = timezone.now()
    assert client.get("/cases/").status_code == 200
    with time_machine.travel(start + timedelta(hours=7, minutes=50)):
        working = client.get("/cases/")
        assert working.status_code == 200  # still working: the count starts again
        cookie = working.cookies["sessionid"]
        assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie: gone when it closes
    with time_machine.travel(start + timedelta(hours=15, minutes=40)):
        assert client.get("/cases/").status_code == 200
    with time_machine.travel(start + timedelta(hours=23, minutes=41)):
        response = client.get("/cases/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
