"""The WSGI application bench/api.py runs under gunicorn: the product's settings (whatever
DJANGO_SETTINGS_MODULE names) with bench.trivial_urls as the root urlconf."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
settings.ROOT_URLCONF = "bench.trivial_urls"

application = get_wsgi_application()
