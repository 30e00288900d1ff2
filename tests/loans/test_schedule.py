from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import FEN
from loans.choices import RepaymentMethod
from loans.schedule import ScheduleError, build_schedule, due_dates, equal_installment_payment

principals = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("5000000.00"), places=2)
rates = st.decimals(min_value=Decimal("0.000"), max_value=Decimal("0.360"), places=4)
terms = st.integers(min_value=1, max_value=60)
methods = st.sampled_from(list(RepaymentMethod))


@settings(max_examples=300, deadline=None)
@given(principal=principals, rate=rates.filter(lambda r: r > 0), term=terms)
def test_equal_installment_payment_matches_numpy_financial(principal, rate, term):
    expected = Decimal(str(float(-npf.pmt(float(rate) / 12, term, float(principal))))).quantize(FEN)
    assert abs(equal_installment_payment(principal, rate, term) - expected) <= FEN


@settings(max_examples=300, deadline=None)
@given(method=methods, principal=principals, rate=rates, term=terms)
def test_principal_parts_add_up_exactly_and_nothing_is_negative(method, principal, rate, term):
    try:
        lines = build_schedule(
            method=method, principal=principal, annual_rate=rate, term_months=term, first_due_date=date(2026, 1, 31)
        )
    except ScheduleError:  # refused only where a month's interest is all an instalment holds, and rounds to 0
        assert method == RepaymentMethod.INTEREST_ONLY and term > 1 and principal * rate / 12 < Decimal("0.005")
        return
    assert sum(line.principal for line in lines) == principal
    for line in lines:
        assert line.principal >= 0 and line.interest >= 0
        assert line.principal == line.principal.quantize(FEN) and line.interest == line.interest.quantize(FEN)


@settings(max_examples=200, deadline=None)
@given(principal=principals, rate=rates.filter(lambda r: r > 0), term=terms.filter(lambda n: n > 1))
def test_equal_installment_totals_are_level_but_the_last(principal, rate, term):
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        principal=principal,
        annual_rate=rate,
        term_months=term,
        first_due_date=date(2026, 3, 10),
    )
    payment = equal_installment_payment(principal, rate, term)
    assert {line.total for line in lines[:-1]} <= {payment}
    # The rounding remainder lands on the last instalment: at most a fen per period (payment and
    # interest each rounded by half a fen), compounded.
    growth = (1 + rate / 12) ** term
    assert abs(lines[-1].total - payment) <= FEN * (growth - 1) / (rate / 12) + FEN


def test_equal_installment_known_value():
    # 10,000 at 12%/yr over 12 months: the textbook payment is 888.49.
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        principal=Decimal("10000.00"),
        annual_rate=Decimal("0.12"),
        term_months=12,
        first_due_date=date(2026, 2, 1),
    )
    assert lines[0].total == Decimal("888.49")
    assert lines[0].interest == Decimal("100.00")
    assert lines[0].principal == Decimal("788.49")


def test_equal_principal_interest_declines_on_the_balance():
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        principal=Decimal("10000.00"),
        annual_rate=Decimal("0.12"),
        term_months=3,
        first_due_date=date(2026, 2, 1),
    )
    assert [line.principal for line in lines] == [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]
    assert [line.interest for line in lines] == [Decimal("100.00"), Decimal("66.67"), Decimal("33.33")]


def test_interest_only_pays_principal_at_maturity():
    lines = build_schedule(
        method=RepaymentMethod.INTEREST_ONLY,
        principal=Decimal("500000.00"),
        annual_rate=Decimal("0.06"),
        term_months=12,
        first_due_date=date(2026, 2, 1),
    )
    assert all(line.principal == 0 and line.interest == Decimal("2500.00") for line in lines[:-1])
    assert lines[-1].principal == Decimal("500000.00")


def test_bullet_is_one_instalment_with_simple_interest_and_fees():
    lines = build_schedule(
        method=RepaymentMethod.BULLET,
        principal=Decimal("3000.00"),
        annual_rate=Decimal("0.18"),
        term_months=3,
        first_due_date=date(2026, 2, 1),
        monthly_fee=Decimal("15.00"),
    )
    assert len(lines) == 1
    assert lines[0].due_date == date(2026, 4, 1)
    assert (lines[0].principal, lines[0].interest, lines[0].fee) == (
        Decimal("3000.00"),
        Decimal("135.00"),
        Decimal("45.00"),
    )


def test_zero_rate_splits_principal_with_the_remainder_last():
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        principal=Decimal("100.00"),
        annual_rate=Decimal("0"),
        term_months=3,
        first_due_date=date(2026, 2, 1),
    )
    assert [line.principal for line in lines] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


def test_due_dates_keep_month_ends_without_drift():
    assert due_dates(date(2026, 1, 31), 4) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


@pytest.mark.parametrize(
    ("principal", "rate", "term"),
    [(Decimal("0"), Decimal("0.1"), 12), (Decimal("100"), Decimal("-0.1"), 12), (Decimal("100"), Decimal("0.1"), 0)],
)
def test_impossible_terms_are_refused(principal, rate, term):
    with pytest.raises(ValueError):
        build_schedule(
            method=RepaymentMethod.EQUAL_INSTALLMENT,
            principal=principal,
            annual_rate=rate,
            term_months=term,
            first_due_date=date(2026, 2, 1),
        )
