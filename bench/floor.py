"""The floor the daily run is measured against (DESIGN section 9: within 3x of a single hand-written
set-based UPDATE over the same rows), as SQL text: `bench/daily_run.py` times it, and
tests/loans/test_bench_floor.py checks that it sets what the run sets."""

from core import sql


def statement(as_of):
    """The floor: one UPDATE, written by hand for PostgreSQL, that sets on every loan in arrears the
    columns the run sets on it, from the same rows: days past due, overdue amount (unpaid principal,
    interest and fees of instalments past due, plus unpaid penalty), penalty outstanding (daily on
    unpaid principal after the grace days, at the product's rate within its cap, never below what was
    paid), aging bucket, regulatory class, IFRS 9 stage and status. What is paid on a partly paid
    instalment is summed from its allocation lines. For today only: it does not handle a re-run of a
    past date, nor loans that left arrears, nor opening or moving cases."""
    d = sql.date_literal(as_of)
    return f"""
        UPDATE loans_loan l SET
            days_past_due = x.dpd,
            overdue_since = {d} + 1 - x.dpd,
            overdue_amount = x.overdue,
            penalty_outstanding = x.penalty,
            aging_bucket = CASE WHEN x.dpd <= 30 THEN 'M1' WHEN x.dpd <= 60 THEN 'M2' WHEN x.dpd <= 90 THEN 'M3'
                                WHEN x.dpd <= 120 THEN 'M4' WHEN x.dpd <= 150 THEN 'M5'
                                WHEN x.dpd <= 180 THEN 'M6' ELSE 'M7' END,
            regulatory_class = GREATEST(COALESCE(l.manual_regulatory_class, 1),
                                        CASE WHEN x.dpd > pr.loss_after_days THEN 5
                                             WHEN x.dpd > pr.doubtful_after_days THEN 4
                                             WHEN x.dpd > pr.substandard_after_days THEN 3 ELSE 2 END),
            ifrs9_stage = CASE WHEN x.dpd > 90 THEN 3 WHEN x.dpd > 30 THEN 2 ELSE 1 END,
            status = CASE WHEN l.status IN ('active', 'overdue') THEN 'overdue' ELSE l.status END,
            balances_as_of = {d}
        FROM (
            SELECT i.loan_id, {d} - MIN(i.due_date) AS dpd,
                   SUM(i.principal_due + i.interest_due + i.fee_due - COALESCE(p.contract, 0)
                       + GREATEST(q.penalty - COALESCE(p.penalty, 0), 0)) AS overdue,
                   SUM(q.penalty - i.penalty_paid) AS penalty
            FROM loans_installment i
            JOIN loans_loan il ON il.id = i.loan_id
            JOIN loans_loanproduct ip ON ip.id = il.product_id
            LEFT JOIN LATERAL (
                SELECT SUM(CASE WHEN a.component <> 'penalty' THEN a.amount ELSE 0 END) AS contract,
                       SUM(CASE WHEN a.component = 'penalty' THEN a.amount ELSE 0 END) AS penalty,
                       SUM(CASE WHEN a.component = 'principal'
                                THEN a.amount
                                     * GREATEST(0, {d} - GREATEST(a.applied_on, i.due_date + ip.grace_days + 1) + 1)
                                ELSE 0 END) AS principal_days
                FROM loans_paymentallocation a
                WHERE i.status = 'partially_paid' AND a.installment_id = i.id AND a.applied_on <= {d}
            ) p ON true
            CROSS JOIN LATERAL (
                SELECT GREATEST(i.penalty_paid, 0, ROUND(
                    (i.principal_due * GREATEST(0, {d} - (i.due_date + ip.grace_days)) - COALESCE(p.principal_days, 0))
                    * LEAST(ip.penalty_rate, GREATEST(ip.overdue_charge_cap_rate - il.annual_rate, 0)) / 365, 2)
                ) AS penalty
            ) q
            WHERE i.status IN ('pending', 'partially_paid') AND i.due_date < {d}
            GROUP BY i.loan_id
        ) x, loans_loanproduct pr
        WHERE l.id = x.loan_id AND pr.id = l.product_id"""


def days_past_due_statement(as_of):
    """Days past due alone, for every loan from its oldest unpaid instalment, in one UPDATE: less than
    the run must write (an index-only scan), quoted beside the floor for comparison with earlier figures."""
    d = sql.date_literal(as_of)
    return f"""
        UPDATE loans_loan SET days_past_due = x.dpd
        FROM (SELECT loan_id, {sql.days_between(d, "MIN(due_date)")} AS dpd
              FROM loans_installment
              WHERE status IN ('pending', 'partially_paid') AND due_date < {d}
              GROUP BY loan_id) x
        WHERE loans_loan.id = x.loan_id"""
