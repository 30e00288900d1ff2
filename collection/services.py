"""Every change to a collection case. A transition is one call here: lock the row, check the actor may
do it and the state allows it, call the thin django-fsm method, save, write the audit log, and queue
follow-up work on commit. Views, the API, the admin and the daily run all come through these."""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from borrowers.models import Borrower
from core.audit import build_entry, log_action
from core.dates import business_today
from core.errors import ApplicationError
from core.models import ActivityLog
from core.money import parse_amount
from core.permissions import has_role, is_manager, is_system
from core.roles import LEGAL_OFFICER, OFFICER
from loans.services import loan_transfer, loan_write_off
from webhooks.services import event_publish

from . import rules
from .approvals import pending_cancel
from .book_figures import book_figures_changed
from .choices import (
    ApprovalAction,
    ApprovalStatus,
    CaseState,
    ContactChannel,
    ContactOutcome,
    Direction,
    HoldReason,
    Party,
    ResolutionReason,
    Severity,
)
from .errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from .models import Approval, CollectionCase, ContactAttempt, PromiseToPay

# The audit code of each transition: collection.case.<verb>.
VERBS = {
    "classify": "classified",
    "escalate": "escalated",
    "deescalate": "deescalated",
    "grant_grace": "grace_granted",
    "propose_plan": "plan_proposed",
    "reject_plan": "plan_rejected",
    "activate_plan": "plan_activated",
    "default_plan": "plan_defaulted",
    "refer_to_legal": "referred_to_legal",
    "resolve": "resolved",
    "write_off": "written_off",
    "transfer": "transferred",
    "hold": "held",
    "release": "released",
}

# Transitions a person reaches only through a manager's approval (maker-checker).
APPROVAL_TRANSITIONS = {
    ApprovalAction.DEESCALATE: "deescalate",
    ApprovalAction.REFER_TO_LEGAL: "refer_to_legal",
    ApprovalAction.WRITE_OFF: "write_off",
    ApprovalAction.TRANSFER: "transfer",
}

MAX_GRACE_DAYS = 60
MAX_PROMISE_DAYS = 30


# --- Who may act ------------------------------------------------------------------------------------


def may_work(actor, case) -> bool:
    """The system, a manager, the case's officer, the lead of the case's team, or, once the case is
    in legal, a legal officer."""
    if is_system(actor) or is_manager(actor):
        return True
    if case.officer_id == actor.pk:
        return True
    if case.team_id is not None and case.team.lead_id == actor.pk:
        return True
    return case.state == CaseState.LEGAL and has_role(actor, LEGAL_OFFICER)


def _check_may_work(actor, case):
    if not may_work(actor, case):
        raise NotPermitted(_("Only the case's officer, the team lead or a manager may act on this case."))


# --- The transition machinery -----------------------------------------------------------------------


def _transition(*, actor, case, name, args=(), reason="", rule="", data=None, fields=None):
    """Lock, check, transition, save, log. `case` is the case as the actor saw it: if it moved on
    since (its state or version differs), nothing is done."""
    with transaction.atomic():
        locked = CollectionCase.objects.select_for_update(of=("self",)).select_related("loan", "team").get(pk=case.pk)
        if (locked.state, locked.version) != (case.state, case.version):
            raise ConcurrentChange(
                _("Someone else changed this case first: it is now “%(state)s”. Nothing was done.")
                % {"state": locked.get_state_display()}
            )
        if not is_system(actor) and name not in APPROVAL_TRANSITIONS.values():
            _check_may_work(actor, locked)
        method = getattr(locked, name)
        if not can_proceed(method):
            raise TransitionNotAllowed(
                _("This step is not allowed while the case is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        before = locked.state
        method(*args)
        for field, value in (fields or {}).items():
            setattr(locked, field, value)
        locked.version += 1
        try:
            locked.save()
        except ConcurrentTransition:
            raise ConcurrentChange(_("Someone else changed this case first. Nothing was done.")) from None
        log_action(
            actor=actor,
            action=f"collection.case.{VERBS[name]}",
            target=locked,
            reason=reason,
            before={"state": before},
            after={"state": locked.state},
            data={"rule": rule or ("officer" if not is_system(actor) else "system"), **(data or {})},
        )
        pending_cancel([locked.pk], actor=actor, step=VERBS[name], state=locked.state)
        event_publish(
            event_type="case.state_changed",
            payload={
                "case": locked.pk,
                "loan": locked.loan_id,
                "from": before,
                "to": locked.state,
                "transition": name,
                "rule": rule or ("officer" if not is_system(actor) else "system"),
            },
        )
    return locked


def allowed_transitions(case, actor) -> list[str]:
    """The transition names the actor could start now (for buttons and the API)."""
    if not may_work(actor, case):
        return []
    return [t.name for t in case.get_available_state_transitions()]


# --- Classification ---------------------------------------------------------------------------------


def case_facts(case, as_of: date | None = None) -> rules.CaseFacts:
    """What the classification rules look at, read off the case (kept current by contacts, promises
    and the daily run) as of a business date."""
    as_of = as_of or business_today()
    return rules.CaseFacts(
        days_past_due=case.days_past_due,
        serious_days=case.loan.product.serious_days,
        unreachable=case.unreachable,
        refused=case.refused_to_pay,
        broken_promises=case.broken_promises,
        suspected_evasion=case.suspected_evasion,
        collateral_at_risk=case.collateral_at_risk,
        grace_expired_unpaid=bool(case.grace_until and case.grace_until < as_of and case.overdue_amount > 0),
        reached=case.last_reached_at is not None,
        promise_kept=case.kept_promises > 0,
        hardship_documented=case.hardship_documented,
    )


def case_classify(*, actor, case, severity: str | None = None, override_reason: str = "") -> CollectionCase:
    """Classify an early-warning case minor or serious. The rules decide unless an officer chooses;
    an officer choosing against the rules must say why."""
    verdict = rules.classify(case_facts(case))
    chosen = severity or verdict.severity
    if chosen not in (Severity.MINOR, Severity.SERIOUS):
        raise ApplicationError(_("Choose minor or serious."), field="severity")
    if chosen != verdict.severity and not override_reason.strip():
        raise ApplicationError(
            _("The rules say “%(verdict)s”: give a reason to override them.")
            % {"verdict": Severity(verdict.severity).label},
            field="override_reason",
        )
    overridden = chosen != verdict.severity
    return _transition(
        actor=actor,
        case=case,
        name="classify",
        args=(chosen,),
        reason=override_reason if overridden else "",
        rule="officer_override" if overridden else "classification_rules",
        data={"rules_verdict": verdict.severity, "reasons": verdict.reasons_as_dicts()},
        fields={
            "classification_reasons": verdict.reasons_as_dicts(),
            "classified_by_officer": not is_system(actor),
            "override_reason": override_reason if overridden else "",
            "classified_at": timezone.now(),
        },
    )


def case_escalate(*, actor, case, reason: str, rule: str = "") -> CollectionCase:
    if not reason.strip():
        raise ApplicationError(_("Say why the case escalates."), field="reason")
    return _transition(actor=actor, case=case, name="escalate", reason=reason, rule=rule)


def case_grant_grace(*, actor, case, until: date, reason: str) -> CollectionCase:
    today = business_today()
    if not reason.strip():
        raise ApplicationError(_("Say why a grace period is granted."), field="reason")
    if not today < until <= today + timedelta(days=MAX_GRACE_DAYS):
        raise ApplicationError(
            _("A grace period ends after today and within %(days)s days.") % {"days": MAX_GRACE_DAYS}, field="until"
        )
    return _transition(
        actor=actor, case=case, name="grant_grace", args=(until,), reason=reason, data={"until": until.isoformat()}
    )


def case_hold(*, actor, case, reason: str, note: str) -> CollectionCase:
    if reason not in HoldReason.values:
        raise ApplicationError(_("Choose why the case is held."), field="reason")
    if not note.strip():
        raise ApplicationError(_("Describe the dispute, complaint or event."), field="note")
    return _transition(actor=actor, case=case, name="hold", args=(reason,), reason=note, data={"hold_reason": reason})


def case_release(*, actor, case, note: str) -> CollectionCase:
    if not note.strip():
        raise ApplicationError(_("Say how the hold was settled."), field="note")
    return _transition(actor=actor, case=case, name="release", reason=note)


def case_resolve(
    *, actor, case, reason: str = ResolutionReason.CURED, note: str = "", rule: str = ""
) -> CollectionCase:
    """Close a case: cured or paid in full when nothing is overdue; settled or recovered from legal
    action; restructured at the end of a plan's observation (rules.RESOLUTION_REASONS)."""
    # A state that cannot be resolved at all is refused by the transition itself, with its own message.
    if case.state in rules.RESOLUTION_REASONS and reason not in rules.resolution_reasons(case.state):
        raise ApplicationError(
            _("A case that is “%(state)s” cannot be resolved as “%(reason)s”.")
            % {
                "state": case.get_state_display(),
                "reason": ResolutionReason(reason).label if reason in ResolutionReason.values else reason,
            },
            field="reason",
        )
    if case.loan.overdue_amount > 0 and reason in (ResolutionReason.CURED, ResolutionReason.PAID_IN_FULL):
        raise TransitionNotAllowed(_("The loan still has an overdue amount: the case cannot be resolved as cured."))
    return _transition(actor=actor, case=case, name="resolve", args=(reason, business_today()), reason=note, rule=rule)


def case_propose_plan(*, actor, case, note: str) -> CollectionCase:
    return _transition(actor=actor, case=case, name="propose_plan", reason=note)


def case_reject_plan(*, actor, case, note: str) -> CollectionCase:
    return _transition(actor=actor, case=case, name="reject_plan", reason=note)


def case_activate_plan(*, actor, case, note: str = "") -> CollectionCase:
    return _transition(actor=actor, case=case, name="activate_plan", reason=note)


def case_default_plan(*, actor, case, note: str, rule: str = "") -> CollectionCase:
    return _transition(actor=actor, case=case, name="default_plan", reason=note, rule=rule)


def case_set_flags(*, actor, case, suspected_evasion=None, collateral_at_risk=None, note: str) -> CollectionCase:
    """An officer records signs the classification rules read (evasion, collateral at risk)."""
    _check_may_work(actor, case)
    if not note.strip():
        raise ApplicationError(_("Describe what was found."), field="note")
    changes = {
        name: value
        for name, value in (("suspected_evasion", suspected_evasion), ("collateral_at_risk", collateral_at_risk))
        if value is not None
    }
    with transaction.atomic():
        CollectionCase.objects.filter(pk=case.pk).update(**changes, updated_at=timezone.now())
        log_action(actor=actor, action="collection.case.flagged", target=case, reason=note, after=changes)
    case.refresh_from_db()
    return case


# --- Approvals (maker-checker) ----------------------------------------------------------------------


def approval_request(*, actor, case, action: str, reason: str, details: dict | None = None) -> Approval:
    """Ask a manager to approve a de-escalation, legal referral, write-off or transfer, on the case
    as the actor saw it (`case`: its state and version). A legal referral must carry a feasibility
    note (expected recovery against cost). One request waits per case (collection.approvals)."""
    details = details or {}
    if action not in APPROVAL_TRANSITIONS:
        raise ApplicationError(_("This action needs no approval."), field="action")
    _check_may_work(actor, case)
    if not reason.strip():
        raise ApplicationError(_("Say why."), field="reason")
    if action == ApprovalAction.REFER_TO_LEGAL and not str(details.get("feasibility_note", "")).strip():
        raise ApplicationError(
            _("A legal referral needs a feasibility note: expected recovery against the cost."),
            field="feasibility_note",
        )
    transition_name = APPROVAL_TRANSITIONS[action]
    with transaction.atomic():
        locked = CollectionCase.objects.select_for_update().get(pk=case.pk)
        if (locked.state, locked.version) != (case.state, case.version):
            raise ConcurrentChange(
                _("Someone else changed this case first: it is now “%(state)s”. Nothing was done.")
                % {"state": locked.get_state_display()}
            )
        if not can_proceed(getattr(locked, transition_name)):
            raise TransitionNotAllowed(
                _("This step is not allowed while the case is “%(state)s”.") % {"state": locked.get_state_display()}
            )
        waiting = Approval.objects.filter(case=locked, status=ApprovalStatus.PENDING).first()
        if waiting is not None:
            raise ApplicationError(
                _("A request is already waiting for a decision on this case: %(action)s. Nothing was done.")
                % {"action": waiting.get_action_display()},
                code="conflict",
            )
        approval = Approval.objects.create(
            case=locked,
            action=action,
            requested_by=actor,
            reason=reason,
            details=details,
            case_version=locked.version,
        )
        log_action(
            actor=actor,
            action="collection.approval.requested",
            target=locked,
            reason=reason,
            data={"approval": approval.pk, "action": action, **details},
        )
    return approval


def approval_decide(*, actor, approval: Approval, approve: bool, note: str = "") -> Approval:
    """A manager other than the requester approves (the case moves) or rejects (it stays). A request
    whose case moved on since it was made is cancelled instead (collection.approvals), and the
    manager is told so."""
    if not is_manager(actor):
        raise NotPermitted(_("Only a manager may decide this."))
    with transaction.atomic():
        locked = Approval.objects.select_for_update(of=("self",)).select_related("case").get(pk=approval.pk)
        if locked.requested_by_id == actor.pk:
            raise NotPermitted(_("You cannot approve your own request (maker-checker)."))
        if locked.status == ApprovalStatus.CANCELLED:
            raise ConcurrentChange(_("This request was cancelled. %(note)s") % {"note": locked.decision_note})
        if locked.status != ApprovalStatus.PENDING:
            raise ConcurrentChange(
                _("This request was already decided: %(status)s.") % {"status": locked.get_status_display()}
            )
        stale = locked.case_version is not None and locked.case_version != locked.case.version
        if stale:
            # Every move cancels what waits on the case: one that outlived a move is stale all the same.
            pending_cancel([locked.case_id], actor="system", step="stale", state=locked.case.state)
        else:
            _decide(actor, locked, approve, note)
    if stale:
        raise ConcurrentChange(
            _("The case moved on since this request was made: the request is cancelled and nothing else was done.")
        )
    return locked


def _decide(actor, locked: Approval, approve: bool, note: str):
    if not approve and not note.strip():
        raise ApplicationError(_("Say why the request is rejected."), field="note")
    locked.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    locked.decided_by, locked.decided_at, locked.decision_note = actor, timezone.now(), note
    locked.save()
    if approve:
        name = APPROVAL_TRANSITIONS[locked.action]
        args = (business_today(),) if name in ("write_off", "transfer") else ()
        case = _transition(
            actor=actor,
            case=locked.case,
            name=name,
            args=args,
            reason=locked.reason,
            rule="approved",
            data={"approval": locked.pk, "requested_by": locked.requested_by.get_username()},
        )
        # The loan closes with the case: written off (its provision logged) or sold.
        if name == "write_off":
            loan_write_off(actor=actor, loan=case.loan, on=case.closed_on, reason=locked.reason)
        elif name == "transfer":
            loan_transfer(actor=actor, loan=case.loan, on=case.closed_on, reason=locked.reason)
    log_action(
        actor=actor,
        action=f"collection.approval.{locked.status}",
        target=locked.case,
        reason=note,
        data={"approval": locked.pk, "action": locked.action},
    )


# --- Assignment -------------------------------------------------------------------------------------


def case_assign(*, actor, case, officer, reason: str = "") -> CollectionCase:
    return cases_reassign(actor=actor, case_ids=[case.pk], officer=officer, reason=reason)[0]


def cases_reassign(*, actor, case_ids: list[int], officer, reason: str = "") -> list[CollectionCase]:
    """A manager moves cases to an officer: one UPDATE and one audit entry per case."""
    if not (is_system(actor) or is_manager(actor)):
        raise NotPermitted(_("Only a manager may reassign cases."))
    if not has_role(officer, OFFICER) and not is_manager(officer):
        raise ApplicationError(_("Cases go to collection officers."), field="officer")
    with transaction.atomic():
        cases = list(
            CollectionCase.objects.select_for_update().filter(pk__in=case_ids, state__in=CaseState.open_states())
        )
        if len(cases) != len(set(case_ids)):
            raise ApplicationError(_("Only open cases can be reassigned."), field="case_ids")
        CollectionCase.objects.filter(pk__in=case_ids).update(officer=officer, updated_at=timezone.now())
        ActivityLog.objects.bulk_create(
            build_entry(
                actor=actor,
                action="collection.case.reassigned",
                target=case,
                reason=reason,
                data={"from": case.officer_id, "to": officer.pk},
            )
            for case in cases
        )
        # The queue's cached cells name the old officers: dropped now, and again once the change is
        # visible to others (a view in between would cache the old figures).
        book_figures_changed()
        transaction.on_commit(book_figures_changed)
    return list(CollectionCase.objects.filter(pk__in=case_ids).order_by("pk"))


# --- Contacts and promises --------------------------------------------------------------------------

CONTACT_LOOKBACK = timedelta(days=366)  # a contact logged late is logged within the year, or it is a typo


def _plausible_moment(moment, *, field):
    """An aware moment from the last year to now (five minutes of clock drift allowed)."""
    if timezone.is_naive(moment):
        raise ApplicationError(_("Give the time with its time zone."), field=field)
    now = timezone.now()
    if moment > now + timedelta(minutes=5):
        raise ApplicationError(_("A contact cannot be logged in the future."), field=field)
    if moment < now - CONTACT_LOOKBACK:
        raise ApplicationError(_("A contact is logged within a year of when it happened."), field=field)
    return moment


REACHED_OUTCOMES = {
    ContactOutcome.REACHED,
    ContactOutcome.PROMISED,
    ContactOutcome.REFUSED,
    ContactOutcome.DISPUTED,
    ContactOutcome.HARDSHIP,
}


def contact_log(
    *,
    actor,
    case,
    channel: str,
    outcome: str,
    party: str = Party.BORROWER,
    direction: str = Direction.OUTBOUND,
    attempted_at: datetime | None = None,
    contact_point=None,
    note: str = "",
    recording_reference: str = "",
) -> ContactAttempt:
    """Record a contact attempt and what it showed: reached, refused, hardship, or one more failed
    attempt towards "unreachable". Outbound contact is refused in quiet hours (unless the borrower
    agreed) and a third party may be contacted only while the borrower is unreachable."""
    _check_may_work(actor, case)
    attempted_at = _plausible_moment(attempted_at or timezone.now(), field="attempted_at")
    borrower = case.loan.borrower
    if contact_point is not None:
        # The number dialled says who was contacted: an emergency contact's phone is never "the borrower".
        if contact_point.borrower_id != borrower.pk:
            raise ApplicationError(_("This contact point is not the borrower's."), field="contact_point")
        if rules.party_of(contact_point.relation) != party:
            raise ApplicationError(
                _("This contact point reaches “%(party)s”: record the contact as such.")
                % {"party": Party(rules.party_of(contact_point.relation)).label},
                field="party",
            )
    if direction == Direction.OUTBOUND:
        local = timezone.localtime(attempted_at, rules.zone(borrower.time_zone))
        if rules.in_quiet_hours(local, agreed=borrower.agreed_to_quiet_hours_contact):
            raise ApplicationError(
                _("No collection contact between 22:00 and 08:00 in the borrower's time zone."), field="attempted_at"
            )
        if party == Party.THIRD_PARTY and not case.unreachable:
            raise ApplicationError(
                _("Third parties may be contacted only while the borrower is unreachable."), field="party"
            )
    with transaction.atomic():
        locked = CollectionCase.objects.select_for_update().get(pk=case.pk)
        if channel == ContactChannel.CALL and direction == Direction.OUTBOUND:
            _check_call_caps(borrower, party, contact_point, outcome, attempted_at)
        attempt = ContactAttempt.objects.create(
            case=locked,
            channel=channel,
            direction=direction,
            party=party,
            contact_point=contact_point,
            attempted_at=attempted_at,
            by=None if is_system(actor) else actor,
            outcome=outcome,
            note=note,
            recording_reference=recording_reference,
        )
        changes = {"last_contact_at": max(filter(None, [locked.last_contact_at, attempted_at]))}
        if party == Party.BORROWER:
            if outcome in REACHED_OUTCOMES:
                changes["last_reached_at"] = attempted_at
            changes["unreachable"] = rules.is_unreachable(_borrower_attempts(locked))
            if outcome == ContactOutcome.REFUSED:
                changes["refused_to_pay"] = True
            if outcome == ContactOutcome.HARDSHIP:
                changes["hardship_documented"] = True
        CollectionCase.objects.filter(pk=locked.pk).update(**changes, updated_at=timezone.now())
        log_action(
            actor=actor,
            action="collection.contact.logged",
            target=locked,
            reason=note,
            data={"channel": channel, "party": party, "outcome": outcome, "attempt": attempt.pk},
        )
    return attempt


def _check_call_caps(borrower, party, contact_point, outcome, attempted_at):
    """Refuse a call beyond the day's caps (rules.call_cap_breached). The day is the borrower's, and
    every case of the borrower counts (agencies log theirs on the same cases). The borrower's row is
    locked so that two officers logging at once cannot both pass the last free call."""
    Borrower.objects.select_for_update().filter(pk=borrower.pk).values_list("pk", flat=True).get()
    local = timezone.localtime(attempted_at, rules.zone(borrower.time_zone))
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    calls = ContactAttempt.objects.filter(
        case__loan__borrower=borrower,
        channel=ContactChannel.CALL,
        direction=Direction.OUTBOUND,
        attempted_at__gte=day_start,
        attempted_at__lt=day_start + timedelta(days=1),
    )
    failed = ContactOutcome.failed()
    breached = rules.call_cap_breached(
        connected=outcome not in failed,
        connected_today=calls.filter(party=Party.BORROWER).exclude(outcome__in=failed).count(),
        # The number dialled; a call logged without one was to the party's number on file.
        unanswered_today=calls.filter(party=party, contact_point=contact_point, outcome__in=failed).count(),
    )
    if breached:
        raise ApplicationError(breached, code="call_cap")


def _borrower_attempts(case):
    """The attempts on the borrower since the last one that reached them (that one included), as
    (business day, outcome), oldest first: the whole run of failures, however many calls it took."""
    attempts = case.contact_attempts.filter(party=Party.BORROWER)
    reached = (
        attempts.exclude(outcome__in=ContactOutcome.failed())
        .order_by("-attempted_at", "-id")
        .values_list("attempted_at", flat=True)
        .first()
    )
    if reached is not None:
        attempts = attempts.filter(attempted_at__gte=reached)
    return [
        (timezone.localdate(a.attempted_at), a.outcome)
        for a in attempts.order_by("attempted_at", "id").only("attempted_at", "outcome")
    ]


def promise_record(*, actor, case, amount, promised_for: date, note: str = "") -> PromiseToPay:
    """The borrower promises to pay `amount` by `promised_for` (at most 30 days out)."""
    _check_may_work(actor, case)
    amount = parse_amount(amount)
    today = business_today()
    if not today <= promised_for <= today + timedelta(days=MAX_PROMISE_DAYS):
        raise ApplicationError(
            _("A promise falls between today and %(days)s days from now.") % {"days": MAX_PROMISE_DAYS},
            field="promised_for",
        )
    if not case.is_open:
        raise TransitionNotAllowed(_("The case is closed."))
    with transaction.atomic():
        promise = PromiseToPay.objects.create(
            case=case,
            amount=amount,
            promised_for=promised_for,
            recorded_by=None if is_system(actor) else actor,
            note=note,
        )
        log_action(
            actor=actor,
            action="collection.promise.recorded",
            target=case,
            reason=note,
            data={"promise": promise.pk, "amount": amount, "promised_for": promised_for},
        )
    return promise
