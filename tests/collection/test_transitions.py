"""Every transition from every state: allowed ones land where DESIGN section 4 says, forbidden ones
raise the domain error and change nothing."""

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from collection import services
from collection.choices import ApprovalAction, ApprovalStatus, CaseState, HoldReason, ResolutionReason, Severity
from collection.errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from collection.models import Approval, CollectionCase
from core.errors import ApplicationError
from core.models import ActivityLog
from tests.collection.factories import make_case, make_manager, make_officer
from tests.loans.factories import make_loan

S = CaseState
TODAY = date(2026, 4, 20)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield TODAY


@pytest.fixture
def people():
    return {"officer": make_officer(), "manager": make_manager(), "checker": make_manager("manager2")}


def approved(action, **details):
    def run(case, people):
        approval = services.approval_request(
            actor=people["officer"], case=case, action=action, reason="needed", details=details
        )
        services.approval_decide(actor=people["checker"], approval=approval, approve=True)

    return run


ACTIONS = {
    "classify": (
        {S.EARLY_WARNING},
        lambda case, p: services.case_classify(actor=p["officer"], case=case),
        {S.MINOR, S.SERIOUS},
    ),
    "escalate": (
        {S.MINOR},
        lambda case, p: services.case_escalate(actor=p["officer"], case=case, reason="x"),
        {S.SERIOUS},
    ),
    "deescalate": ({S.SERIOUS}, approved(ApprovalAction.DEESCALATE), {S.MINOR}),
    "grant_grace": (  # the case stays where it is
        {S.EARLY_WARNING, S.MINOR},
        lambda case, p: services.case_grant_grace(
            actor=p["officer"], case=case, until=TODAY + timedelta(days=30), reason="salary delayed"
        ),
        {S.EARLY_WARNING, S.MINOR},
    ),
    "propose_plan": (
        {S.MINOR, S.SERIOUS},
        lambda case, p: services.case_propose_plan(actor=p["officer"], case=case, note="extension"),
        {S.RESTRUCTURING},
    ),
    "reject_plan": (
        {S.RESTRUCTURING},
        lambda case, p: services.case_reject_plan(actor=p["officer"], case=case, note="no"),
        {S.MINOR, S.SERIOUS},
    ),
    "activate_plan": (
        {S.RESTRUCTURING},
        lambda case, p: services.case_activate_plan(actor=p["officer"], case=case),
        {S.MONITORING},
    ),
    "default_plan": (
        {S.MONITORING},
        lambda case, p: services.case_default_plan(actor=p["officer"], case=case, note="missed"),
        {S.SERIOUS},
    ),
    "refer_to_legal": (
        {S.SERIOUS},
        approved(ApprovalAction.REFER_TO_LEGAL, feasibility_note="house worth 2x the claim"),
        {S.LEGAL},
    ),
    "resolve": (
        {S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.MONITORING, S.LEGAL},
        lambda case, p: services.case_resolve(actor=p["officer"], case=case, reason=ResolutionReason.PAID_IN_FULL),
        {S.RESOLVED},
    ),
    "write_off": ({S.SERIOUS, S.LEGAL}, approved(ApprovalAction.WRITE_OFF), {S.WRITTEN_OFF}),
    "transfer": (set(CaseState.open_states()), approved(ApprovalAction.TRANSFER), {S.TRANSFERRED}),
    "hold": (
        {S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.RESTRUCTURING, S.MONITORING, S.LEGAL},
        lambda case, p: services.case_hold(actor=p["officer"], case=case, reason=HoldReason.DISPUTE, note="disputes"),
        {S.ON_HOLD},
    ),
    "release": (
        {S.ON_HOLD},
        lambda case, p: services.case_release(actor=p["officer"], case=case, note="settled"),
        {S.MINOR},
    ),
}


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition_from_every_state(state, action, people):
    sources, run, targets = ACTIONS[action]
    # A loan with nothing overdue yet, so resolving is allowed wherever the state allows it.
    case = make_case(state=state, officer=people["officer"], loan=make_loan(disbursed_on=date(2026, 4, 1)))
    if state in sources:
        run(case, people)
        case.refresh_from_db()
        assert case.state in targets
    else:
        with pytest.raises(TransitionNotAllowed):
            run(case, people)
        case.refresh_from_db()
        assert case.state == state


def test_a_transition_is_audited_with_who_why_and_the_rule(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    services.case_escalate(actor=people["officer"], case=case, reason="Refused on the phone")
    entry = ActivityLog.objects.get(action="collection.case.escalated")
    assert entry.actor == people["officer"] and entry.reason == "Refused on the phone"
    assert (entry.before, entry.after) == ({"state": "minor"}, {"state": "serious"})
    assert entry.data["rule"] == "officer"


def test_an_officer_may_not_act_on_someone_elses_case(people):
    case = make_case(state=S.MINOR, officer=make_officer("someone-else"))
    with pytest.raises(NotPermitted):
        services.case_escalate(actor=people["officer"], case=case, reason="x")
    services.case_escalate(actor=people["manager"], case=case, reason="manager may")


def test_acting_on_a_stale_view_is_a_conflict_and_does_nothing(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    stale = CollectionCase.objects.get(pk=case.pk)
    services.case_escalate(actor=people["manager"], case=case, reason="first")
    with pytest.raises(ConcurrentChange):
        services.case_grant_grace(actor=people["officer"], case=stale, until=TODAY + timedelta(days=5), reason="late")
    assert CollectionCase.objects.get(pk=case.pk).state == S.SERIOUS
    assert ActivityLog.objects.filter(action="collection.case.grace_granted").count() == 0


def test_hold_remembers_the_state_to_return_to(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    case = services.case_hold(actor=people["officer"], case=case, reason=HoldReason.COMPLAINT, note="complaint #12")
    assert (case.state, case.held_from_state, case.hold_reason) == (S.ON_HOLD, S.SERIOUS, HoldReason.COMPLAINT)
    case = services.case_release(actor=people["officer"], case=case, note="answered")
    assert (case.state, case.held_from_state, case.hold_reason) == (S.SERIOUS, "", "")


def test_a_rejected_plan_returns_to_the_severity_it_came_from(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    case = services.case_propose_plan(actor=people["officer"], case=case, note="instalment plan")
    case = services.case_reject_plan(actor=people["officer"], case=case, note="income too low")
    assert case.state == S.SERIOUS


def test_classification_follows_the_rules_unless_overridden_with_a_reason(people):
    case = make_case(state=S.EARLY_WARNING, officer=people["officer"], days_past_due=10, refused_to_pay=True)
    with pytest.raises(ApplicationError) as error:
        services.case_classify(actor=people["officer"], case=case, severity=Severity.MINOR)
    assert error.value.field == "override_reason"
    case = services.case_classify(
        actor=people["officer"], case=case, severity=Severity.MINOR, override_reason="Refusal was a misunderstanding"
    )
    assert case.state == S.MINOR and case.classified_by_officer
    assert [r["code"] for r in case.classification_reasons] == ["refused"]
    entry = ActivityLog.objects.get(action="collection.case.classified")
    assert entry.data["rule"] == "officer_override" and entry.data["rules_verdict"] == "serious"


def test_maker_checker_never_lets_the_requester_approve(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    approval = services.approval_request(
        actor=people["manager"], case=case, action=ApprovalAction.WRITE_OFF, reason="nothing to recover"
    )
    with pytest.raises(NotPermitted):
        services.approval_decide(actor=people["manager"], approval=approval, approve=True)
    with pytest.raises(NotPermitted):
        services.approval_decide(actor=people["officer"], approval=approval, approve=True)
    with pytest.raises(ApplicationError):
        services.approval_decide(actor=people["checker"], approval=approval, approve=False, note="")
    services.approval_decide(actor=people["checker"], approval=approval, approve=False, note="try the guarantor")
    approval.refresh_from_db()
    case.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED and case.state == S.SERIOUS
    with pytest.raises(ConcurrentChange):
        services.approval_decide(actor=people["checker"], approval=approval, approve=True)


def test_legal_referral_needs_a_feasibility_note(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    with pytest.raises(ApplicationError) as error:
        services.approval_request(
            actor=people["officer"], case=case, action=ApprovalAction.REFER_TO_LEGAL, reason="won't pay"
        )
    assert error.value.field == "feasibility_note"


def test_resolving_as_cured_needs_nothing_overdue(people):
    case = make_case(state=S.MINOR, officer=people["officer"])  # the loan is overdue
    with pytest.raises(TransitionNotAllowed):
        services.case_resolve(actor=people["officer"], case=case)


@pytest.mark.django_db(transaction=True)
def test_two_officers_at_once_one_wins_the_other_gets_a_conflict():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        officer, manager = make_officer(), make_manager()
        case = make_case(state=S.MINOR, officer=officer)
    barrier = threading.Barrier(2)
    outcomes = []

    def act(actor, run):
        stale = CollectionCase.objects.get(pk=case.pk)
        barrier.wait()
        try:
            with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
                run(actor, stale)
            outcomes.append("won")
        except ConcurrentChange:
            outcomes.append("conflict")
        finally:
            connection.close()

    escalate = lambda actor, c: services.case_escalate(actor=actor, case=c, reason="refused")  # noqa: E731
    grace = lambda actor, c: services.case_grant_grace(  # noqa: E731
        actor=actor, case=c, until=TODAY + timedelta(days=10), reason="salary late"
    )
    threads = [
        threading.Thread(target=act, args=(officer, grace)),
        threading.Thread(target=act, args=(manager, escalate)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    case.refresh_from_db()
    assert case.state in (S.MINOR, S.SERIOUS)
    assert (
        ActivityLog.objects.filter(action__in=["collection.case.escalated", "collection.case.grace_granted"]).count()
        == 1
    )


def test_at_most_one_open_case_per_loan_is_a_database_rule(people):
    from django.db import IntegrityError, transaction

    case = make_case(state=S.SERIOUS, officer=people["officer"])
    with pytest.raises(IntegrityError), transaction.atomic():
        make_case(state=S.MINOR, loan=case.loan)
    make_case(state=S.RESOLVED, loan=case.loan)  # closed cases stay as history


@pytest.mark.parametrize(
    ("state", "reason"),
    [(CaseState.MINOR, "settled"), (CaseState.SERIOUS, "recovered"), (CaseState.MINOR, "restructured")],
)
def test_an_open_case_with_arrears_cannot_be_closed_with_a_reason_its_state_does_not_allow(state, reason):
    case = make_case(state=state)
    with pytest.raises(ApplicationError) as refused:
        services.case_resolve(actor="system", case=case, reason=reason)
    assert refused.value.field == "reason"
    case.refresh_from_db()
    assert case.state == state


@pytest.mark.parametrize(("action", "loan_status"), [("write_off", "written_off"), ("transfer", "transferred")])
def test_an_approved_write_off_or_transfer_closes_the_loan(people, action, loan_status):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    approval = services.approval_request(
        actor=people["officer"], case=case, action=action, reason="Nothing left to try"
    )
    services.approval_decide(actor=people["checker"], approval=approval, approve=True)
    case.refresh_from_db()
    case.loan.refresh_from_db()
    assert (case.loan.status, case.loan.closed_on) == (loan_status, case.closed_on)
    assert ActivityLog.objects.filter(action=f"loans.loan.{loan_status}", target_id=str(case.loan_id)).exists()


# --- One request per case, on the case as it stood ---------------------------------------------------


def request(people, case, action, **details):
    return services.approval_request(actor=people["officer"], case=case, action=action, reason="why", details=details)


def test_one_request_waits_per_case(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    first = request(people, case, ApprovalAction.WRITE_OFF)
    assert first.case_version == case.version
    for action, details in (
        (ApprovalAction.TRANSFER, {}),
        (ApprovalAction.DEESCALATE, {}),
        (ApprovalAction.REFER_TO_LEGAL, {"feasibility_note": "assets found"}),
        (ApprovalAction.WRITE_OFF, {}),
    ):
        with pytest.raises(ApplicationError) as refused:
            request(people, case, action, **details)
        assert refused.value.code == "conflict" and "Write off" in refused.value.message
    assert Approval.objects.filter(case=case).count() == 1


def test_the_database_keeps_one_request_waiting_per_case(people):
    case = make_case(state=S.SERIOUS, officer=people["officer"])
    Approval.objects.create(case=case, action=ApprovalAction.WRITE_OFF, requested_by=people["officer"], reason="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(case=case, action=ApprovalAction.TRANSFER, requested_by=people["officer"], reason="b")


def test_a_request_on_a_stale_view_of_the_case_is_refused(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    seen = CollectionCase.objects.get(pk=case.pk)
    services.case_escalate(actor=people["officer"], case=case, reason="stopped answering")
    with pytest.raises(ConcurrentChange):
        request(people, seen, ApprovalAction.TRANSFER)
    assert not Approval.objects.exists()


def test_a_move_of_the_case_cancels_the_request_waiting_on_it(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    transfer = request(people, case, ApprovalAction.TRANSFER)
    case = services.case_escalate(actor=people["officer"], case=case, reason="stopped answering")
    transfer.refresh_from_db()
    assert transfer.status == ApprovalStatus.CANCELLED and transfer.decided_by is None
    assert transfer.decided_at is not None and "moved on to “Serious overdue”" in transfer.decision_note
    entry = ActivityLog.objects.get(action="collection.approval.cancelled")
    assert entry.target_id == str(case.pk) and entry.data == {
        "approval": transfer.pk,
        "action": "transfer",
        "step": "escalated",
    }
    with pytest.raises(ConcurrentChange, match="cancelled"):
        services.approval_decide(actor=people["checker"], approval=transfer, approve=True)
    assert CollectionCase.objects.get(pk=case.pk).state == S.SERIOUS
    assert request(people, case, ApprovalAction.WRITE_OFF).status == ApprovalStatus.PENDING  # a new one may be made


def test_the_daily_runs_moves_cancel_the_requests_waiting_on_the_cases(people):
    from collection import daily

    cases = [make_case(state=S.MINOR, officer=people["officer"]) for _ in range(2)]
    waiting = [request(people, case, ApprovalAction.TRANSFER) for case in cases]
    with transaction.atomic():
        locked = list(CollectionCase.objects.select_for_update().filter(pk__in=[c.pk for c in cases]))
        daily._move(locked, target=S.SERIOUS, verb="escalated", rule="escalation_rules", extra={"severity": "serious"})
    assert {a.status for a in Approval.objects.filter(pk__in=[a.pk for a in waiting])} == {ApprovalStatus.CANCELLED}
    assert ActivityLog.objects.filter(action="collection.approval.cancelled").count() == 2
    assert set(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("state", flat=True)) == {
        S.SERIOUS
    }


def test_a_request_that_outlived_a_move_is_cancelled_when_decided(people):
    """Were a case to move without cancelling (a path that bypassed the rule), deciding what was
    asked on its old version still cancels it and changes nothing else."""
    case = make_case(state=S.MINOR, officer=people["officer"])
    transfer = request(people, case, ApprovalAction.TRANSFER)
    CollectionCase.objects.filter(pk=case.pk).update(state=S.SERIOUS, version=case.version + 1)
    with pytest.raises(ConcurrentChange, match="moved on"):
        services.approval_decide(actor=people["checker"], approval=transfer, approve=True)
    transfer.refresh_from_db()
    assert transfer.status == ApprovalStatus.CANCELLED
    assert CollectionCase.objects.get(pk=case.pk).state == S.SERIOUS
