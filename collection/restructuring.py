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
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from core.audit import log_action
from core.dates import business_today
from core.errors import ApplicationError
from core.i18n import stored_text
from core.money import ZERO, parse_amount, to_fen
from core.permissions import is_manager
from core.uploads import atomic_with_files, upload_check, written
from loans import delinquency
from loans import restructuring as maths
from loans import rules as loan_rules
from loans.choices import InstallmentStatus
from loans.models import Loan
from loans.schedule import ScheduleError, ScheduleLine, contract_day
from loans.services import check_cost_cap, loan_reschedule

from . import services
from .choices import PlanState, SignatureMethod
from .errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from .models import CollectionCase, RestructuringPlan

UNPAID = [InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]


def plan_position(loan, as_of: date) -> tuple[maths.Position, list[ScheduleLine]]:
    """What the loan owes as of the day, and its unpaid schedule (what is left of each instalment)."""
    unpaid = loan.installments.filter(status__in=UNPAID).order_by("due_date")
    arrears = unpaid.filter(due_date__lt=as_of).aggregate(
        interest=Sum(F("interest_due") - F("interest_paid")), fee=Sum(F("fee_due") - F("fee_paid"))
    )
    # Legal costs charged to any unpaid instalment move into the new schedule with the arrears.
    costs = unpaid.aggregate(cost=Sum(F("cost_due") - F("cost_paid")))["cost"] or ZERO
    remaining = [
        ScheduleLine(
            seq=row.seq,
            due_date=row.due_date,
            principal=row.principal_due - row.principal_paid,
            interest=row.interest_due - row.interest_paid,
            fee=row.fee_due - row.fee_paid + row.cost_due - row.cost_paid + row.penalty_accrued - row.penalty_paid,
        )
        for row in delinquency.with_penalty(unpaid, as_of)
    ]
    position = maths.Position(
        principal=loan.principal_outstanding,
        interest_arrears=to_fen(arrears["interest"] or ZERO),
        fee_arrears=to_fen((arrears["fee"] or ZERO) + costs),
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
    if first_due_date > today + relativedelta(years=1):
        raise ApplicationError(_("The first new instalment falls due within a year."), field="first_due_date")
    try:
        lines = maths.restructured_schedule(
            position, terms, first_due_date, day_of_month=contract_day(loan.disbursed_on, first_due_date)
        )
    except ScheduleError as error:
        raise ApplicationError(str(error), field="extension_months") from None
    cost = maths.restructured_annual_cost(position, terms, lines, today)
    check_cost_cap(cost, loan.product.cost_cap_rate, field="new_annual_rate")
    old = maths.summarise(remaining, regular_from=sum(1 for line in remaining if line.due_date < today))
    new = maths.summarise(lines, waived=terms.penalty_waiver, regular_from=max(terms.arrears_instalments, 1))
    new_terms = new.as_dict() | {"annual_cost": str(cost)}
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
                new_terms=new_terms,
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


def _decimal_or_none(value):
    return None if value in (None, "") else Decimal(value)


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


# --- Signing and activation ---------------------------------------------------------------------------

OBSERVATION_MIN_PERIODS = 2  # DESIGN section 5: >= 2 repayment periods and >= 1 year
OBSERVATION_MIN_MONTHS = 12


def plan_sign(
    *, actor, plan: RestructuringPlan, borrower_signed_on: date, method: str, reference: str = "", scan=None
) -> RestructuringPlan:
    """Record both signatures of the supplementary agreement: the borrower's (on paper with the scan,
    or confirmed with a one-time code) and the lender's, given by the manager who approved the plan."""
    if method not in SignatureMethod.values:
        raise ApplicationError(_("Say how the borrower signed."), field="method")
    if method == SignatureMethod.SCAN and not scan:
        raise ApplicationError(_("Upload the scan of the signed agreement."), field="scan")
    if scan:
        checked = upload_check(scan, field="scan")  # a PDF or an image, not too big, whatever its name says
        uploaded_name, scan.name = scan.name, checked.stored_name()
    if method == SignatureMethod.ONE_TIME_CODE and not reference.strip():
        raise ApplicationError(_("Give the confirmation id of the one-time code."), field="reference")
    if borrower_signed_on > business_today():
        raise ApplicationError(_("The borrower cannot have signed in the future."), field="borrower_signed_on")
    with atomic_with_files():
        locked = RestructuringPlan.objects.select_for_update(of=("self",)).select_related("case").get(pk=plan.pk)
        if locked.state != PlanState.APPROVED:
            raise ConcurrentChange(
                _("Only an approved plan is signed; this one is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        if locked.decided_by_id != getattr(actor, "pk", None):
            raise NotPermitted(_("The manager who approved the plan signs it for the lender."))
        if borrower_signed_on < timezone.localdate(locked.decided_at):
            raise ApplicationError(_("The borrower signs after the plan was approved."), field="borrower_signed_on")
        locked.sign()
        locked.borrower_signed_on, locked.borrower_sign_method = borrower_signed_on, method
        locked.borrower_sign_reference = reference or (uploaded_name if scan else "")
        if scan:
            locked.borrower_scan = scan
        locked.lender_signed_by, locked.lender_signed_at = actor, timezone.now()
        locked.save()
        written(locked.borrower_scan)
        log_action(
            actor=actor,
            action="collection.plan.signed",
            target=locked.case,
            data={"plan": locked.pk, "method": method, "reference": locked.borrower_sign_reference},
        )
    return locked


def observation_end(activated_on: date, schedule: list[dict]) -> date:
    """The observation period ends at the later of a year after activation and the second new due date."""
    by_periods = date.fromisoformat(schedule[min(OBSERVATION_MIN_PERIODS, len(schedule)) - 1]["due_date"])
    return max(activated_on + relativedelta(months=OBSERVATION_MIN_MONTHS), by_periods)


def plan_activate(*, actor, plan: RestructuringPlan) -> RestructuringPlan:
    """Only a signed plan activates: the new schedule replaces the unpaid one (the old instalments are
    kept, superseded), the waived penalty is logged, and the case moves to monitoring for the
    observation period."""
    if not is_manager(actor):
        raise NotPermitted(_("Only a manager may put a plan in force."))
    today = business_today()
    with transaction.atomic():
        locked = RestructuringPlan.objects.select_for_update(of=("self",)).select_related("case__loan").get(pk=plan.pk)
        if locked.state != PlanState.SIGNED:
            raise TransitionNotAllowed(
                _("Only a signed plan is activated; this one is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        if locked.first_due_date <= today:
            raise ApplicationError(
                _("The plan's first due date has passed: propose it again with a later one."), field="first_due_date"
            )
        lines = [
            ScheduleLine(
                seq=row["seq"],
                due_date=date.fromisoformat(row["due_date"]),
                principal=Decimal(row["principal"]),
                interest=Decimal(row["interest"]),
                fee=Decimal(row["fee"]),
            )
            for row in locked.new_schedule
        ]
        loan = locked.case.loan
        again = (
            RestructuringPlan.objects.filter(case__loan=loan, activated_on__isnull=False, observation_until__gt=today)
            .exclude(pk=locked.pk)
            .exists()
        )
        locked.class_floor = loan_rules.restructured_class_floor(loan.regulatory_class, restructured_again=again)
        observation_until = observation_end(today, locked.new_schedule)
        # The delinquency update keeps class = max(manual class, days-past-due floor), and the loan
        # in IFRS 9 stage 2 at least while it is under observation.
        Loan.objects.filter(pk=loan.pk).update(
            manual_regulatory_class=Greatest(Coalesce("manual_regulatory_class", 0), locked.class_floor),
            manual_class_reason=stored_text(
                gettext_lazy("Restructured (plan %(plan)s): the class held during the observation period"),
                plan=locked.pk,
            ),
            regulatory_class=Greatest("regulatory_class", locked.class_floor),
            observation_until=observation_until,
        )
        loan_reschedule(
            actor=actor,
            loan=loan,
            lines=lines,
            annual_rate=locked.new_annual_rate if locked.new_annual_rate is not None else locked.case.loan.annual_rate,
            penalty_waived=locked.penalty_waiver,
            reason=stored_text(gettext_lazy("Restructuring plan %(plan)s"), plan=locked.pk),
            on=today,
            annual_cost=_decimal_or_none(locked.new_terms.get("annual_cost")),
        )
        locked.activate(today, observation_until)
        locked.save()
        services.case_activate_plan(actor=actor, case=locked.case, note=locked.reason)
        log_action(
            actor=actor,
            action="collection.plan.activated",
            target=locked.case,
            data={
                "plan": locked.pk,
                "observation_until": locked.observation_until.isoformat(),
                "class_floor": locked.class_floor,
            },
        )
    return locked
