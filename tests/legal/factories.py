from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from collection.choices import CaseState
from legal import rules, services
from loans.services import loan_refresh_balances
from tests.collection.factories import make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_legal_case(officer=None, *, as_of=date(2026, 4, 20)):
    """A case referred to legal whose loan's balances are as of `as_of` (the claim an action takes)."""
    case = make_case(state=CaseState.LEGAL, officer=officer)
    loan_refresh_balances(loan=case.loan, as_of=as_of)
    case.loan.refresh_from_db()
    return case


def on_day(day):
    """The clock at 10:00 of `day` in the lender's zone (nothing is recorded for a day after today)."""
    return time_machine.travel(datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI), tick=False)


def judged(lawyer, action, *, on=date(2026, 4, 20), principal="1"):
    """A filed action heard and judged on `on` (the judgment served that day, to be performed at once)."""
    action = services.action_advance(actor=lawyer, action=action, step="schedule_hearing", on=on, hearing_on=on)
    return services.action_advance(
        actor=lawyer,
        action=action,
        step="record_judgment",
        on=on,
        judgment_on=on,
        performance_due_on=on,
        judgment_principal=principal,
    )


def enforceable_from(judged_on=date(2026, 4, 20)):
    """The first day enforcement may be applied for on a judgment served and due on `judged_on`."""
    return rules.earliest_enforcement(appeal_deadline=rules.appeal_deadline(judged_on), performance_due_on=judged_on)


assert enforceable_from(date(2026, 4, 20)) == date(2026, 4, 20) + timedelta(days=16)
