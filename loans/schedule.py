"""Repayment schedules as pure Decimal arithmetic.

Every part is rounded to the fen (half up) and the rounding remainder lands on the last instalment,
so the principal parts always add up to the principal exactly. Rates are annual fractions; the
periodic rate is the annual rate / 12 (monthly instalments)."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from dateutil.relativedelta import relativedelta

from core.money import FEN, ZERO, to_fen

from .choices import RepaymentMethod

MONTHS_PER_YEAR = Decimal(12)


@dataclass(frozen=True)
class ScheduleLine:
    seq: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal = ZERO

    @property
    def total(self):
        return self.principal + self.interest + self.fee


def due_dates(first_due_date: date, term_months: int) -> list[date]:
    """Monthly due dates counted from the first one (31 Jan -> 28/29 Feb -> 31 Mar: no drift)."""
    return [first_due_date + relativedelta(months=k) for k in range(term_months)]


def equal_installment_payment(principal: Decimal, annual_rate: Decimal, term_months: int) -> Decimal:
    """The level monthly payment of an annuity (等额本息): P·r·(1+r)^n / ((1+r)^n − 1), to the fen."""
    if annual_rate == 0:
        return to_fen(principal / term_months)
    with localcontext() as ctx:
        ctx.prec = 40
        rate = Decimal(annual_rate) / MONTHS_PER_YEAR
        growth = (1 + rate) ** term_months
        return to_fen(Decimal(principal) * rate * growth / (growth - 1))


def build_schedule(
    *,
    method: str,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    first_due_date: date,
    monthly_fee: Decimal = ZERO,
) -> list[ScheduleLine]:
    """The instalments of a loan. `monthly_fee` is a flat service fee charged with every instalment."""
    if principal <= 0:
        raise ValueError("principal must be positive")
    if term_months < 1:
        raise ValueError("term must be at least one month")
    if annual_rate < 0:
        raise ValueError("rate must not be negative")
    principal = to_fen(principal)
    rate = Decimal(annual_rate) / MONTHS_PER_YEAR
    dates = due_dates(first_due_date, term_months)
    builders = {
        RepaymentMethod.EQUAL_INSTALLMENT: _equal_installment_parts,
        RepaymentMethod.EQUAL_PRINCIPAL: _equal_principal_parts,
        RepaymentMethod.INTEREST_ONLY: _interest_only_parts,
        RepaymentMethod.BULLET: _bullet_parts,
    }
    parts = builders[method](principal, annual_rate, rate, term_months)
    if method == RepaymentMethod.BULLET:
        dates = dates[-1:]
        monthly_fee = to_fen(monthly_fee * term_months)
    return [
        ScheduleLine(seq=seq, due_date=due, principal=p, interest=i, fee=to_fen(monthly_fee))
        for seq, (due, (p, i)) in enumerate(zip(dates, parts, strict=True), start=1)
    ]


def _equal_installment_parts(principal, annual_rate, rate, term):
    payment = equal_installment_payment(principal, annual_rate, term)
    balance, parts = principal, []
    for k in range(1, term + 1):
        interest = to_fen(balance * rate)
        # The last instalment clears the balance: the rounding remainder lands there.
        part = balance if k == term else min(payment - interest, balance)
        parts.append((part, interest))
        balance -= part
    return parts


def _equal_principal_parts(principal, annual_rate, rate, term):
    part = (principal / term).quantize(FEN, rounding=ROUND_HALF_UP)
    balance, parts = principal, []
    for k in range(1, term + 1):
        interest = to_fen(balance * rate)
        this_part = balance if k == term else min(part, balance)
        parts.append((this_part, interest))
        balance -= this_part
    return parts


def _interest_only_parts(principal, annual_rate, rate, term):
    interest = to_fen(principal * rate)
    return [(principal if k == term else ZERO, interest) for k in range(1, term + 1)]


def _bullet_parts(principal, annual_rate, rate, term):
    """One instalment at maturity: simple interest over the whole term."""
    return [(principal, to_fen(principal * rate * term))]
