"""Schemathesis runs over the whole OpenAPI schema in-process, as a superuser with a small book:
no operation may answer 500 or break its own documented response schema."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import schemathesis
import time_machine
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi_test import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """As Django's test client does: a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["superuser", "officer"])
def token(db, request):
    """A superuser, who may call everything, and an officer, who is refused much and sees only their
    own cases: both get answers the schema describes."""
    from core.apps import sync_roles
    from tests.collection.factories import make_case, make_officer
    from tests.loans.factories import make_loan

    sync_roles()
    if request.param == "superuser":
        user = User.objects.create_superuser("schemathesis", password="pw")
    else:
        user = make_officer("schemathesis")
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        make_case(loan=make_loan(), officer=user)
        make_case(loan=make_loan())  # somebody else's
    return Token.objects.create(user=user).key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_fails_or_breaks_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )


def test_every_text_the_api_takes_has_a_maximum_length():
    """A note of 100,000 characters is an attack or a bug, never a note: each string a request body
    takes is bounded (dates, enums and files are bounded by their format)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue  # what the API answers, not what it takes
        for field, spec in component.get("properties", {}).items():
            if spec.get("readOnly") or spec.get("type") != "string":
                continue
            if "enum" in spec or spec.get("format") in ("date", "date-time", "binary", "decimal", "uuid"):
                continue
            if "maxLength" not in spec:
                unbounded.append(f"{name}.{field}")
    assert unbounded == []


def test_what_the_api_answers_is_what_its_schema_says_for_empty_and_null_values():
    """An empty email is no email address, and a pending request has no decider: the schema allows
    what the answers hold (schemathesis found both)."""
    from drf_spectacular.generators import SchemaGenerator

    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert "format" not in schemas["Borrower"]["properties"]["email"]
    assert schemas["Approval"]["properties"]["decided_by"].get("nullable") is True
