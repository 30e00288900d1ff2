"""The daily run's bench compares it with a hand-written floor UPDATE (bench/floor.py). The comparison
means something only if the floor sets what the run sets: checked here on a demo book, with partly
paid instalments, penalty paid and caps, after the stored values are wiped."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bench import floor
from collection import daily
from core.dates import business_today
from loans import demo

pytestmark = pytest.mark.django_db

COLUMNS = (
    "days_past_due, overdue_since, overdue_amount, penalty_outstanding, aging_bucket, regulatory_class, "
    "ifrs9_stage, status, balances_as_of"
)


def loans_in_arrears():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {COLUMNS} FROM loans_loan WHERE days_past_due > 0 ORDER BY id")
        return cursor.fetchall()


@pytest.fixture
def travel():
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


def demo_book_after_a_run(loans):
    """A demo book run for today: the day, and what the run left on the loans in arrears."""
    demo.seed_demo(loans=loans)
    today = business_today()
    daily.run_daily(as_of=today)
    return today, loans_in_arrears()


def test_the_floor_sets_on_every_loan_in_arrears_what_the_daily_run_sets(travel):
    today, expected = demo_book_after_a_run(400)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM loans_installment WHERE status = 'partially_paid' AND due_date < %s", [today]
        )
        partly_paid = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM loans_loan WHERE penalty_outstanding > 0")
        with_penalty = cursor.fetchone()[0]
        cursor.execute("""
            UPDATE loans_loan SET days_past_due = 0, overdue_since = NULL, overdue_amount = 0,
                penalty_outstanding = 0, aging_bucket = 'M0', regulatory_class = 1, ifrs9_stage = 1,
                status = CASE WHEN status = 'overdue' THEN 'active' ELSE status END, balances_as_of = NULL
            WHERE days_past_due > 0""")
        cursor.execute(*floor.statement(today))
    assert len(expected) > 40 and partly_paid > 5 and with_penalty > 20  # the book exercises every term
    assert loans_in_arrears() == expected


def test_the_days_past_due_floor_sets_days_past_due_alone(travel):
    today, expected = demo_book_after_a_run(100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loans_loan SET days_past_due = 1 WHERE days_past_due > 0")
        cursor.execute(*floor.days_past_due_statement(today))
    assert expected and loans_in_arrears() == expected
