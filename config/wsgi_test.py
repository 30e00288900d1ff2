"""The WSGI application under the test settings, for in-process API tests (schemathesis)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
