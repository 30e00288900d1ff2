"""Borrowers over the API. Input serializers check shapes and types; the services check the
identifiers, phones and e-mails and write. ID numbers and phones go out masked unless the reader may
see them (collection.unmask_pii)."""

import zoneinfo

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.fields import MoneyField
from core.permissions import UNMASK_PII

from ..choices import BorrowerKind, Channel, Language, Relation, RiskGrade
from ..models import Borrower, ContactPoint


def can_see_pii(serializer):
    request = serializer.context.get("request")
    return bool(request and request.user.has_perm(UNMASK_PII))


def mask_phone(value):
    """Keep the country code and the last four digits; the same rule as Borrower.masked_phone."""
    return value[:-8] + "****" + value[-4:] if len(value) >= 11 else value


# --- Contact points ----------------------------------------------------------------------------------

PHONE_CHANNELS = (Channel.MOBILE, Channel.LANDLINE)


class ContactPointSerializer(serializers.ModelSerializer):
    value = serializers.SerializerMethodField(help_text=_("Phone numbers are masked unless you may see them."))

    class Meta:
        model = ContactPoint
        fields = [
            "id",
            "channel",
            "value",
            "relation",
            "contact_name",
            "is_verified",
            "invalid_since",
            "refused_contact",
            "created_at",
        ]
        read_only_fields = fields

    def get_value(self, point) -> str:
        if point.channel in PHONE_CHANNELS and not can_see_pii(self):
            return mask_phone(point.value)
        return point.value


class ContactPointCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    value = serializers.CharField(max_length=300, help_text=_("A phone number, an e-mail or a postal address."))
    relation = serializers.ChoiceField(choices=Relation.choices, default=Relation.SELF)
    contact_name = serializers.CharField(
        max_length=200, allow_blank=True, default="", help_text=_("Required for anyone but the borrower.")
    )


# --- Borrowers ---------------------------------------------------------------------------------------


class BorrowerSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField(help_text=_("Masked unless you may see it."))
    phone = serializers.SerializerMethodField(help_text=_("E.164; masked unless you may see it."))
    risk_grade = serializers.ChoiceField(choices=RiskGrade.choices, allow_blank=True, read_only=True)
    # A plain string, not format "email": a borrower without an address has "", which is no email.
    email = serializers.CharField(read_only=True, help_text=_("An email address, or empty when none is known."))

    class Meta:
        model = Borrower
        fields = [
            "id",
            "kind",
            "name",
            "id_number",
            "phone",
            "email",
            "risk_grade",
            "language",
            "do_not_contact",
            "is_deceased",
            "is_bankrupt",
            "created_at",
        ]
        read_only_fields = fields

    def get_id_number(self, borrower) -> str:
        return borrower.id_number if can_see_pii(self) else borrower.masked_id_number

    def get_phone(self, borrower) -> str:
        return borrower.phone if can_see_pii(self) else borrower.masked_phone


class BorrowerDetailSerializer(BorrowerSerializer):
    contact_points = ContactPointSerializer(many=True, read_only=True)

    class Meta(BorrowerSerializer.Meta):
        fields = [
            *BorrowerSerializer.Meta.fields,
            "address",
            "monthly_income",
            "employer",
            "industry",
            "external_credit_score",
            "time_zone",
            "credit_reporting_consent",
            "do_not_contact_reason",
            "do_not_contact_until",
            "sms_opt_out",
            "email_opt_out",
            "call_opt_out",
            "agreed_to_quiet_hours_contact",
            "updated_at",
            "contact_points",
        ]
        read_only_fields = fields


class BorrowerCreateSerializer(serializers.Serializer):
    """What a lender's system sends to register a borrower. The identifier is checked against the
    kind (resident ID or unified social credit code); the phone and e-mail are stored canonical."""

    kind = serializers.ChoiceField(choices=BorrowerKind.choices, default=BorrowerKind.PERSON)
    name = serializers.CharField(max_length=200)
    id_number = serializers.CharField(
        max_length=18, help_text=_("Resident ID number for a person, unified social credit code for an enterprise.")
    )
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    monthly_income = MoneyField(max_digits=14, min_value=0, required=False, allow_null=True)
    employer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    external_credit_score = serializers.IntegerField(min_value=300, max_value=1000, required=False, allow_null=True)
    risk_grade = serializers.ChoiceField(choices=RiskGrade.choices, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    time_zone = serializers.CharField(max_length=64, required=False, help_text=_("An IANA zone, e.g. Asia/Shanghai."))
    credit_reporting_consent = serializers.BooleanField(required=False)

    def validate_time_zone(self, value):
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(_("“%(zone)s” is not a known time zone.") % {"zone": value})
        return value
