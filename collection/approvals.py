"""The rule that ties a maker-checker request to the case it was made on: a case has at most one
request waiting (a unique index), and any move of the case (a step someone took, the daily run's
escalation, an approved request carried out) cancels what is still waiting on it. What was asked
was judged against the case as it stood; once it moved, the request may no longer fit (a transfer
asked in one state, approved in another), and deciding it later would fail anyway."""

from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.audit import log_batch
from core.i18n import stored_text

from .choices import ApprovalStatus, CaseState
from .models import Approval, CollectionCase

MOVED_ON = gettext_lazy("Cancelled: the case moved on to “%(state)s” after this request was made.")


def pending_cancel(case_ids, *, actor, step: str, state: str) -> int:
    """Cancel the requests waiting on these cases, which just moved by `step` (a transition's verb,
    as the audit log names it) into `state`; each is logged against its case. Returns how many were
    cancelled. Run inside the transaction that moved them."""
    waiting = list(
        Approval.objects.select_for_update(of=("self",))
        .filter(case_id__in=case_ids, status=ApprovalStatus.PENDING)
        .values_list("pk", "case_id", "action", "case__loan__external_id")
    )
    if not waiting:
        return 0
    note = stored_text(MOVED_ON, state=CaseState(state).label)
    Approval.objects.filter(pk__in=[row[0] for row in waiting]).update(
        status=ApprovalStatus.CANCELLED, decided_at=timezone.now(), decision_note=note, updated_at=timezone.now()
    )
    log_batch(
        actor=actor,
        action="collection.approval.cancelled",
        model=CollectionCase,
        entries=(
            (case_id, CollectionCase.label(case_id, loan), {"approval": pk, "action": action, "step": step})
            for pk, case_id, action, loan in waiting
        ),
    )
    return len(waiting)
