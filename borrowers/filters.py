"""Borrower filters, shared by the API and the dashboard."""

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import validators
from .choices import BorrowerKind, RiskGrade
from .models import Borrower


class BorrowerFilterSet(django_filters.FilterSet):
    """Find a borrower by kind and grade, or exactly by identifier or phone. The phone is read the
    way a person writes it (138 1234 5678, +86…) and compared in E.164, the form it is stored in."""

    kind = django_filters.ChoiceFilter(choices=BorrowerKind.choices, label=_("kind"))
    risk_grade = django_filters.ChoiceFilter(choices=RiskGrade.choices, label=_("internal risk grade"))
    id_number = django_filters.CharFilter(method="filter_id_number", max_length=32, label=_("ID number"))
    phone = django_filters.CharFilter(method="filter_phone", max_length=32, label=_("mobile phone"))

    class Meta:
        model = Borrower
        fields = ["kind", "risk_grade", "id_number", "phone"]

    def filter_id_number(self, queryset, name, value):
        # Identifiers are stored compact and upper-case (a resident ID may end in X).
        return queryset.filter(id_number=value.replace(" ", "").upper())

    def filter_phone(self, queryset, name, value):
        try:
            value = validators.any_phone(value)
        except ValidationError:
            value = value.strip()  # not a phone number: nothing is stored that way, so nothing matches
        return queryset.filter(phone=value)
