"""Business dates are calendar days in the lender's time zone (settings.TIME_ZONE)."""

from datetime import date

from django.utils import timezone

# The days a loan, a payment or a court can plausibly name: a date outside them is a typo, and the
# deadlines counted from it would overflow.
EARLIEST_DAY, LATEST_DAY = date(1950, 1, 1), date(2199, 12, 31)


def business_today():
    return timezone.localdate()


def business_date(moment):
    """The lender's calendar day of an aware timestamp."""
    return timezone.localdate(moment)
