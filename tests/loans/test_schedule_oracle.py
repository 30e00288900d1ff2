"""An independent oracle for repayment schedules: exact rational arithmetic, written here without the
product's maths, rounding each amount once to the fen (half up) by integer division. The product's
schedules must agree with it to the fen, half-fen cases included."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loans.choices import RepaymentMethod
from loans.schedule import ScheduleError, build_schedule

M = RepaymentMethod


def to_fen(exact: Fraction) -> Decimal:
    """Half up, for the non-negative amounts of a schedule: whole fen, plus one when the remainder is
    at least half a fen."""
    fen, remainder = divmod(exact.numerator * 100, exact.denominator)
    if 2 * remainder >= exact.denominator:
        fen += 1
    return Decimal(fen).scaleb(-2)


def oracle(method, principal: Decimal, annual_rate: Decimal, term: int):
    """(principal, interest) per instalment."""
    p, monthly = Fraction(principal), Fraction(annual_rate) / 12
    if method == M.BULLET:
        return [(principal, to_fen(p * monthly * term))]
    if method == M.INTEREST_ONLY:
        interest = to_fen(p * monthly)
        return [(principal if k == term else Decimal("0.00"), interest) for k in range(1, term + 1)]
    balance, lines = principal, []
    if method == M.EQUAL_PRINCIPAL:
        level = to_fen(p / term)
    elif monthly == 0:
        payment = to_fen(p / term)
    else:
        payment = to_fen(p * monthly / (1 - 1 / (1 + monthly) ** term))
    for k in range(1, term + 1):
        interest = to_fen(Fraction(balance) * monthly)
        if k == term:
            part = balance
        elif method == M.EQUAL_PRINCIPAL:
            part = min(level, balance)
        else:
            part = min(payment - interest, balance)
        lines.append((part, interest))
        balance -= part
    return lines


principals = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("5000000.00"), places=2)
rates = st.decimals(min_value=Decimal("0.0000"), max_value=Decimal("0.3600"), places=4)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(list(M)),
    principal=principals,
    rate=rates,
    term=st.integers(min_value=1, max_value=60),
)
@example(method=M.INTEREST_ONLY, principal=Decimal("29502.00"), rate=Decimal("0.19"), term=12)
@example(method=M.EQUAL_PRINCIPAL, principal=Decimal("29502.00"), rate=Decimal("0.19"), term=1)
@example(method=M.BULLET, principal=Decimal("29502.00"), rate=Decimal("0.19"), term=1)
def test_schedules_agree_with_exact_arithmetic(method, principal, rate, term):
    expected = oracle(method, principal, rate, term)
    if any(part + interest == 0 for part, interest in expected):  # 0% interest-only: nothing due monthly
        with pytest.raises(ScheduleError):
            build_schedule(
                method=method, principal=principal, annual_rate=rate, term_months=term, first_due_date=date(2027, 1, 31)
            )
        return
    lines = build_schedule(
        method=method, principal=principal, annual_rate=rate, term_months=term, first_due_date=date(2027, 1, 31)
    )
    assert [(line.principal, line.interest) for line in lines] == expected


def test_a_half_fen_of_interest_rounds_up():
    # 29,502 × 19% / 12 = 467.115 exactly; a monthly rate cut at 28 digits made it 467.1149... -> 467.11.
    lines = build_schedule(
        method=M.INTEREST_ONLY,
        principal=Decimal("29502.00"),
        annual_rate=Decimal("0.19"),
        term_months=12,
        first_due_date=date(2027, 1, 31),
    )
    assert {line.interest for line in lines} == {Decimal("467.12")}


@pytest.mark.parametrize("method", [M.EQUAL_PRINCIPAL, M.INTEREST_ONLY])
def test_terms_that_leave_an_instalment_of_nothing_are_refused(method):
    with pytest.raises(ScheduleError) as refused:
        build_schedule(
            method=method,
            principal=Decimal("0.05"),
            annual_rate=Decimal("0.01"),
            term_months=12,
            first_due_date=date(2027, 1, 31),
        )
    assert refused.value.field == "term_months"


@pytest.mark.django_db
def test_booking_a_loan_of_nothing_a_month_is_a_field_error_and_writes_nothing():
    from core.errors import ApplicationError
    from loans.models import Loan
    from tests.loans.factories import make_loan

    with pytest.raises(ApplicationError) as refused:
        make_loan(
            principal="0.10",
            annual_rate="0.01",
            term_months=24,
            repayment_method=M.EQUAL_PRINCIPAL,
            min_principal=Decimal("0.01"),
        )
    assert refused.value.field == "term_months"
    assert not Loan.objects.exists()
