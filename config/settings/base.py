"""Settings shared by every environment. Values come from the environment through django-environ;
every default is an embedded one (a private PostgreSQL server, a file-system broker) so a fresh
checkout runs as it is."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"  # runtime files of the embedded defaults (PostgreSQL data, broker folders, cache)

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# --- Applications: Django, third party, ours (in dependency order: core <- borrowers <- loans <- ...)
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally, no CDN
    "django_filters",
    "django_celery_beat",
    "django_fsm",  # for `manage.py graph_transitions`
    "django_htmx",
    "django_tables2",
    "axes",  # locks out repeated failed logins
]
LOCAL_APPS = [
    "core",
    "webhooks",
    "borrowers",
    "loans",
    "collection",
    "legal",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.ApiBodySizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.StatementTimeoutMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# django-axes checks every login first: five failures for one username from one address lock that
# pair for AXES_COOLOFF_MINUTES. By username and address together: a lock by username alone lets
# anyone anywhere lock a manager out with five wrong passwords, and one by address alone locks a
# whole office floor (one address) out after five typos. An admin unlocks a user at once from the
# user list (core/admin.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth.CachedModelBackend",  # ModelBackend, each user's permissions kept in the cache
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Behind a reverse proxy the client's address is the one the proxy appends to X-Forwarded-For;
# TRUSTED_PROXY_COUNT says how many proxies stand in front (0: the connection's own address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Content-Security-Policy on every response, the admin and Swagger UI included: scripts, styles,
# images and fonts from this site only (no inline script anywhere: htmx's own indicator style is
# turned off in base.html, Swagger UI loads its set-up script from a URL), no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Staff sessions end after SESSION_IDLE_HOURS without a request (requests push the end on:
# core.middleware.SessionIdleMiddleware) and when the browser closes.
SESSION_COOKIE_AGE = int(env.float("SESSION_IDLE_HOURS", default=8) * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL, the one engine. DATABASE_URL names the server; without it, the private
# server that `make run` and `make test` start from a pip wheel (core/localdb.py), on its socket in
# var/postgres, for commands run by hand beside a `make run`.
DATABASES = {"default": env.db("DATABASE_URL", default=f"postgres://postgres@/huishou?host={VAR_DIR / 'postgres'}")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...): the one engine.")
if not DATABASES["default"]["HOST"] and "host" in DATABASES["default"].get("OPTIONS", {}):
    # A socket folder given as ?host=... is the server's host, as a TCP address would be.
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections open between requests (checked before reuse): a new PostgreSQL connection per
# request costs a connect and a cold catalog cache, which made planning the case list's joins slower
# than running them.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# The web app's statement timeout (core/db.py; empty: none), below gunicorn's 30 s worker timeout.
# Celery and the management commands run without one (their work has its own limits:
# CELERY_TASK_TIME_LIMIT).
DB_STATEMENT_TIMEOUT = env("DB_STATEMENT_TIMEOUT", default="25s")
# How long the whole book's live figures (queue cells, the manager's worklist counts) are kept in the
# cache; 0 reads them on every view (collection/book_figures.py).
BOOK_FIGURES_CACHE_SECONDS = env.int("BOOK_FIGURES_CACHE_SECONDS", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time: business dates are in the lender's time zone
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("LENDER_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# The lender's name and currency appear on every borrower-facing message and document.
LENDER_NAME = env("LENDER_NAME", default="回收消费金融有限公司")
LENDER_HOTLINE = env("LENDER_HOTLINE", default="400-820-0000")

# --- Reminders (collection/reminders.py). SMS: console | file | locmem | http (a generic JSON gateway).
SMS_BACKEND = env("SMS_BACKEND", default="console")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=str(VAR_DIR / "sms"))
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=5.0)  # seconds
# Email goes through Django's backends: console by default, SMTP with EMAIL_URL=smtp://host:port.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default=f"{LENDER_NAME} <noreply@huishou.example.com>")
REMINDER_BATCH_SIZE = env.int("REMINDER_BATCH_SIZE", default=200)  # rows one worker claims at a time
REMINDER_LEASE_SECONDS = env.int("REMINDER_LEASE_SECONDS", default=120)  # a claimed row's lease
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_RETRY_BASE_SECONDS = env.int("REMINDER_RETRY_BASE_SECONDS", default=60)  # doubles per attempt
REMINDER_DISPATCH_TASKS = env.int("REMINDER_DISPATCH_TASKS", default=8)  # parallel senders started a minute
DEFAULT_CURRENCY = "CNY"

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]  # the dashboard's stylesheet; libraries' assets come from their packages
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))

# --- Webhooks go to public addresses only (webhooks/destinations.py); these networks are allowed all
# the same, for a receiver on the lender's own network (comma-separated CIDRs: 10.8.0.0/24).
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])

# --- Celery: Redis when REDIS_URL / CELERY_BROKER_URL is set, else kombu's file-system transport,
# which works across processes with no server.
REDIS_URL = env("REDIS_URL", default="")
# One cache for every process (web workers, Celery, management commands): DRF's throttle counts and
# the users' permissions (core/auth.py) must be the same in all of them. Redis when REDIS_URL is set,
# else files under var/ (the embedded defaults run several processes too).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "huishou",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{VAR_DIR / 'celery' / 'results'}")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,  # processed messages are deleted, not kept forever
    }
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is redelivered, never lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
# No task runs for ever: a daily-run chunk takes seconds and a reminder batch under a minute, so a
# task still running after CELERY_TASK_TIME_LIMIT seconds (10 minutes) is stuck and its worker is
# replaced.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The nightly run, just after midnight in the lender's time zone (CELERY_TIMEZONE).
CELERY_BEAT_SCHEDULE = {
    "daily-run": {"task": "collection.tasks.dispatch_daily_run", "schedule": crontab(hour=0, minute=30)},
    # Today's reminders, once the nightly run has moved the cases; the default steps send from 09:00.
    "reminder-planning": {"task": "collection.tasks.plan_reminders", "schedule": crontab(hour=6, minute=0)},
    "reminder-dispatch": {"task": "collection.tasks.dispatch_reminders", "schedule": crontab(minute="*")},
    # The activity log's chain: new entries sealed each minute, the whole chain verified each night.
    "activity-log-seal": {
        "task": "core.tasks.seal_activity_log",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    "activity-log-verify": {"task": "core.tasks.verify_activity_log", "schedule": crontab(hour=3, minute=15)},
    # The whole book's queue figures, fresh for every manager without a request computing them;
    # a late one is dropped, the next minute's brings newer figures.
    "book-figures": {
        "task": "collection.tasks.refresh_book_figures",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",  # systems
        "rest_framework.authentication.SessionAuthentication",  # the browser
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_RATE", default="6000/minute")},
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Huishou API",
    "DESCRIPTION": (
        "Loans, payments and collection cases for core banking, payment gateways and SMS providers. "
        'Every error has one shape: {"error": {"code", "message", "fields"}}. A request body '
        "may hold at most 2.5 MB of JSON or form fields, plus one file of 10 MB in a multipart upload; "
        "a longer one is a 413."
    ),
    "VERSION": "1.0.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.document_body_errors",  # 413 and 415 on every operation that takes a body
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Enums that share a field name across models get distinct schema names.
    "ENUM_NAME_OVERRIDES": {
        "LoanStatusEnum": "loans.choices.LoanStatus",
        "RegulatoryClassEnum": "loans.choices.RegulatoryClass",
        "BorrowerKindEnum": "borrowers.choices.BorrowerKind",
        "PaymentKindEnum": "loans.choices.PaymentKind",
        "ContactPointChannelEnum": "borrowers.choices.Channel",
        "PaymentChannelEnum": "loans.choices.PaymentChannel",
        "LegalActionKindEnum": "legal.choices.ActionKind",
        "LegalActionStateEnum": "legal.choices.ActionState",
        "LegalCostKindEnum": "legal.choices.CostKind",
        "LegalTaskKindEnum": "legal.choices.TaskKind",
        "LegalDocumentKindEnum": "legal.choices.DocumentKind",
        "DisposalStateEnum": "legal.choices.DisposalState",
        "DisposalMethodEnum": "legal.choices.DisposalMethod",
        "CollateralKindEnum": "loans.choices.CollateralKind",
        "SignatureMethodEnum": "collection.choices.SignatureMethod",
        "CaseStateEnum": "collection.choices.CaseState",
        "PlanStateEnum": "collection.choices.PlanState",
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
