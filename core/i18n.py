"""Text the services store (a payment's note, an approval's reason) is written in the lender's
language, whoever acts: it is read later by others, in lists and exports that do not translate it."""

from django.conf import settings
from django.utils import translation


def stored_text(message, **params) -> str:
    """`message` (marked with gettext_lazy) in the lender's language, with `params` filled in (lazy
    ones, such as a choice's label, in that language too)."""
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
        return text % params if params else text
