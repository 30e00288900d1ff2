"""Repayment schedules as pure, exact arithmetic.

Each amount is computed as an exact fraction (a month's interest is balance × annual rate / 12, never
a rounded monthly rate times the balance) and rounded once, to the fen, half up: ¥29,502 at 19% a
year is 467.115 a month, which is 467.12. The rounding remainder lands on the last instalment, so the
principal parts always add up to the principal exactly. Rates are annual fractions; instalments are
monthly.

Due dates keep the contract day and never drift: a loan disbursed on 31 January whose first instalment
falls due on 28 February is still a loan of the 31st, due 31 March, 30 April, 31 May (the last day of a
shorter month), not on the 28th for ever. `contract_day` says which day a loan keeps.

A first period shorter or longer than a month (a loan disbursed on the 15th, due on the 1st) is charged
by the product's first-period basis. WHOLE_MONTH charges a whole month's interest whatever its length.
ACTUAL_DAYS charges principal × annual rate × days / 360 for the days from disbursement to the first due
date (actual/360: a 31-day first period costs a little more than a month), exactly, rounded once. Only
the first instalment's interest changes, never a principal part, so an annuity's first instalment
differs from the level payment by that difference (the broken-period convention), and the later
instalments, a month each, keep their monthly interest. A bullet loan's one instalment is its first:
its interest runs from disbursement to maturity."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _

from core.money import FEN, ZERO, to_fen

from .choices import FirstPeriodBasis, RepaymentMethod

MONTHS_PER_YEAR = 12
DAYS_PER_YEAR = 360  # the day-count year of an ACTUAL_DAYS first period (actual/360)


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


def contract_day(disbursed_on: date, first_due_date: date) -> int:
    """The day of the month a loan's instalments fall due on: the first due date's day, except that a
    loan disbursed on the 29th to 31st whose first instalment falls at the end of a shorter month
    (31 Jan -> 28 Feb) keeps its disbursement day, so later instalments fall on the 31st again."""
    is_month_end = first_due_date + relativedelta(day=31) == first_due_date
    if is_month_end and disbursed_on.day > first_due_date.day:
        return disbursed_on.day
    return first_due_date.day


def due_dates(first_due_date: date, term_months: int, *, day_of_month: int | None = None) -> list[date]:
    """Monthly due dates counted from the first one, each on the contract day `day_of_month` or the last
    day of a shorter month (day 31: 28 Feb -> 31 Mar -> 30 Apr, no drift); None keeps the first due
    date's own day. The first due date must itself fall on that day, or be its month's last day."""
    day = first_due_date.day if day_of_month is None else day_of_month
    if not 1 <= day <= 31 or first_due_date + relativedelta(day=day) != first_due_date:
        raise ValueError(f"the first due date {first_due_date} does not fall on day {day} of the month")
    return [first_due_date + relativedelta(months=k, day=day) for k in range(term_months)]


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
    day_of_month: int | None = None,
    first_period_basis: str = FirstPeriodBasis.WHOLE_MONTH,
    disbursed_on: date | None = None,
) -> list[ScheduleLine]:
    """The instalments of a loan. `monthly_fee` is a flat service fee charged with every instalment.
    `day_of_month` is the contract day the due dates keep (see `due_dates`); `first_period_basis` says
    how the first period is charged, and ACTUAL_DAYS needs `disbursed_on` to count its days.
    Terms that would leave an instalment with nothing to pay (a tiny principal over a long term) are
    refused with a ScheduleError."""
    if principal <= 0:
        raise ValueError("principal must be positive")
    if term_months < 1:
        raise ValueError("term must be at least one month")
    if annual_rate < 0:
        raise ValueError("rate must not be negative")
    if first_period_basis not in FirstPeriodBasis.values:
        raise ValueError(f"unknown first-period basis {first_period_basis!r}")
    if first_period_basis == FirstPeriodBasis.ACTUAL_DAYS and disbursed_on is None:
        raise ValueError("an actual-days first period needs the disbursement date")
    if disbursed_on is not None and disbursed_on >= first_due_date:
        raise ValueError("the first due date must come after disbursement")
    principal = to_fen(principal)
    dates = due_dates(first_due_date, term_months, day_of_month=day_of_month)
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
    if first_period_basis == FirstPeriodBasis.ACTUAL_DAYS:
        # The first period runs on the whole principal from disbursement to the first due date (for a
        # bullet loan, maturity); the principal part stays as the method made it.
        days = (dates[0] - disbursed_on).days
        parts[0] = (parts[0][0], fen(Fraction(principal) * Fraction(annual_rate) * days / DAYS_PER_YEAR))
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
