"""The API's shared parts: one error shape, strict page sizes, token clients, the documented schema."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.template.defaultfilters import filesizeformat
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotAuthenticated
from rest_framework.test import APIRequestFactory

from core.api.errors import exception_handler
from core.api.pagination import Pagination
from core.errors import ApplicationError
from core.middleware import api_body_limit
from loans.models import Payment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ApplicationError("Amount must be positive.", field="amount"), 400, "invalid"),
        (ApplicationError("Not now.", code="transition_not_allowed"), 409, "transition_not_allowed"),
        (ApplicationError("Someone else acted.", code="conflict"), 409, "conflict"),
        (ApplicationError("Not yours.", code="permission_denied"), 403, "permission_denied"),
        (ApplicationError("Other money.", code="idempotency_mismatch", field="external_reference"), 422, None),
        (ValidationError({"phone": ["This is not a phone number."]}), 400, "invalid"),
        (NotAuthenticated(), 401, "not_authenticated"),
    ],
)
def test_every_error_has_one_shape(error, status, code):
    response = exception_handler(error, {})
    assert response.status_code == status
    body = response.data["error"]
    assert set(body) <= {"code", "message", "fields"} and body["message"]
    if code:
        assert body["code"] == code
    if getattr(error, "field", None):
        assert body["fields"] == {error.field: [error.message]}
    if isinstance(error, ValidationError):
        assert body["fields"] == {"phone": ["This is not a phone number."]}


def test_page_sizes_outside_the_limit_are_refused():
    paginator = Pagination()
    factory = APIRequestFactory()
    assert paginator.get_page_size(_request(factory, "")) == 50
    assert paginator.get_page_size(_request(factory, "page_size=500")) == 500
    for bad in ("page_size=501", "page_size=0", "page_size=abc", "page_size=-1"):
        with pytest.raises(Exception) as error:
            paginator.get_page_size(_request(factory, bad))
        assert error.value.status_code == 400


def _request(factory, query):
    from rest_framework.request import Request

    return Request(factory.get(f"/api/v1/loans/?{query}"))


def test_create_api_client_prints_a_token_with_exactly_the_permissions(capsys):
    call_command("create_api_client", "payment-gateway", "--perm", "loans.add_payment")
    token = capsys.readouterr().out.strip()
    user = Token.objects.get(key=token).user
    assert user.groups.filter(name="api-client").exists() and not user.has_usable_password()
    assert user.has_perm("loans.add_payment") and not user.has_perm("borrowers.view_borrower")


def test_the_schema_and_swagger_ui_are_served_without_a_cdn(admin_client):
    schema = admin_client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi" in schema.content
    docs = admin_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower() and "//unpkg" not in docs


def test_an_unknown_api_path_answers_in_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert client.get("/no-such-page/").status_code == 404


JSON_ENDPOINTS = ["/api/v1/payments/", "/api/v1/loans/", "/api/v1/borrowers/"]


@pytest.fixture
def root(admin_user):
    """A superuser's API client with a token (every permission: the body is what is tried)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_at_any_depth_is_a_400_in_the_error_shape(root, path, depth):
    client = root
    response = client.post(path, "[" * depth + "]" * depth, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested" in response.json()["error"]["message"]


def test_json_nested_as_deep_as_real_bodies_go_still_parses(root):
    body = {"loan": "L-1", "amount": "10.00", "note": "x", "nested": [[[[{"a": [1]}]]]]}
    response = root.post("/api/v1/payments/", body, format="json")
    assert response.status_code == 400  # no such loan: the body itself was read
    assert "loan" in response.json()["error"]["fields"]


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain"])
def test_a_body_over_the_limit_is_a_413_in_the_error_shape(root, content_type):
    limit = api_body_limit(content_type)  # 2.5 MB; with a file of the upload limit beside for multipart
    body = b'{"note": "' + b"x" * limit + b'"}'
    response = root.generic("POST", "/api/v1/payments/", body, content_type=content_type)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert filesizeformat(limit) in error["message"]
    assert filesizeformat(limit).replace("\xa0", " ") == ("12.5 MB" if "multipart" in content_type else "2.5 MB")
    assert not Payment.objects.exists()


def test_a_body_django_would_not_read_is_a_413_in_the_error_shape_even_without_a_length(root):
    """Django refuses a form body past DATA_UPLOAD_MAX_MEMORY_SIZE as it reads it (RequestDataTooBig):
    under /api/ that is a 413 in the error shape too, not Django's HTML 400 page."""
    from django.core.exceptions import RequestDataTooBig
    from django.test import RequestFactory

    from config.urls import refused

    request = RequestFactory().post("/api/v1/payments/", "x", content_type="application/json")
    response = refused(request, RequestDataTooBig())
    assert response.status_code == 413 and json.loads(response.content)["error"]["code"] == "too_large"
    page = refused(RequestFactory().post("/cases/", {"note": "x"}), RequestDataTooBig())
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
