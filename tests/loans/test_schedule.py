from datetime import date, timedelta
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import FEN
from loans.choices import FirstPeriodBasis, RepaymentMethod
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


# A first period of 45 days: disbursed 15 Jan 2027, first due 1 Mar 2027.
FORTY_FIVE_DAYS = {"disbursed_on": date(2027, 1, 15), "first_due_date": date(2027, 3, 1)}


@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_an_actual_days_first_period_of_45_days_charges_45_days_of_interest(method):
    # 10,000 × 18% × 45 / 360 = 225.00, where a whole month would be 150.00.
    lines = build_schedule(
        method=method,
        principal=Decimal("10000.00"),
        annual_rate=Decimal("0.18"),
        term_months=1 if method == RepaymentMethod.BULLET else 12,
        first_period_basis=FirstPeriodBasis.ACTUAL_DAYS,
        **FORTY_FIVE_DAYS,
    )
    assert lines[0].interest == Decimal("225.00")


def test_a_whole_month_first_period_charges_a_month_whatever_its_length():
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        principal=Decimal("10000.00"),
        annual_rate=Decimal("0.18"),
        term_months=12,
        first_period_basis=FirstPeriodBasis.WHOLE_MONTH,
        **FORTY_FIVE_DAYS,
    )
    assert lines[0].interest == Decimal("150.00")


def test_an_annuitys_broken_first_period_changes_only_the_first_instalments_interest():
    terms = {
        "method": RepaymentMethod.EQUAL_INSTALLMENT,
        "principal": Decimal("10000.00"),
        "annual_rate": Decimal("0.18"),
        "term_months": 12,
        **FORTY_FIVE_DAYS,
    }
    whole_month = build_schedule(**terms)
    actual_days = build_schedule(**terms, first_period_basis=FirstPeriodBasis.ACTUAL_DAYS)
    payment = equal_installment_payment(Decimal("10000.00"), Decimal("0.18"), 12)
    assert [line.principal for line in actual_days] == [line.principal for line in whole_month]
    assert [line.interest for line in actual_days[1:]] == [line.interest for line in whole_month[1:]]
    assert actual_days[0].total == payment + Decimal("225.00") - Decimal("150.00")


def test_an_actual_days_bullet_loan_charges_interest_from_disbursement_to_maturity():
    # 15 Jan 2026 to 1 May 2026 is 106 days: 3,000 × 18% × 106 / 360 = 159.00 (three months would be 135.00).
    lines = build_schedule(
        method=RepaymentMethod.BULLET,
        principal=Decimal("3000.00"),
        annual_rate=Decimal("0.18"),
        term_months=3,
        first_due_date=date(2026, 3, 1),
        first_period_basis=FirstPeriodBasis.ACTUAL_DAYS,
        disbursed_on=date(2026, 1, 15),
    )
    assert [(line.due_date, line.interest) for line in lines] == [(date(2026, 5, 1), Decimal("159.00"))]


def test_half_a_fen_of_first_period_interest_rounds_up():
    # 29,502 × 18% × 45 / 360 = 663.795 exactly.
    lines = build_schedule(
        method=RepaymentMethod.INTEREST_ONLY,
        principal=Decimal("29502.00"),
        annual_rate=Decimal("0.18"),
        term_months=12,
        first_period_basis=FirstPeriodBasis.ACTUAL_DAYS,
        **FORTY_FIVE_DAYS,
    )
    assert lines[0].interest == Decimal("663.80")


@settings(max_examples=200, deadline=None)
@given(
    method=methods,
    principal=principals,
    rate=rates,
    term=terms,
    days=st.integers(min_value=1, max_value=62),
)
def test_actual_days_changes_nothing_but_the_first_interest(method, principal, rate, term, days):
    first_due_date = date(2027, 3, 1)
    loan_terms = {
        "method": method,
        "principal": principal,
        "annual_rate": rate,
        "term_months": term,
        "first_due_date": first_due_date,
        "disbursed_on": first_due_date - timedelta(days=days),
    }
    try:
        whole_month = build_schedule(**loan_terms)
    except ScheduleError:
        return
    try:
        actual_days = build_schedule(**loan_terms, first_period_basis=FirstPeriodBasis.ACTUAL_DAYS)
    except ScheduleError:  # a few days' interest that rounds to nothing, in a first instalment of no principal
        assert whole_month[0].principal == 0 and principal * rate * days / 360 < Decimal("0.005")
        return
    assert [(line.due_date, line.principal, line.fee) for line in actual_days] == [
        (line.due_date, line.principal, line.fee) for line in whole_month
    ]
    assert [line.interest for line in actual_days[1:]] == [line.interest for line in whole_month[1:]]


def test_an_actual_days_first_period_needs_the_disbursement_date():
    with pytest.raises(ValueError):
        build_schedule(
            method=RepaymentMethod.EQUAL_INSTALLMENT,
            principal=Decimal("10000.00"),
            annual_rate=Decimal("0.18"),
            term_months=12,
            first_due_date=date(2027, 3, 1),
            first_period_basis=FirstPeriodBasis.ACTUAL_DAYS,
        )


@pytest.mark.parametrize(
    ("basis", "disbursed_on"),
    [
        ("daily", date(2027, 1, 15)),
        (FirstPeriodBasis.ACTUAL_DAYS, date(2027, 3, 1)),
        (FirstPeriodBasis.WHOLE_MONTH, date(2027, 3, 2)),
    ],
)
def test_an_unknown_basis_or_a_disbursement_on_or_after_the_first_due_date_is_refused(basis, disbursed_on):
    with pytest.raises(ValueError):
        build_schedule(
            method=RepaymentMethod.EQUAL_INSTALLMENT,
            principal=Decimal("10000.00"),
            annual_rate=Decimal("0.18"),
            term_months=12,
            first_due_date=date(2027, 3, 1),
            first_period_basis=basis,
            disbursed_on=disbursed_on,
        )
