"""Money is Decimal, in yuan with two places (fen). Rounding is always explicit."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .errors import ApplicationError

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(value, rounding=ROUND_HALF_UP):
    """Round a Decimal to the fen (half up unless told otherwise)."""
    return Decimal(value).quantize(FEN, rounding=rounding)


def parse_amount(value, *, field="amount", allow_zero=False, allow_negative=False):
    """An amount given by a person or a system: a Decimal with at most two places, else a clear
    error naming the field. Floats are refused, since they cannot carry an exact amount."""
    if isinstance(value, float):
        raise ApplicationError(_("Give money as a decimal string, not a float."), field=field)
    if isinstance(value, str) and not value.isascii():
        # Decimal() reads full-width and other scripts' digits ("１０"): refused rather than guessed at,
        # so an amount is what every system downstream reads too.
        raise ApplicationError(_("Write amounts with the digits 0-9 and a point, as in 1250.00."), field=field)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ApplicationError(_("“%(value)s” is not an amount of money.") % {"value": value}, field=field) from None
    if not amount.is_finite():
        raise ApplicationError(_("“%(value)s” is not an amount of money.") % {"value": value}, field=field)
    if amount != amount.quantize(FEN):
        raise ApplicationError(_("An amount has at most two decimal places (fen)."), field=field)
    if amount == 0 and not allow_zero:
        raise ApplicationError(_("The amount must not be zero."), field=field)
    if amount < 0 and not allow_negative:
        raise ApplicationError(_("The amount must be positive."), field=field)
    return amount.quantize(FEN)
