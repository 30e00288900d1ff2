"""Pure decision functions of the loans app, each with its table in one place.

Nothing here touches the database: the services and the daily run feed these plain values."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .choices import AgingBucket, AllocationOrder, Component, Ifrs9Stage, PenaltyBasis, RegulatoryClass

# --- Payment allocation ---------------------------------------------------------------------------
# Each order is a list of ranks; a rank lists components. Money goes to rank 1 across all the open
# instalments (oldest first), then rank 2, and so on; inside a rank an older instalment comes first,
# and within one instalment the components go in the listed order.
ALLOCATION_ORDERS = {
    # Civil Code art. 561: the costs of realising the claim (legal costs the lender advanced), then
    # interest, then the principal. Service fees and penalty are the price of the money, so they rank
    # with interest, not with the costs.
    AllocationOrder.CIVIL_CODE_561: [
        [Component.COST],
        [Component.FEE, Component.PENALTY, Component.INTEREST],
        [Component.PRINCIPAL],
    ],
    # Settle the oldest instalment in full before touching the next one.
    AllocationOrder.INSTALLMENT_FIRST: [
        [Component.COST, Component.FEE, Component.PENALTY, Component.INTEREST, Component.PRINCIPAL],
    ],
}


@dataclass(frozen=True)
class OpenItem:
    """One unpaid component of one instalment."""

    installment_id: int
    due_date: date
    seq: int
    component: str
    outstanding: Decimal


@dataclass(frozen=True)
class AllocationLine:
    installment_id: int
    component: str
    amount: Decimal


def allocate(amount: Decimal, items: list[OpenItem], order: str) -> tuple[list[AllocationLine], Decimal]:
    """Split `amount` over the open items in the given order. Returns the lines and what is left."""
    ranks = ALLOCATION_ORDERS[order]
    position = {component: (r, p) for r, rank in enumerate(ranks) for p, component in enumerate(rank)}

    def priority(item):
        rank, place = position[item.component]
        return (rank, item.due_date, item.seq, place)

    lines, left = [], amount
    for item in sorted((i for i in items if i.outstanding > 0), key=priority):
        if left <= 0:
            break
        paid = min(left, item.outstanding)
        lines.append(AllocationLine(item.installment_id, item.component, paid))
        left -= paid
    return lines, left


# --- Aging, regulatory class and IFRS 9 stage by days past due ------------------------------------
# (upper bound of days past due, bucket); the last bucket takes everything beyond.
AGING_BUCKETS = [
    (0, AgingBucket.M0),
    (30, AgingBucket.M1),
    (60, AgingBucket.M2),
    (90, AgingBucket.M3),
    (120, AgingBucket.M4),
    (150, AgingBucket.M5),
    (180, AgingBucket.M6),
]

# (days past due strictly above, the class it forces at least). Any amount overdue (DPD > 0) is at
# least special mention; each product sets its own three thresholds (these are the defaults).
REGULATORY_CLASS_FLOORS = [
    (360, RegulatoryClass.LOSS),
    (270, RegulatoryClass.DOUBTFUL),
    (90, RegulatoryClass.SUBSTANDARD),
    (0, RegulatoryClass.SPECIAL_MENTION),
]


def class_floors(loss_after, doubtful_after, substandard_after):
    """A product's floor table. The bounds may be numbers or, for the batch SQL, column names."""
    return [
        (loss_after, RegulatoryClass.LOSS),
        (doubtful_after, RegulatoryClass.DOUBTFUL),
        (substandard_after, RegulatoryClass.SUBSTANDARD),
        (0, RegulatoryClass.SPECIAL_MENTION),
    ]


def restructured_class_floor(current_class: int, *, restructured_again: bool) -> int:
    """The class a restructured loan keeps at least during its observation period (商业银行金融资产风险
    分类办法, 2023): special mention; a non-performing loan is not upgraded; restructured again inside
    an observation period, doubtful. The floor is lifted when the observation ends with the new
    schedule kept (at least two periods and a year paid on time)."""
    floor = max(current_class, RegulatoryClass.SPECIAL_MENTION)
    if restructured_again:
        floor = max(floor, RegulatoryClass.DOUBTFUL)
    return int(floor)


# (days past due strictly above, stage)
IFRS9_STAGES = [(90, Ifrs9Stage.STAGE_3), (30, Ifrs9Stage.STAGE_2)]
# Beyond days past due: a restructured loan under observation has seen a significant increase in
# credit risk (at least stage 2); a loan classed substandard or worse, by rule or by a manager's
# judgment, is credit-impaired (stage 3).
OBSERVATION_STAGE = Ifrs9Stage.STAGE_2
IMPAIRED_FROM_CLASS = RegulatoryClass.SUBSTANDARD


def aging_bucket(days_past_due: int) -> str:
    for upper, bucket in AGING_BUCKETS:
        if days_past_due <= upper:
            return bucket
    return AgingBucket.M7


def regulatory_class_floor(days_past_due: int, floors=REGULATORY_CLASS_FLOORS) -> int:
    for above, klass in floors:
        if days_past_due > above:
            return klass
    return RegulatoryClass.NORMAL


def regulatory_class(days_past_due: int, manual_class: int | None = None, floors=REGULATORY_CLASS_FLOORS) -> int:
    """Class = the worse of a manual class and the days-past-due floor."""
    return max(manual_class or RegulatoryClass.NORMAL, regulatory_class_floor(days_past_due, floors))


def ifrs9_stage(
    days_past_due: int, regulatory_class: int = RegulatoryClass.NORMAL, *, under_observation: bool = False
) -> int:
    by_days = next((stage for above, stage in IFRS9_STAGES if days_past_due > above), Ifrs9Stage.STAGE_1)
    stages = [by_days]
    if under_observation:
        stages.append(OBSERVATION_STAGE)
    if regulatory_class >= IMPAIRED_FROM_CLASS:
        stages.append(Ifrs9Stage.STAGE_3)
    return int(max(stages))


# --- Default (penalty) interest -----------------------------------------------------------------------
DAYS_PER_YEAR = 365


def penalty_annual_rate(*, basis, penalty_rate, markup, annual_rate, cap_rate, annual_cost=None):
    """The penalty rate actually charged on overdue principal, on top of the contract interest the
    schedule already charges. Add-on basis: the product's penalty rate. Markup basis (bank practice,
    银发〔2003〕251号: the contract rate plus 30-50%): overdue principal bears the contract rate times
    (1 + markup) instead of the contract rate, so the penalty is the contract rate times the markup.
    Either way never so high that the loan's comprehensive annual cost (its contract rate when not
    known) plus the penalty exceeds the product's cap (24% a year by default).
    loans.delinquency computes the same in SQL."""
    rate = annual_rate * markup if basis == PenaltyBasis.MARKUP else penalty_rate
    cost = annual_rate if annual_cost is None else annual_cost
    return min(rate, max(cap_rate - cost, 0))


# --- Loan-loss provisioning -----------------------------------------------------------------------------
# Specific reserves by class (银行贷款损失准备计提指引, art. 6) and the general reserve (art. 5) on the
# whole exposure. The rates are a table, not literals in the code that uses them.
SPECIFIC_PROVISION_RATES = {
    RegulatoryClass.NORMAL: Decimal("0"),
    RegulatoryClass.SPECIAL_MENTION: Decimal("0.02"),
    RegulatoryClass.SUBSTANDARD: Decimal("0.25"),
    RegulatoryClass.DOUBTFUL: Decimal("0.50"),
    RegulatoryClass.LOSS: Decimal("1.00"),
}
GENERAL_PROVISION_RATE = Decimal("0.01")


@dataclass(frozen=True)
class Provision:
    exposure: Decimal
    specific: Decimal
    general: Decimal

    @property
    def total(self):
        return self.specific + self.general


def provision(exposure: Decimal, regulatory_class: int) -> Provision:
    """The reserve a loan of `exposure` yuan in `regulatory_class` calls for, to the fen (half up)."""
    exposure = max(Decimal(exposure), Decimal("0"))
    specific = (exposure * SPECIFIC_PROVISION_RATES[regulatory_class]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    general = (exposure * GENERAL_PROVISION_RATE).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return Provision(exposure=exposure, specific=specific, general=general)
