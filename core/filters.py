"""Filter pieces shared by the apps' FilterSets (API and dashboard alike)."""

import django_filters
from django import forms

# The largest id or day count a query may name; larger values are refused (400) rather than sent on.
MAX_INTEGER = 2**63 - 1


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals, which ids and day counts are not)."""

    field_class = forms.IntegerField
