from django.db import models
from django.utils.translation import gettext_lazy as _


class BorrowerKind(models.TextChoices):
    PERSON = "person", _("Person")
    ENTERPRISE = "enterprise", _("Enterprise")


class RiskGrade(models.TextChoices):
    A = "A", _("A (lowest risk)")
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"
    E = "E", _("E (highest risk)")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class Channel(models.TextChoices):
    MOBILE = "mobile", _("Mobile phone")
    LANDLINE = "landline", _("Landline")
    EMAIL = "email", _("Email")
    ADDRESS = "address", _("Postal address")


class Relation(models.TextChoices):
    SELF = "self", _("Borrower")
    SPOUSE = "spouse", _("Spouse")
    GUARANTOR = "guarantor", _("Guarantor")
    EMERGENCY = "emergency", _("Emergency contact")
    EMPLOYER = "employer", _("Employer")
    OTHER = "other", _("Other")

    @classmethod
    def third_parties(cls):
        """Everyone but the borrower: contacted only under the third-party contact rules."""
        return [r for r in cls if r != cls.SELF]
