"""Pure decision functions of the collection workflow, each with its table in one place. They take
plain values and return the verdict with the reasons that fired, so a person can see why."""

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from .choices import ContactOutcome, PromiseStatus, Severity

# --- Unreachable: three consecutive failed attempts across at least three calendar days -------------
UNREACHABLE_ATTEMPTS = 3
UNREACHABLE_SPAN_DAYS = 3


def is_unreachable(attempts: list[tuple[date, str]]) -> bool:
    """`attempts` are (business day, outcome) pairs, oldest first. The latest three must all have
    failed (nobody answered / wrong number) and span at least three calendar days."""
    if len(attempts) < UNREACHABLE_ATTEMPTS:
        return False
    latest = attempts[-UNREACHABLE_ATTEMPTS:]
    if any(outcome not in ContactOutcome.failed() for _day, outcome in latest):
        return False
    return (latest[-1][0] - latest[0][0]).days + 1 >= UNREACHABLE_SPAN_DAYS


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


def classify(facts: CaseFacts) -> Classification:
    """Serious when any serious sign fired, else minor; the reasons list what fired."""
    serious = [Reason(code, message) for code, test, message in SERIOUS_SIGNS if test(facts)]
    if serious:
        return Classification(Severity.SERIOUS, serious)
    minor = [Reason(code, message) for code, test, message in MINOR_SIGNS if test(facts)]
    return Classification(Severity.MINOR, minor or [Reason("no_serious_sign", _("No sign of a serious overdue"))])


# --- Contact windows (GB/T 45251-2025) ---------------------------------------------------------------
QUIET_HOURS_START = time(22, 0)
QUIET_HOURS_END = time(8, 0)


def in_quiet_hours(local_moment: datetime, *, agreed: bool = False) -> bool:
    """No collection contact 22:00-08:00 in the borrower's time zone unless the borrower agreed."""
    if agreed:
        return False
    moment = local_moment.time()
    return moment >= QUIET_HOURS_START or moment < QUIET_HOURS_END


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
