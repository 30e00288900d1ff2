"""Pure decision functions of the collection workflow, each with its table in one place. They take
plain values and return the verdict with the reasons that fired, so a person can see why."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from .choices import (
    CaseState,
    ContactOutcome,
    HoldReason,
    Party,
    PromiseStatus,
    Recipient,
    ReminderChannel,
    ResolutionReason,
    Severity,
)

# --- Unreachable: a run of failed attempts, with no success since, of at least three attempts across
# at least three calendar days -------------------------------------------------------------------------
UNREACHABLE_ATTEMPTS = 3
UNREACHABLE_SPAN_DAYS = 3


def is_unreachable(attempts: list[tuple[date, str]]) -> bool:
    """`attempts` are (business day, outcome) pairs, oldest first: every attempt since the last
    successful contact at least (older ones change nothing). Unreachable means the attempts since
    the last success all failed (nobody answered, wrong number), are at least three, and span at
    least three calendar days. More failed calls on the same evening only lengthen the run: calling
    twice a day for three days makes the borrower unreachable, and only reaching them ends it."""
    run = []
    for day, outcome in attempts:
        run = [*run, day] if outcome in ContactOutcome.failed() else []
    if len(run) < UNREACHABLE_ATTEMPTS:
        return False
    return (run[-1] - run[0]).days + 1 >= UNREACHABLE_SPAN_DAYS


# --- Daily call caps on outbound calls, counted across the lender and its agencies ---------------------
CONNECTED_CALLS_A_DAY = 3  # connected calls to one borrower, per day in the borrower's time zone
UNANSWERED_ATTEMPTS_A_DAY = 6  # unanswered attempts on one number, per day


def call_cap_breached(*, connected: bool, connected_today: int, unanswered_today: int):
    """The message of the cap one more outbound call would break, or None. `connected` is whether
    this call reached someone; the counts are the day's calls before it (connected ones to the
    borrower, unanswered ones on the number dialled)."""
    if connected and connected_today >= CONNECTED_CALLS_A_DAY:
        return _("At most %(count)s connected calls a day to one borrower, across the lender and its agencies.") % {
            "count": CONNECTED_CALLS_A_DAY
        }
    if not connected and unanswered_today >= UNANSWERED_ATTEMPTS_A_DAY:
        return _("At most %(count)s unanswered calls a day to one number.") % {"count": UNANSWERED_ATTEMPTS_A_DAY}
    return None


# --- Minor vs serious --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def as_dict(self):
        return {"code": self.code, "message": str(self.message)}


@dataclass(frozen=True)
class CaseFacts:
    """What the classification looks at, gathered by the caller from the case and its history."""

    days_past_due: int
    serious_days: int = 60
    unreachable: bool = False
    refused: bool = False
    broken_promises: int = 0
    suspected_evasion: bool = False
    collateral_at_risk: bool = False
    grace_expired_unpaid: bool = False
    reached: bool = False
    promise_kept: bool = False
    hardship_documented: bool = False


@dataclass(frozen=True)
class Classification:
    severity: str
    reasons: list[Reason] = field(default_factory=list)

    def reasons_as_dicts(self):
        return [reason.as_dict() for reason in self.reasons]


BROKEN_PROMISES_FOR_SERIOUS = 2

# (code, test, message): any one makes a case serious.
SERIOUS_SIGNS = [
    ("unreachable", lambda f: f.unreachable, _("Borrower unreachable: three failed contacts across three days")),
    ("refused", lambda f: f.refused, _("Borrower explicitly refused to pay")),
    (
        "broken_promises",
        lambda f: f.broken_promises >= BROKEN_PROMISES_FOR_SERIOUS,
        _("Two or more promises to pay broken"),
    ),
    ("evasion", lambda f: f.suspected_evasion, _("Suspected malicious evasion (asset transfer, false information)")),
    ("collateral_at_risk", lambda f: f.collateral_at_risk, _("Collateral at risk")),
    ("grace_expired", lambda f: f.grace_expired_unpaid, _("The grace period ended with the arrears unpaid")),
    ("dpd_threshold", lambda f: f.days_past_due > f.serious_days, _("Days past due beyond the serious threshold")),
]

# Signs of short-term cash-flow trouble with willingness to pay.
MINOR_SIGNS = [
    ("reached", lambda f: f.reached, _("Borrower reached and cooperating")),
    ("promise_kept", lambda f: f.promise_kept, _("A promise to pay was kept")),
    ("hardship", lambda f: f.hardship_documented, _("Temporary hardship documented")),
]


NO_SERIOUS_SIGN = _("No sign of a serious overdue")
# Every reason's message by its code, so a stored reason is shown in the reader's language.
REASON_MESSAGES = {code: message for code, _test, message in SERIOUS_SIGNS + MINOR_SIGNS} | {
    "no_serious_sign": NO_SERIOUS_SIGN
}


def classify(facts: CaseFacts) -> Classification:
    """Serious when any serious sign fired, else minor; the reasons list what fired."""
    serious = [Reason(code, message) for code, test, message in SERIOUS_SIGNS if test(facts)]
    if serious:
        return Classification(Severity.SERIOUS, serious)
    minor = [Reason(code, message) for code, test, message in MINOR_SIGNS if test(facts)]
    return Classification(Severity.MINOR, minor or [Reason("no_serious_sign", NO_SERIOUS_SIGN)])


# --- Resolution: which reasons close a case from which state ------------------------------------------
# Cured and paid in full need nothing overdue (the service checks the loan); a settlement or a recovery
# closes legal action; "restructured" closes the observation period of a plan that ran its course.
RESOLUTION_REASONS = {
    CaseState.EARLY_WARNING: [ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL],
    CaseState.MINOR: [ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL],
    CaseState.SERIOUS: [ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL],
    CaseState.MONITORING: [ResolutionReason.RESTRUCTURED, ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL],
    CaseState.LEGAL: [
        ResolutionReason.RECOVERED,
        ResolutionReason.SETTLED,
        ResolutionReason.CURED,
        ResolutionReason.PAID_IN_FULL,
    ],
}


def resolution_reasons(state: str) -> list[str]:
    return RESOLUTION_REASONS.get(state, [])


# --- Who a contact point reaches ----------------------------------------------------------------------
def party_of(relation: str) -> str:
    """The party a contact point reaches: the borrower's own, a guarantor, or a third party."""
    if relation == "self":
        return Party.BORROWER
    return Party.GUARANTOR if relation == "guarantor" else Party.THIRD_PARTY


# --- Contact windows (GB/T 45251-2025) ---------------------------------------------------------------
QUIET_HOURS_START = time(22, 0)
QUIET_HOURS_END = time(8, 0)


def in_quiet_hours(local_moment: datetime, *, agreed: bool = False) -> bool:
    """No collection contact 22:00-08:00 in the borrower's time zone unless the borrower agreed."""
    if agreed:
        return False
    moment = local_moment.time()
    return moment >= QUIET_HOURS_START or moment < QUIET_HOURS_END


def quiet_hours_end(local_moment: datetime) -> datetime:
    """The first moment at or after `local_moment` (aware, in the borrower's zone) outside quiet
    hours: 08:00 the same morning before 08:00, 08:00 the next morning from 22:00."""
    day = local_moment.date() + (timedelta(days=1) if local_moment.time() >= QUIET_HOURS_START else timedelta())
    return datetime.combine(day, QUIET_HOURS_END, tzinfo=local_moment.tzinfo)


def zone(name: str) -> ZoneInfo:
    """A borrower's time zone; an unknown name falls back to the lender's (Asia/Shanghai)."""
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Shanghai")


# --- Priority: who to work first ---------------------------------------------------------------------
# score = aging bucket (M1 = 1 ... M7 = 7) × per_bucket + min(overdue amount / per_yuan, amount_cap)
#         + the risk grade's weight + broken promises × per_broken + (unreachable ? unreachable : 0)
# Built on the bucket rather than the day count, so a case's score moves when something that matters
# changes, not every night.
PRIORITY_WEIGHTS = {
    "per_bucket": 300,
    "per_yuan": 100,  # one point per ¥100 overdue ...
    "amount_cap": 1000,  # ... up to ¥100,000
    "risk_grade": {"A": 0, "B": 50, "C": 100, "D": 200, "E": 300},
    "per_broken": 150,
    "unreachable": 100,
}


def priority_score(*, aging_bucket, overdue_amount, risk_grade="", broken_promises=0, unreachable=False) -> int:
    w = PRIORITY_WEIGHTS
    return int(
        int(aging_bucket[1:]) * w["per_bucket"]
        + min(int(overdue_amount // w["per_yuan"]), w["amount_cap"])
        + w["risk_grade"].get(risk_grade, 0)
        + broken_promises * w["per_broken"]
        + (w["unreachable"] if unreachable else 0)
    )


# --- Promises -----------------------------------------------------------------------------------------
def promise_outcome(amount, paid) -> str:
    """Kept when the money arrived by the date, partially kept when some did, broken otherwise."""
    if paid >= amount:
        return PromiseStatus.KEPT
    return PromiseStatus.PARTIALLY_KEPT if paid > 0 else PromiseStatus.BROKEN


# --- Reminders: may this one go out now? (checked by the dispatcher at send time) ----------------------
@dataclass(frozen=True)
class ReminderFacts:
    """What the contact rules look at for one reminder, read fresh when it is about to be sent."""

    channel: str
    local_now: datetime  # aware, in the borrower's time zone
    recipient: str = Recipient.BORROWER
    has_address: bool = True
    agreed_to_quiet_hours: bool = False
    do_not_contact: bool = False
    do_not_contact_until: date | None = None
    sms_opt_out: bool = False
    email_opt_out: bool = False
    call_opt_out: bool = False
    deceased: bool = False
    bankrupt: bool = False
    case_state: str | None = None  # None: a "due soon" reminder for a loan with no case
    step_states: tuple = ()  # the states the step applies in; empty for "due soon"
    hold_reason: str = ""
    borrower_unreachable: bool = False
    recipient_refused: bool = False
    still_owed: bool = True  # the instalment or arrears reminded of is still unpaid
    sent_today: int = 0  # reminders on this channel already sent to this borrower today


@dataclass(frozen=True)
class ReminderVerdict:
    action: str  # "send", "defer" or "suppress"
    code: str = ""
    message: str = ""
    send_from: datetime | None = None

    @property
    def sends(self):
        return self.action == "send"


# At most this many automated messages per borrower per channel per day.
DAILY_CAPS = {ReminderChannel.SMS: 2, ReminderChannel.EMAIL: 2, ReminderChannel.CALL_TASK: 1}

_OPT_OUT = {
    ReminderChannel.SMS: lambda f: f.sms_opt_out,
    ReminderChannel.EMAIL: lambda f: f.email_opt_out,
    ReminderChannel.CALL_TASK: lambda f: f.call_opt_out,
}


def _do_not_contact(f):
    return f.do_not_contact and (f.do_not_contact_until is None or f.do_not_contact_until >= f.local_now.date())


def _left_states(f):
    return f.case_state is not None and bool(f.step_states) and f.case_state not in f.step_states


# (code, test, message), checked in this order; the first that fires suppresses the reminder.
REMINDER_SUPPRESSIONS = [
    ("deceased", lambda f: f.deceased, _("The borrower is reported deceased.")),
    ("bankrupt", lambda f: f.bankrupt, _("The borrower is in bankruptcy.")),
    ("do_not_contact", _do_not_contact, _("The borrower is marked do-not-contact.")),
    ("opted_out", lambda f: _OPT_OUT[f.channel](f), _("The borrower opted out of this channel.")),
    (
        "dispute",
        lambda f: f.case_state == CaseState.ON_HOLD and f.hold_reason == HoldReason.DISPUTE,
        _("The case is on hold for a dispute."),
    ),
    (
        "complaint",
        lambda f: f.case_state == CaseState.ON_HOLD and f.hold_reason == HoldReason.COMPLAINT,
        _("The case is on hold for a complaint."),
    ),
    ("on_hold", lambda f: f.case_state == CaseState.ON_HOLD, _("The case is on hold.")),
    (
        "case_closed",
        lambda f: f.case_state in CaseState.closed_states(),
        _("The case is closed."),
    ),
    ("state_left", _left_states, _("The case has left the states this step applies to.")),
    ("paid", lambda f: not f.still_owed, _("Nothing is owed any more for this reminder.")),
    (
        "third_party",
        lambda f: f.recipient == Recipient.THIRD_PARTY and not f.borrower_unreachable,
        _("Third parties are contacted only while the borrower is unreachable."),
    ),
    ("third_party_refused", lambda f: f.recipient_refused, _("This contact refused further contact.")),
    ("no_address", lambda f: not f.has_address, _("No valid number or address to send to.")),
    (
        "daily_cap",
        lambda f: f.sent_today >= DAILY_CAPS.get(f.channel, 1),
        _("The daily limit of reminders on this channel is reached."),
    ),
]
SUPPRESSION_MESSAGES = {code: message for code, _test, message in REMINDER_SUPPRESSIONS}


def reminder_verdict(facts: ReminderFacts) -> ReminderVerdict:
    """Send, defer to the end of quiet hours, or suppress with the rule that fired. A call task is a
    note for the officer, not a contact: quiet hours do not hold it back (the call itself is checked
    when the officer logs it)."""
    for code, test, message in REMINDER_SUPPRESSIONS:
        if test(facts):
            return ReminderVerdict("suppress", code, str(message))
    if facts.channel != ReminderChannel.CALL_TASK and in_quiet_hours(
        facts.local_now, agreed=facts.agreed_to_quiet_hours
    ):
        return ReminderVerdict(
            "defer",
            "quiet_hours",
            str(_("Quiet hours 22:00-08:00 in the borrower's time zone.")),
            quiet_hours_end(facts.local_now),
        )
    return ReminderVerdict("send")
