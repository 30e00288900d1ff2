"""Who owes: people and enterprises, and every way of reaching them or the people around them."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Right
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from . import validators
from .choices import BorrowerKind, Channel, Language, Relation, RiskGrade

SHOWN_DIGITS = 4  # a masked phone or ID number shows its last four (尾号), and search matches them


class Borrower(TimeStampedModel):
    """A person (resident ID) or an enterprise (unified social credit code) that owes on loans.
    The identifier is unique per kind; phone and e-mail are kept in canonical form."""

    kind = models.CharField(_("kind"), max_length=16, choices=BorrowerKind.choices, default=BorrowerKind.PERSON)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    id_number = models.CharField(
        _("ID number"),
        max_length=18,
        help_text=_("Resident ID number for a person, unified social credit code for an enterprise."),
    )
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)

    monthly_income = models.DecimalField(
        _("monthly income"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    employer = models.CharField(_("employer"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    external_credit_score = models.PositiveSmallIntegerField(
        _("external credit score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(300), MaxValueValidator(1000)],
    )
    risk_grade = models.CharField(_("internal risk grade"), max_length=1, choices=RiskGrade.choices, blank=True)

    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    credit_reporting_consent = models.BooleanField(_("consents to credit reporting"), default=False)

    # Contact restrictions: the reminder dispatcher and the contact rules read these.
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    do_not_contact_reason = models.CharField(_("do-not-contact reason"), max_length=200, blank=True)
    do_not_contact_until = models.DateField(_("do not contact until"), null=True, blank=True)
    sms_opt_out = models.BooleanField(_("opted out of SMS"), default=False)
    email_opt_out = models.BooleanField(_("opted out of email"), default=False)
    call_opt_out = models.BooleanField(_("opted out of calls"), default=False)
    agreed_to_quiet_hours_contact = models.BooleanField(
        _("agreed to contact during quiet hours"),
        default=False,
        help_text=_("Only with the borrower's explicit agreement may collection contact happen 22:00-08:00."),
    )
    is_deceased = models.BooleanField(_("deceased"), default=False)
    is_bankrupt = models.BooleanField(_("bankrupt"), default=False)

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "id_number"], name="borrower_unique_id_number_per_kind"),
        ]
        # The worklist's search by the last four of the phone or ID number (what the masked value shows).
        indexes = [
            models.Index(Right("phone", SHOWN_DIGITS), name="borrower_phone_end_idx"),
            models.Index(Right("id_number", SHOWN_DIGITS), name="borrower_id_number_end_idx"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """Check and canonicalise the identifier, phone and e-mail, naming the field at fault."""
        errors = {}
        for field, check in self._field_checks():
            value = getattr(self, field)
            if not value:
                continue
            try:
                setattr(self, field, check(value))
            except ValidationError as error:
                errors[field] = error.messages
        if errors:
            raise ValidationError(errors)

    def _field_checks(self):
        id_check = validators.resident_id if self.kind == BorrowerKind.PERSON else validators.social_credit_code
        return [("id_number", id_check), ("phone", validators.mobile_phone), ("email", validators.email)]

    @property
    def masked_id_number(self):
        value = self.id_number or ""
        return value[:4] + "*" * max(len(value) - 8, 0) + value[-SHOWN_DIGITS:] if len(value) > 8 else value

    @property
    def masked_phone(self):
        value = self.phone or ""
        return value[:-8] + "****" + value[-SHOWN_DIGITS:] if len(value) >= 11 else value


class ContactPoint(TimeStampedModel):
    """One way to reach the borrower or someone around them. Third parties (anyone but the borrower)
    are contacted only under the third-party contact rules, never told the amount or the overdue."""

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.CASCADE, related_name="contact_points"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    value = models.CharField(_("value"), max_length=300)
    relation = models.CharField(_("relation"), max_length=16, choices=Relation.choices, default=Relation.SELF)
    contact_name = models.CharField(
        _("contact name"), max_length=200, blank=True, help_text=_("The third party's name, when not the borrower.")
    )
    is_verified = models.BooleanField(_("verified"), default=False)
    invalid_since = models.DateField(_("invalid since"), null=True, blank=True)
    refused_contact = models.BooleanField(
        _("refused further contact"), default=False, help_text=_("A third party who refused is not contacted again.")
    )

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        ordering = ["borrower_id", "relation", "channel", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["borrower", "channel", "value", "relation"], name="contact_point_unique_per_borrower"
            ),
        ]
        indexes = [models.Index(fields=["value"])]

    def __str__(self):
        return f"{self.get_relation_display()} · {self.get_channel_display()} · {self.value}"

    def clean(self):
        checks = {
            Channel.MOBILE: validators.mobile_phone,
            Channel.LANDLINE: validators.any_phone,
            Channel.EMAIL: validators.email,
        }
        check = checks.get(self.channel)
        if self.relation != Relation.SELF and not self.contact_name:
            raise ValidationError({"contact_name": _("Name the third party.")})
        if check and self.value:
            try:
                self.value = check(self.value)
            except ValidationError as error:
                raise ValidationError({"value": error.messages}) from None

    @property
    def is_third_party(self):
        return self.relation != Relation.SELF
