"""Every change to a legal action: open it (with the feasibility estimate), move it along its states
(recording the date, the note and who), book its costs, and post what it recovers as a payment to the
loan, so allocation and the daily run see it."""

from datetime import date

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from collection.choices import CaseState
from collection.errors import NotPermitted, TransitionNotAllowed
from core import roles
from core.audit import log_action
from core.errors import ApplicationError
from core.money import ZERO, parse_amount
from core.permissions import has_role, is_manager
from loans.models import Payment
from loans.services import payment_post

from . import rules
from .choices import ActionKind, CostKind
from .models import LegalAction, LegalCost

ENFORCEMENT_WINDOW = relativedelta(years=2)  # 民事诉讼法 art. 250: two years from the performance date

# Steps and the fields each may set besides its date and note.
STEPS = {
    "send_letter": (),
    "file": ("court", "court_case_number"),
    "apply_preservation": (),
    "grant_preservation": (),
    "schedule_hearing": ("hearing_on",),
    "record_judgment": ("judgment_on", "performance_due_on"),
    "apply_enforcement": (),
    "close_recovered": (),
    "close_settled": (),
    "close_impossible": (),
    "withdraw": (),
}
CLOSING = {"close_recovered", "close_settled", "close_impossible", "withdraw"}


def _check_legal_role(actor):
    if not (has_role(actor, roles.LEGAL_OFFICER) or is_manager(actor)):
        raise NotPermitted(_("Only a legal officer or a manager may do this."))


def action_open(
    *, actor, case, kind: str, lawyer_fee, recoverable, law_firm=None, preserve: bool = True, override_reason: str = ""
) -> LegalAction:
    """Open an action on a case in legal. The claim is what the loan owes; the feasibility estimate
    (court fee by the claim, preservation, lawyer) is kept with it. An action expected to cost more
    than it recovers needs a manager's explicit override, with the reason."""
    _check_legal_role(actor)
    if case.state != CaseState.LEGAL:
        raise TransitionNotAllowed(_("Legal action is opened on a case referred to legal."))
    if kind not in ActionKind.values:
        raise ApplicationError(_("Choose the kind of action."), field="kind")
    loan = case.loan
    claim_costs = ZERO
    estimate = rules.feasibility(
        claim=loan.principal_outstanding + loan.interest_outstanding + loan.penalty_outstanding + loan.fees_outstanding,
        recoverable=parse_amount(recoverable, field="recoverable", allow_zero=True),
        lawyer_fee=parse_amount(lawyer_fee, field="lawyer_fee", allow_zero=True),
        preserve=preserve,
    )
    if not estimate.worth_it:
        if not is_manager(actor):
            raise NotPermitted(_("Expected to cost more than it recovers: only a manager may go ahead."))
        if not override_reason.strip():
            raise ApplicationError(
                _("Expected net recovery is %(net)s: say why to go ahead anyway.")
                % {"net": f"¥{estimate.expected_net:,.2f}"},
                field="override_reason",
            )
    try:
        with transaction.atomic():
            action = LegalAction.objects.create(
                case=case,
                kind=kind,
                law_firm=law_firm,
                claim_principal=loan.principal_outstanding,
                claim_interest=loan.interest_outstanding,
                claim_penalty=loan.penalty_outstanding,
                claim_costs=claim_costs + loan.fees_outstanding,
                feasibility={**estimate.as_dict(), "override_reason": override_reason},
                opened_by=actor,
            )
            log_action(
                actor=actor,
                action="legal.action.opened",
                target=case,
                reason=override_reason,
                data={"action": action.pk, "kind": kind, "feasibility": action.feasibility},
            )
    except IntegrityError:
        raise ApplicationError(
            _("An action of this kind is already under way on this case."), code="conflict"
        ) from None
    return action


def action_advance(*, actor, action: LegalAction, step: str, on: date, note: str = "", **fields) -> LegalAction:
    """Move the action one step, recording the day, the note, the step's fields and who did it."""
    _check_legal_role(actor)
    if step not in STEPS:
        raise ApplicationError(_("Unknown step."), field="step")
    unexpected = set(fields) - set(STEPS[step])
    if unexpected:
        raise ApplicationError(_("This step takes no %(fields)s.") % {"fields": ", ".join(sorted(unexpected))})
    with transaction.atomic():
        locked = LegalAction.objects.select_for_update().get(pk=action.pk)
        method = getattr(locked, step)
        if not can_proceed(method):
            raise TransitionNotAllowed(
                _("This step is not allowed while the action is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        before = locked.state
        method()
        for name, value in fields.items():
            setattr(locked, name, value)
        if step == "record_judgment":
            if not fields.get("performance_due_on"):
                raise ApplicationError(
                    _("Give the date the judgment is to be performed by."), field="performance_due_on"
                )
            locked.enforcement_deadline = fields["performance_due_on"] + ENFORCEMENT_WINDOW
        if step in CLOSING:
            locked.closed_on = on
        locked.save()
        log_action(
            actor=actor,
            action=f"legal.action.{step}",
            target=locked.case,
            reason=note,
            before={"state": before},
            after={"state": locked.state},
            data={"action": locked.pk, "on": on.isoformat(), **{k: str(v) for k, v in fields.items()}},
        )
    return locked


def cost_add(*, actor, action: LegalAction, kind: str, amount, incurred_on: date, note: str = "") -> LegalCost:
    _check_legal_role(actor)
    if kind not in CostKind.values:
        raise ApplicationError(_("Choose the kind of cost."), field="kind")
    amount = parse_amount(amount)
    with transaction.atomic():
        cost = LegalCost.objects.create(
            action=action, kind=kind, amount=amount, incurred_on=incurred_on, note=note, recorded_by=actor
        )
        log_action(
            actor=actor,
            action="legal.cost.added",
            target=action.case,
            reason=note,
            data={"action": action.pk, "kind": kind, "amount": amount},
        )
    return cost


def recovery_post(*, actor, action: LegalAction, amount, external_reference: str, channel: str) -> Payment:
    """Money recovered through the action is a payment to the loan (allocation and the daily run see
    it); posting the same reference again changes nothing."""
    _check_legal_role(actor)
    payment, created = payment_post(
        actor=actor,
        loan=action.case.loan,
        amount=amount,
        external_reference=external_reference,
        channel=channel,
        note=_("Recovered through legal action %(action)s") % {"action": action.pk},
    )
    if created:
        action.recoveries.add(payment)
        log_action(
            actor=actor,
            action="legal.action.recovered",
            target=action.case,
            data={"action": action.pk, "payment": payment.pk, "amount": payment.amount},
        )
    return payment


def action_result(action: LegalAction) -> dict:
    """What the action recovered (payments noted as its recoveries), what it cost, and the net."""
    costs = action.costs.aggregate(total=Sum("amount"))["total"] or ZERO
    recovered = action.recoveries.aggregate(total=Sum("amount"))["total"] or ZERO
    return {"recovered": recovered, "costs": costs, "net": recovered - costs}
