"""Pure rules of the legal route, each table in one place: what filing and preservation cost in
court fees (诉讼费用交纳办法, arts. 13-14), whether a referral is worth it (the seeds: weigh the
expected recovery against the cost), which costs the borrower owes, the deadlines the law sets, the
order the court's calendar puts the steps in, the lowest price a seized asset may be offered at, and
who the sale's proceeds go to."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext_lazy as _

from core.money import ZERO, to_fen

from .choices import ActionKind, AssetKind, CostKind

# Property cases, art. 13: a progressive fee on the claim. (upper bound, rate); the first band is flat.
COURT_FEE_FLAT = (Decimal("10000"), Decimal("50"))
COURT_FEE_BANDS = [
    (Decimal("100000"), Decimal("0.025")),
    (Decimal("200000"), Decimal("0.02")),
    (Decimal("500000"), Decimal("0.015")),
    (Decimal("1000000"), Decimal("0.01")),
    (Decimal("2000000"), Decimal("0.009")),
    (Decimal("5000000"), Decimal("0.008")),
    (Decimal("10000000"), Decimal("0.007")),
    (Decimal("20000000"), Decimal("0.006")),
    (None, Decimal("0.005")),
]
# Preservation, art. 14: 30 up to 1,000; 1% to 100,000; 0.5% above; at most 5,000.
PRESERVATION_FLAT = (Decimal("1000"), Decimal("30"))
PRESERVATION_BANDS = [(Decimal("100000"), Decimal("0.01")), (None, Decimal("0.005"))]
PRESERVATION_CAP = Decimal("5000")


def _progressive(amount: Decimal, flat, bands) -> Decimal:
    bound, fee = flat
    if amount <= bound:
        return fee
    total, lower = fee, bound
    for upper, rate in bands:
        top = amount if upper is None else min(amount, upper)
        if top > lower:
            total += (top - lower) * rate
        if upper is None or amount <= upper:
            break
        lower = upper
    return to_fen(total)


def court_fee(claim: Decimal) -> Decimal:
    """The acceptance fee of a lawsuit over `claim` yuan."""
    return _progressive(Decimal(claim), COURT_FEE_FLAT, COURT_FEE_BANDS)


def preservation_fee(amount: Decimal) -> Decimal:
    """The fee for preserving property worth `amount` yuan."""
    if amount <= 0:
        return ZERO
    return min(_progressive(Decimal(amount), PRESERVATION_FLAT, PRESERVATION_BANDS), PRESERVATION_CAP)


@dataclass(frozen=True)
class Feasibility:
    claim: Decimal
    recoverable: Decimal  # what the known assets and collateral may realise
    court_fee: Decimal
    preservation_fee: Decimal
    lawyer_fee: Decimal
    other_costs: Decimal = ZERO

    @property
    def costs(self):
        return self.court_fee + self.preservation_fee + self.lawyer_fee + self.other_costs

    @property
    def expected_recovery(self):
        """At most the claim: assets beyond it go back to the borrower."""
        return min(self.recoverable, self.claim)

    @property
    def expected_net(self):
        return self.expected_recovery - self.costs

    @property
    def worth_it(self):
        return self.expected_net > 0

    def as_dict(self):
        return {
            name: str(getattr(self, name))
            for name in (
                "claim",
                "recoverable",
                "court_fee",
                "preservation_fee",
                "lawyer_fee",
                "other_costs",
                "costs",
                "expected_recovery",
                "expected_net",
            )
        }


def filing_fee(kind: str, claim: Decimal) -> Decimal:
    """What filing the action costs: a lawsuit the court fee; a payment order a third of it (art. 14);
    arbitration is estimated at the court fee (each commission has its own table); a lawyer's letter
    goes to no court."""
    if kind == ActionKind.LAWYERS_LETTER:
        return ZERO
    if kind == ActionKind.PAYMENT_ORDER:
        return to_fen(court_fee(claim) / 3)
    return court_fee(claim)


def feasibility(
    *, claim, recoverable, lawyer_fee, preserve=True, other_costs=ZERO, kind=ActionKind.LAWSUIT
) -> Feasibility:
    """The estimate a referral records: the filing fee by the claim, the preservation fee on what is
    preserved (the recoverable assets, up to the claim; none for a lawyer's letter), the lawyer's fee
    and other costs."""
    claim, recoverable = Decimal(claim), Decimal(recoverable)
    preserved = min(recoverable, claim) if preserve and kind != ActionKind.LAWYERS_LETTER else ZERO
    return Feasibility(
        claim=claim,
        recoverable=recoverable,
        court_fee=filing_fee(kind, claim),
        preservation_fee=preservation_fee(preserved),
        lawyer_fee=Decimal(lawyer_fee),
        other_costs=Decimal(other_costs),
    )


# --- Who bears a cost -----------------------------------------------------------------------------------

# The costs of realising the claim the borrower owes whatever the contract says: the losing party bears
# the court fees (诉讼费用交纳办法 art. 29), and the costs of preserving, appraising and selling its
# property are its own. Civil Code art. 561 has a payment meet them first. A lawyer's fee (and any
# other cost) is the borrower's only when the contract or the judgment puts it on them.
CHARGED_TO_BORROWER = frozenset({CostKind.COURT_FEE, CostKind.PRESERVATION, CostKind.APPRAISAL, CostKind.AUCTION})


def charged_by_default(kind: str) -> bool:
    """Whether a cost of this kind is charged to the loan unless the legal officer says otherwise."""
    return kind in CHARGED_TO_BORROWER


# --- Deadlines ---------------------------------------------------------------------------------------

APPEAL_PERIOD = timedelta(days=15)  # 民事诉讼法 art. 171: fifteen days from service of a judgment
ENFORCEMENT_WINDOW = relativedelta(years=2)  # art. 250: two years from the last day set for performance

# 民诉法解释 art. 485: how long a preservation holds before the court must be asked to renew it.
PRESERVATION_TERMS = {
    AssetKind.BANK_ACCOUNT: relativedelta(years=1),
    AssetKind.VEHICLE: relativedelta(years=2),
    AssetKind.OTHER: relativedelta(years=2),
    AssetKind.REAL_PROPERTY: relativedelta(years=3),
    AssetKind.EQUITY: relativedelta(years=3),
}
RENEWAL_NOTICE = timedelta(days=30)  # ask for renewal this long before the order lapses


def appeal_deadline(served_on: date) -> date:
    return served_on + APPEAL_PERIOD


def enforcement_deadline(performance_due_on: date) -> date:
    return performance_due_on + ENFORCEMENT_WINDOW


def preservation_expiry(asset_kind: str, granted_on: date) -> date:
    return granted_on + PRESERVATION_TERMS[asset_kind]


# --- The court's calendar ----------------------------------------------------------------------------
# Each step of an action happens after the ones it depends on: a hearing after the filing, a judgment
# after its hearing and recorded once served, enforcement once the judgment is final and the borrower's
# time to perform has run out, and no step before the step it follows. The functions give the earliest
# day allowed; `too_early` turns a day against it into the reason a refusal shows on its field.


@dataclass(frozen=True)
class TooEarly:
    """A day refused: the input at fault, the earliest day it may be, and why."""

    field: str
    earliest: date
    reason: str  # lazily translated, with %(earliest)s

    @property
    def message(self) -> str:
        return str(self.reason) % {"earliest": self.earliest.isoformat()}


def too_early(day: date | None, earliest: date | None, *, field: str, reason) -> TooEarly | None:
    """The refusal when `day` falls before `earliest`; None when it does not or either is unknown."""
    if day is None or earliest is None or day >= earliest:
        return None
    return TooEarly(field=field, earliest=earliest, reason=reason)


def earliest_hearing(filed_on: date | None) -> date | None:
    """A hearing is held on a filed action: no earlier than the filing."""
    return filed_on


def earliest_judgment(hearing_on: date | None) -> date | None:
    """A judgment follows its hearing: served no earlier than the hearing's day."""
    return hearing_on


def earliest_enforcement(*, appeal_deadline: date | None, performance_due_on: date | None) -> date | None:
    """Enforcement is applied for on a final judgment the borrower has not performed: the day after
    the later of the appeal deadline (the judgment becomes final) and the performance date (the
    borrower had until then to pay)."""
    days = [day for day in (appeal_deadline, performance_due_on) if day is not None]
    return max(days) + timedelta(days=1) if days else None


@dataclass(frozen=True)
class ActionDates:
    """The dates of an action a step is measured against (None where not yet known)."""

    filed_on: date | None = None
    last_step_on: date | None = None
    hearing_on: date | None = None
    judgment_on: date | None = None
    appeal_deadline: date | None = None
    performance_due_on: date | None = None


STEP_BEFORE_LAST = _("This step cannot be dated before the step it follows (%(earliest)s).")
HEARING_BEFORE_FILING = _("The hearing cannot be before the action was filed (%(earliest)s).")
JUDGMENT_BEFORE_HEARING = _("The judgment cannot be dated before the hearing it follows (%(earliest)s).")
JUDGMENT_RECORDED_BEFORE_SERVED = _("The judgment cannot be recorded before it was served (%(earliest)s).")
PERFORMANCE_BEFORE_JUDGMENT = _("The judgment cannot be due before it was served (%(earliest)s).")
ENFORCEMENT_TOO_EARLY = _(
    "Enforcement can be applied for from %(earliest)s: the day after both the appeal deadline and the "
    "day the judgment was to be performed by."
)


def step_too_early(step: str, *, on: date, dates: ActionDates, values: dict) -> TooEarly | None:
    """Why the action's `step`, dated `on` with the step's own `values`, comes too early for the
    court's calendar; None when it does not. The step's own dependencies are named first (they say
    most), then the step it follows."""
    refusals = []
    if step == "schedule_hearing":
        refusals.append(
            too_early(
                values.get("hearing_on"),
                earliest_hearing(dates.filed_on),
                field="hearing_on",
                reason=HEARING_BEFORE_FILING,
            )
        )
    elif step == "record_judgment":
        judgment_on = values.get("judgment_on")
        refusals += [
            too_early(
                judgment_on, earliest_judgment(dates.hearing_on), field="judgment_on", reason=JUDGMENT_BEFORE_HEARING
            ),
            too_early(
                values.get("performance_due_on"),
                judgment_on,
                field="performance_due_on",
                reason=PERFORMANCE_BEFORE_JUDGMENT,
            ),
            too_early(on, judgment_on, field="on", reason=JUDGMENT_RECORDED_BEFORE_SERVED),
        ]
    elif step == "apply_enforcement":
        earliest = earliest_enforcement(
            appeal_deadline=dates.appeal_deadline, performance_due_on=dates.performance_due_on
        )
        refusals.append(too_early(on, earliest, field="on", reason=ENFORCEMENT_TOO_EARLY))
    refusals.append(too_early(on, dates.last_step_on, field="on", reason=STEP_BEFORE_LAST))
    return next((refusal for refusal in refusals if refusal is not None), None)


PRESERVATION_BEFORE_FILING = _("Preservation is applied for once the action is filed (%(earliest)s).")
RULING_BEFORE_APPLICATION = _("The ruling cannot predate the application (%(earliest)s).")
LIFTED_BEFORE_GRANTED = _("An order cannot be lifted before it was granted (%(earliest)s).")
SEIZED_BEFORE_FILING = _("Collateral is seized through the court, once the action is filed (%(earliest)s).")
DISPOSAL_STEP_BEFORE_LAST = _("This cannot be dated before the asset's last step (%(earliest)s).")


def latest(*days: date | None) -> date | None:
    """The latest of the days known: what a next step may not precede."""
    known = [day for day in days if day is not None]
    return max(known) if known else None


# --- Sale of a seized asset ---------------------------------------------------------------------------

# 最高法关于人民法院网络司法拍卖若干问题的规定 art. 10: the first auction starts at no less than 70% of the
# appraised value; art. 26: after a failed auction the next may start at most 20% lower than the last.
FIRST_RESERVE_FLOOR = Decimal("0.70")
RELIST_MAX_CUT = Decimal("0.20")


def lowest_reserve(*, appraised_value: Decimal, previous_reserve: Decimal | None) -> Decimal:
    """The lowest reserve price a judicial auction may start at: 70% of the appraisal for the first
    round, 80% of the last reserve after a failed round."""
    if previous_reserve is None:
        return to_fen(appraised_value * FIRST_RESERVE_FLOOR)
    return to_fen(previous_reserve * (1 - RELIST_MAX_CUT))


@dataclass(frozen=True)
class Distribution:
    to_costs: Decimal
    to_loan: Decimal
    surplus: Decimal


def distribute(*, proceeds: Decimal, loan_owed: Decimal, costs_outstanding: Decimal = ZERO) -> Distribution:
    """The proceeds of a sale pay the costs owed beside the loan first, then what the loan owes; what
    is left belongs to the borrower. The costs the borrower owes are charged to the loan when booked
    (part of `loan_owed`, met first by its allocation), so none are owed beside it any more; sales
    distributed before that paid the costs here (`to_costs`)."""
    to_costs = min(proceeds, max(costs_outstanding, ZERO))
    to_loan = min(proceeds - to_costs, max(loan_owed, ZERO))
    return Distribution(to_costs=to_costs, to_loan=to_loan, surplus=proceeds - to_costs - to_loan)
