"""The daily run: for a business date, bring every loan's arrears up to date and move the collection
cases accordingly. Composed here because the collection app sits above loans (DESIGN section 2).

Work is split by loan id range (`run_chunk`), so Celery can spread chunks over workers. Each chunk is
one transaction and a fixed number of set-based statements: the loans' delinquency update, then
cases opened, promises judged, priorities scored, and cases resolved, classified and escalated in
bulk, each move logged as `system` with the rule that fired. Running the same date twice changes
nothing the second time."""

import json
import time
from collections import Counter
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, Max, Min, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import sql
from core.audit import build_entry, log_batch
from core.dates import business_today
from core.models import ActivityLog
from core.roles import OFFICER
from loans import delinquency
from loans import rules as loan_rules
from loans.choices import Ifrs9Stage, LoanStatus, RegulatoryClass
from loans.models import Loan, Payment
from loans.services import loan_apply_credit
from webhooks.services import events_publish

from . import rules, snapshots
from .approvals import pending_cancel
from .choices import CaseState, PlanState, PromiseStatus, ResolutionReason, Severity
from .models import CollectionCase, PromiseToPay, RestructuringPlan, Team
from .services import case_facts

S = CaseState
OPEN = CaseState.open_states()
# Loan ids per chunk: a chunk's fixed cost (about 25 statements) weighs little from here on, and 1M loans
# still make 20 chunks for the workers (measured at 1M: 20k-id chunks 14.4 s, 50k 11.8-12.7 s, 100k 11.9-12.6 s).
DEFAULT_CHUNK = 50_000


@dataclass
class Summary:
    as_of: date
    chunks: int = 0
    loans_scanned: int = 0
    loans_in_arrears: int = 0
    loans_cleared: int = 0
    credits_applied: int = 0
    cases_opened: int = 0
    cases_resolved: int = 0
    cases_classified: int = 0
    cases_escalated: int = 0
    promises_kept: int = 0
    promises_partially_kept: int = 0
    promises_broken: int = 0
    plans_completed: int = 0
    plans_defaulted: int = 0
    seconds: float = 0.0

    def add(self, other: "Summary"):
        for f in fields(self):
            if f.name not in ("as_of", "seconds"):
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def loan_id_ranges(chunk_size=DEFAULT_CHUNK):
    """(first id, last id) pairs covering the book, each at most chunk_size ids wide."""
    bounds = Loan.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    return [
        (low, min(low + chunk_size - 1, bounds["high"])) for low in range(bounds["low"], bounds["high"] + 1, chunk_size)
    ]


def run_daily(*, as_of: date | None = None, chunk_size=DEFAULT_CHUNK, progress=None, snapshot=True) -> Summary:
    """The whole book in chunks, then the day's portfolio snapshot, in this process (the Celery task
    fans the chunks out instead, and writes the snapshot when the last one is done). A replay of past
    days may leave out the snapshots of the days the KPI page never reads (snapshot=False)."""
    as_of = as_of or business_today()
    started = time.perf_counter()
    summary = Summary(as_of=as_of)
    ranges = loan_id_ranges(chunk_size)
    for number, (low, high) in enumerate(ranges, start=1):
        summary.add(run_chunk(as_of=as_of, first_id=low, last_id=high))
        if progress:
            progress(number, len(ranges), summary)
    if snapshot:
        snapshots.snapshot_write(as_of)
        snapshots.warm_book_figures()
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def run_chunk(*, as_of: date, first_id: int, last_id: int) -> Summary:
    summary = Summary(as_of=as_of, chunks=1)
    in_range = Q(loan_id__gte=first_id, loan_id__lte=last_id)
    with transaction.atomic():
        sql.tune_for_batch()
        chunk = Loan.objects.filter(id__gte=first_id, id__lte=last_id)
        # Counted from the primary key's index; the loans holding credit come from their own index.
        summary.loans_scanned = chunk.count()
        if chunk.filter(credit_balance__gt=0).exists():
            summary.credits_applied = _apply_credits(as_of, first_id, last_id)
        counts = delinquency.update_range(as_of=as_of, first_id=first_id, last_id=last_id)
        summary.loans_in_arrears, summary.loans_cleared = counts["loans_in_arrears"], counts["loans_cleared"]
        summary.cases_opened = _open_cases(as_of, first_id, last_id)
        judged = _judge_promises(as_of, in_range)
        summary.promises_kept = judged[PromiseStatus.KEPT]
        summary.promises_partially_kept = judged[PromiseStatus.PARTIALLY_KEPT]
        summary.promises_broken = judged[PromiseStatus.BROKEN]
        _score(first_id, last_id)
        review = _cases_to_review(as_of, first_id, last_id)
        summary.cases_resolved = _resolve_cured(as_of, review["resolve"])
        summary.plans_completed, summary.plans_defaulted = _plan_outcomes(as_of, in_range)
        summary.cases_classified = _classify(as_of, review["classify"])
        # A case classified minor just now may escalate too: escalation looks at those again.
        summary.cases_escalated = _escalate(as_of, review["escalate"] | review["classify"])
    return summary


# --- Steps ------------------------------------------------------------------------------------------


def _apply_credits(as_of, first_id, last_id):
    """Money held as credit pays instalments that fell due (few loans hold credit)."""
    holders = Loan.objects.filter(
        id__gte=first_id,
        id__lte=last_id,
        credit_balance__gt=0,
        installments__status__in=delinquency.UNPAID,
        installments__due_date__lte=as_of,
    ).distinct()
    applied = 0
    for loan in holders:
        loan_apply_credit(loan=loan, as_of=as_of)
        applied += 1
    return applied


def _open_cases(as_of, first_id, last_id):
    """A case in early warning for each loan in arrears without an open case, assigned to the
    least-loaded officer of a team that serves the loan's product. Written in multi-row INSERTs from
    the loans' values (sql.insert_rows, audit.log_batch): a model instance per case and per entry cost
    more than the database's work on a day that opens thousands."""
    loans = list(
        Loan.objects.filter(
            id__gte=first_id,
            id__lte=last_id,
            days_past_due__gt=0,
            status__in=[LoanStatus.OVERDUE, LoanStatus.RESTRUCTURED],
        )
        .exclude(
            Exists(
                CollectionCase.objects.filter(
                    loan=OuterRef("pk"), loan_id__gte=first_id, loan_id__lte=last_id, state__in=OPEN
                )
            )
        )
        .values_list("id", "external_id", "product_id", "days_past_due", "overdue_amount")
    )
    if not loans:
        return 0
    assign = _Assigner({product_id for _id, _external, product_id, _dpd, _amount in loans})
    now = timezone.now()
    picks = {}  # loan id -> (team, officer)
    rows = []
    for loan_id, _external_id, product_id, days_past_due, overdue_amount in loans:
        team_id, officer_id = picks[loan_id] = assign.next(product_id)
        rows.append(
            {
                "created_at": now,
                "updated_at": now,
                "loan_id": loan_id,
                "state": S.EARLY_WARNING,
                "team_id": team_id,
                "officer_id": officer_id,
                "opened_on": as_of,
                "days_past_due_at_open": days_past_due,
                "overdue_amount_at_open": overdue_amount,
                "next_action_at": now,
            }
        )
    sql.insert_rows(CollectionCase, rows)
    # The cases just written: the only open ones of these loans (one_open_case_per_loan).
    opened = dict(
        CollectionCase.objects.filter(
            loan_id__in=picks, loan_id__gte=first_id, loan_id__lte=last_id, state__in=OPEN
        ).values_list("loan_id", "id")
    )
    log_batch(
        actor="system",
        action="collection.case.opened",
        model=CollectionCase,
        entries=(
            (
                opened[loan_id],
                CollectionCase.label(opened[loan_id], external_id),
                {"rule": "first_overdue_day", "officer": picks[loan_id][1]},
            )
            for loan_id, external_id, _product, _dpd, _amount in loans
        ),
    )
    events_publish(
        event_type="case.opened",
        payloads=(
            {
                "case": opened[loan_id],
                "loan": loan_id,
                "state": S.EARLY_WARNING,
                "team": picks[loan_id][0],
                "officer": picks[loan_id][1],
                "days_past_due": days_past_due,
                "overdue_amount": overdue_amount,
            }
            for loan_id, _external, _product, days_past_due, overdue_amount in loans
        ),
    )
    return len(loans)


class _Assigner:
    """Balances new cases over the officers of the teams serving each product by open-case count."""

    def __init__(self, product_ids):
        User = get_user_model()
        memberships = Team.members.through.objects.filter(
            team__products__in=product_ids,
            user__is_active=True,
            user__groups__name=OFFICER,
        ).values_list("team_id", "user_id", "team__products")
        self.pool = {}  # product -> [(team, officer)]
        for team_id, user_id, product_id in memberships.distinct():
            if product_id in product_ids:
                self.pool.setdefault(product_id, []).append((team_id, user_id))
        officers = {user for pairs in self.pool.values() for _team, user in pairs}
        self.load = Counter(
            dict(
                User.objects.filter(pk__in=officers)
                .annotate(n=Count("collection_cases", filter=Q(collection_cases__state__in=OPEN)))
                .values_list("pk", "n")
            )
        )

    def next(self, product_id):
        pairs = self.pool.get(product_id)
        if not pairs:
            return None, None  # no team serves this product: the case waits in the managers' queue
        team_id, officer_id = min(pairs, key=lambda pair: (self.load[pair[1]], pair[1]))
        self.load[officer_id] += 1
        return team_id, officer_id


def _score(first_id, last_id):
    """Recompute the priority of open cases from the weights in collection.rules: one UPDATE,
    touching only the cases whose score changes. Raw SQL: the score reads the case's loan and its
    borrower, and an ORM update cannot refer to joined rows."""
    w = rules.PRIORITY_WEIGHTS
    p = sql.Params(
        low=first_id,
        high=last_id,
        states=list(OPEN),
        per_bucket=w["per_bucket"],
        per_yuan=w["per_yuan"],
        amount_cap=w["amount_cap"],
        per_broken=w["per_broken"],
        unreachable=w["unreachable"],
    )
    grade_points = " ".join(f"WHEN {p.add(grade)} THEN {p.add(points)}" for grade, points in w["risk_grade"].items())
    case = "collection_collectioncase"
    score = f"""(CAST(SUBSTR(l.aging_bucket, 2) AS INTEGER) * %(per_bucket)s
        + LEAST(FLOOR(l.overdue_amount / %(per_yuan)s), %(amount_cap)s)
        + (CASE b.risk_grade {grade_points} ELSE 0 END)
        + {case}.broken_promises * %(per_broken)s
        + (CASE WHEN {case}.unreachable THEN %(unreachable)s ELSE 0 END))"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {case} SET priority_score = {score}
            FROM loans_loan l JOIN borrowers_borrower b ON b.id = l.borrower_id
            WHERE {case}.loan_id = l.id AND l.id BETWEEN %(low)s AND %(high)s
              AND {case}.loan_id BETWEEN %(low)s AND %(high)s
              AND {case}.state = ANY(%(states)s) AND {case}.priority_score <> {score}""",
            p,
        )


def _judge_promises(as_of, in_range):
    """Promises whose date has passed: kept, partially kept or broken by what was paid between the
    promise and its date (net of reversals)."""
    paid = (
        Payment.objects.filter(
            loan_id=OuterRef("case__loan_id"),
            value_date__gte=OuterRef("created_on"),
            value_date__lte=OuterRef("promised_for"),
        )
        .values("loan_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    due = (
        PromiseToPay.objects.select_for_update(of=("self",))
        .filter(case__in=CollectionCase.objects.filter(in_range), status=PromiseStatus.PENDING, promised_for__lt=as_of)
        .annotate(created_on=F("created_at__date"), paid=Coalesce(Subquery(paid[:1]), Value(Decimal(0))))
        .select_related("case__loan")
    )
    judged = Counter()
    promises = list(due)
    for promise in promises:
        promise.status = rules.promise_outcome(promise.amount, promise.paid)
        promise.judged_on, promise.paid_amount = as_of, max(promise.paid, Decimal(0))
        judged[promise.status] += 1
    if not promises:
        return judged
    PromiseToPay.objects.bulk_update(promises, ["status", "judged_on", "paid_amount"])
    _log(
        (
            promise.case,
            f"collection.promise.{promise.status}",
            {"promise": promise.pk, "amount": promise.amount, "paid": promise.paid_amount},
        )
        for promise in promises
    )
    events_publish(
        event_type="promise.broken",
        payloads=(
            {
                "promise": p.pk,
                "case": p.case_id,
                "loan": p.case.loan_id,
                "amount": p.amount,
                "paid": p.paid_amount,
                "promised_for": p.promised_for,
            }
            for p in promises
            if p.status == PromiseStatus.BROKEN
        ),
    )
    per_case = PromiseToPay.objects.filter(case=OuterRef("pk")).values("case").annotate(n=Count("id")).values("n")
    CollectionCase.objects.filter(pk__in={p.case_id for p in promises}).update(
        broken_promises=Coalesce(Subquery(per_case.filter(status=PromiseStatus.BROKEN)[:1]), 0),
        kept_promises=Coalesce(Subquery(per_case.filter(status=PromiseStatus.KEPT)[:1]), 0),
    )
    return judged


def _cases_to_review(as_of, first_id, last_id):
    """The chunk's open cases that resolution, classification or escalation may move, by step, from
    one pass over the open cases and their loans (a join on the loans reads only the chunk's, which
    an ORM query on the cases does not do). A superset: each step applies its own conditions to
    these few cases. A case opened after the date (seen by a re-run of a past date) is never one."""
    p = sql.Params(
        as_of=as_of,
        low=first_id,
        high=last_id,
        resolvable=[S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.LEGAL],
        early_warning=S.EARLY_WARNING,
        minor=S.MINOR,
        broken_for_serious=rules.BROKEN_PROMISES_FOR_SERIOUS,
    )
    # What _escalate's may_be_serious asks, loosened (a grace period that ended is enough).
    may_be_serious = """(l.days_past_due > pr.serious_days OR c.grace_until < %(as_of)s
        OR c.broken_promises >= %(broken_for_serious)s
        OR c.unreachable OR c.refused_to_pay OR c.suspected_evasion OR c.collateral_at_risk)"""
    steps = {
        "resolve": "c.state = ANY(%(resolvable)s) AND l.overdue_amount = 0",
        "classify": "c.state = %(early_warning)s AND l.days_past_due >= pr.classify_day"
        " AND (c.grace_until IS NULL OR c.grace_until < %(as_of)s)",
        "escalate": f"c.state = %(minor)s AND (c.grace_until IS NULL OR c.grace_until < %(as_of)s)"
        f" AND {may_be_serious}",
    }
    flags = ", ".join(f"CASE WHEN {condition} THEN 1 ELSE 0 END" for condition in steps.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id, {flags}
            FROM collection_collectioncase c
            JOIN loans_loan l ON l.id = c.loan_id
            JOIN loans_loanproduct pr ON pr.id = l.product_id
            WHERE c.loan_id BETWEEN %(low)s AND %(high)s AND l.id BETWEEN %(low)s AND %(high)s
              AND c.opened_on <= %(as_of)s
              AND ({" OR ".join(f"({condition})" for condition in steps.values())})""",
            p,
        )
        rows = cursor.fetchall()
    return {step: {row[0] for row in rows if row[1 + i]} for i, step in enumerate(steps)}


# What keeps a case in legal open although nothing is overdue: each entry gives a condition on the
# case (a Q or boolean expression). The legal app adds "an action still under way" (LegalConfig.ready),
# since collection does not import legal; the legal officer closes the action, and the case with it.
LEGAL_WORK_OPEN = []


def _resolve_cured(as_of, candidates):
    """Cases whose loans have nothing overdue any more close: cured, or recovered from legal (once no
    legal work is under way)."""
    if not candidates:
        return 0
    queryset = CollectionCase.objects.select_for_update(of=("self",)).filter(
        pk__in=candidates, state__in=[S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.LEGAL], loan__overdue_amount=0
    )
    for condition in LEGAL_WORK_OPEN:
        queryset = queryset.exclude(Q(state=S.LEGAL) & Q(condition()))
    cases = list(queryset.select_related("loan"))
    moved = 0
    for source, reason in ((S.LEGAL, ResolutionReason.RECOVERED), (None, ResolutionReason.CURED)):
        group = [c for c in cases if (c.state == source if source else c.state != S.LEGAL)]
        moved += _move(
            group,
            target=S.RESOLVED,
            verb="resolved",
            rule="nothing_overdue",
            extra={"resolution_reason": reason, "closed_on": as_of},
        )
    return moved


def _plan_outcomes(as_of, in_range):
    """Cases under an active restructuring plan. An instalment missed past the product's grace days
    defaults the plan and the case goes back to serious; a plan paid off, or whose observation period
    ran its course with nothing overdue, completes and the case resolves as restructured."""
    cases = list(
        CollectionCase.objects.select_for_update(of=("self",))
        .filter(in_range, state=S.MONITORING)
        .select_related("loan__product")
    )
    plans = {
        plan.case_id: plan
        for plan in RestructuringPlan.objects.filter(case__in=cases, state=PlanState.ACTIVE).only(
            "id", "case_id", "observation_until", "class_floor"
        )
    }
    cases = [case for case in cases if case.pk in plans]
    # Days past due count only beyond the product's grace days: paid within them is paid on time.
    missed = [c for c in cases if c.loan.days_past_due > 0]
    done = [
        c
        for c in cases
        if c not in missed
        and c.loan.overdue_amount == 0
        and (c.loan.status == LoanStatus.PAID_OFF or plans[c.pk].observation_until <= as_of)
    ]
    now = timezone.now()
    # A plan kept to the end lifts the class floor it set (a manual class set above it stays); with
    # nothing overdue the loan is normal again.
    by_floor = {}
    for case in done:
        if plans[case.pk].class_floor is not None:
            by_floor.setdefault(plans[case.pk].class_floor, []).append(case.loan_id)
    for floor, loan_ids in by_floor.items():
        Loan.objects.filter(pk__in=loan_ids, manual_regulatory_class=floor).update(
            manual_regulatory_class=None, manual_class_reason="", regulatory_class=RegulatoryClass.NORMAL
        )
    # The observation ends either way. A plan kept to the end leaves nothing overdue, so the stage
    # follows the class alone (the daily update leaves loans without arrears alone); a defaulted one
    # is in arrears, and tomorrow's update sets its stage from the days past due.
    Loan.objects.filter(pk__in=[c.loan_id for c in done]).update(
        observation_until=None,
        ifrs9_stage=Case(
            When(regulatory_class__gte=loan_rules.IMPAIRED_FROM_CLASS, then=Value(int(Ifrs9Stage.STAGE_3))),
            default=Value(int(Ifrs9Stage.STAGE_1)),
        ),
    )
    Loan.objects.filter(pk__in=[c.loan_id for c in missed]).update(observation_until=None)
    # RestructuringPlan.default / .complete, applied in bulk.
    for group, state in ((missed, PlanState.DEFAULTED), (done, PlanState.COMPLETED)):
        RestructuringPlan.objects.filter(pk__in=[plans[c.pk].pk for c in group], state=PlanState.ACTIVE).update(
            state=state, updated_at=now
        )
    _move(
        missed,
        target=S.SERIOUS,
        verb="plan_defaulted",
        rule="missed_plan_payment",
        extra={"severity": Severity.SERIOUS},
        data=lambda c: {"plan": plans[c.pk].pk, "days_past_due": c.loan.days_past_due},
    )
    _move(
        done,
        target=S.RESOLVED,
        verb="resolved",
        rule="plan_completed",
        extra={"resolution_reason": ResolutionReason.RESTRUCTURED, "closed_on": as_of},
        data=lambda c: {"plan": plans[c.pk].pk},
    )
    return len(done), len(missed)


def _classify(as_of, candidates):
    """Early-warning cases reaching their product's classify day are judged minor or serious, once
    any grace period granted them has ended."""
    if not candidates:
        return 0
    cases = list(
        CollectionCase.objects.select_for_update(of=("self",))
        .filter(pk__in=candidates, state=S.EARLY_WARNING, loan__days_past_due__gte=F("loan__product__classify_day"))
        .exclude(grace_until__gte=as_of)
        .select_related("loan__product")
    )
    verdicts = {case.pk: rules.classify(case_facts(case, as_of)) for case in cases}
    moved = 0
    for severity in (Severity.MINOR, Severity.SERIOUS):
        group = [c for c in cases if verdicts[c.pk].severity == severity]
        for case in group:
            case.classification_reasons = verdicts[case.pk].reasons_as_dicts()
        moved += _move(
            group,
            target=severity,
            verb="classified",
            rule="classification_rules",
            extra={"severity": severity, "classified_at": timezone.now(), "classified_by_officer": False},
            per_case=["classification_reasons"],
            data=lambda c: {"reasons": c.classification_reasons},
        )
    return moved


def _escalate(as_of, candidates):
    """Minor cases escalate when a serious sign fires (days past the threshold, grace expired unpaid,
    two broken promises, unreachable, ...), except while a grace period runs."""
    if not candidates:
        return 0
    # SQL narrows the cohort to cases where some serious sign may fire; the rules decide.
    may_be_serious = (
        Q(loan__days_past_due__gt=F("loan__product__serious_days"))
        | Q(grace_until__lt=as_of, loan__overdue_amount__gt=0)
        | Q(broken_promises__gte=rules.BROKEN_PROMISES_FOR_SERIOUS)
        | Q(unreachable=True)
        | Q(refused_to_pay=True)
        | Q(suspected_evasion=True)
        | Q(collateral_at_risk=True)
    )
    cases = list(
        CollectionCase.objects.select_for_update(of=("self",))
        .filter(may_be_serious, pk__in=candidates, state=S.MINOR)
        .exclude(grace_until__gte=as_of)
        .select_related("loan__product")
    )
    verdicts = {case.pk: rules.classify(case_facts(case, as_of)) for case in cases}
    group = [c for c in cases if verdicts[c.pk].severity == Severity.SERIOUS]
    return _move(
        group,
        target=S.SERIOUS,
        verb="escalated",
        rule="escalation_rules",
        extra={"severity": Severity.SERIOUS},
        data=lambda c: {"reasons": verdicts[c.pk].reasons_as_dicts()},
    )


# --- Helpers ----------------------------------------------------------------------------------------


def _move(cases, *, target, verb, rule, extra, per_case=(), data=None):
    """Move locked cases to `target` in one UPDATE per distinct source state, bump their versions,
    write the `per_case` fields set on the instances, log each as `system` with the rule that fired,
    and cancel the requests waiting on them (collection.approvals)."""
    if not cases:
        return 0
    by_source = {}
    for case in cases:
        by_source.setdefault(case.state, []).append(case)
    for source, group in by_source.items():
        ids = [c.pk for c in group]
        CollectionCase.objects.filter(pk__in=ids, state=source).update(
            state=target, version=F("version") + 1, updated_at=timezone.now(), **extra
        )
        if per_case:
            _write_per_case(group, per_case)
        log_batch(
            actor="system",
            action=f"collection.case.{verb}",
            model=CollectionCase,
            before={"state": source},
            after={"state": target},
            entries=((c.pk, str(c), {"rule": rule, **((data or (lambda c: {}))(c))}) for c in group),
        )
    pending_cancel([c.pk for c in cases], actor="system", step=verb, state=target)
    events_publish(
        event_type="case.state_changed",
        payloads=(
            {"case": c.pk, "loan": c.loan_id, "from": c.state, "to": target, "transition": verb, "rule": rule}
            for c in cases
        ),
    )
    return len(cases)


def _write_per_case(cases, names):
    """Write the `names` fields set on these cases, one UPDATE per distinct set of values: a day's
    classifications share a handful of reason lists (bulk_update would build a CASE arm per case, which
    took most of the go-live run's time)."""
    by_values = {}
    for case in cases:
        values = {name: getattr(case, name) for name in names}
        key = json.dumps(values, sort_keys=True, cls=DjangoJSONEncoder)
        by_values.setdefault(key, (values, []))[1].append(case.pk)
    for values, ids in by_values.values():
        CollectionCase.objects.filter(pk__in=ids).update(**values)


def _log(entries):
    """(case, action, data) triples, logged as `system`."""
    ActivityLog.objects.bulk_create(
        build_entry(actor="system", action=action, target=case, data=data) for case, action, data in entries
    )
