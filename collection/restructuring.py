"""Restructuring plans: an officer proposes new terms, a manager other than the proposer approves or
rejects them (maker-checker). The maths is loans/restructuring.py; the limits are the product's.

Proposing computes, from what the loan owes today, the new schedule and the old and new terms side by
side (total payable, first and regular amounts, end date, waived amount), so approver and borrower
see what changes. Submitting moves the case to `restructuring`; a rejection moves it back."""

from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from core.audit import log_action
from core.dates import business_today
from core.errors import ApplicationError
from core.money import ZERO, parse_amount, to_fen
from core.permissions import is_manager
from loans import restructuring as maths
from loans.choices import InstallmentStatus
from loans.schedule import ScheduleLine

from . import services
from .choices import PlanState
from .errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from .models import CollectionCase, RestructuringPlan

UNPAID = [InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]


def plan_position(loan, as_of: date) -> tuple[maths.Position, list[ScheduleLine]]:
    """What the loan owes as of the day, and its unpaid schedule (what is left of each instalment)."""
    unpaid = loan.installments.filter(status__in=UNPAID).order_by("due_date")
    arrears = unpaid.filter(due_date__lt=as_of).aggregate(
        interest=Sum(F("interest_due") - F("interest_paid")), fee=Sum(F("fee_due") - F("fee_paid"))
    )
    remaining = [
        ScheduleLine(
            seq=row.seq,
            due_date=row.due_date,
            principal=row.principal_due - row.principal_paid,
            interest=row.interest_due - row.interest_paid,
            fee=row.fee_due - row.fee_paid + row.penalty_accrued - row.penalty_paid,
        )
        for row in unpaid
    ]
    position = maths.Position(
        principal=loan.principal_outstanding,
        interest_arrears=to_fen(arrears["interest"] or ZERO),
        fee_arrears=to_fen(arrears["fee"] or ZERO),
        penalty=loan.penalty_outstanding,
        remaining_months=max(sum(1 for line in remaining if line.due_date >= as_of), 1),
        annual_rate=loan.annual_rate,
        method=loan.product.repayment_method,
        monthly_fee=to_fen(loan.principal * loan.product.monthly_fee_rate),
    )
    return position, remaining


def _rate(value):
    if value in (None, ""):
        return None
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        rate = None
    if rate is None or not rate.is_finite():
        raise ApplicationError(_("Give the annual rate as a fraction, e.g. 0.045."), field="new_annual_rate")
    return rate


def _line(line):
    return {
        "seq": line.seq,
        "due_date": line.due_date.isoformat(),
        "principal": str(line.principal),
        "interest": str(line.interest),
        "fee": str(line.fee),
        "total": str(line.total),
    }


def plan_propose(
    *,
    actor,
    case: CollectionCase,
    reason: str,
    extension_months: int = 0,
    new_annual_rate=None,
    arrears_instalments: int = 0,
    penalty_waiver="0",
    first_due_date: date | None = None,
) -> RestructuringPlan:
    """Draft a plan for a minor or serious case, checked against the product's limits."""
    services._check_may_work(actor, case)
    if not reason.strip():
        raise ApplicationError(_("Say why the borrower needs new terms."), field="reason")
    if not can_proceed(case.propose_plan):
        raise TransitionNotAllowed(
            _("A plan can be proposed for a minor or serious case, not one that is “%(state)s”.")
            % {"state": case.get_state_display()}
        )
    today = business_today()
    loan = case.loan
    position, remaining = plan_position(loan, today)
    terms = maths.Terms(
        extension_months=int(extension_months or 0),
        new_annual_rate=_rate(new_annual_rate),
        arrears_instalments=int(arrears_instalments or 0),
        penalty_waiver=parse_amount(penalty_waiver or "0", field="penalty_waiver", allow_zero=True),
    )
    errors = maths.limit_errors(position, terms, loan.product.restructuring_limits)
    if errors:
        field, message = next(iter(errors.items()))
        raise ApplicationError(message, field=field)
    first_due_date = first_due_date or _next_due_date(remaining, today)
    if first_due_date <= today:
        raise ApplicationError(_("The first new instalment falls due after today."), field="first_due_date")
    lines = maths.restructured_schedule(position, terms, first_due_date)
    old = maths.summarise(remaining, regular_from=sum(1 for line in remaining if line.due_date < today))
    new = maths.summarise(lines, waived=terms.penalty_waiver, regular_from=max(terms.arrears_instalments, 1))
    try:
        with transaction.atomic():
            plan = RestructuringPlan.objects.create(
                case=case,
                kinds=maths.kinds(position, terms),
                extension_months=terms.extension_months,
                new_annual_rate=terms.new_annual_rate,
                arrears_instalments=terms.arrears_instalments,
                penalty_waiver=terms.penalty_waiver,
                first_due_date=first_due_date,
                position={key: str(value) for key, value in asdict(position).items()},
                old_terms=old.as_dict(),
                new_terms=new.as_dict(),
                new_schedule=[_line(line) for line in lines],
                reason=reason,
                proposed_by=actor,
            )
            log_action(
                actor=actor,
                action="collection.plan.proposed",
                target=case,
                reason=reason,
                data={"plan": plan.pk, "kinds": plan.kinds, "old": plan.old_terms, "new": plan.new_terms},
            )
    except IntegrityError:
        raise ApplicationError(_("This case already has a plan under way."), code="conflict") from None
    return plan


def _next_due_date(remaining, today):
    upcoming = [line.due_date for line in remaining if line.due_date > today]
    return upcoming[0] if upcoming else today + relativedelta(months=1)


def plan_submit(*, actor, plan: RestructuringPlan) -> RestructuringPlan:
    """Send the plan for approval; the case moves to `restructuring` while it is decided."""
    with transaction.atomic():
        locked = RestructuringPlan.objects.select_for_update().select_related("case").get(pk=plan.pk)
        if locked.state != PlanState.DRAFT:
            raise ConcurrentChange(_("This plan was already submitted."))
        services.case_propose_plan(actor=actor, case=locked.case, note=locked.reason)
        locked.submit()
        locked.save()
        log_action(actor=actor, action="collection.plan.submitted", target=locked.case, data={"plan": locked.pk})
    return locked


def plan_approve(*, actor, plan: RestructuringPlan, note: str = "") -> RestructuringPlan:
    return _decide(actor=actor, plan=plan, approve=True, note=note)


def plan_reject(*, actor, plan: RestructuringPlan, note: str) -> RestructuringPlan:
    """The plan is refused; the case returns to minor or serious."""
    if not note.strip():
        raise ApplicationError(_("Say why the plan is rejected."), field="note")
    return _decide(actor=actor, plan=plan, approve=False, note=note)


def _decide(*, actor, plan, approve, note):
    if not is_manager(actor):
        raise NotPermitted(_("Only a manager may decide this."))
    with transaction.atomic():
        locked = RestructuringPlan.objects.select_for_update(of=("self",)).select_related("case").get(pk=plan.pk)
        if locked.proposed_by_id == actor.pk:
            raise NotPermitted(_("You cannot approve your own request (maker-checker)."))
        if locked.state != PlanState.SUBMITTED:
            raise ConcurrentChange(
                _("This plan was already decided: %(state)s.") % {"state": locked.get_state_display()}
            )
        (locked.approve if approve else locked.reject)(actor, timezone.now(), note)
        locked.save()
        if not approve:
            services.case_reject_plan(actor=actor, case=locked.case, note=note)
        log_action(
            actor=actor,
            action=f"collection.plan.{'approved' if approve else 'rejected'}",
            target=locked.case,
            reason=note,
            data={"plan": locked.pk, "proposed_by": locked.proposed_by.get_username()},
        )
    return locked
