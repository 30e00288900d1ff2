"""What other apps' pages show of the legal route, contributed from here so that the lower apps never
import legal: the case page's panel of the case's legal actions (`{% legal_panel case %}`), and the
small filters the legal pages use."""

from django import template

from collection.choices import CaseState

from ..models import LegalAction
from ..timeline import FACT_LABELS, fact, title_of

register = template.Library()

OPEN_ACTION = "legal.add_legalaction"  # legal officers and managers (core/roles.py)


# A case has legal actions only once it was referred to legal (action_open insists), and from legal
# it goes on only to hold (and back), or closes: in any other state there is nothing to read.
MAY_HAVE_ACTIONS = {CaseState.LEGAL, CaseState.ON_HOLD, *CaseState.closed_states()}


@register.inclusion_tag("legal/_case_legal_panel.html", takes_context=True)
def legal_panel(context, case):
    """The case's legal actions with links to their pages (one query, none for a case never referred
    to legal), and the link to open one when the case is in legal and the reader is a legal officer
    or a manager (the permission cache answers that). Whoever sees the case sees its actions."""
    user = context.get("user")
    actions = []
    if case.state in MAY_HAVE_ACTIONS:
        actions = list(LegalAction.objects.filter(case=case).select_related("law_firm", "handled_by"))
    may_open = bool(user and case.state == CaseState.LEGAL and user.has_perm(OPEN_ACTION))
    return {"case": case, "actions": actions, "may_open": may_open, "request": context.get("request")}


@register.filter
def history_facts(entry):
    """An audit entry's data as (label, value) pairs in the reader's language, without the ids of rows the
    page shows anyway (legal/timeline.py)."""
    data = entry.data if isinstance(entry.data, dict) else {}
    facts = [shown for name, value in data.items() if (shown := fact(name, _plain(value))) is not None]
    before = (entry.before or {}).get("state") if isinstance(entry.before, dict) else None
    after = (entry.after or {}).get("state") if isinstance(entry.after, dict) else None
    if before and after and before != after:
        label, was = fact("state", before)
        facts.insert(0, (label, f"{was} → {fact('state', after)[1]}"))
    return facts


def _plain(value):
    """A nested value (the feasibility estimate) as `name: value` pairs rather than Python's repr."""
    if isinstance(value, dict):
        return " · ".join(
            f"{FACT_LABELS.get(name, name)}: {item}" for name, item in value.items() if item not in (None, "")
        )
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value


@register.filter
def activity_title(code):
    """An audit code as the case timeline names it ("legal.action.file" -> "Filed with the court")."""
    return title_of(code)


@register.filter
def lookup(mapping, key):
    """`{{ mapping|lookup:key }}`: a dict's value by a key held in a variable."""
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""
