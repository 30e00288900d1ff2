from datetime import date

from django.contrib.auth.models import Group, User

from collection.choices import CaseState, Severity
from collection.models import CollectionCase
from core import roles
from loans.models import Loan
from tests.loans.factories import make_loan


def make_user(username, *role_names, **fields):
    user = User.objects.create_user(username, password="pw", **fields)
    for name in role_names:
        user.groups.add(Group.objects.get_or_create(name=name)[0])  # a flushed test database has none
    return user


def make_officer(username="officer"):
    return make_user(username, roles.OFFICER)


def make_manager(username="manager"):
    return make_user(username, roles.MANAGER)


SEVERITY_OF = {CaseState.MINOR: Severity.MINOR, CaseState.SERIOUS: Severity.SERIOUS}


def make_case(*, state=CaseState.EARLY_WARNING, officer=None, loan=None, held_from_state="", **fields):
    """A case in any state, on a loan booked through the real service (overdue as of 2026-04-20)."""
    loan = loan or make_loan()
    fields.setdefault("severity", SEVERITY_OF.get(state, Severity.MINOR if state != CaseState.EARLY_WARNING else ""))
    if state == CaseState.ON_HOLD and not held_from_state:
        held_from_state = CaseState.MINOR
    if "days_past_due" in fields:  # the case reads it off its loan
        Loan.objects.filter(pk=loan.pk).update(days_past_due=fields.pop("days_past_due"))
        loan.refresh_from_db()
    return CollectionCase.objects.create(
        loan=loan,
        state=state,
        officer=officer,
        opened_on=fields.pop("opened_on", date(2026, 2, 16)),
        held_from_state=held_from_state,
        **fields,
    )
