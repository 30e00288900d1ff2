"""The comprehensive annual cost of a loan (综合年化成本): the IRR of the borrower's cash flows.

The borrower receives the principal less any upfront fees on the day the loan starts and pays each
instalment's total (principal, interest and fees) on its due date. The cost is the rate r at which
those flows are worth nothing today, quoted as lenders disclose it under the IRR method (内部收益率法):
a nominal annual rate, the monthly IRR × 12, so a plain monthly schedule gives the textbook answer
(and what a spreadsheet's RATE or IRR times 12 gives).

Due dates need not be a month apart (a short or long first period, a restructured schedule, a bullet
loan), so each flow is discounted by (1 + r/12) ** t, t being the months elapsed on the calendar: the
whole months from the start to the due date, plus the days left over as a share of the month they
fall in. Whole months are counted from the start day itself (31 Jan + 1 month is 28 Feb, + 2 is
31 Mar), as the schedule counts its due dates, so a monthly schedule, month ends included, has
whole-number exponents and nothing drifts. A broken period counts as its share of that calendar
month, so a first period of half a month costs like half a month, and t grows steadily with the date.
Counting days over 365 (XIRR) would give an effective annual rate, which is not the nominal rate
borrowers are quoted, and days over 30 would make a 28-day February a short month.

The rate is solved with Decimal arithmetic at a fixed precision, by bisection straight onto the
half-way points between rates of 6 places, so the answer is the root rounded to 6 places, half up,
with no float anywhere on the way."""

from collections.abc import Iterable
from datetime import date
from decimal import MAX_EMAX, MIN_EMIN, Decimal, localcontext
from fractions import Fraction

from dateutil.relativedelta import relativedelta

from core.money import ZERO

from .schedule import MONTHS_PER_YEAR, ScheduleLine

RATE_PLACES = 6
RATE_STEP = Decimal(1).scaleb(-RATE_PLACES)  # 0.000001, the rate fields' last place
# Far more digits than the sign of an NPV near its root needs; fixed, so results never depend on
# whatever context the caller happens to run in.
PRECISION = 40
# The lowest rate in steps of 0.000001 whose monthly factor 1 + r/12 is still positive.
LOWEST_STEP = -(MONTHS_PER_YEAR * 10**RATE_PLACES) + 1


def annual_cost(
    *, principal: Decimal, disbursed_on: date, lines: Iterable[ScheduleLine], upfront_fees: Decimal = ZERO
) -> Decimal:
    """The comprehensive annual cost of a loan: the nominal annual IRR (monthly IRR × 12) of receiving
    principal − upfront_fees on `disbursed_on` and paying each line's total on its due date, to
    6 places, half up."""
    if upfront_fees < 0:
        raise ValueError("upfront fees must not be negative")
    received = Decimal(principal) - Decimal(upfront_fees)
    if received <= 0:
        raise ValueError("the borrower must receive something: upfront fees take the whole principal")
    flows = []
    for line in lines:
        if line.due_date <= disbursed_on:
            raise ValueError(f"instalment {line.seq} falls due on {line.due_date}, not after the start")
        if line.total < 0:
            raise ValueError(f"instalment {line.seq} has a negative total")
        flows.append((months_between(disbursed_on, line.due_date), Decimal(line.total)))
    if not any(amount for _, amount in flows):
        raise ValueError("a loan with nothing to repay has no cost")
    return _solve(received, flows)


def restructured_cost(*, balance: Decimal, on: date, lines: Iterable[ScheduleLine]) -> Decimal:
    """The comprehensive annual cost of a restructured schedule: the borrower's outstanding principal
    stands in for the disbursement on the day of the restructuring, so the arrears of interest, fees
    and penalty the new instalments carry count as cost, as they are owed beyond that principal."""
    return annual_cost(principal=balance, disbursed_on=on, lines=lines)


def exceeds_cap(cost: Decimal, cap: Decimal) -> bool:
    """Whether a loan's comprehensive annual cost is over the product's cap (reaching it is allowed)."""
    return cost > cap


def months_between(start: date, end: date) -> Fraction:
    """Months elapsed on the calendar: the whole months from `start` (each counted from the start day,
    so 31 Jan to 28 Feb is one and to 31 Mar two), plus the leftover days over that month's length."""
    if end < start:
        raise ValueError("the end comes before the start")
    whole = (end.year - start.year) * 12 + end.month - start.month
    if start + relativedelta(months=whole) > end:
        whole -= 1
    month_start = start + relativedelta(months=whole)
    month_end = start + relativedelta(months=whole + 1)
    return whole + Fraction((end - month_start).days, (month_end - month_start).days)


def _solve(received: Decimal, flows: list[tuple[Fraction, Decimal]]) -> Decimal:
    """The root of the NPV, rounded to 6 places half up. The NPV rises with the rate (every payment is
    worth less the higher the rate), so its sign at the half-way point (k − ½) × 0.000001 says whether
    the root rounds to k or above: bisection finds the k with the NPV ≤ 0 at k − ½ and > 0 at k + ½."""
    with localcontext(prec=PRECISION, Emax=MAX_EMAX, Emin=MIN_EMIN):
        exponents = [(Decimal(t.numerator) / Decimal(t.denominator), amount) for t, amount in flows]

        def npv_above_zero(step: int) -> bool:
            rate = (step - Decimal("0.5")) * RATE_STEP
            log_factor = (1 + rate / MONTHS_PER_YEAR).ln()
            present_value = sum(amount * (-t * log_factor).exp() for t, amount in exponents)
            return received - present_value > 0

        low, high = 0, 1
        while npv_above_zero(low):  # a negative cost: the payments come to less than was received
            if low == LOWEST_STEP:
                raise ValueError("the payments are too small for any rate to balance them")
            low, high = max(2 * low - 1, LOWEST_STEP), low
        while not npv_above_zero(high):
            low, high = high, 2 * high
        while high - low > 1:
            middle = (low + high) // 2
            if npv_above_zero(middle):
                high = middle
            else:
                low = middle
    return Decimal(low).scaleb(-RATE_PLACES).quantize(RATE_STEP)
