from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class MoneyField(serializers.DecimalField):
    """An amount of money in yuan: a decimal string with at most two places ("1234.50"). JSON numbers
    with a fraction are refused, since a float cannot carry an exact amount; whole numbers are exact
    and accepted. Digits other than 0-9 (full-width "１０") are refused, not read."""

    default_error_messages = {
        "float": _("Give money as a decimal string such as “12.50”, not a JSON number."),
        "digits": _("Write amounts with the digits 0-9 and a point, as in 1250.00."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, float):
            self.fail("float")
        if isinstance(data, str) and not data.isascii():  # Decimal() would read "１０" as ten
            self.fail("digits")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 moment with its UTC offset: a bare local time is ambiguous (whose 10:00?), for money
    and for the contact rules alike."""

    default_error_messages = {"naive": _("Give the time with its UTC offset, e.g. 2026-04-20T10:00:00+08:00.")}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)
