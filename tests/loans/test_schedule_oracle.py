"""An independent oracle for repayment schedules: exact rational arithmetic, written here without the
product's maths, rounding each amount once to the fen (half up) by integer division, and due dates
counted by month number with the calendar's own month lengths. The product's schedules must agree with
it to the fen and the day, half-fen cases and month ends included."""

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loans.choices import FirstPeriodBasis, RepaymentMethod
from loans.schedule import ScheduleError, build_schedule, contract_day, due_dates

M = RepaymentMethod
B = FirstPeriodBasis


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


def last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def oracle_contract_day(disbursed_on: date, first_due_date: date) -> int:
    """The day the loan keeps: its disbursement day when the first due date had to be pulled back to
    the end of a shorter month to fit it, otherwise the first due date's own day."""
    pulled_back = date(
        first_due_date.year,
        first_due_date.month,
        min(disbursed_on.day, last_day(first_due_date.year, first_due_date.month)),
    )
    if pulled_back == first_due_date and disbursed_on.day > first_due_date.day:
        return disbursed_on.day
    return first_due_date.day


def oracle_due_dates(first_due_date: date, term: int, day: int) -> list[date]:
    """The k-th due date: month number (first due date's + k), on `day` or that month's last day."""
    first_month = first_due_date.year * 12 + first_due_date.month - 1
    dates = []
    for k in range(term):
        year, month = divmod(first_month + k, 12)
        dates.append(date(year, month + 1, min(day, last_day(year, month + 1))))
    return dates


def oracle_schedule(method, principal, annual_rate, term, *, disbursed_on, first_due_date, day, basis):
    """(due date, principal, interest) per instalment. An actual-days first period charges the
    principal × annual rate × days / 360 from disbursement to the first instalment's due date."""
    amounts = oracle(method, principal, annual_rate, term)
    dates = oracle_due_dates(first_due_date, term, day)
    if method == M.BULLET:
        dates = dates[-1:]
    if basis == B.ACTUAL_DAYS:
        days = dates[0].toordinal() - disbursed_on.toordinal()
        amounts[0] = (amounts[0][0], to_fen(Fraction(principal) * Fraction(annual_rate) * days / 360))
    return [(due, part, interest) for due, (part, interest) in zip(dates, amounts, strict=True)]


principals = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("5000000.00"), places=2)
rates = st.decimals(min_value=Decimal("0.0000"), max_value=Decimal("0.3600"), places=4)
years = st.integers(min_value=2024, max_value=2032)
months = st.integers(min_value=1, max_value=12)


@st.composite
def month_end_dates(draw):
    """The 25th to the month's last day (28th to 31st), where drift and pulled-back due dates live."""
    year, month = draw(years), draw(months)
    return date(year, month, draw(st.integers(min_value=25, max_value=last_day(year, month))))


disbursement_dates = st.one_of(st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)), month_end_dates())


@st.composite
def loan_dates(draw):
    """(disbursed on, first due date, day of month passed in), as a booking may give them: the first due
    date a month on (pulled back to a shorter month's end), at the next month's end, or any 1 to 62 days
    on; the day of month left out, the contract day, or any day a month-end first due date stands for."""
    disbursed_on = draw(disbursement_dates)
    year, month = divmod(disbursed_on.year * 12 + disbursed_on.month, 12)
    month += 1
    first_due_date = draw(
        st.sampled_from(
            [
                date(year, month, min(disbursed_on.day, last_day(year, month))),
                date(year, month, last_day(year, month)),
            ]
        )
        | st.integers(min_value=1, max_value=62).map(lambda days: disbursed_on + timedelta(days=days))
    )
    days_it_stands_for = [first_due_date.day]
    if first_due_date.day == last_day(first_due_date.year, first_due_date.month):
        days_it_stands_for = list(range(first_due_date.day, 32))
    day_of_month = draw(
        st.sampled_from([None, oracle_contract_day(disbursed_on, first_due_date)]) | st.sampled_from(days_it_stands_for)
    )
    return disbursed_on, first_due_date, day_of_month


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


def assert_agrees_with_the_oracle(method, principal, rate, term, dates, basis):
    disbursed_on, first_due_date, day_of_month = dates
    expected = oracle_schedule(
        method,
        principal,
        rate,
        term,
        disbursed_on=disbursed_on,
        first_due_date=first_due_date,
        day=first_due_date.day if day_of_month is None else day_of_month,
        basis=basis,
    )
    terms = {
        "method": method,
        "principal": principal,
        "annual_rate": rate,
        "term_months": term,
        "first_due_date": first_due_date,
        "day_of_month": day_of_month,
        "first_period_basis": basis,
        "disbursed_on": disbursed_on,
    }
    if any(part + interest == 0 for _due, part, interest in expected):
        with pytest.raises(ScheduleError):
            build_schedule(**terms)
        return
    lines = build_schedule(**terms)
    assert [(line.due_date, line.principal, line.interest) for line in lines] == expected


@settings(max_examples=600, deadline=None)
@given(
    method=st.sampled_from(list(M)),
    principal=principals,
    rate=rates,
    term=st.integers(min_value=1, max_value=60),
    dates=loan_dates(),
    basis=st.sampled_from(list(B)),
)
def test_schedules_with_their_dates_and_first_period_agree_with_exact_arithmetic(
    method, principal, rate, term, dates, basis
):
    assert_agrees_with_the_oracle(method, principal, rate, term, dates, basis)


@pytest.mark.parametrize("basis", list(B))
@pytest.mark.parametrize("method", list(M))
@pytest.mark.parametrize(
    ("principal", "rate", "term", "dates"),
    [
        pytest.param("10000.00", "0.18", 14, (date(2027, 1, 31), date(2027, 2, 28), 31), id="31-jan-keeps-the-31st"),
        pytest.param("10000.00", "0.18", 14, (date(2028, 1, 31), date(2028, 2, 29), 31), id="leap-february"),
        pytest.param("10000.00", "0.18", 13, (date(2028, 2, 29), date(2028, 3, 29), None), id="29-feb-keeps-the-29th"),
        pytest.param("10000.00", "0.18", 12, (date(2027, 1, 15), date(2027, 3, 1), None), id="45-day-first-period"),
        # Half a fen in the first period: 29,502 × 18% × 45 / 360 = 663.795 and 12,345 × 12% × 31 / 360
        # = 127.565 (actual days); 29,502 × 19% / 12 = 467.115 (a whole month).
        pytest.param("29502.00", "0.18", 12, (date(2027, 1, 15), date(2027, 3, 1), None), id="half-fen-45-days"),
        pytest.param("12345.00", "0.12", 6, (date(2026, 12, 31), date(2027, 1, 31), None), id="half-fen-31-days"),
        pytest.param("12345.00", "0.12", 1, (date(2026, 12, 31), date(2027, 1, 31), 31), id="half-fen-one-month"),
        pytest.param("29502.00", "0.19", 3, (date(2027, 1, 31), date(2027, 2, 28), 31), id="half-fen-whole-month"),
    ],
)
def test_month_ends_and_half_fen_cases_agree_with_exact_arithmetic(method, principal, rate, term, dates, basis):
    assert_agrees_with_the_oracle(method, Decimal(principal), Decimal(rate), term, dates, basis)


@settings(max_examples=400, deadline=None)
@given(dates=loan_dates(), term=st.integers(min_value=1, max_value=60))
def test_due_dates_keep_the_contract_day_and_never_drift(dates, term):
    disbursed_on, first_due_date, _day = dates
    day = contract_day(disbursed_on, first_due_date)
    assert day == oracle_contract_day(disbursed_on, first_due_date)
    assert due_dates(first_due_date, term, day_of_month=day) == oracle_due_dates(first_due_date, term, day)


@settings(max_examples=200, deadline=None)
@given(first_due_date=st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)), day=st.integers(-1, 40))
def test_a_day_of_month_the_first_due_date_does_not_stand_for_is_refused(first_due_date, day):
    stands_for = day == first_due_date.day or (
        first_due_date.day == last_day(first_due_date.year, first_due_date.month) and first_due_date.day < day <= 31
    )
    if stands_for:
        assert due_dates(first_due_date, 3, day_of_month=day)[0] == first_due_date
    else:
        with pytest.raises(ValueError):
            due_dates(first_due_date, 3, day_of_month=day)


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
