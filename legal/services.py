"""Every change to a legal action: open it (with its claim and the feasibility estimate), move it along
its states in the order of the court's calendar (recording the date, the note, the documents and who),
keep its dated tasks, book its costs (charging those the borrower owes to the loan), preserve property,
seize and sell collateral and distribute the proceeds, post what it recovers as payments to the loan
(so allocation and the daily run see it), and close it: the case resolves when nothing is overdue,
or, when enforcement found nothing, a write-off is put to a manager (maker-checker)."""

from datetime import date, datetime, time

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from collection.choices import ApprovalAction, ApprovalStatus, CaseState, ResolutionReason
from collection.errors import NotPermitted, TransitionNotAllowed
from collection.models import Approval, CollectionCase
from collection.services import approval_request, case_resolve
from core import roles
from core.audit import log_action
from core.dates import EARLIEST_DAY, LATEST_DAY, business_today
from core.errors import ApplicationError
from core.i18n import stored_text
from core.money import ZERO, parse_amount
from core.permissions import has_role, is_manager, may_see_full_id
from core.uploads import atomic_with_files, upload_check, written
from loans.choices import CollateralStatus, LoanStatus, PaymentChannel
from loans.claim import claim_as_of
from loans.models import Collateral, Loan, Payment
from loans.services import loan_charge_cost, payment_post
from loans.settlement import loan_settle_early, payoff_quote

from . import rules
from .choices import (
    ActionKind,
    ActionState,
    AssetKind,
    CostKind,
    DisposalMethod,
    DocumentKind,
    PreservationStatus,
    TaskKind,
)
from .models import (
    JUDGMENT_COMPONENTS,
    AssetDisposal,
    LegalAction,
    LegalCost,
    LegalDocument,
    LegalTask,
    PreservationOrder,
)

A = ActionState

# Steps an officer takes through action_advance, and the fields each may set besides its date and
# note. Preservation moves the action through preservation_apply / preservation_decide instead.
STEPS = {
    "send_letter": (),
    "file": ("court", "court_case_number"),
    "schedule_hearing": ("hearing_on",),
    "record_judgment": ("judgment_on", "performance_due_on", *JUDGMENT_COMPONENTS),
    "apply_enforcement": (),
    "close_recovered": (),
    "close_settled": (),
    "close_impossible": (),
    "withdraw": (),
}
# A judgment names at least the principal it awards (zero when it awards none); a component it does
# not mention is zero.
REQUIRED = {
    "file": ("court",),
    "schedule_hearing": ("hearing_on",),
    "record_judgment": ("judgment_on", "performance_due_on", "judgment_principal"),
}
CLOSING = {"close_recovered", "close_settled", "close_impossible", "withdraw"}
# The tasks a step finishes: a judgment ends the wait for the hearing, applying for enforcement
# ends the wait for performance and the enforcement deadline.
STEP_ENDS_TASKS = {
    "record_judgment": [TaskKind.HEARING],
    "apply_enforcement": [TaskKind.APPEAL_DEADLINE, TaskKind.PERFORMANCE_DUE, TaskKind.ENFORCEMENT_APPLICATION],
}


def _check_legal_role(actor):
    if not (has_role(actor, roles.LEGAL_OFFICER) or is_manager(actor)):
        raise NotPermitted(_("Only a legal officer or a manager may do this."))


def _check_open(action):
    if action.state in A.closed():
        raise TransitionNotAllowed(
            _("The action is closed (“%(state)s”): nothing more can be recorded on it.")
            % {"state": action.get_state_display()}
        )


def _check_past(day: date, field: str = "on"):
    """What is recorded happened: a day after today is refused (deadlines and tasks may lie ahead)."""
    _check_plausible(day, field)
    if day > business_today():
        raise ApplicationError(_("This cannot be recorded for a future day."), field=field)


def _check_plausible(day, field):
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ApplicationError(
            _("Give a date between %(earliest)s and %(latest)s.") % {"earliest": EARLIEST_DAY, "latest": LATEST_DAY},
            field=field,
        )


def _check_calendar(refusal: rules.TooEarly | None):
    """A day the court's calendar does not allow yet is refused on its field (code `too_early`)."""
    if refusal is not None:
        raise ApplicationError(
            refusal.message, field=refusal.field, code="too_early", extra={"earliest": refusal.earliest.isoformat()}
        )


def action_dates(action: LegalAction) -> rules.ActionDates:
    return rules.ActionDates(
        filed_on=action.filed_on,
        last_step_on=action.last_step_on,
        hearing_on=action.hearing_on,
        judgment_on=action.judgment_on,
        appeal_deadline=action.appeal_deadline,
        performance_due_on=action.performance_due_on,
    )


def earliest_enforcement(action: LegalAction) -> date | None:
    """The first day enforcement may be applied for on this action (None before a judgment)."""
    return rules.earliest_enforcement(
        appeal_deadline=action.appeal_deadline, performance_due_on=action.performance_due_on
    )


def _lock(action) -> LegalAction:
    return LegalAction.objects.select_for_update().select_related("case__loan").get(pk=action.pk)


def _log(actor, action, code, *, reason="", data=None, **extra):
    log_action(
        actor=actor,
        action=f"legal.{code}",
        target=action.case,
        reason=reason,
        data={"action": action.pk, **(data or {})},
        **extra,
    )


# --- Opening ----------------------------------------------------------------------------------------


def action_open(
    *,
    actor,
    case,
    kind: str,
    lawyer_fee,
    recoverable,
    law_firm=None,
    preserve: bool = True,
    override_reason: str = "",
    handled_by=None,
) -> LegalAction:
    """Open an action on a case in legal. The claim is what the loan owes today: all its principal,
    the interest and fees fallen due with the running period's interest so far, the penalty and the
    costs charged to it; interest and fees of periods still to come are not owed yet and are not
    claimed. The feasibility estimate (court fee by the claim, preservation, lawyer) is kept with it.
    An action expected to cost more than it recovers needs a manager's explicit override, with the
    reason."""
    _check_legal_role(actor)
    if case.state != CaseState.LEGAL:
        raise TransitionNotAllowed(_("Legal action is opened on a case referred to legal."))
    if kind not in ActionKind.values:
        raise ApplicationError(_("Choose the kind of action."), field="kind")
    if handled_by is not None and not has_role(handled_by, roles.LEGAL_OFFICER, roles.MANAGER):
        raise ApplicationError(_("Choose a legal officer."), field="handled_by")
    claim = claim_as_of(case.loan, business_today())
    estimate = rules.feasibility(
        claim=claim.total,
        recoverable=parse_amount(recoverable, field="recoverable", allow_zero=True),
        lawyer_fee=parse_amount(lawyer_fee, field="lawyer_fee", allow_zero=True),
        preserve=preserve,
        kind=kind,
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
    if handled_by is None and has_role(actor, roles.LEGAL_OFFICER) and not actor.is_superuser:
        handled_by = actor
    try:
        with transaction.atomic():
            action = LegalAction.objects.create(
                case=case,
                kind=kind,
                law_firm=law_firm,
                claim_principal=claim.principal,
                claim_interest=claim.interest,
                claim_fees=claim.fees,
                claim_penalty=claim.penalty,
                claim_costs=claim.costs,
                feasibility={**estimate.as_dict(), "override_reason": override_reason},
                opened_by=actor,
                handled_by=handled_by,
            )
            _log(
                actor,
                action,
                "action.opened",
                reason=override_reason,
                data={"kind": kind, "claim": claim.as_dict(), "feasibility": action.feasibility},
            )
    except IntegrityError:
        raise ApplicationError(
            _("An action of this kind is already under way on this case."), code="conflict"
        ) from None
    return action


# --- Steps ------------------------------------------------------------------------------------------


def action_advance(
    *, actor, action: LegalAction, step: str, on: date, note: str = "", document=None, document_kind: str = "", **fields
) -> LegalAction:
    """Move the action one step, recording the day, the note, the step's fields, an optional document
    filed with it and who did it. The court's calendar is kept (legal/rules.py: no hearing before the
    filing, no judgment before its hearing, no enforcement before the judgment is final and due, no
    step before the one it follows). The step's dates become tasks; closing the action closes its
    tasks and then the case (see _after_closing)."""
    _check_legal_role(actor)
    if step not in STEPS:
        raise ApplicationError(_("Unknown step."), field="step")
    unexpected = set(fields) - set(STEPS[step])
    if unexpected:
        raise ApplicationError(_("This step takes no %(fields)s.") % {"fields": ", ".join(sorted(unexpected))})
    for name in REQUIRED.get(step, ()):
        if fields.get(name) in (None, ""):
            raise ApplicationError(_("This field is required for this step."), field=name)
    _check_past(on)
    for name, value in fields.items():
        if isinstance(value, date):
            _check_plausible(value, name)
    if step == "record_judgment":
        _check_past(fields["judgment_on"], "judgment_on")  # served already; performance may lie ahead
        for name in JUDGMENT_COMPONENTS:
            value = fields.get(name)
            fields[name] = ZERO if value in (None, "") else parse_amount(value, field=name, allow_zero=True)
    with atomic_with_files():
        locked = _lock(action)
        method = getattr(locked, step)
        if step == "close_impossible" and locked.state == A.ENFORCEMENT and not locked.no_sale_under_way():
            raise TransitionNotAllowed(
                _("A seized asset is still being sold: enforcement has not run out. Sell or release it first.")
            )
        if not can_proceed(method):
            raise TransitionNotAllowed(
                _("This step is not allowed while the action is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        _check_calendar(rules.step_too_early(step, on=on, dates=action_dates(locked), values=fields))
        before = locked.state
        method()
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.last_step_on = on
        if step == "file":
            locked.filed_on = on
        if step == "record_judgment":
            locked.appeal_deadline = rules.appeal_deadline(locked.judgment_on)
            locked.enforcement_deadline = rules.enforcement_deadline(locked.performance_due_on)
        if step in CLOSING:
            locked.closed_on = on
        locked.save()
        for kind in STEP_ENDS_TASKS.get(step, ()):
            _tasks_done(actor, locked, on, kinds=[kind])
        if step == "schedule_hearing":
            _task_set(locked, TaskKind.HEARING, locked.hearing_on)
        if step == "record_judgment":
            _task_set(locked, TaskKind.APPEAL_DEADLINE, locked.appeal_deadline)
            _task_set(locked, TaskKind.PERFORMANCE_DUE, locked.performance_due_on)
            _task_set(locked, TaskKind.ENFORCEMENT_APPLICATION, locked.enforcement_deadline)
        if document is not None:
            _document_store(
                actor, locked, kind=document_kind or DocumentKind.OTHER, file=document, step=step, note=note
            )
        _log(
            actor,
            locked,
            f"action.{step}",
            reason=note,
            before={"state": before},
            after={"state": locked.state},
            data={"on": on.isoformat(), **{k: str(v) for k, v in fields.items()}},
        )
        if step in CLOSING:
            # A surplus still owed to the borrower outlives the action; every other task ends with it.
            _tasks_done(actor, locked, on, kinds=[kind for kind in TaskKind.values if kind != TaskKind.SURPLUS_REFUND])
            _after_closing(actor, locked, step, note)
    return locked


def _after_closing(actor, action, step, note):
    """Recovered or settled: the case resolves now if nothing is overdue (else the daily run resolves
    it the day nothing is). Once no action is left open and one of them ended with enforcement
    impossible, a write-off is put to a manager, who must not be the one asking (unless one already
    waits); the legal history stays with the case."""
    case = CollectionCase.objects.select_related("loan").get(pk=action.case_id)
    if case.state != CaseState.LEGAL:
        return
    actions = LegalAction.objects.filter(case=case)
    if step in ("close_recovered", "close_settled") and case.loan.overdue_amount <= 0:
        reason = ResolutionReason.RECOVERED if step == "close_recovered" else ResolutionReason.SETTLED
        case_resolve(actor=actor, case=case, reason=reason, note=note, rule=f"legal.{step}")
    elif (
        not actions.exclude(state__in=A.closed()).exists()
        and not Approval.objects.filter(case=case, status=ApprovalStatus.PENDING).exists()  # one per case
        and (impossible := actions.filter(state=A.CLOSED_IMPOSSIBLE).order_by("-closed_on", "-id").first())
    ):
        action = impossible
        result = action_result(action)
        approval_request(
            actor=actor,
            case=case,
            action=ApprovalAction.WRITE_OFF,
            reason=(note if step == "close_impossible" else "") or _("Enforcement found no assets (终结本次执行)."),
            details={
                "legal_action": action.pk,
                "court_case_number": action.court_case_number,
                "unrecovered": str(claim_as_of(case.loan, business_today()).total),
                "legal_costs": str(result["costs"]),
                "recovered": str(result["recovered"]),
            },
        )


# --- Tasks ------------------------------------------------------------------------------------------


def _task_set(action, kind, due_on, note=""):
    """The open task of this kind (and note) falls due on `due_on`: moved if it exists, made if not."""
    updated = LegalTask.objects.filter(action=action, kind=kind, note=note, done_on__isnull=True).update(
        due_on=due_on, updated_at=timezone.now()
    )
    if not updated:
        LegalTask.objects.create(action=action, kind=kind, due_on=due_on, note=note)


def _tasks_done(actor, action, on, *, kinds, note=None):
    tasks = LegalTask.objects.filter(action=action, done_on__isnull=True)
    if kinds is not None:
        tasks = tasks.filter(kind__in=kinds)
    if note is not None:
        tasks = tasks.filter(note=note)
    tasks.update(done_on=on, done_by=actor, updated_at=timezone.now())


def task_add(*, actor, action: LegalAction, due_on: date, note: str) -> LegalTask:
    """A task of the officer's own (call the court clerk, collect the ruling)."""
    _check_legal_role(actor)
    if not note.strip():
        raise ApplicationError(_("Say what is to be done."), field="note")
    _check_plausible(due_on, "due_on")
    try:
        with transaction.atomic():
            action = _lock(action)
            _check_open(action)
            task = LegalTask.objects.create(action=action, kind=TaskKind.OTHER, due_on=due_on, note=note.strip())
            _log(actor, action, "task.added", reason=note, data={"task": task.pk, "due_on": due_on.isoformat()})
    except IntegrityError:
        raise ApplicationError(_("The same task is already open."), field="note") from None
    return task


def task_done(*, actor, task: LegalTask, on: date) -> LegalTask:
    _check_legal_role(actor)
    _check_past(on)
    with transaction.atomic():
        locked = LegalTask.objects.select_for_update().select_related("action__case").get(pk=task.pk)
        if locked.done_on is not None:
            raise ApplicationError(_("This task is already done."), code="conflict")
        locked.done_on, locked.done_by = on, actor
        locked.save(update_fields=["done_on", "done_by", "updated_at"])
        _log(actor, locked.action, "task.done", data={"task": locked.pk, "kind": locked.kind, "on": on.isoformat()})
    return locked


# --- Documents --------------------------------------------------------------------------------------


def _document_store(actor, action, *, kind, file, step="", note="", generated=False, field="document") -> LegalDocument:
    if kind not in DocumentKind.values:
        raise ApplicationError(_("Choose the kind of document."), field="document_kind")
    checked = upload_check(file, field=field)
    name = (getattr(file, "name", "") or "document").rsplit("/", 1)[-1][:200]
    document = LegalDocument(
        action=action,
        kind=kind,
        original_name=name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        generated=generated,
        step=step,
        note=note[:300],
        uploaded_by=actor,
    )
    document.file.save(checked.stored_name(), file, save=False)  # the uploader's name is kept for display only
    written(document.file)
    document.save()
    _log(
        actor,
        action,
        "document.added",
        reason=note,
        data={"document": document.pk, "kind": kind, "name": name, "sha256": checked.sha256, "generated": generated},
    )
    return document


def document_upload(*, actor, action: LegalAction, kind: str, file, note: str = "") -> LegalDocument:
    """Attach a court paper, report or receipt (PDF, JPEG or PNG, size-limited) to the action; a refused
    file is reported on the `file` field."""
    _check_legal_role(actor)
    with atomic_with_files():
        return _document_store(actor, _lock(action), kind=kind, file=file, note=note, field="file")


def document_open(*, actor, document: LegalDocument):
    """The stored file, for a reader who may see the action (the views check that). Court papers and
    generated letters carry the borrower's full ID number, so only those who may see it unmasked
    (legal officers, managers, `collection.unmask_pii`) open them; every opening is logged."""
    if not may_see_full_id(actor):
        raise NotPermitted(_("Legal documents show the borrower's full ID number: you may not open them."))
    stored = document.file.open("rb")
    log_action(
        actor=actor,
        action="legal.document.opened",
        target=document.action.case,
        data={"action": document.action_id, "document": document.pk, "name": document.original_name},
    )
    return stored


# --- Costs and recoveries ---------------------------------------------------------------------------


def cost_add(
    *,
    actor,
    action: LegalAction,
    kind: str,
    amount,
    incurred_on: date,
    note: str = "",
    charge_to_borrower: bool | None = None,
) -> LegalCost:
    """A cost of the action the lender advanced; a sale's appraisal or auction fee may still come in
    after it closed. One the borrower owes is charged to the loan at once (a cost component on its
    oldest unpaid instalment, which the next payment meets first: Civil Code art. 561): by default
    the court, preservation, appraisal and auction fees, and a lawyer's fee or another cost only when
    the officer says the contract or the judgment puts it on the borrower (`charge_to_borrower`)."""
    _check_legal_role(actor)
    if kind not in CostKind.values:
        raise ApplicationError(_("Choose the kind of cost."), field="kind")
    _check_past(incurred_on, "incurred_on")
    amount = parse_amount(amount)
    charged = rules.charged_by_default(kind) if charge_to_borrower is None else bool(charge_to_borrower)
    with transaction.atomic():
        action = _lock(action)
        if action.state in A.closed() and kind not in (CostKind.APPRAISAL, CostKind.AUCTION):
            _check_open(action)
        cost = LegalCost.objects.create(
            action=action,
            kind=kind,
            amount=amount,
            incurred_on=incurred_on,
            note=note,
            charged_to_loan=charged,
            recorded_by=actor,
        )
        if charged:
            _charge_to_loan(actor, action, cost)
        _log(
            actor,
            action,
            "cost.added",
            reason=note,
            data={"cost": cost.pk, "kind": kind, "amount": amount, "charged_to_loan": charged},
        )
    return cost


def _charge_to_loan(actor, action, cost):
    """The borrower owes the cost from today: the loan's balances are brought to today with it."""
    try:
        loan_charge_cost(
            actor=actor,
            loan=action.case.loan,
            amount=cost.amount,
            on=business_today(),
            reason=stored_text(
                gettext_lazy("%(kind)s of legal action %(action)s, incurred on %(day)s"),
                kind=stored_text(CostKind(cost.kind).label),
                action=action.pk,
                day=cost.incurred_on.isoformat(),
            ),
            reference=f"legal-cost-{cost.pk}",
        )
    except ApplicationError as error:
        if error.field != "loan":
            raise
        # The loan cannot take it (paid off or sold): the officer books it as the lender's own.
        raise ApplicationError(
            _("%(reason)s Book it without charging it to the borrower.") % {"reason": error.message},
            field="charge_to_borrower",
            code=error.code,
        ) from None


def _received_at(on: date) -> datetime:
    """A payment received on a past business day is dated noon of that day; today's is dated now."""
    if on >= business_today():
        return timezone.now()
    return timezone.make_aware(datetime.combine(on, time(12)))


def recovery_post(
    *, actor, action: LegalAction, amount, external_reference: str, channel: str, on: date | None = None
) -> tuple[Payment, bool]:
    """Money recovered through the action is a payment to the loan (allocation and the daily run see
    it), also after the action closed (a written-off claim is still collected). Posting the same
    reference again changes nothing and returns the first payment with created=False."""
    _check_legal_role(actor)
    on = on or business_today()
    _check_past(on)
    with transaction.atomic():
        payment, created = payment_post(
            actor=actor,
            loan=action.case.loan,
            amount=amount,
            external_reference=external_reference,
            channel=channel,
            received_at=_received_at(on),
            note=stored_text(gettext_lazy("Recovered through legal action %(action)s"), action=action.pk),
        )
        # A retry after a failure between posting and noting finds the payment already there.
        if not action.recoveries.filter(pk=payment.pk).exists():
            action.recoveries.add(payment)
            _log(actor, action, "action.recovered", data={"payment": payment.pk, "amount": payment.amount})
    return payment, created


def action_result(action: LegalAction) -> dict:
    """What the action cost, what the sales of collateral paid back of those costs, what it recovered
    for the loan (payments noted as its recoveries), and the net."""
    costs = action.costs.aggregate(total=Sum("amount"))["total"] or ZERO
    reimbursed = action.disposals.aggregate(total=Sum("to_costs"))["total"] or ZERO
    recovered = action.recoveries.aggregate(total=Sum("amount"))["total"] or ZERO
    return {"recovered": recovered, "costs": costs, "reimbursed": reimbursed, "net": recovered + reimbursed - costs}


# --- Property preservation --------------------------------------------------------------------------


def _collateral_of(action, collateral):
    if collateral is not None and collateral.loan_id != action.case.loan_id:
        raise ApplicationError(_("This collateral secures another loan."), field="collateral")
    return collateral


def preservation_apply(
    *, actor, action: LegalAction, asset_kind: str, description: str, amount, applied_on: date, collateral=None
) -> PreservationOrder:
    """Ask the court to freeze or seize an asset. A filed action moves to `preservation applied`."""
    _check_legal_role(actor)
    if asset_kind not in AssetKind.values:
        raise ApplicationError(_("Choose the kind of asset."), field="asset_kind")
    if not description.strip():
        raise ApplicationError(_("Describe the asset (account, plate, certificate number)."), field="description")
    _check_past(applied_on, "applied_on")
    amount = parse_amount(amount)
    with transaction.atomic():
        locked = _lock(action)
        _check_open(locked)
        if locked.state in (A.PREPARING, A.LETTER_SENT):
            raise TransitionNotAllowed(_("Preservation is asked of the court once the action is filed."))
        _check_calendar(
            rules.too_early(applied_on, locked.filed_on, field="applied_on", reason=rules.PRESERVATION_BEFORE_FILING)
        )
        order = PreservationOrder.objects.create(
            action=locked,
            collateral=_collateral_of(locked, collateral),
            asset_kind=asset_kind,
            description=description.strip(),
            amount=amount,
            applied_on=applied_on,
        )
        before = locked.state
        if can_proceed(locked.apply_preservation):
            locked.apply_preservation()
            locked.last_step_on = rules.latest(locked.last_step_on, applied_on)
            locked.save()
        _log(
            actor,
            locked,
            "preservation.applied",
            before={"state": before},
            after={"state": locked.state},
            data={"order": order.pk, "asset_kind": asset_kind, "amount": amount, "on": applied_on.isoformat()},
        )
    return order


def preservation_decide(
    *, actor, order: PreservationOrder, granted: bool, on: date, ruling_number: str = "", note: str = ""
) -> PreservationOrder:
    """The court's ruling on a preservation: granted orders run for the term the law sets for the asset
    (a renewal task falls due a month before), a seized collateral item is marked seized."""
    _check_legal_role(actor)
    _check_past(on)
    with transaction.atomic():
        locked = PreservationOrder.objects.select_for_update().get(pk=order.pk)
        action = _lock(locked.action)
        if locked.status != PreservationStatus.APPLIED:
            raise ApplicationError(
                _("The court already ruled on this order: %(status)s.") % {"status": locked.get_status_display()},
                code="conflict",
            )
        _check_calendar(rules.too_early(on, locked.applied_on, field="on", reason=rules.RULING_BEFORE_APPLICATION))
        if granted:
            if not ruling_number.strip():
                raise ApplicationError(_("Give the ruling's number."), field="ruling_number")
            locked.status, locked.granted_on = PreservationStatus.GRANTED, on
            locked.ruling_number = ruling_number.strip()
            locked.expires_on = rules.preservation_expiry(locked.asset_kind, on)
            _task_set(
                action, TaskKind.PRESERVATION_EXPIRY, locked.expires_on - rules.RENEWAL_NOTICE, _order_note(locked)
            )
            if locked.collateral_id and locked.asset_kind in (AssetKind.VEHICLE, AssetKind.REAL_PROPERTY):
                Collateral.objects.filter(pk=locked.collateral_id, status=CollateralStatus.HELD).update(
                    status=CollateralStatus.SEIZED, updated_at=timezone.now()
                )
        else:
            locked.status, locked.ended_on = PreservationStatus.REFUSED, on
        locked.save()
        before = action.state
        if granted and can_proceed(action.grant_preservation):
            action.grant_preservation()
            action.last_step_on = rules.latest(action.last_step_on, on)
            action.save()
        _log(
            actor,
            action,
            f"preservation.{locked.status}",
            reason=note,
            before={"state": before},
            after={"state": action.state},
            data={"order": locked.pk, "ruling_number": locked.ruling_number, "on": on.isoformat()},
        )
    return locked


def _order_note(order):
    """Names the order in its renewal task (stored, so never translated)."""
    return f"{order.ruling_number} · {order.description}"[:300]


def _disposal_note(disposal):
    return f"#{disposal.pk} {disposal.collateral.description}"[:300]


def preservation_lift(*, actor, order: PreservationOrder, on: date, note: str = "") -> PreservationOrder:
    """The court lifts a granted order (paid, settled, or renewed under a new ruling)."""
    _check_legal_role(actor)
    _check_past(on)
    with transaction.atomic():
        locked = PreservationOrder.objects.select_for_update().select_related("action__case").get(pk=order.pk)
        if locked.status != PreservationStatus.GRANTED:
            raise ApplicationError(_("Only a granted order can be lifted."), code="conflict")
        _check_calendar(rules.too_early(on, locked.granted_on, field="on", reason=rules.LIFTED_BEFORE_GRANTED))
        locked.status, locked.ended_on = PreservationStatus.LIFTED, on
        locked.save()
        _tasks_done(actor, locked.action, on, kinds=[TaskKind.PRESERVATION_EXPIRY], note=_order_note(locked))
        _log(actor, locked.action, "preservation.lifted", reason=note, data={"order": locked.pk, "on": on.isoformat()})
    return locked


# --- Collateral disposal ----------------------------------------------------------------------------


def _collateral_status(disposal, status):
    Collateral.objects.filter(pk=disposal.collateral_id).update(status=status, updated_at=timezone.now())


def _check_disposal_day(disposal, on):
    """A step of the sale is not dated before the asset's last step."""
    last = rules.latest(
        disposal.seized_on, disposal.appraised_on, disposal.listed_on, disposal.sold_on, disposal.distributed_on
    )
    _check_calendar(rules.too_early(on, last, field="on", reason=rules.DISPOSAL_STEP_BEFORE_LAST))


def _disposal_step(actor, disposal, step, *, on, note="", data=None, apply=None) -> AssetDisposal:
    """Lock, check the step is allowed now, let `apply` set the step's fields, transition, save, log."""
    _check_past(on)
    with transaction.atomic():
        locked = AssetDisposal.objects.select_for_update().get(pk=disposal.pk)
        action = _lock(locked.action)
        method = getattr(locked, step)
        if not can_proceed(method):
            raise TransitionNotAllowed(
                _("This step is not allowed while the asset is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        _check_disposal_day(locked, on)
        before = locked.state
        if apply is not None:
            apply(locked)
        method()
        locked.save()
        _log(
            actor,
            action,
            f"disposal.{step}",
            reason=note,
            before={"state": before},
            after={"state": locked.state},
            data={"disposal": locked.pk, "on": on.isoformat(), **(data or {})},
        )
        return locked


def disposal_open(
    *, actor, action: LegalAction, collateral: Collateral, seized_on: date, location: str = "", note: str = ""
) -> AssetDisposal:
    """The collateral is seized (taken into the court's or the lender's custody) to be sold."""
    _check_legal_role(actor)
    _check_past(seized_on, "seized_on")
    with transaction.atomic():
        locked = _lock(action)
        _check_open(locked)
        if locked.state in (A.PREPARING, A.LETTER_SENT):
            raise TransitionNotAllowed(_("Collateral is seized through the court, once the action is filed."))
        _check_calendar(
            rules.too_early(seized_on, locked.filed_on, field="seized_on", reason=rules.SEIZED_BEFORE_FILING)
        )
        _collateral_of(locked, collateral)
        collateral = Collateral.objects.select_for_update().get(pk=collateral.pk)
        if collateral.status in (CollateralStatus.SOLD, CollateralStatus.RELEASED):
            raise ApplicationError(
                _("This collateral is %(status)s.") % {"status": collateral.get_status_display()}, field="collateral"
            )
        if AssetDisposal.objects.filter(collateral=collateral).exists():
            raise ApplicationError(_("This collateral is already being disposed of."), code="conflict")
        disposal = AssetDisposal.objects.create(
            action=locked, collateral=collateral, seized_on=seized_on, location=location
        )
        _collateral_status(disposal, CollateralStatus.SEIZED)
        _log(
            actor,
            locked,
            "disposal.seized",
            reason=note,
            data={"disposal": disposal.pk, "collateral": collateral.pk, "on": seized_on.isoformat()},
        )
    return disposal


def disposal_appraise(
    *, actor, disposal: AssetDisposal, value, on: date, appraiser: str, fee=None, note: str = ""
) -> AssetDisposal:
    """The appraisal (评估) fixes the value the reserve price is measured against; its fee is a cost."""
    _check_legal_role(actor)
    value = parse_amount(value, field="value")
    fee = parse_amount(fee, field="fee", allow_zero=True) if fee not in (None, "") else ZERO
    if not appraiser.strip():
        raise ApplicationError(_("Name the appraiser."), field="appraiser")

    def apply(row):
        row.appraised_value, row.appraised_on, row.appraiser = value, on, appraiser.strip()

    with transaction.atomic():
        disposal = _disposal_step(
            actor, disposal, "appraise", on=on, note=note, data={"value": value, "appraiser": appraiser}, apply=apply
        )
        Collateral.objects.filter(pk=disposal.collateral_id).update(
            appraised_value=value, appraised_on=on, updated_at=timezone.now()
        )
        if fee:
            cost_add(actor=actor, action=disposal.action, kind=CostKind.APPRAISAL, amount=fee, incurred_on=on)
    return disposal


def disposal_list(*, actor, disposal: AssetDisposal, method: str, reserve_price, on: date, note: str = ""):
    """Offer the asset for sale. A judicial auction starts at no less than 70% of the appraisal, a
    relisting after a failed round at no less than 80% of the last reserve (legal/rules.py)."""
    _check_legal_role(actor)
    if method not in DisposalMethod.values:
        raise ApplicationError(_("Choose how the asset is sold."), field="method")
    reserve_price = parse_amount(reserve_price, field="reserve_price")

    def apply(row):
        if method == DisposalMethod.JUDICIAL_AUCTION:
            previous = row.reserve_price if row.round else None
            lowest = rules.lowest_reserve(appraised_value=row.appraised_value, previous_reserve=previous)
            if reserve_price < lowest:
                raise ApplicationError(
                    _("A judicial auction may start no lower than %(lowest)s here.") % {"lowest": f"¥{lowest:,.2f}"},
                    field="reserve_price",
                )
        row.method, row.reserve_price, row.listed_on, row.round = method, reserve_price, on, row.round + 1

    with transaction.atomic():
        disposal = _disposal_step(
            actor,
            disposal,
            "list_for_sale",
            on=on,
            note=note,
            data={"method": method, "reserve_price": reserve_price},
            apply=apply,
        )
        _collateral_status(disposal, CollateralStatus.AT_AUCTION)
    return disposal


def disposal_unsold(*, actor, disposal: AssetDisposal, on: date, note: str = "") -> AssetDisposal:
    """No bidder (流拍): the asset waits, seized, to be listed again lower or released."""
    _check_legal_role(actor)
    with transaction.atomic():
        disposal = _disposal_step(actor, disposal, "fail_sale", on=on, note=note)
        _collateral_status(disposal, CollateralStatus.SEIZED)
    return disposal


def disposal_sell(*, actor, disposal: AssetDisposal, price, on: date, buyer: str, note: str = "") -> AssetDisposal:
    _check_legal_role(actor)
    price = parse_amount(price, field="price")
    if not buyer.strip():
        raise ApplicationError(_("Name the buyer."), field="buyer")

    def apply(row):
        if price < row.reserve_price:
            raise ApplicationError(
                _("The price is below the reserve of %(reserve)s.") % {"reserve": f"¥{row.reserve_price:,.2f}"},
                field="price",
            )
        row.sale_price, row.sold_on, row.buyer = price, on, buyer.strip()

    with transaction.atomic():
        disposal = _disposal_step(
            actor, disposal, "sell", on=on, note=note, data={"price": price, "buyer": buyer}, apply=apply
        )
        _collateral_status(disposal, CollateralStatus.SOLD)
    return disposal


def disposal_distribute(
    *, actor, disposal: AssetDisposal, on: date, external_reference: str, note: str = ""
) -> AssetDisposal:
    """The proceeds reach the lender: they pay the loan (early settlement when they cover all it owes,
    otherwise a payment), whose allocation meets the costs charged to it first, and what is left is
    recorded as due back to the borrower (a task until it is paid). A cost the lender bears (one not
    charged to the loan) is not the borrower's to pay, so the proceeds pay none of it."""
    _check_legal_role(actor)
    _check_past(on)
    with transaction.atomic():
        locked = AssetDisposal.objects.select_for_update().get(pk=disposal.pk)
        action = _lock(locked.action)
        if not can_proceed(locked.distribute):
            raise TransitionNotAllowed(
                _("This step is not allowed while the asset is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        _check_disposal_day(locked, on)
        if Payment.objects.filter(external_reference=(external_reference or "").strip()).exists():
            raise ApplicationError(
                _("This reference belongs to another payment: give the court's transfer its own."),
                field="external_reference",
                code="conflict",
            )
        loan = Loan.objects.select_for_update().get(pk=action.case.loan_id)
        if loan.status == LoanStatus.WRITTEN_OFF:
            quote = claim_as_of(loan, business_today()).total  # the claim outlives the write-off
        elif loan.is_closed:
            quote = ZERO
        else:
            quote = payoff_quote(loan, business_today()).to_pay  # money already held is spent first
        split = rules.distribute(proceeds=locked.sale_price, loan_owed=quote)
        payment = None
        if split.to_loan > 0:
            common = {
                "actor": actor,
                "loan": loan,
                "external_reference": external_reference,
                "channel": PaymentChannel.COLLATERAL_SALE,
            }
            if split.to_loan >= quote and not loan.is_closed:
                payment = loan_settle_early(amount=split.to_loan, **common)
            else:
                payment, _created = payment_post(
                    amount=split.to_loan,
                    received_at=_received_at(on),
                    note=stored_text(
                        gettext_lazy("Proceeds of the sale of %(asset)s"), asset=locked.collateral.description
                    )[:300],
                    **common,
                )
            action.recoveries.add(payment)
        locked.distribute()
        locked.distributed_on = on
        locked.to_costs, locked.to_loan, locked.surplus = split.to_costs, split.to_loan, split.surplus
        locked.payment = payment
        locked.save()
        if split.surplus > 0:
            _task_set(action, TaskKind.SURPLUS_REFUND, on, _disposal_note(locked))
        _log(
            actor,
            action,
            "disposal.distributed",
            reason=note,
            data={
                "disposal": locked.pk,
                "proceeds": locked.sale_price,
                "to_costs": split.to_costs,
                "to_loan": split.to_loan,
                "surplus": split.surplus,
                "payment": payment.pk if payment else None,
                "on": on.isoformat(),
            },
        )
    return locked


def disposal_surplus_paid(*, actor, disposal: AssetDisposal, on: date, reference: str) -> AssetDisposal:
    """The surplus went back to the borrower (the bank transfer's reference is kept)."""
    _check_legal_role(actor)
    _check_past(on)
    with transaction.atomic():
        locked = AssetDisposal.objects.select_for_update().select_related("action__case").get(pk=disposal.pk)
        if locked.surplus <= 0 or locked.surplus_paid_on is not None:
            raise ApplicationError(_("No surplus is waiting to be paid back."), code="conflict")
        if not reference.strip():
            raise ApplicationError(_("Give the transfer's reference."), field="reference")
        _check_disposal_day(locked, on)
        locked.surplus_paid_on = on
        locked.save(update_fields=["surplus_paid_on", "updated_at"])
        _tasks_done(actor, locked.action, on, kinds=[TaskKind.SURPLUS_REFUND], note=_disposal_note(locked))
        _log(
            actor,
            locked.action,
            "disposal.surplus_paid",
            data={"disposal": locked.pk, "amount": locked.surplus, "reference": reference, "on": on.isoformat()},
        )
    return locked


def disposal_release(*, actor, disposal: AssetDisposal, on: date, note: str) -> AssetDisposal:
    """The asset goes back to the borrower unsold (the debt was paid, or the court released it)."""
    _check_legal_role(actor)
    if not note.strip():
        raise ApplicationError(_("Say why the asset is released."), field="note")
    with transaction.atomic():
        disposal = _disposal_step(actor, disposal, "release", on=on, note=note)
        _collateral_status(disposal, CollateralStatus.RELEASED)
    return disposal
