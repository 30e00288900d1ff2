"""Due dates keep the contract day: a loan of the 31st falls due at each month's end, never drifting to
the 28th because its first instalment fell in February."""

from datetime import date
from decimal import Decimal

import pytest

from loans.choices import RepaymentMethod
from loans.schedule import build_schedule, contract_day, due_dates


def test_a_loan_disbursed_on_31_january_falls_due_at_each_month_end():
    day = contract_day(date(2027, 1, 31), date(2027, 2, 28))
    assert day == 31
    assert due_dates(date(2027, 2, 28), 6, day_of_month=day) == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
        date(2027, 7, 31),
    ]


def test_the_schedule_carries_the_contract_day_into_its_instalments():
    lines = build_schedule(
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        principal=Decimal("10000.00"),
        annual_rate=Decimal("0.18"),
        term_months=4,
        first_due_date=date(2027, 2, 28),
        day_of_month=31,
    )
    assert [line.due_date for line in lines] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]


def test_without_a_contract_day_the_first_due_dates_day_is_kept():
    # Today's behaviour for callers that pass no day: a first due date on the 28th stays on the 28th.
    assert due_dates(date(2027, 2, 28), 3) == [date(2027, 2, 28), date(2027, 3, 28), date(2027, 4, 28)]


def test_a_loan_of_the_31st_in_a_leap_year_falls_due_on_29_february():
    day = contract_day(date(2028, 1, 31), date(2028, 2, 29))
    assert day == 31
    assert due_dates(date(2028, 2, 29), 3, day_of_month=day) == [
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]


def test_a_loan_disbursed_on_29_february_keeps_the_29th_and_takes_28_february_in_a_common_year():
    day = contract_day(date(2028, 2, 29), date(2028, 3, 29))
    assert day == 29
    dates = due_dates(date(2028, 3, 29), 13, day_of_month=day)
    assert dates[-2:] == [date(2029, 2, 28), date(2029, 3, 29)]
    assert {due.day for due in dates} == {28, 29}


def test_a_bullet_loan_matures_on_the_contract_day():
    lines = build_schedule(
        method=RepaymentMethod.BULLET,
        principal=Decimal("3000.00"),
        annual_rate=Decimal("0.18"),
        term_months=2,
        first_due_date=date(2027, 2, 28),
        day_of_month=31,
    )
    assert [line.due_date for line in lines] == [date(2027, 3, 31)]


@pytest.mark.parametrize(
    ("disbursed_on", "first_due_date", "day"),
    [
        (date(2027, 1, 15), date(2027, 2, 15), 15),
        (date(2027, 1, 29), date(2027, 2, 28), 29),
        (date(2027, 1, 30), date(2027, 2, 28), 30),
        (date(2027, 3, 31), date(2027, 4, 30), 31),
        # 28 February of a leap year is not a month end: the lender chose the 28th.
        (date(2028, 1, 31), date(2028, 2, 28), 28),
        # A month-end first due date later in the month than the disbursement day keeps its own day.
        (date(2027, 4, 30), date(2027, 5, 31), 31),
        (date(2027, 1, 10), date(2027, 2, 28), 28),
    ],
)
def test_the_contract_day(disbursed_on, first_due_date, day):
    assert contract_day(disbursed_on, first_due_date) == day


@pytest.mark.parametrize(
    ("first_due_date", "day_of_month"),
    [
        (date(2027, 3, 15), 31),
        (date(2027, 2, 28), 27),
        (date(2027, 3, 31), 30),
        (date(2027, 1, 31), 0),
        (date(2027, 1, 31), 32),
    ],
)
def test_a_first_due_date_off_the_contract_day_is_refused(first_due_date, day_of_month):
    with pytest.raises(ValueError):
        due_dates(first_due_date, 3, day_of_month=day_of_month)
