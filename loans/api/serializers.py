"""Loans, products and payments over the API. Input serializers check shapes and types (the
services check the terms and the money); output serializers give money as strings with two places."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from borrowers.models import Borrower
from core.api.fields import AwareDateTimeField, MoneyField
from core.dates import EARLIEST_DAY, LATEST_DAY, business_today
from core.money import FEN

from .. import delinquency
from ..choices import PaymentChannel, RegulatoryClass
from ..models import CURRENCY_CHOICES, Installment, Loan, LoanProduct, Payment, PaymentAllocation

# Dates a loan can plausibly carry: anything outside is a typo, and far dates would overflow the
# schedule's month arithmetic.
PLAUSIBLE_DATES = [MinValueValidator(EARLIEST_DAY), MaxValueValidator(LATEST_DAY)]


NATURAL_KEY_MAX_LENGTH = 64  # Loan.external_id; a product code is shorter


@extend_schema_field({"type": "string", "maxLength": NATURAL_KEY_MAX_LENGTH})
class NaturalKeyField(serializers.SlugRelatedField):
    """A related object named by its natural key, a string (a list or a number is not a key) no
    longer than any key is (a product's code, a loan's external id)."""

    default_error_messages = {"max_length": _("No key is longer than {max_length} characters.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > NATURAL_KEY_MAX_LENGTH:
            self.fail("max_length", max_length=NATURAL_KEY_MAX_LENGTH)
        return super().to_internal_value(data)


# --- Products ----------------------------------------------------------------------------------------


class LoanProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanProduct
        fields = [
            "code",
            "name",
            "kind",
            "repayment_method",
            "currency",
            "min_principal",
            "max_principal",
            "min_term_months",
            "max_term_months",
            "max_annual_rate",
            "monthly_fee_rate",
            "penalty_basis",
            "penalty_rate",
            "penalty_markup",
            "cost_cap_rate",
            "grace_days",
            "first_period_basis",
            "allocation_order",
            "is_active",
        ]
        read_only_fields = fields


# --- Loans -------------------------------------------------------------------------------------------


class ScheduleSerializer(serializers.ListSerializer):
    """A list of instalments shows each one's penalty as of today (the daily run keeps only the
    loan's penalty total current; see loans/delinquency.py)."""

    def to_representation(self, data):
        rows = data.all() if hasattr(data, "all") else data
        return [self.child.to_representation(row) for row in delinquency.with_penalty(rows, business_today())]


class InstallmentSerializer(serializers.ModelSerializer):
    total_due = MoneyField(read_only=True)
    total_outstanding = MoneyField(read_only=True)

    class Meta:
        model = Installment
        list_serializer_class = ScheduleSerializer
        fields = [
            "id",
            "schedule_version",
            "seq",
            "due_date",
            "principal_due",
            "interest_due",
            "fee_due",
            "cost_due",
            "penalty_accrued",
            "principal_paid",
            "interest_paid",
            "fee_paid",
            "cost_paid",
            "penalty_paid",
            "total_due",
            "total_outstanding",
            "status",
            "paid_on",
        ]
        read_only_fields = fields


class LoanSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("The product's code."))
    total_outstanding = MoneyField(read_only=True)

    class Meta:
        model = Loan
        fields = [
            "id",
            "external_id",
            "borrower",
            "product",
            "currency",
            "principal",
            "annual_rate",
            "term_months",
            "disbursed_on",
            "first_due_date",
            "maturity_date",
            "status",
            "closed_on",
            "principal_outstanding",
            "interest_outstanding",
            "fees_outstanding",
            "costs_outstanding",
            "penalty_outstanding",
            "total_outstanding",
            "overdue_amount",
            "credit_balance",
            "days_past_due",
            "overdue_since",
            "aging_bucket",
            "regulatory_class",
            "manual_regulatory_class",
            "manual_class_reason",
            "ifrs9_stage",
            "observation_until",
            "annual_cost",
            "balances_as_of",
        ]
        read_only_fields = fields


class LoanDetailSerializer(LoanSerializer):
    schedule = InstallmentSerializer(
        source="installments", many=True, read_only=True, help_text=_("Every instalment, superseded ones included.")
    )

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "schedule"]
        read_only_fields = fields


class LoanCreateSerializer(serializers.Serializer):
    """A disbursed loan as core banking books it. Booking the same external id again with the same
    terms returns the first loan; other terms under that id are refused (422)."""

    external_id = serializers.CharField(max_length=64, help_text=_("The loan's id in core banking; unique."))
    borrower = serializers.PrimaryKeyRelatedField(
        queryset=Borrower.objects.all(),
        help_text=_("The borrower's id."),
        error_messages={"does_not_exist": _("No borrower has the id {pk_value}.")},
    )
    product = NaturalKeyField(
        slug_field="code",
        queryset=LoanProduct.objects.all(),
        help_text=_("The product's code, e.g. consumer-12m."),
        error_messages={"does_not_exist": _("No product has the code “{value}”.")},
    )
    principal = MoneyField(min_value=FEN, help_text=_("Yuan, a decimal string with at most two places."))
    annual_rate = serializers.DecimalField(
        max_digits=8,
        decimal_places=6,
        min_value=0,
        max_value=1,
        help_text=_("A fraction: 0.18 is 18% a year."),
    )
    term_months = serializers.IntegerField(min_value=1, max_value=600)
    disbursed_on = serializers.DateField(validators=PLAUSIBLE_DATES)
    first_due_date = serializers.DateField(
        required=False, validators=PLAUSIBLE_DATES, help_text=_("Defaults to a month after disbursement.")
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text=_("Defaults to the product's currency.")
    )


# --- Payments ----------------------------------------------------------------------------------------


class PaymentAllocationSerializer(serializers.ModelSerializer):
    installment_seq = serializers.IntegerField(source="installment.seq", read_only=True)

    class Meta:
        model = PaymentAllocation
        fields = ["id", "installment", "installment_seq", "component", "amount", "applied_on"]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    loan = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True, help_text=_("The loan's external id.")
    )
    reversed_by = serializers.PrimaryKeyRelatedField(
        source="reversal", read_only=True, allow_null=True, help_text=_("The reversal of this payment, if any.")
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "loan",
            "kind",
            "external_reference",
            "amount",
            "currency",
            "received_at",
            "value_date",
            "channel",
            "unapplied_amount",
            "reverses",
            "reversed_by",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class PaymentDetailSerializer(PaymentSerializer):
    allocations = PaymentAllocationSerializer(
        many=True, read_only=True, help_text=_("How the money was applied, line by line.")
    )

    class Meta(PaymentSerializer.Meta):
        fields = [*PaymentSerializer.Meta.fields, "allocations"]
        read_only_fields = fields


class PaymentCreateSerializer(serializers.Serializer):
    """Money received for a loan. The external reference (or the Idempotency-Key header when the body
    has none) makes the post idempotent: the same reference again returns the first payment."""

    loan = NaturalKeyField(
        slug_field="external_id",
        queryset=Loan.objects.all(),
        help_text=_("The loan's external id (the key core banking and gateways know)."),
        error_messages={"does_not_exist": _("No loan has the external id “{value}”.")},
    )
    amount = MoneyField(min_value=FEN, help_text=_("Yuan, a decimal string with at most two places, e.g. “1250.00”."))
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    channel = serializers.ChoiceField(choices=PaymentChannel.choices)
    received_at = AwareDateTimeField(
        required=False, help_text=_("ISO 8601 with the UTC offset; defaults to now. Sets the value date.")
    )
    external_reference = serializers.CharField(
        max_length=100,
        required=False,
        help_text=_("The payment's unique reference in the sending system; else the Idempotency-Key header."),
    )
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("external_reference"):
            key = (self.context.get("idempotency_key") or "").strip()
            if not key:
                raise serializers.ValidationError(
                    {"external_reference": _("Give an external reference or an Idempotency-Key header.")}
                )
            if len(key) > 100:
                raise serializers.ValidationError(
                    {"external_reference": _("The Idempotency-Key has at most 100 characters.")}
                )
            attrs["external_reference"] = key
        return attrs


class PaymentReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("Why: bounced, misapplied…"))


class PayoffQuoteSerializer(serializers.Serializer):
    """What settling the loan today takes (loans/settlement.py)."""

    on = serializers.DateField(read_only=True, help_text=_("The business day the quote is for (today)."))
    due_now = MoneyField(read_only=True, help_text=_("Instalments due on or before the day, penalty included."))
    future_principal = MoneyField(read_only=True, help_text=_("Principal not yet due."))
    accrued_interest = MoneyField(read_only=True, help_text=_("The running period's interest for the days it has run."))
    total = MoneyField(read_only=True, help_text=_("What the loan owes if settled today."))
    credit = MoneyField(read_only=True, help_text=_("Money already received for the loan and not yet applied."))
    to_pay = MoneyField(read_only=True, help_text=_("What settling today takes: the total less the credit held."))


class SettleSerializer(serializers.Serializer):
    """Money that pays the loan off today; at least the quote's amount to pay."""

    amount = MoneyField(min_value=FEN, help_text=_("Yuan, at least the quote's amount to pay."))
    channel = serializers.ChoiceField(choices=PaymentChannel.choices)
    external_reference = serializers.CharField(
        max_length=100, help_text=_("The payment's unique reference in the sending system (makes it idempotent).")
    )


class LoanClassSerializer(serializers.Serializer):
    """A manager's judgment of the loan's regulatory class, or null to go by days past due only."""

    regulatory_class = serializers.ChoiceField(
        choices=RegulatoryClass.choices,
        allow_null=True,
        help_text=_("1 normal … 5 loss; null withdraws the manual class (the days-past-due floor alone)."),
        error_messages={"invalid_choice": _("Choose one of the five classes (1–5), or null.")},
    )
    reason = serializers.CharField(max_length=500, help_text=_("Why the loan is classed so; kept in the audit log."))
