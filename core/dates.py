"""Business dates are calendar days in the lender's time zone (settings.TIME_ZONE)."""

from django.utils import timezone


def business_today():
    return timezone.localdate()


def business_date(moment):
    """The lender's calendar day of an aware timestamp."""
    return timezone.localdate(moment)
