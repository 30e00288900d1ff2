"""Form fields the dashboard's forms share."""

import unicodedata

from django import forms


class AmountField(forms.DecimalField):
    """An amount of money in yuan as a person types it. A keyboard left in full-width mode types
    "１２５０．００": the form reads it as 1250.00 on purpose (NFKC), where the API refuses anything but
    the digits 0-9, since a system sending full-width digits has a bug worth hearing about."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).replace(",", "")
        return super().to_python(value)
