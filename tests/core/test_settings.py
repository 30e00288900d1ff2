"""The settings read the environment: embedded defaults when nothing is set, and production refuses
to start without a secret key."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(db['ENGINE'], db['HOST'] or '-', s.CELERY_BROKER_URL, s.TIME_ZONE, s.LANGUAGE_CODE)"
)


def run(settings_module, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    clean.update(env, DJANGO_SETTINGS_MODULE=settings_module)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_embedded_defaults_are_the_private_postgresql_server_and_a_file_broker():
    result = run("config.settings.local")
    assert result.returncode == 0, result.stderr
    socket_folder = str(ROOT / "var" / "postgres")
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        socket_folder,
        "filesystem://",
        "Asia/Shanghai",
        "zh-hans",
    ]


def test_a_socket_folder_in_the_url_is_the_host():
    result = run("config.settings.local", DATABASE_URL="postgresql://postgres:@/huishou?host=/tmp/pg-socket")
    assert result.stdout.split()[:2] == ["django.db.backends.postgresql", "/tmp/pg-socket"]


def test_postgresql_is_the_one_engine():
    result = run("config.settings.local", DATABASE_URL="sqlite:////tmp/huishou.sqlite3")
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_database_and_broker_come_from_the_environment():
    result = run(
        "config.settings.local",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.stdout.split()[:3] == ["django.db.backends.postgresql", "127.0.0.1", "redis://127.0.0.1:6379/3"]


def test_production_refuses_to_start_without_a_secret_key():
    result = run("config.settings.production", DJANGO_SECRET_KEY="", DJANGO_ALLOWED_HOSTS="example.cn")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
