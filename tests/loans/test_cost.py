"""The comprehensive annual cost, checked against what does not share its maths: exact rational NPVs
(a monthly schedule has whole-month exponents, so (1 + r/12)^k is an exact fraction), numpy-financial's
IRR, and closed forms for single payments."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy_financial as npf
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loans.choices import RepaymentMethod
from loans.cost import annual_cost, exceeds_cap, months_between, restructured_cost
from loans.schedule import ScheduleError, ScheduleLine, build_schedule

M = RepaymentMethod
START = date(2026, 1, 15)
FIRST_DUE = date(2026, 2, 15)  # a whole month after START: a plain monthly schedule
HALF_STEP = Fraction(1, 2_000_000)  # half the rate fields' last place


def schedule(method, principal, rate, term, *, fee="0.00", first_due_date=FIRST_DUE):
    return build_schedule(
        method=method,
        principal=Decimal(principal),
        annual_rate=Decimal(rate),
        term_months=term,
        first_due_date=first_due_date,
        monthly_fee=Decimal(fee),
    )


def whole_months(due_date: date) -> int:
    """The month a due date falls in, counted from START; only whole months are allowed."""
    return next(k for k in range(1, 1000) if START + relativedelta(months=k) == due_date)


def exact_npv(rate, received, lines) -> Fraction:
    """What the borrower receives less what the payments are worth at `rate`, exactly."""
    monthly = 1 + Fraction(rate) / 12
    return Fraction(received) - sum(Fraction(line.total) / monthly ** whole_months(line.due_date) for line in lines)


def numpy_cost(received, lines) -> float:
    """numpy-financial's monthly IRR × 12."""
    flows = [float(received)] + [0.0] * max(whole_months(line.due_date) for line in lines)
    for line in lines:
        flows[whole_months(line.due_date)] -= float(line.total)
    return float(npf.irr(flows)) * 12


def to_rate(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 1, 15), date(2026, 2, 15), Fraction(1)),
        (date(2026, 1, 31), date(2026, 2, 28), Fraction(1)),  # a month end is a whole month
        (date(2026, 1, 31), date(2026, 3, 31), Fraction(2)),
        (date(2026, 1, 31), date(2026, 3, 28), Fraction(1) + Fraction(28, 31)),  # 28 Feb → 28 Mar of 28 Feb → 31 Mar
        (date(2026, 1, 15), date(2026, 3, 1), Fraction(3, 2)),  # 14 of February's 28 days
        (date(2026, 1, 1), date(2026, 1, 17), Fraction(16, 31)),
        (date(2024, 1, 29), date(2024, 2, 29), Fraction(1)),
        (date(2026, 1, 15), date(2027, 1, 15), Fraction(12)),
        (date(2026, 3, 10), date(2026, 3, 10), Fraction(0)),
    ],
)
def test_months_elapsed_are_calendar_months_from_the_start_day_plus_a_share_of_the_next(start, end, months):
    assert months_between(start, end) == months


@pytest.mark.parametrize("rate", ["0.049", "0.12", "0.18", "0.234", "0.36"])
@pytest.mark.parametrize("term", [1, 12, 36, 360])
def test_an_equal_instalment_loan_without_fees_costs_its_nominal_rate(rate, term):
    lines = schedule(M.EQUAL_INSTALLMENT, "1000000.00", rate, term)
    assert annual_cost(principal=Decimal("1000000.00"), disbursed_on=START, lines=lines) == to_rate(rate)


@pytest.mark.parametrize("rate", ["0.049", "0.18", "0.36"])
@pytest.mark.parametrize("method", [M.EQUAL_PRINCIPAL, M.INTEREST_ONLY])
def test_equal_principal_and_interest_only_loans_without_fees_cost_their_nominal_rate(method, rate):
    lines = schedule(method, "1000000.00", rate, 24)
    assert annual_cost(principal=Decimal("1000000.00"), disbursed_on=START, lines=lines) == to_rate(rate)


def test_a_month_end_schedule_has_whole_months_and_costs_its_nominal_rate():
    lines = schedule(M.EQUAL_INSTALLMENT, "1000000.00", "0.18", 24, first_due_date=date(2026, 1, 31))
    assert [line.due_date for line in lines[:3]] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    cost = annual_cost(principal=Decimal("1000000.00"), disbursed_on=date(2025, 12, 31), lines=lines)
    assert cost == Decimal("0.180000")


def test_a_234_percent_loan_with_a_015_percent_monthly_fee_costs_about_265_percent():
    """The issue's example: ¥10,000 over 12 equal instalments at 23.4% with a monthly fee of 0.15% of
    the principal (¥15) costs 26.49%."""
    lines = schedule(M.EQUAL_INSTALLMENT, "10000.00", "0.234", 12, fee="15.00")
    cost = annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines)
    assert cost == Decimal("0.264915")
    assert cost.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) == Decimal("0.265")
    assert abs(cost - Decimal(numpy_cost(Decimal("10000.00"), lines))) <= Decimal("0.0000005")
    assert abs(exact_npv(cost, Decimal("10000.00"), lines)) < Fraction(1, 100)
    assert exact_npv(cost - Decimal("0.000001"), Decimal("10000.00"), lines) < 0
    assert exact_npv(cost + Decimal("0.000001"), Decimal("10000.00"), lines) > 0


def test_a_bullet_loan_costs_less_than_its_simple_rate_since_interest_compounds_monthly():
    """¥10,000 at 24% for a year, all at maturity: 10,000 × 1.24 = (1 + r/12)^12 × 10,000."""
    lines = schedule(M.BULLET, "10000.00", "0.24", 12)
    assert [line.total for line in lines] == [Decimal("12400.00")]
    expected = 12 * (Decimal("1.24") ** (Decimal(1) / 12) - 1)
    assert annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines) == to_rate(expected)
    assert to_rate(expected) == Decimal("0.217051")


def test_a_payment_a_month_and_a_half_after_disbursement_is_discounted_over_a_month_and_a_half():
    lines = [ScheduleLine(seq=1, due_date=date(2026, 3, 1), principal=Decimal("10000.00"), interest=Decimal("300.00"))]
    expected = 12 * ((Decimal("1.03")) ** (Decimal(2) / 3) - 1)
    assert annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines) == to_rate(expected)


def test_a_short_first_period_charged_a_whole_months_interest_costs_more_than_the_rate():
    lines = schedule(M.EQUAL_INSTALLMENT, "1000000.00", "0.18", 12, first_due_date=date(2026, 2, 1))
    cost = annual_cost(principal=Decimal("1000000.00"), disbursed_on=START, lines=lines)
    assert cost > Decimal("0.180000")


def test_a_zero_rate_loan_without_fees_costs_nothing():
    lines = schedule(M.EQUAL_INSTALLMENT, "12000.00", "0", 12)
    assert annual_cost(principal=Decimal("12000.00"), disbursed_on=START, lines=lines) == Decimal("0.000000")


def test_a_zero_rate_loan_with_fees_still_costs_something():
    lines = schedule(M.EQUAL_INSTALLMENT, "12000.00", "0", 12, fee="18.00")
    cost = annual_cost(principal=Decimal("12000.00"), disbursed_on=START, lines=lines)
    assert cost > 0
    assert abs(cost - Decimal(numpy_cost(Decimal("12000.00"), lines))) <= Decimal("0.0000005")


def test_an_upfront_fee_raises_the_cost():
    lines = schedule(M.EQUAL_INSTALLMENT, "10000.00", "0.18", 12)
    without = annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines)
    with_fee = annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines, upfront_fees=Decimal("200"))
    assert with_fee > without
    assert abs(with_fee - Decimal(numpy_cost(Decimal("9800.00"), lines))) <= Decimal("0.0000005")


def test_paying_back_less_than_was_received_is_a_negative_cost():
    lines = [ScheduleLine(seq=1, due_date=FIRST_DUE, principal=Decimal("9900.00"), interest=Decimal("0.00"))]
    assert annual_cost(principal=Decimal("10000.00"), disbursed_on=START, lines=lines) == Decimal("-0.120000")


def test_a_restructured_schedule_costs_its_rate_and_the_arrears_it_carries_on_top():
    balance, on = Decimal("1000000.00"), date(2026, 6, 15)
    lines = schedule(M.EQUAL_INSTALLMENT, balance, "0.12", 24, first_due_date=date(2026, 7, 15))
    assert restructured_cost(balance=balance, on=on, lines=lines) == Decimal("0.120000")
    first = lines[0]
    with_arrears = [
        ScheduleLine(first.seq, first.due_date, first.principal, first.interest + Decimal("5000.00"), first.fee),
        *lines[1:],
    ]
    cost = restructured_cost(balance=balance, on=on, lines=with_arrears)
    assert cost > Decimal("0.120000")
    assert cost == annual_cost(principal=balance, disbursed_on=on, lines=with_arrears)


def test_exceeds_cap_refuses_only_what_is_over_the_cap():
    assert not exceeds_cap(Decimal("0.240000"), Decimal("0.240000"))
    assert exceeds_cap(Decimal("0.240001"), Decimal("0.240000"))
    assert not exceeds_cap(Decimal("0.180000"), Decimal("0.240000"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"disbursed_on": FIRST_DUE}, "not after the start"),
        ({"upfront_fees": Decimal("10000.00")}, "must receive something"),
        ({"upfront_fees": Decimal("-1.00")}, "must not be negative"),
        ({"lines": []}, "nothing to repay"),
    ],
)
def test_a_cost_that_cannot_be_worked_out_fails_loudly(kwargs, message):
    arguments = {
        "principal": Decimal("10000.00"),
        "disbursed_on": START,
        "lines": schedule(M.EQUAL_INSTALLMENT, "10000.00", "0.18", 12),
    } | kwargs
    with pytest.raises(ValueError, match=message):
        annual_cost(**arguments)


principals = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("5000000.00"), places=2)
rates = st.decimals(min_value=Decimal("0.0000"), max_value=Decimal("0.3600"), places=4)
fee_rates = st.decimals(min_value=Decimal("0.0000"), max_value=Decimal("0.0100"), places=4)
terms = st.integers(min_value=1, max_value=60)


def random_schedule(method, principal, rate, term, fee):
    try:
        return schedule(method, principal, rate, term, fee=fee)
    except ScheduleError:
        assume(False)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(list(M)), principal=principals, rate=rates, term=terms, fee_rate=fee_rates, data=st.data()
)
def test_the_cost_is_the_irr_rounded_half_up_to_six_places(method, principal, rate, term, fee_rate, data):
    """Exactly: the NPV is ≤ 0 half a step below the cost and > 0 half a step above it, so the root
    rounds to it; and numpy-financial's float IRR agrees."""
    fee = (principal * fee_rate).quantize(Decimal("0.01"))
    lines = random_schedule(method, principal, rate, term, fee)
    upfront = data.draw(st.sampled_from([Decimal("0.00"), (principal * fee_rate * 3).quantize(Decimal("0.01"))]))
    assume(upfront < principal)
    received = principal - upfront
    cost = annual_cost(principal=principal, disbursed_on=START, lines=lines, upfront_fees=upfront)
    assert exact_npv(Fraction(cost) - HALF_STEP, received, lines) <= 0
    assert exact_npv(Fraction(cost) + HALF_STEP, received, lines) > 0
    assert abs(cost - Decimal(numpy_cost(received, lines))) <= Decimal("0.0000005") + Decimal("1e-9")


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([M.EQUAL_INSTALLMENT, M.EQUAL_PRINCIPAL, M.INTEREST_ONLY]),
    principal=principals,
    rate=rates,
    term=terms,
    fee_rate=fee_rates,
)
def test_fees_never_make_a_monthly_loan_cost_less_than_its_nominal_rate(method, principal, rate, term, fee_rate):
    """Fees only add to the cost; without them an amortising or interest-only loan costs its rate, up
    to what rounding each month's interest to the fen moves it (as much as half a fen a month, worth
    a visible share of a rate on a ¥100 loan: ¥100 for a month at 12.29% pays ¥1.02 and costs 12.24%)."""
    fee = (principal * fee_rate).quantize(Decimal("0.01"))
    lines = random_schedule(method, principal, rate, term, fee)
    cost = annual_cost(principal=principal, disbursed_on=START, lines=lines)
    without_fees = [ScheduleLine(line.seq, line.due_date, line.principal, line.interest) for line in lines]
    cost_without_fees = annual_cost(principal=principal, disbursed_on=START, lines=without_fees)
    assert cost >= cost_without_fees
    # Half a fen a month, worth at most its sum at the rate's first-order sensitivity: how much a
    # step of the annual rate moves the payments' value.
    monthly = 1 + Fraction(rate) / 12
    sensitivity = sum(Fraction(line.total) * k / 12 / monthly ** (k + 1) for k, line in enumerate(without_fees, 1))
    rounding = Fraction(term, 200) / sensitivity
    assert Fraction(cost) >= Fraction(rate) - 2 * rounding - 2 * HALF_STEP
    assert Fraction(cost_without_fees) <= Fraction(rate) + 2 * rounding + 2 * HALF_STEP


def test_a_tiny_loan_can_cost_a_hair_less_than_its_rate_because_interest_is_rounded_to_the_fen():
    lines = schedule(M.BULLET, "100.00", "0.1229", 1)
    assert lines[0].interest == Decimal("1.02")  # 1.024166…
    assert annual_cost(principal=Decimal("100.00"), disbursed_on=START, lines=lines) == Decimal("0.122400")
