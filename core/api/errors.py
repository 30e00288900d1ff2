"""One error shape for the whole API:

    {"error": {"code": "invalid", "message": "…", "fields": {"amount": ["The amount must be positive."]}}}

Domain errors map to their status: a refused business rule 400, a step the state does not allow or a
stale view 409, a role that may not 403; Django and DRF validation errors 400 with field messages."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError

STATUS_BY_CODE = {
    "transition_not_allowed": status.HTTP_409_CONFLICT,
    "conflict": status.HTTP_409_CONFLICT,
    "loan_closed": status.HTTP_409_CONFLICT,
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "idempotency_mismatch": status.HTTP_422_UNPROCESSABLE_ENTITY,
}


def error_response(status_code, code, message, fields=None):
    body = {"error": {"code": code, "message": str(message)}}
    if fields:
        body["error"]["fields"] = fields
    return Response(body, status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        fields = {exc.field: [str(exc.message)]} if exc.field else None
        return error_response(STATUS_BY_CODE.get(exc.code, status.HTTP_400_BAD_REQUEST), exc.code, exc.message, fields)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        if "__all__" in fields:  # whole-model errors (a duplicate ID number): DRF's name for them
            fields["non_field_errors"] = fields.pop("__all__")
        return error_response(status.HTTP_400_BAD_REQUEST, "invalid", _("The request is not valid."), fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a programming error: let it fail loudly (500) and be logged
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(response.status_code, "invalid", _("The request is not valid."), _flatten(detail))
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    response.data = {"error": {"code": code, "message": str(message)}}
    return response


def _flatten(detail):
    """DRF nests errors for nested serializers and lists; keep field -> list of strings."""
    flat = {}
    for field, errors in detail.items():
        if isinstance(errors, dict):
            for sub, sub_errors in _flatten(errors).items():
                flat[f"{field}.{sub}"] = sub_errors
        elif isinstance(errors, list):
            flat[field] = [str(e) for e in errors]
        else:
            flat[field] = [str(errors)]
    return flat
