"""Restructured schedules: pure maths, checked against the limits, nothing created or lost."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loans.choices import RepaymentMethod
from loans.restructuring import Limits, Position, Terms, kinds, limit_errors, restructured_schedule, split, summarise

D = Decimal
POSITION = Position(
    principal=D("500000.00"),
    interest_arrears=D("2500.00"),
    fee_arrears=D("0.00"),
    penalty=D("410.96"),
    remaining_months=10,
    annual_rate=D("0.06"),
    method=RepaymentMethod.EQUAL_INSTALLMENT,
)
LIMITS = Limits(max_extension_months=12, max_rate_cut=D("0.02"), max_waiver_share=D("1"))


def test_an_extension_with_a_rate_cut_and_a_waiver_respreads_the_principal_and_the_arrears():
    terms = Terms(extension_months=2, new_annual_rate=D("0.045"), arrears_instalments=3, penalty_waiver=D("410.96"))
    assert limit_errors(POSITION, terms, LIMITS) == {}
    assert kinds(POSITION, terms) == ["term_extension", "rate_reduction", "arrears_instalments", "penalty_waiver"]
    lines = restructured_schedule(POSITION, terms, date(2026, 6, 15))
    assert len(lines) == 12 and lines[-1].due_date == date(2027, 5, 15)
    assert sum(line.principal for line in lines) == D("500000.00")  # all of it, not a fen more or less
    no_arrears = replace(POSITION, interest_arrears=D(0), penalty=D(0))
    regular = restructured_schedule(no_arrears, replace(terms, penalty_waiver=D(0)), date(2026, 6, 15))
    extra = [line.interest - plain.interest for line, plain in zip(lines, regular, strict=True)]
    assert extra[:3] == [D("833.33"), D("833.33"), D("833.34")] and set(extra[3:]) == {D(0)}
    assert all(line.fee == 0 for line in lines)  # the penalty was waived in full
    summary = summarise(lines, waived=terms.penalty_waiver, regular_from=3)
    assert summary.regular_amount == lines[3].total < summary.first_amount
    assert summary.end_date == date(2027, 5, 15) and summary.waived == D("410.96")


@pytest.mark.parametrize(
    ("terms", "field", "words"),
    [
        (Terms(extension_months=13), "extension_months", "at most 12 months"),
        (Terms(new_annual_rate=D("0.03")), "new_annual_rate", "at most 2.00 points"),
        (Terms(new_annual_rate=D("0.07")), "new_annual_rate", "never raise"),
        (Terms(penalty_waiver=D("500.00")), "penalty_waiver", "¥410.96"),
        (Terms(arrears_instalments=13), "arrears_instalments", "0 to 12"),
        (Terms(arrears_instalments=11), "arrears_instalments", "more instalments than the schedule"),
        (Terms(), "extension_months", "Change at least one term"),
    ],
)
def test_terms_beyond_the_products_limits_are_refused_with_the_limit(terms, field, words):
    errors = limit_errors(POSITION, terms, LIMITS)
    assert words in errors[field]


def test_a_partial_waiver_leaves_the_rest_of_the_penalty_on_the_first_instalment():
    lines = restructured_schedule(POSITION, Terms(penalty_waiver=D("110.96")), date(2026, 6, 15))
    assert lines[0].fee == D("300.00") and all(line.fee == 0 for line in lines[1:])


@given(
    amount=st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False),
    parts=st.integers(min_value=1, max_value=36),
)
def test_a_split_adds_up_to_the_amount(amount, parts):
    pieces = split(amount, parts)
    assert len(pieces) == parts and sum(pieces) == amount
    assert all(piece >= 0 for piece in pieces)


@pytest.mark.parametrize(
    ("current", "again", "floor"),
    [(1, False, 2), (2, False, 2), (3, False, 3), (5, False, 5), (1, True, 4), (5, True, 5)],
)
def test_a_restructured_loan_is_at_least_special_mention_never_upgraded_and_doubtful_if_restructured_again(
    current, again, floor
):
    from loans.rules import restructured_class_floor

    assert restructured_class_floor(current, restructured_again=again) == floor
