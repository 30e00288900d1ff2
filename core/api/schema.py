"""What every operation that takes a body may answer besides its own responses, added to the schema
once instead of on each view: 413 for a body over the limit (core.middleware.ApiBodySizeMiddleware)
and 415 for a content type the API does not read, both in the one error shape."""

BODY_ERRORS = {
    "413": "The request body is larger than the limit; nothing was read.",
    "415": "The body's content type is not one this operation reads (JSON, a form, or multipart).",
}


def document_body_errors(result, generator, request, public):
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                responses = operation.setdefault("responses", {})
                for code, description in BODY_ERRORS.items():
                    responses.setdefault(code, {"content": error, "description": description})
    return result
