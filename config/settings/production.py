"""Production: the secret key and allowed hosts must come from the environment. Mail goes where
EMAIL_URL says, as in every other settings module (smtp://host:port, or smtp+tls://user:pass@host:587)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")  # required: no default here
if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY: production settings have no default secret key.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

# Served over HTTPS (DJANGO_HTTPS, on by default): plain HTTP is redirected, browsers are told to keep
# to HTTPS (HSTS, a year by default), and the session and CSRF cookies travel only over HTTPS. A
# TLS-terminating proxy in front must set X-Forwarded-Proto: without it every request looks like
# plain HTTP and is redirected again and again. DJANGO_HTTPS=false serves plain HTTP (a trial on a
# private network): no redirect, no HSTS, cookies without Secure, or signing in would answer 403.
HTTPS = env.bool("DJANGO_HTTPS", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env.bool("DJANGO_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS

# The API's schema and Swagger UI describe every endpoint: in production only to a signed-in user or
# a client with a token, unless API_DOCS_PUBLIC says otherwise.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
if not API_DOCS_PUBLIC:
    SPECTACULAR_SETTINGS = {
        **SPECTACULAR_SETTINGS,
        "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    }
