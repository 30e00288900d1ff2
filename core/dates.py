"""Business dates are calendar days in the lender's time zone (settings.TIME_ZONE)."""

from datetime import date

from django.core.management.base import CommandError
from django.utils import timezone

# The days a loan, a payment or a court can plausibly name: a date outside them is a typo, and the
# deadlines counted from it would overflow.
EARLIEST_DAY, LATEST_DAY = date(1950, 1, 1), date(2199, 12, 31)


def business_today():
    return timezone.localdate()


def business_date(moment):
    """The lender's calendar day of an aware timestamp."""
    return timezone.localdate(moment)


def date_option(text) -> date:
    """A command's --date, YYYY-MM-DD, or an error that says so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {text!r}.") from None
