"""Template filters every page uses: money as ¥1,234.56 (Decimal, half-up to the fen, never float)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

FEN = Decimal("0.01")


@register.filter
def yuan(value):
    """¥1,234.56; a negative amount as -¥1,234.56; empty for None or a value that is not a number."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(FEN, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


@register.inclusion_tag("core/_audit_status.html")
def audit_status():
    """The last verification of the activity log's chain, for those who read the log."""
    from core.audit_chain import last_verification

    return {"result": last_verification()}
