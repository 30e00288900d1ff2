"""What base.html's navigation asks: URLs that may not exist yet (the manager's pages are another
module's, added on their own schedule), whether the user is a manager, and people's names."""

from decimal import Decimal

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timeuntil

from .. import selectors
from ..choices import ApprovalStatus
from ..models import Approval

register = template.Library()


@register.simple_tag
def url_or_none(name, *args):
    """`{% url_or_none "dashboard:queue" as queue_url %}`: the URL, or None when no such page exists."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@register.filter
def is_manager(user):
    return selectors.user_is_manager(user)


@register.simple_tag
def pending_approvals_count():
    """Requests waiting for a manager (one indexed count; shown to managers only)."""
    return Approval.objects.filter(status=ApprovalStatus.PENDING).count()


@register.filter
def person(user):
    """A person as the pages name them: family name first (李明), else the username."""
    if user is None:
        return ""
    return f"{user.last_name}{user.first_name}" or user.get_username()


@register.filter
def as_duration(value):
    """A timedelta in words, in the page's language ("1 hour", "1小时")."""
    if not value:
        return ""
    now = timezone.now()
    return timeuntil(now + value, now)


@register.filter
def percent(rate):
    """A rate kept as a fraction (0.1200) as a percentage: 12%, 12.5%."""
    if rate in (None, ""):
        return ""
    return f"{(Decimal(str(rate)) * 100).quantize(Decimal('0.01')).normalize():f}%"
