"""Repayment schedules as pure, exact arithmetic.

Each amount is computed as an exact fraction (a month's interest is balance × annual rate / 12, never
a rounded monthly rate times the balance) and rounded once, to the fen, half up: ¥29,502 at 19% a
year is 467.115 a month, which is 467.12. The rounding remainder lands on the last instalment, so the
principal parts always add up to the principal exactly. Rates are annual fractions; instalments are
monthly."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _

from core.money import FEN, ZERO, to_fen

from .choices import RepaymentMethod

MONTHS_PER_YEAR = 12


class ScheduleError(ValueError):
    """Terms no schedule can be made of; `field` names the term to change."""

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


def fen(amount: Fraction) -> Decimal:
    """An exact amount rounded once to the fen, half away from zero."""
    cents = math.floor(abs(amount) * 100 + Fraction(1, 2))
    return (Decimal(cents if amount >= 0 else -cents) / 100).quantize(FEN)


def monthly_interest(balance, annual_rate) -> Decimal:
    """A month's interest on a balance: balance × annual rate / 12, exactly, rounded once."""
    return fen(Fraction(balance) * Fraction(annual_rate) / MONTHS_PER_YEAR)


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
        return fen(Fraction(principal) / term_months)
    rate = Fraction(annual_rate) / MONTHS_PER_YEAR
    growth = (1 + rate) ** term_months
    return fen(Fraction(principal) * rate * growth / (growth - 1))


def build_schedule(
    *,
    method: str,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    first_due_date: date,
    monthly_fee: Decimal = ZERO,
) -> list[ScheduleLine]:
    """The instalments of a loan. `monthly_fee` is a flat service fee charged with every instalment.
    Terms that would leave an instalment with nothing to pay (a tiny principal over a long term) are
    refused with a ScheduleError."""
    if principal <= 0:
        raise ValueError("principal must be positive")
    if term_months < 1:
        raise ValueError("term must be at least one month")
    if annual_rate < 0:
        raise ValueError("rate must not be negative")
    principal = to_fen(principal)
    dates = due_dates(first_due_date, term_months)
    builders = {
        RepaymentMethod.EQUAL_INSTALLMENT: _equal_installment_parts,
        RepaymentMethod.EQUAL_PRINCIPAL: _equal_principal_parts,
        RepaymentMethod.INTEREST_ONLY: _interest_only_parts,
        RepaymentMethod.BULLET: _bullet_parts,
    }
    parts = builders[method](principal, Decimal(annual_rate), term_months)
    if method == RepaymentMethod.BULLET:
        dates = dates[-1:]
        monthly_fee = to_fen(monthly_fee * term_months)
    lines = [
        ScheduleLine(seq=seq, due_date=due, principal=p, interest=i, fee=to_fen(monthly_fee))
        for seq, (due, (p, i)) in enumerate(zip(dates, parts, strict=True), start=1)
    ]
    if any(line.total <= 0 for line in lines):
        raise ScheduleError(
            _("These terms leave instalments with nothing to pay (¥0.00): change the amount, the term or the rate."),
            field="term_months",
        )
    return lines


def _equal_installment_parts(principal, annual_rate, term):
    payment = equal_installment_payment(principal, annual_rate, term)
    balance, parts = principal, []
    for k in range(1, term + 1):
        interest = monthly_interest(balance, annual_rate)
        # The last instalment clears the balance: the rounding remainder lands there.
        part = balance if k == term else min(payment - interest, balance)
        parts.append((part, interest))
        balance -= part
    return parts


def _equal_principal_parts(principal, annual_rate, term):
    part = fen(Fraction(principal) / term)
    balance, parts = principal, []
    for k in range(1, term + 1):
        interest = monthly_interest(balance, annual_rate)
        this_part = balance if k == term else min(part, balance)
        parts.append((this_part, interest))
        balance -= this_part
    return parts


def _interest_only_parts(principal, annual_rate, term):
    interest = monthly_interest(principal, annual_rate)
    return [(principal if k == term else ZERO, interest) for k in range(1, term + 1)]


def _bullet_parts(principal, annual_rate, term):
    """One instalment at maturity: simple interest over the whole term."""
    return [(principal, fen(Fraction(principal) * Fraction(annual_rate) * term / MONTHS_PER_YEAR))]
