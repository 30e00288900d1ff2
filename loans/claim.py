"""What a borrower owes on a day: the claim a lawsuit makes, what settles a loan early and what a
write-off leaves unrecovered. Interest runs to the day within the running period; interest and fees
of periods still to come are never owed yet."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from core.dates import business_today
from core.money import ZERO, to_fen

from . import delinquency
from .choices import Component
from .models import Installment, Loan


@dataclass(frozen=True)
class Claim:
    """What the borrower owes on a day, by component: all unpaid principal; interest, fees, penalty and
    costs due on or before the day and unpaid; and the running period's interest for the days it has
    run. Interest and fees of periods still to come are not owed yet and are never part of it: this is
    what a lawsuit claims, what settles the loan early, and what a write-off leaves unrecovered."""

    on: date
    principal: Decimal  # all unpaid principal, overdue and not yet due
    interest: Decimal  # due and unpaid, plus the running period's accrued interest
    fees: Decimal  # due and unpaid
    penalty: Decimal  # accrued to the day on overdue principal, unpaid
    costs: Decimal  # costs of realising the claim the lender advanced, unpaid
    accrued_interest: Decimal  # the running period's part of `interest`
    principal_not_due: Decimal  # the part of `principal` of instalments still to come

    @property
    def total(self):
        return self.principal + self.interest + self.fees + self.penalty + self.costs

    def as_dict(self):
        return {
            "on": self.on.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "fees": str(self.fees),
            "penalty": str(self.penalty),
            "costs": str(self.costs),
            "total": str(self.total),
        }


def period_start(loan: Loan, installment: Installment) -> date:
    """The day an instalment's interest period begins: the previous due date of its own schedule; for
    the first instalment, the disbursement (the original schedule) or one month before its due date (a
    restructured schedule, whose first period the plan charged as a month). Superseded schedules have
    no say: interest paid on them was paid for their own periods."""
    previous = (
        loan.installments.filter(schedule_version=installment.schedule_version, due_date__lt=installment.due_date)
        .order_by("-due_date")
        .values_list("due_date", flat=True)
        .first()
    )
    if previous is not None:
        return previous
    if installment.schedule_version == 1:
        return loan.disbursed_on
    return installment.due_date - relativedelta(months=1)


def claim_as_of(loan: Loan, on: date | None = None) -> Claim:
    """The loan's claim on the day (see Claim)."""
    on = on or business_today()
    unpaid = loan.installments.filter(status__in=delinquency.UNPAID).order_by("due_date", "seq")
    unpaid = delinquency.with_penalty(unpaid, on)
    due = [row for row in unpaid if row.due_date <= on]
    future = [row for row in unpaid if row.due_date > on]

    def owed(rows, component):
        return sum((row.outstanding(component) for row in rows), ZERO)

    accrued = ZERO
    if future:
        running = future[0]
        start = period_start(loan, running)
        period = max((running.due_date - start).days, 1)
        elapsed = min(max((on - start).days, 0), period)
        accrued = to_fen((running.interest_due - running.interest_paid) * elapsed / period)
    return Claim(
        on=on,
        principal=owed(unpaid, Component.PRINCIPAL),
        interest=owed(due, Component.INTEREST) + accrued,
        fees=owed(due, Component.FEE),
        penalty=owed(due, Component.PENALTY),
        costs=owed(unpaid, Component.COST),
        accrued_interest=accrued,
        principal_not_due=owed(future, Component.PRINCIPAL),
    )
