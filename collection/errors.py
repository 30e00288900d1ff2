"""The domain errors of the collection workflow; the UI and the API map their codes to 409 / 403."""

from core.errors import ApplicationError


class TransitionNotAllowed(ApplicationError):
    """The case's state does not allow this step now."""

    def __init__(self, message, **kwargs):
        kwargs.setdefault("code", "transition_not_allowed")
        super().__init__(message, **kwargs)


class ConcurrentChange(ApplicationError):
    """Someone else changed the case since it was read: nothing was done."""

    def __init__(self, message, **kwargs):
        kwargs.setdefault("code", "conflict")
        super().__init__(message, **kwargs)


class NotPermitted(ApplicationError):
    """The actor's role does not allow this step on this case."""

    def __init__(self, message, **kwargs):
        kwargs.setdefault("code", "permission_denied")
        super().__init__(message, **kwargs)
