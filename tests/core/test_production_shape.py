"""The production shape as an operator meets it: the web app names its settings, refuses to serve
without collected static files, stops a slow query before gunicorn kills the worker, and says so."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction
from django.test import RequestFactory

from core.db import set_statement_timeout
from core.middleware import StatementTimeoutMiddleware

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url():
    """The test database, which exists in every setup (the private server's or DATABASE_URL's)."""
    db = connection.settings_dict
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgres://{db['USER']}@/{db['NAME']}?host={host}"
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def start_web_app(tmp_path, **env):
    """Import the WSGI application as gunicorn does, in a process of its own; print the database
    session's statement timeout."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DB_STATEMENT_TIMEOUT")}
    clean.update(env, DATABASE_URL=_test_database_url())
    probe = (
        "import config.wsgi; from django.db import connection; cursor = connection.cursor(); "
        "cursor.execute('SHOW statement_timeout'); print(cursor.fetchone()[0])"
    )
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True)


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "a-production-key-for-this-test-7Hq2Lx9vRt4Wm8Zp3Kc6Nb1Yd5Fg0Js",
    "DJANGO_ALLOWED_HOSTS": "collections.example.com",
}


@pytest.mark.django_db
def test_the_web_app_wants_its_settings_module_named(tmp_path):
    result = start_web_app(tmp_path)
    assert result.returncode != 0
    assert "Set DJANGO_SETTINGS_MODULE: config.settings.production for production" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_web_app_refuses_to_start_before_the_static_files_are_collected(tmp_path):
    static_root = tmp_path / "static"
    result = start_web_app(tmp_path, **PRODUCTION, DJANGO_STATIC_ROOT=str(static_root))
    assert result.returncode != 0
    assert "not collected into STATIC_ROOT" in result.stderr and "collectstatic" in result.stderr

    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION, "DJANGO_STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
    )
    assert collected.returncode == 0, collected.stderr
    started = start_web_app(tmp_path, **PRODUCTION, DJANGO_STATIC_ROOT=str(static_root))
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "25s"  # the web's statement timeout, below gunicorn's 30 s


@pytest.mark.django_db
def test_only_the_web_app_limits_its_statements(settings):
    """A management command or a Celery worker (this process is neither web nor limited) runs its
    queries without the web's timeout."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


@pytest.mark.django_db
def test_a_new_web_connection_gets_the_statement_timeout(settings, monkeypatch):
    monkeypatch.setattr("core.db._web_process", True)
    settings.DB_STATEMENT_TIMEOUT = "7s"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    try:
        set_statement_timeout(sender=None, connection=connection)
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "7s"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [before])


def _a_query_postgresql_stopped():
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '20ms'")
            cursor.execute("SELECT pg_sleep(2)")
    except OperationalError as error:
        return error
    raise AssertionError("the query was not stopped")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/cases/", "/api/v1/cases/"])
def test_a_stopped_query_is_a_503_that_says_what_to_do(settings, path, admin_user):
    settings.DB_STATEMENT_TIMEOUT = "25s"
    request = RequestFactory().get(path)
    request.user = admin_user
    response = StatementTimeoutMiddleware(lambda r: None).process_exception(request, _a_query_postgresql_stopped())
    assert response.status_code == 503
    body = response.content.decode()
    assert "took longer than 25s and was stopped" in body
    if path.startswith("/api/"):
        assert '"code": "timeout"' in body


@pytest.mark.django_db
def test_other_database_errors_are_left_alone():
    request = RequestFactory().get("/cases/")
    assert StatementTimeoutMiddleware(lambda r: None).process_exception(request, OperationalError("gone")) is None


def pinned(path: Path) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, extras) of every `name[extras]==version` line of a requirements file."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = (str(requirement.specifier), set(requirement.extras))
    return pins


def test_the_production_requirements_pin_everything_they_need():
    """requirements.txt alone must give a working worker: every dependency of what it pins, through
    the extras it asks for (kombu[redis] needs `packaging`), is pinned there too, at a version that
    satisfies it; installed development tools must not be what makes production work."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = pinned(Path(__file__).resolve().parents[2] / "requirements.txt")
    missing, conflicting = set(), set()
    for name, (_version, extras) in pins.items():
        for text in distribution(name).requires or []:
            requirement = Requirement(text)
            environment = [{"extra": extra} for extra in extras | {""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environment):
                continue
            pin = pins.get(canonicalize_name(requirement.name))
            if pin is None:
                missing.add(f"{requirement.name} (for {name})")
            elif not requirement.specifier.contains(pin[0].removeprefix("=="), prereleases=True):
                conflicting.add(f"{requirement.name}{pin[0]} (for {name}: {requirement.specifier})")
    assert not missing
    assert not conflicting
    assert "redis" in pins["kombu"][1]  # the broker the worker and beat use


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    static_root = tmp_path_factory.mktemp("static")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION, "DJANGO_STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
    )
    assert collected.returncode == 0, collected.stderr
    return static_root


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True
    )


@pytest.mark.django_db
def test_the_deployment_check_is_clean_with_the_production_settings(collected_static):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DJANGO_STATIC_ROOT=str(collected_static)
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


SHOW_HTTPS = (
    "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
    "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
)


@pytest.mark.parametrize(
    ("https", "expected"),
    [
        (None, "True 31536000 True True True ('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("false", "False 0 False False False ('HTTP_X_FORWARDED_PROTO', 'https')"),
    ],
)
def test_production_redirects_to_https_and_sends_hsts_unless_told_it_is_served_over_plain_http(https, expected):
    env = {**PRODUCTION, **({"DJANGO_HTTPS": https} if https else {})}
    result = manage("shell", "-c", SHOW_HTTPS, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


SHOW_DOCS = "from django.conf import settings as s; print(s.SPECTACULAR_SETTINGS.get('SERVE_PERMISSIONS'))"


@pytest.mark.parametrize(
    ("public", "expected"), [(None, "['rest_framework.permissions.IsAuthenticated']"), ("true", "None")]
)
def test_the_api_docs_need_a_signed_in_user_in_production_unless_made_public(public, expected):
    env = {**PRODUCTION, **({"API_DOCS_PUBLIC": public} if public else {})}
    result = manage("shell", "-c", SHOW_DOCS, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
