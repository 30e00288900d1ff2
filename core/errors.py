"""Domain errors a user can fix. Views and the API turn them into a message (a 400 or a 409); a
programming error is never wrapped in one."""


class ApplicationError(Exception):
    """A business rule refused the request. `field` names the input at fault, when there is one."""

    def __init__(self, message, *, code="invalid", field=None, extra=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.extra = extra or {}

    def message_dict(self):
        """Field -> messages, the shape of Django's ValidationError.message_dict."""
        return {self.field or "non_field_errors": [str(self.message)]}
