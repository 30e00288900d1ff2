"""Pure rules of the legal route, each table in one place: what filing and preservation cost in
court fees (诉讼费用交纳办法, arts. 13-14), and whether a referral is worth it (the seeds: weigh the
expected recovery against the cost)."""

from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO, to_fen

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


def feasibility(*, claim, recoverable, lawyer_fee, preserve=True, other_costs=ZERO) -> Feasibility:
    """The estimate a referral records: court fee by the claim, preservation fee on what is preserved
    (the recoverable assets, up to the claim), the lawyer's fee and other costs."""
    claim, recoverable = Decimal(claim), Decimal(recoverable)
    preserved = min(recoverable, claim) if preserve else ZERO
    return Feasibility(
        claim=claim,
        recoverable=recoverable,
        court_fee=court_fee(claim),
        preservation_fee=preservation_fee(preserved),
        lawyer_fee=Decimal(lawyer_fee),
        other_costs=Decimal(other_costs),
    )
