"""The set-based delinquency update: days past due, overdue amount, penalty interest, aging bucket,
regulatory class, IFRS 9 stage and status for every loan in an id range, as of a business date.

It reads only what can have changed: the range's instalments unpaid as of the date (and, on a re-run
of a past date, those paid after it, or carrying penalty from a later date), and the loans it
marked in arrears before. Everything is
computed from the allocation lines dated on or before the date, so re-running a past date after a
backdated payment or a reversal gives what would have been seen had the money moved on time.
Penalty is recomputed from scratch each time (never added to), which makes the update idempotent.

The daily run (`update_range`) writes loans only: their penalty total, days past due and overdue
amount. An instalment's stored `penalty_accrued` is brought up to date when its loan is touched
(`update_loan`: a payment, reversal, settlement, restructuring or closing, which allocate against
it), and whoever shows a schedule reads each instalment's penalty as of the day (`with_penalty`).
Rewriting every overdue instalment every night would double the run's writes for a figure that is
only read one loan at a time.

An instalment is overdue only once the product's grace days have passed (paid within them, it was
paid on time: no days past due, no arrears, no penalty); from then on it is overdue from its due date.
Penalty on an overdue instalment, as of day D, with S = its due date:
    rate/365 × Σ over days d in (S, D] of the principal unpaid at the start of d
  = rate/365 × (principal_due × (D − S) − Σ_payments amount × days from max(paid day + 1, S + 1) to D)
(the day money arrives is still charged on it), at the rate of the product's penalty basis, and never
less than the penalty already paid on it: paid by day D for the loan's figures as of D
(a re-run of a past date counts only money received by then), paid at all for the instalment's stored
penalty (`update_loan`), which later payments may have paid already.

Hand-written SQL because the run must take a fixed number of set-based statements whatever the range
holds: a temporary table of the candidate instalments, then UPDATE ... FROM its per-loan aggregate.
The ORM has no UPDATE ... FROM: it would take a correlated subquery per column, each reading the
instalments and their allocation lines again. Every value (the date, the id range, statuses, the rules'
tables) is a query parameter; only SQL fragments are composed into the text.
"""

from datetime import date
from decimal import Decimal

from django.db import connection

from core import sql
from core.money import to_fen

from . import rules
from .choices import AgingBucket, Component, Ifrs9Stage, InstallmentStatus, LoanStatus, PenaltyBasis, RegulatoryClass

# The loans the update looks after; written-off and transferred loans are out of collection.
LIVE_STATUSES = [LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.RESTRUCTURED, LoanStatus.PAID_OFF]
UNPAID = [InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]
# What the instalment owes, penalty aside: the schedule's amounts and the costs charged to it.
CONTRACT = [Component.PRINCIPAL, Component.INTEREST, Component.FEE, Component.COST]
ITEMS = "delinquency_item"


def update_range(*, as_of: date, first_id: int, last_id: int) -> dict:
    """Update loans with first_id <= id <= last_id as of `as_of` (the daily run). Returns counts.
    Runs a fixed number of statements whatever the range holds. Call inside a transaction."""
    return _update(as_of, first_id, last_id, one_loan=False)


def update_loan(*, as_of: date, loan_id: int) -> dict:
    """One loan as of `as_of`, its instalments' penalty stored too, for the services that allocate
    money against it. Also takes back penalty on instalments not yet due as of the date (a backdated
    payment is being applied). Call under the loan's row lock."""
    return _update(as_of, loan_id, loan_id, one_loan=True)


def _update(as_of, first_id, last_id, *, one_loan):
    installments = 0
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {ITEMS}")
        params = _params(as_of, first_id, last_id)
        cursor.execute(f"CREATE TEMP TABLE {ITEMS} AS {_items(params, reset_later_penalties=one_loan)}", params)
        if one_loan:
            cursor.execute(_write_installments())
            installments = cursor.rowcount
        params = _params(as_of, first_id, last_id)
        cursor.execute(_write_loans(params), params)
        in_arrears = cursor.rowcount
        params = _params(as_of, first_id, last_id)
        cursor.execute(_clear_loans(params, one_loan=one_loan), params)
        cleared = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS {ITEMS}")
    return {"installments": installments, "loans_in_arrears": in_arrears, "loans_cleared": cleared}


def _params(as_of, first_id, last_id):
    """A statement's parameters: the date and the id range by name, the rest added as it is composed."""
    return sql.Params(as_of=as_of, lo=first_id, hi=last_id)


def _in(values, params):
    """The placeholder of a list of choices, for `column IN ...` (a tuple is sent as a SQL list)."""
    return params.add(tuple(str(value) for value in values))


def _candidate_select(params, condition, loans=""):
    return f"""
        SELECT i.id, i.loan_id, i.status, i.due_date, i.principal_due,
               i.principal_due + i.interest_due + i.fee_due + i.cost_due AS contract_due,
               i.penalty_accrued AS penalty_old, i.penalty_paid AS penalty_paid_total,
               i.due_date AS penalty_start, pr.grace_days,
               {_penalty_rate(params)} AS penalty_rate
        FROM loans_installment i
        JOIN loans_loan l ON l.id = i.loan_id
        JOIN loans_loanproduct pr ON pr.id = l.product_id
        WHERE i.loan_id BETWEEN %(lo)s AND %(hi)s AND l.id BETWEEN %(lo)s AND %(hi)s
          AND l.status IN {_in(LIVE_STATUSES, params)} AND {condition}{loans}"""


def _penalty_rate(params):
    """The annual penalty rate on overdue principal (loans.rules.penalty_annual_rate, in SQL): the
    product's add-on rate, or the contract rate times its markup; never more than leaves the loan's
    comprehensive annual cost (its contract rate when unknown) plus the penalty within the cap."""
    markup = params.add(str(PenaltyBasis.MARKUP))
    return f"""LEAST(CASE WHEN pr.penalty_basis = {markup} THEN l.annual_rate * pr.penalty_markup
                          ELSE pr.penalty_rate END,
                     GREATEST(pr.cost_cap_rate - COALESCE(l.annual_cost, l.annual_rate), 0))"""


def penalties(as_of: date, loan_ids) -> dict:
    """Penalty accrued as of the day on each overdue instalment of these loans: {instalment id:
    amount}. Instalments not listed have none beyond what is stored on them."""
    loan_ids = sorted({int(pk) for pk in loan_ids})
    if not loan_ids:
        return {}
    params = _params(as_of, loan_ids[0], loan_ids[-1])
    # The loans named in the candidates themselves: spread over the book, their id range alone would
    # take in every overdue instalment between them.
    params["loans"] = loan_ids
    only = " AND i.loan_id = ANY(%(loans)s)"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, penalty_new FROM ({_items(params, only=only)}) item", params)
        return {pk: to_fen(Decimal(str(amount))) for pk, amount in cursor.fetchall()}


def with_penalty(installments, as_of: date):
    """The instalments (a list of rows, of any loans) with `penalty_accrued` as of the day: what a
    schedule shows. Set on the objects in memory only; never save them."""
    rows = list(installments)
    current = penalties(as_of, {row.loan_id for row in rows})
    for row in rows:
        if row.pk in current:
            row.penalty_accrued = current[row.pk]
    return rows


def _items(params, reset_later_penalties=False, only=""):
    """One query: the candidate instalments, what was paid on them by the date, and from that their
    days past due, unpaid contract amount and penalty as of the date. `only` narrows the candidates
    further (an SQL condition starting with AND, its values in `params`)."""
    branches = [
        # Unpaid and due before the date: the daily case, read through the unpaid-instalment index.
        f"i.status IN {_in(UNPAID, params)} AND i.due_date < %(as_of)s",
        # Paid, but only after the date: a re-run of a past date sees them unpaid.
        f"i.status = {params.add(str(InstallmentStatus.PAID))} AND i.paid_on > %(as_of)s AND i.due_date < %(as_of)s",
    ]
    if reset_later_penalties:
        # Penalty accrued on instalments not yet due as of the date (a backdated payment is being
        # applied): as of then there was none.
        branches.append(
            f"i.status IN {_in(UNPAID, params)} AND i.due_date >= %(as_of)s AND i.penalty_accrued > i.penalty_paid"
        )
    candidates = " UNION ALL ".join(_candidate_select(params, branch, only) for branch in branches)
    # The day money arrives is still charged on it: a day's penalty is on the principal unpaid at
    # its start. So a payment stops penalty on what it paid from the next day, and the penalty the
    # posting service computed on the day of a payment is what every later computation finds.
    principal_days = "GREATEST(0, %(as_of)s - GREATEST(a.applied_on, c.penalty_start))"
    accrual_days = "GREATEST(0, %(as_of)s - penalty_start)"
    days_per_year = params.add(rules.DAYS_PER_YEAR)
    # Paid within the grace days, an instalment was paid on time: no penalty. Beyond them it is
    # overdue from its due date, and penalty counts from then.
    penalty = f"""CASE WHEN %(as_of)s - due_date > grace_days
                       THEN ROUND((principal_due * {accrual_days} - principal_days) * penalty_rate / {days_per_year}, 2)
                       ELSE 0 END"""
    pending = params.add(str(InstallmentStatus.PENDING))

    def paid(amount):
        # A pending instalment has nothing paid on it as of any date (a reversal mirrors each line
        # of the payment with the line's own date), so only the others are looked up. A lookup per
        # instalment through the allocations' instalment index: a join would let the planner, which
        # cannot tell how few unpaid instalments are overdue, read every allocation of the book.
        return f"""CASE WHEN c.status = {pending} THEN 0
            ELSE COALESCE((SELECT SUM({amount}) FROM loans_paymentallocation a
                           WHERE a.installment_id = c.id AND a.applied_on <= %(as_of)s), 0) END"""

    contract = f"CASE WHEN a.component IN {_in(CONTRACT, params)} THEN a.amount ELSE 0 END"
    penalty_component = params.add(str(Component.PENALTY))
    principal_component = params.add(str(Component.PRINCIPAL))
    return f"""
        WITH candidate AS ({candidates})
        SELECT id, loan_id, due_date, penalty_old, penalty_paid, penalty_paid_total,
               %(as_of)s - due_date > grace_days AS past_grace,
               CASE WHEN %(as_of)s - due_date > grace_days THEN contract_due - contract_paid ELSE 0 END
                   AS contract_unpaid,
               CASE WHEN %(as_of)s - due_date > grace_days AND contract_due - contract_paid > 0
                    THEN %(as_of)s - due_date ELSE 0 END AS dpd,
               GREATEST(penalty_paid_total, {penalty}, 0) AS penalty_new,
               GREATEST(penalty_paid, {penalty}, 0) AS penalty_as_of
        FROM (
            SELECT c.id, c.loan_id, c.due_date, c.principal_due, c.contract_due, c.penalty_old,
                   c.penalty_paid_total, c.penalty_start, c.grace_days, c.penalty_rate,
                   {paid(contract)} AS contract_paid,
                   {paid(f"CASE WHEN a.component = {penalty_component} THEN a.amount ELSE 0 END")} AS penalty_paid,
                   {paid(f"CASE WHEN a.component = {principal_component} THEN a.amount * {principal_days} ELSE 0 END")}
                       AS principal_days
            FROM candidate c
        ) item"""


def _write_installments():
    """Only the penalty is stored per instalment; its days past due are computed (as of − due date
    while unpaid) and feed the loan's."""
    return f"""
        UPDATE loans_installment SET penalty_accrued = c.penalty_new
        FROM {ITEMS} c
        WHERE loans_installment.id = c.id AND c.penalty_new <> c.penalty_old"""


def _loan_derived(dpd, params, manual="loans_loan.manual_regulatory_class"):
    """SQL for bucket, class and stage from a days-past-due expression, from the rules' tables."""
    floors = rules.class_floors("pr.loss_after_days", "pr.doubtful_after_days", "pr.substandard_after_days")
    floor = sql.case_by_lower_bound(dpd, floors, RegulatoryClass.NORMAL, params)
    klass = f"GREATEST(COALESCE({manual}, {params.add(int(RegulatoryClass.NORMAL))}), {floor})"
    bucket = sql.case_by_upper_bound(dpd, rules.AGING_BUCKETS, AgingBucket.M7, params)
    by_dpd = sql.case_by_lower_bound(dpd, rules.IFRS9_STAGES, Ifrs9Stage.STAGE_1, params)
    stage_1 = params.add(int(Ifrs9Stage.STAGE_1))
    stage = f"""GREATEST({by_dpd},
        CASE WHEN loans_loan.observation_until >= %(as_of)s THEN {params.add(int(rules.OBSERVATION_STAGE))}
             ELSE {stage_1} END,
        CASE WHEN {klass} >= {params.add(int(rules.IMPAIRED_FROM_CLASS))} THEN {params.add(int(Ifrs9Stage.STAGE_3))}
             ELSE {stage_1} END)"""
    return bucket, klass, stage


def _status(overdue, params):
    """Active and overdue follow the arrears; other statuses are the workflow's to set."""
    following = _in([LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.PAID_OFF], params)
    paid_off = params.add(str(LoanStatus.PAID_OFF))
    return f"""CASE WHEN loans_loan.status IN {following}
                    THEN CASE WHEN {overdue} > 0 THEN {params.add(str(LoanStatus.OVERDUE))}
                              WHEN loans_loan.status = {paid_off} THEN {paid_off}
                              ELSE {params.add(str(LoanStatus.ACTIVE))} END
                    ELSE loans_loan.status END"""


def _write_loans(params):
    bucket, klass, stage = _loan_derived("agg.dpd", params)
    return f"""
        UPDATE loans_loan SET
            days_past_due = agg.dpd,
            overdue_amount = agg.overdue,
            overdue_since = CASE WHEN agg.dpd > 0 THEN %(as_of)s + (1 - agg.dpd) ELSE NULL END,
            penalty_outstanding = agg.penalty,
            aging_bucket = {bucket},
            regulatory_class = {klass},
            ifrs9_stage = {stage},
            status = {_status("agg.overdue", params)},
            balances_as_of = %(as_of)s
        FROM (
            SELECT loan_id, MAX(dpd) AS dpd,
                   SUM(contract_unpaid + CASE WHEN past_grace
                                              THEN GREATEST(penalty_as_of - penalty_paid, 0) ELSE 0 END)
                       AS overdue,
                   SUM(penalty_as_of - penalty_paid) AS penalty
            FROM {ITEMS} GROUP BY loan_id
        ) agg, loans_loanproduct pr
        WHERE loans_loan.id = agg.loan_id AND pr.id = loans_loan.product_id
          AND (loans_loan.days_past_due <> agg.dpd OR loans_loan.overdue_amount <> agg.overdue
               OR loans_loan.penalty_outstanding <> agg.penalty OR loans_loan.balances_as_of IS NULL
               OR loans_loan.balances_as_of <> %(as_of)s
               OR loans_loan.regulatory_class <> {klass} OR loans_loan.ifrs9_stage <> {stage})"""


def _clear_loans(params, *, one_loan=False):
    """The range's loans with nothing in arrears as of the date: nothing overdue, no penalty, their
    balances dated that day. Besides the loans that were in arrears, a re-run of a past date brings
    back the loans whose balances a later day set (balances_as_of after the date). The nightly run
    leaves the other loans alone: their figures hold on every later day, and rewriting every loan of
    the book each night would double its writes. One loan touched by a service is always dated."""
    bucket, klass, stage = _loan_derived("0", params)
    stamp = "OR loans_loan.balances_as_of IS DISTINCT FROM %(as_of)s" if one_loan else ""
    return f"""
        UPDATE loans_loan SET
            days_past_due = 0, overdue_amount = 0, overdue_since = NULL, penalty_outstanding = 0,
            aging_bucket = {bucket}, regulatory_class = {klass}, ifrs9_stage = {stage},
            status = {_status("0", params)}, balances_as_of = %(as_of)s
        FROM loans_loanproduct pr
        WHERE pr.id = loans_loan.product_id AND loans_loan.id BETWEEN %(lo)s AND %(hi)s
          AND (loans_loan.days_past_due > 0 OR loans_loan.overdue_amount > 0 OR loans_loan.penalty_outstanding <> 0
               OR loans_loan.balances_as_of > %(as_of)s
               -- a manager's class, or an observation period begun or ended, moves class and stage
               OR loans_loan.regulatory_class <> {klass} OR loans_loan.ifrs9_stage <> {stage} {stamp})
          AND loans_loan.status IN {_in(LIVE_STATUSES, params)}
          AND loans_loan.id NOT IN (SELECT loan_id FROM {ITEMS})"""
