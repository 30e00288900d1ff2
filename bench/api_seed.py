"""Grows a seeded book to the size the API bench measures at: synthetic copies of the open cases and
their loans, written with set-based SQL until the database holds at least --cases cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api_seed.py --cases 1000000

What the copies are: the templates are the open cases (early warning, minor, serious, ...) that
bench/daily_run.py's seed and daily run left, with their loans. Copy number k of a template loan is
the same row (borrower, product, balances, days past due, aging bucket, dates) under the external id
`BENCH-API-<k>-<template loan id>`; copy k of its case is the same row (state, severity, priority
score, officer, team, dates, flags) pointing at that loan. So the synthetic book has the seeded one's
mix of states, priorities, officers and arrears, each case repeated, with many more ties in the
priority score (as a real book of that size would have: the score takes a few thousand values).
The copies have no schedule, payments or history: only the case list reads them. Do not run the
daily run on the database afterwards (it would close the copies' cases, their loans having no unpaid
instalment). One statement per copy (about one template set of rows each); the tables are analysed
at the end."""

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from collection.models import OPEN, CollectionCase  # noqa: E402
from loans.models import Loan  # noqa: E402

PREFIX = "BENCH-API-"


def _columns(model, *leave_out):
    return [field.column for field in model._meta.concrete_fields if field.column not in leave_out]


def _copy_statement():
    """INSERT copy %(copy)s of every template loan and its open case, in one statement; its other
    parameters are the open states and the synthetic loans' prefix (_copy_parameters)."""
    loan, case = Loan._meta, CollectionCase._meta
    loan_columns = _columns(Loan, loan.pk.column, "external_id")
    case_columns = _columns(CollectionCase, case.pk.column, "loan_id")
    return f"""
        WITH templates AS (
            SELECT c.{case.pk.column} AS case_id, c.loan_id
            FROM {case.db_table} c JOIN {loan.db_table} l ON l.{loan.pk.column} = c.loan_id
            WHERE c.state = ANY(%(open)s) AND l.external_id NOT LIKE %(prefix)s || '%%'
        ), new_loans AS (
            INSERT INTO {loan.db_table} ({", ".join(loan_columns)}, external_id)
            SELECT {", ".join(f"l.{column}" for column in loan_columns)},
                   %(prefix)s || %(copy)s || '-' || l.{loan.pk.column}
            FROM templates t JOIN {loan.db_table} l ON l.{loan.pk.column} = t.loan_id
            RETURNING {loan.pk.column} AS id, external_id
        )
        INSERT INTO {case.db_table} ({", ".join(case_columns)}, loan_id)
        SELECT {", ".join(f"c.{column}" for column in case_columns)}, n.id
        FROM new_loans n
        JOIN templates t ON t.loan_id = split_part(n.external_id, '-', 4)::bigint
        JOIN {case.db_table} c ON c.{case.pk.column} = t.case_id"""


def add_synthetic_cases(target):
    """Copies of the open cases (see the module's docstring) until the database holds at least `target`
    cases; returns the number added."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {CollectionCase._meta.db_table}")
        (cases,) = cursor.fetchone()
        if cases >= target:
            return 0
        cursor.execute(
            f"SELECT count(*) FROM {CollectionCase._meta.db_table} c JOIN {Loan._meta.db_table} l "
            f"ON l.id = c.loan_id WHERE c.state = ANY(%s) AND l.external_id NOT LIKE %s",
            [OPEN, f"{PREFIX}%"],
        )
        (templates,) = cursor.fetchone()
        if not templates:
            raise SystemExit("no open case to copy: seed with bench/daily_run.py first")
        cursor.execute(f"SELECT count(*) FROM {Loan._meta.db_table} WHERE external_id LIKE %s", [f"{PREFIX}%"])
        first = cursor.fetchone()[0] // templates + 1  # copies already made keep their numbers
    statement = _copy_statement()
    copies = math.ceil((target - cases) / templates)
    started = time.perf_counter()
    for copy in range(first, first + copies):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, {"copy": copy, "open": list(OPEN), "prefix": PREFIX})
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Loan._meta.db_table}, {CollectionCase._meta.db_table}")
    added, seconds = copies * templates, time.perf_counter() - started
    print(f"added {added:,} synthetic cases ({copies} copies of {templates:,}) in {seconds:.1f} s")
    return added


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="the number of cases to reach")
    args = parser.parse_args()
    add_synthetic_cases(args.cases)


if __name__ == "__main__":
    main()
