"""The floor the daily run is measured against (DESIGN section 9: within 3x of a single hand-written
set-based UPDATE over the same rows), as SQL text and its parameters: `bench/daily_run.py` times it,
and tests/loans/test_bench_floor.py checks that it sets what the run sets. Run one with
`cursor.execute(*statement(as_of))`."""

from core import sql
from loans import delinquency, rules
from loans.choices import (
    AgingBucket,
    Component,
    Ifrs9Stage,
    InstallmentStatus,
    LoanStatus,
    PenaltyBasis,
    RegulatoryClass,
)

UNPAID = tuple(str(status) for status in delinquency.UNPAID)  # a tuple: sent as the list of `IN %(unpaid)s`


def statement(as_of):
    """The floor: one UPDATE, written by hand for PostgreSQL, that sets on every loan in arrears the
    columns the run sets on it, from the same rows: days past due, overdue amount (unpaid principal,
    interest, fees and costs of instalments past their grace days, plus unpaid penalty), penalty
    outstanding (daily on unpaid principal from the due date, at the product's basis within its cost
    cap, never below what was paid), aging bucket, regulatory class, IFRS 9 stage and status. What is
    paid on a partly paid instalment is summed from its allocation lines. For today only: it does not
    handle a re-run of a past date, nor loans that left arrears, nor opening or moving cases. Returns
    (text, parameters)."""
    params = sql.Params(
        as_of=as_of,
        unpaid=UNPAID,
        partially_paid=str(InstallmentStatus.PARTIALLY_PAID),
        penalty=str(Component.PENALTY),
        principal=str(Component.PRINCIPAL),
        days_per_year=rules.DAYS_PER_YEAR,
        normal=int(RegulatoryClass.NORMAL),
        in_arrears_from=(str(LoanStatus.ACTIVE), str(LoanStatus.OVERDUE)),
        overdue=str(LoanStatus.OVERDUE),
        markup=str(PenaltyBasis.MARKUP),
    )
    # Every loan here is in arrears: its bucket is past M0 and its class at least special mention.
    bucket = sql.case_by_upper_bound("x.dpd", rules.AGING_BUCKETS[1:], AgingBucket.M7, params)
    floors = rules.class_floors("pr.loss_after_days", "pr.doubtful_after_days", "pr.substandard_after_days")
    class_floor = sql.case_by_lower_bound("x.dpd", floors[:-1], RegulatoryClass.SPECIAL_MENTION, params)
    stage = sql.case_by_lower_bound("x.dpd", rules.IFRS9_STAGES, Ifrs9Stage.STAGE_1, params)
    text = f"""
        UPDATE loans_loan l SET
            days_past_due = x.dpd,
            overdue_since = %(as_of)s + 1 - x.dpd,
            overdue_amount = x.overdue,
            penalty_outstanding = x.penalty,
            aging_bucket = {bucket},
            regulatory_class = GREATEST(COALESCE(l.manual_regulatory_class, %(normal)s), {class_floor}),
            ifrs9_stage = {stage},
            status = CASE WHEN l.status IN %(in_arrears_from)s THEN %(overdue)s ELSE l.status END,
            balances_as_of = %(as_of)s
        FROM (
            SELECT i.loan_id, %(as_of)s - MIN(i.due_date) AS dpd,
                   SUM(i.principal_due + i.interest_due + i.fee_due + i.cost_due - COALESCE(p.contract, 0)
                       + GREATEST(q.penalty - COALESCE(p.penalty, 0), 0)) AS overdue,
                   SUM(q.penalty - i.penalty_paid) AS penalty
            FROM loans_installment i
            JOIN loans_loan il ON il.id = i.loan_id
            JOIN loans_loanproduct ip ON ip.id = il.product_id
            LEFT JOIN LATERAL (
                SELECT SUM(CASE WHEN a.component <> %(penalty)s THEN a.amount ELSE 0 END) AS contract,
                       SUM(CASE WHEN a.component = %(penalty)s THEN a.amount ELSE 0 END) AS penalty,
                       SUM(CASE WHEN a.component = %(principal)s
                                THEN a.amount * GREATEST(0, %(as_of)s - GREATEST(a.applied_on, i.due_date))
                                ELSE 0 END) AS principal_days
                FROM loans_paymentallocation a
                WHERE i.status = %(partially_paid)s AND a.installment_id = i.id AND a.applied_on <= %(as_of)s
            ) p ON true
            CROSS JOIN LATERAL (
                SELECT GREATEST(i.penalty_paid, 0, ROUND(
                    (i.principal_due * (%(as_of)s - i.due_date) - COALESCE(p.principal_days, 0))
                    * LEAST(CASE WHEN ip.penalty_basis = %(markup)s THEN il.annual_rate * ip.penalty_markup
                                 ELSE ip.penalty_rate END,
                            GREATEST(ip.cost_cap_rate - COALESCE(il.annual_cost, il.annual_rate), 0))
                    / %(days_per_year)s, 2)
                ) AS penalty
            ) q
            WHERE i.status IN %(unpaid)s AND %(as_of)s - i.due_date > ip.grace_days
            GROUP BY i.loan_id
        ) x, loans_loanproduct pr
        WHERE l.id = x.loan_id AND pr.id = l.product_id"""
    return text, params


def days_past_due_statement(as_of):
    """Days past due alone, for every loan from its oldest unpaid instalment, in one UPDATE: less than
    the run must write (with the product for its grace days), quoted beside the floor for comparison.
    Returns (text, parameters)."""
    text = """
        UPDATE loans_loan SET days_past_due = x.dpd
        FROM (SELECT i.loan_id, %(as_of)s - MIN(i.due_date) AS dpd
              FROM loans_installment i
              JOIN loans_loan l ON l.id = i.loan_id
              JOIN loans_loanproduct pr ON pr.id = l.product_id
              WHERE i.status IN %(unpaid)s AND %(as_of)s - i.due_date > pr.grace_days
              GROUP BY i.loan_id) x
        WHERE loans_loan.id = x.loan_id"""
    return text, sql.Params(as_of=as_of, unpaid=UNPAID)
