"""Pure rules of the legal route, each table in one place: what filing and preservation cost in
court fees (诉讼费用交纳办法, arts. 13-14), whether a referral is worth it (the seeds: weigh the
expected recovery against the cost), the deadlines the law sets, the lowest price a seized asset may
be offered at, and who the sale's proceeds go to."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from core.money import ZERO, to_fen

from .choices import ActionKind, AssetKind

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


def distribute(*, proceeds: Decimal, costs_outstanding: Decimal, loan_owed: Decimal) -> Distribution:
    """The proceeds of a sale pay the costs the lender advanced first, then what the loan owes; what is
    left belongs to the borrower."""
    to_costs = min(proceeds, max(costs_outstanding, ZERO))
    to_loan = min(proceeds - to_costs, max(loan_owed, ZERO))
    return Distribution(to_costs=to_costs, to_loan=to_loan, surplus=proceeds - to_costs - to_loan)
