"""The test suite: fast hashing, mail kept in memory, Celery tasks run in-process unless a test
starts a real worker on purpose."""

from .base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = env("SMS_BACKEND", default="locmem")  # worker processes started by tests may set "http"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test process its own cache, emptied before every test (tests/conftest.py); tests/core/test_auth.py
# checks the Redis cache the product uses when REDIS_URL is set.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
BOOK_FIGURES_CACHE_SECONDS = 0  # tests read figures right after writing them (one test turns it on)
WHITENOISE_AUTOREFRESH = True  # serve from the finders: tests never run collectstatic
# Tests read messages in English (the source language); tests/core/test_i18n.py checks the Chinese.
LANGUAGE_CODE = "en"
# The tests' webhook receivers listen on loopback (tests/webhooks/test_destinations.py checks the refusal).
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
