"""Loan and payment filters, shared by the API and the dashboard."""

import django_filters
from django.utils.translation import gettext_lazy as _

from core.filters import MAX_INTEGER, IntegerFilter

from .choices import AgingBucket, Ifrs9Stage, LoanStatus, PaymentChannel, PaymentKind, RegulatoryClass
from .models import Loan, Payment


class LoanFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LoanStatus.choices, label=_("status"))
    aging_bucket = django_filters.ChoiceFilter(choices=AgingBucket.choices, label=_("aging bucket"))
    regulatory_class = django_filters.TypedChoiceFilter(
        choices=RegulatoryClass.choices, coerce=int, label=_("regulatory class")
    )
    ifrs9_stage = django_filters.TypedChoiceFilter(choices=Ifrs9Stage.choices, coerce=int, label=_("IFRS 9 stage"))
    product = django_filters.CharFilter(field_name="product__code", max_length=40, label=_("product code"))
    borrower = IntegerFilter(field_name="borrower_id", min_value=1, max_value=MAX_INTEGER, label=_("borrower id"))
    dpd_min = IntegerFilter(
        field_name="days_past_due",
        lookup_expr="gte",
        min_value=0,
        max_value=MAX_INTEGER,
        label=_("days past due, from"),
    )
    dpd_max = IntegerFilter(
        field_name="days_past_due", lookup_expr="lte", min_value=0, max_value=MAX_INTEGER, label=_("days past due, to")
    )
    external_id = django_filters.CharFilter(max_length=64, label=_("external id"))

    class Meta:
        model = Loan
        fields = [
            "status",
            "aging_bucket",
            "regulatory_class",
            "ifrs9_stage",
            "product",
            "borrower",
            "dpd_min",
            "dpd_max",
            "external_id",
        ]


class PaymentFilterSet(django_filters.FilterSet):
    loan = django_filters.CharFilter(field_name="loan__external_id", max_length=64, label=_("loan external id"))
    value_date = django_filters.DateFromToRangeFilter(label=_("value date"))
    kind = django_filters.ChoiceFilter(choices=PaymentKind.choices, label=_("kind"))
    channel = django_filters.ChoiceFilter(choices=PaymentChannel.choices, label=_("channel"))

    class Meta:
        model = Payment
        fields = ["loan", "value_date", "kind", "channel"]
