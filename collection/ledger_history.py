"""The book at past month ends rebuilt from the ledger: the schedule's due dates and the dated
allocation lines, as loans/delinquency.py reads them. Portfolio snapshots written by the daily run
make this unnecessary from the first run on; it fills the month ends before it (`snapshots_rebuild`)
and checks the snapshots in tests. Penalty is left out: it is not kept per day."""

from datetime import date

from django.db import connection

from core import sql
from loans import rules as loan_rules
from loans.choices import AgingBucket, Component, InstallmentStatus

from .kpis import Snapshot, money_or_zero

BUCKETS = list(AgingBucket)


def _bucket_of_days(days_past_due_sql, params):
    return sql.case_by_upper_bound(days_past_due_sql, loan_rules.AGING_BUCKETS, AgingBucket.M7, params)


def _loans_at_month_ends_sql(ends: list[date]) -> tuple[str, sql.Params]:
    """A query and its parameters: every loan on the book at each month end (by its index in `ends`),
    its principal outstanding, contractual arrears and bucket that day, and its bucket at the month end
    before (NULL when it was not on the book then, or for the first). Raw SQL: the ORM has no way to
    write the month ends as a table joined to every loan, nor the window that carries the principal
    repaid forward.

    It is built to cost about one pass over allocations and instalments, with plans that do not hang
    on the planner's row estimates: principal repaid is summed per loan and month once and carried
    forward by a window; only instalments paid late (or not yet) can be overdue at a month end, so
    only they meet the list of month ends (a VALUES list, so the planner knows how many there are);
    and the per-loan figures meet in one GROUP BY rather than in joins."""
    p = sql.Params(
        first=ends[0],
        last=ends[-1],
        superseded=InstallmentStatus.SUPERSEDED,
        principal=Component.PRINCIPAL,
        penalty=Component.PENALTY,
    )
    values = ", ".join(f"({p.add(index)}, {p.add(day)})" for index, day in enumerate(ends))
    # The first month end on or after the day an allocation took effect (later days are filtered out).
    month_of_applied = sql.case_by_upper_bound(
        "a.applied_on", [(day, index) for index, day in enumerate(ends)], len(ends) - 1, p
    )
    bucket = _bucket_of_days("dpd", p)
    text = f"""
        WITH ends(idx, as_of) AS (VALUES {values}),
        book AS (
            SELECT l.id AS loan_id, e.idx, l.principal
            FROM loans_loan l
            JOIN ends e ON l.disbursed_on <= e.as_of AND (l.closed_on IS NULL OR l.closed_on > e.as_of)
        ),
        repaid_in_month AS (
            SELECT i.loan_id, {month_of_applied} AS idx, SUM(a.amount) AS amount
            FROM loans_paymentallocation a
            JOIN loans_installment i ON i.id = a.installment_id
            WHERE a.component = %(principal)s AND a.applied_on <= %(last)s
            GROUP BY i.loan_id, {month_of_applied}
        ),
        late AS (
            SELECT i.id, i.loan_id, i.due_date, i.paid_on,
                   i.principal_due + i.interest_due + i.fee_due + i.cost_due AS due
            FROM loans_installment i
            WHERE i.status <> %(superseded)s AND i.due_date < %(last)s
              AND (i.paid_on IS NULL OR (i.paid_on > i.due_date AND i.paid_on > %(first)s))
        ),
        unpaid AS (
            SELECT i.loan_id, e.idx, e.as_of - i.due_date AS days,
                   i.due - COALESCE(SUM(a.amount), 0) AS amount
            FROM late i
            JOIN ends e ON i.due_date < e.as_of AND (i.paid_on IS NULL OR i.paid_on > e.as_of)
            LEFT JOIN loans_paymentallocation a
                   ON a.installment_id = i.id AND a.applied_on <= e.as_of AND a.component <> %(penalty)s
            GROUP BY i.id, i.loan_id, e.idx, e.as_of, i.due_date, i.due
        ),
        steps AS (
            SELECT loan_id, idx, 1 AS on_book, principal, 0 AS repaid, 0 AS arrears, 0 AS dpd FROM book
            UNION ALL
            SELECT loan_id, idx, 0, 0, amount, 0, 0 FROM repaid_in_month
            UNION ALL
            SELECT loan_id, idx, 0, 0, 0, amount, days FROM unpaid WHERE amount > 0
        ),
        running AS (
            -- Every row of a (loan, month end) sees the principal repaid up to that month end.
            SELECT loan_id, idx, on_book, principal, arrears, dpd,
                   SUM(repaid) OVER (PARTITION BY loan_id ORDER BY idx) AS repaid
            FROM steps
        ),
        loan_days AS (
            SELECT loan_id, idx, MAX(principal) - MAX(repaid) AS outstanding, SUM(arrears) AS arrears,
                   MAX(dpd) AS dpd
            FROM running
            GROUP BY loan_id, idx
            HAVING MAX(on_book) = 1
        ),
        moves AS (
            SELECT loan_id, idx, outstanding, arrears, {bucket} AS bucket,
                   LAG(idx) OVER by_loan AS previous_idx, LAG({bucket}) OVER by_loan AS previous_bucket
            FROM loan_days
            WINDOW by_loan AS (PARTITION BY loan_id ORDER BY idx)
        )
        SELECT loan_id, idx, outstanding, arrears, bucket,
               CASE WHEN previous_idx = idx - 1 THEN previous_bucket END AS previous_bucket
        FROM moves"""
    return text, p


def book_history(ends: list[date]) -> list[Snapshot]:
    """The book at each of `ends` (oldest first), with the loans that rolled into a worse bucket since
    the previous end. One query; its cost grows with instalments × month ends."""
    snapshots = [Snapshot(as_of=day) for day in ends]
    text, p = _loans_at_month_ends_sql(ends)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT idx, bucket, previous_bucket, COUNT(*), SUM(outstanding), SUM(arrears)
            FROM ({text}) loans GROUP BY idx, bucket, previous_bucket""",
            p,
        )
        rows = cursor.fetchall()
    for idx, bucket, previous_bucket, loans, outstanding, arrears in rows:
        snapshots[idx].add(bucket, previous_bucket, loans, money_or_zero(outstanding), money_or_zero(arrears))
    return snapshots


LEDGER_TABLE = "ledger_month_ends"


def loans_at_month_ends(ends: list[date]) -> str:
    """Every loan at each of `ends` into a temporary table dropped at the end of the transaction;
    returns its name."""
    text, p = _loans_at_month_ends_sql(ends)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {LEDGER_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {LEDGER_TABLE} ON COMMIT DROP AS {text}", p)
        cursor.execute(f"CREATE INDEX ON {LEDGER_TABLE} (idx)")
        cursor.execute(f"ANALYZE {LEDGER_TABLE}")
    return LEDGER_TABLE


def write_rebuilt(table: str, *, index: int, snapshot, first: bool):
    """Month-end buckets and snapshot rows of the month end at `index` from the temporary table.
    Exposure is the principal outstanding: the rest of what was owed that day is not in the ledger
    per day. The first month end has no previous bucket."""
    p = sql.Params(snapshot=snapshot.pk, as_of=snapshot.as_of, idx=index, current=AgingBucket.M0, first=first)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM collection_monthendbucket WHERE as_of = %(as_of)s", p)
        cursor.execute(
            f"""
            INSERT INTO collection_monthendbucket (as_of, loan_id, bucket)
            SELECT %(as_of)s, loan_id, bucket FROM {table} WHERE idx = %(idx)s AND bucket <> %(current)s""",
            p,
        )
        cursor.execute(
            f"""
            INSERT INTO collection_portfoliosnapshotrow (
                snapshot_id, product_id, aging_bucket, previous_bucket, regulatory_class, ifrs9_stage,
                team_id, case_state, loans, principal_outstanding, overdue_amount, exposure)
            SELECT %(snapshot)s, l.product_id, t.bucket,
                   CASE WHEN %(first)s THEN '' ELSE COALESCE(t.previous_bucket, '') END,
                   NULL, NULL, NULL, '', COUNT(*), SUM(t.outstanding), SUM(t.arrears), SUM(t.outstanding)
            FROM {table} t JOIN loans_loan l ON l.id = t.loan_id
            WHERE t.idx = %(idx)s
            GROUP BY 2, 3, 4""",
            p,
        )
