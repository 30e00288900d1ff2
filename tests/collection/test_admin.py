"""The collection admin: teams are edited and audited; cases, contacts, promises and approvals are
read-only, and the workflow moves only through actions that call the services."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib import messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collection import services
from collection.choices import (
    ApprovalAction,
    ApprovalStatus,
    CaseState,
    ContactChannel,
    ContactOutcome,
    Party,
    PromiseStatus,
    ResolutionReason,
    Severity,
)
from collection.models import Approval, CollectionCase, ContactAttempt, PromiseToPay, Team
from core.models import ActivityLog
from loans.choices import ProductKind
from tests.collection.factories import make_case, make_manager, make_officer
from tests.loans.factories import LoanProductFactory, make_loan

S = CaseState
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_time():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


def url(name, *args):
    return reverse(f"admin:collection_{name}", args=args)


def results(response):
    return list(response.context["cl"].result_list)


def shown(response):
    """The messages the page shows, as (level, text)."""
    return [(message.level, str(message)) for message in response.context["messages"]]


def run_action(client, changelist, action, objects, **extra):
    return client.post(
        changelist, {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}, follow=True
    )


def cured_loan():
    """A loan disbursed this month: nothing is due yet, so nothing is overdue."""
    return make_loan(disbursed_on=date(2026, 4, 1))


# --- Teams ------------------------------------------------------------------------------------------


def test_team_changelist_shows_products_officers_and_open_cases(admin_client):
    team = Team.objects.create(name="华东一组")
    team.products.add(LoanProductFactory(name="消费贷"))
    team.members.add(make_officer("li"), make_officer("wang"))
    make_case(state=S.MINOR, team=team)
    make_case(state=S.RESOLVED, team=team)

    response = admin_client.get(url("team_changelist"))

    assert response.status_code == 200
    [row] = results(response)
    assert (row, row.member_count, row.open_case_count) == (team, 2, 1)
    assert "消费贷" in response.content.decode()
    assert admin_client.get(url("team_change", team.pk)).status_code == 200
    assert admin_client.get(url("team_add")).status_code == 200


def test_team_is_editable_and_every_change_is_logged(admin_client, admin_user):
    lead, officer = make_officer("lead"), make_officer("li")
    product = LoanProductFactory()
    team = Team.objects.create(name="华东一组")

    response = admin_client.post(
        url("team_change", team.pk),
        {"name": "华东二组", "lead": lead.pk, "products": [product.pk], "members": [lead.pk, officer.pk]},
    )

    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.lead) == ("华东二组", lead)
    assert set(team.members.all()) == {lead, officer}
    assert list(team.products.all()) == [product]
    entries = ActivityLog.objects.filter(action="collection.team.changed", target_id=str(team.pk)).order_by("id")
    assert [(e.actor, e.before, e.after) for e in entries] == [
        (admin_user, {"name": "华东一组", "lead": None}, {"name": "华东二组", "lead": lead.pk}),
        (
            admin_user,
            {"products": [], "members": []},
            {"products": [product.pk], "members": sorted([lead.pk, officer.pk])},
        ),
    ]


def test_adding_a_team_is_logged(admin_client, admin_user):
    officer = make_officer("li")

    response = admin_client.post(url("team_add"), {"name": "华南组", "members": [officer.pk]})

    assert response.status_code == 302
    team = Team.objects.get(name="华南组")
    assert list(team.members.all()) == [officer]
    assert ActivityLog.objects.get(action="collection.team.created").actor == admin_user
    assert ActivityLog.objects.get(action="collection.team.changed").after == {"members": [officer.pk]}


# --- Cases: the list ---------------------------------------------------------------------------------


def test_case_changelist_shows_the_loan_borrower_and_figures(admin_client):
    officer = make_officer("li")
    team = Team.objects.create(name="华东一组")
    case = make_case(state=S.MINOR, officer=officer, team=team, priority_score=870)

    response = admin_client.get(url("collectioncase_changelist"))

    assert response.status_code == 200
    assert results(response) == [case]
    content = response.content.decode()
    for text in (case.loan.external_id, case.loan.borrower.name, "Minor overdue", "li", "华东一组", "870"):
        assert text in content
    assert case.days_past_due == 64 and str(case.overdue_amount) in content


@pytest.mark.parametrize("field", ["external_id", "name", "id_number", "phone"])
def test_case_search(admin_client, field):
    wanted, _other = make_case(), make_case()
    borrower = wanted.loan.borrower
    terms = {
        "external_id": wanted.loan.external_id,
        "name": borrower.name,
        "id_number": borrower.id_number,
        "phone": borrower.phone,
    }

    response = admin_client.get(url("collectioncase_changelist"), {"q": terms[field]})

    assert results(response) == [wanted]


def test_case_filters(admin_client):
    officer, team = make_officer("li"), Team.objects.create(name="华东一组")
    minor = make_case(state=S.MINOR, officer=officer, team=team)
    serious = make_case(state=S.SERIOUS, loan=make_loan(kind=ProductKind.MORTGAGE), opened_on=date(2026, 3, 2))
    changelist = url("collectioncase_changelist")

    def found(**params):
        return results(admin_client.get(changelist, params))

    assert found(state__exact=S.SERIOUS) == [serious]
    assert found(severity__exact=Severity.MINOR) == [minor]
    assert found(team__id__exact=team.pk) == [minor]
    assert found(officer__id__exact=officer.pk) == [minor]
    assert found(loan__product__kind__exact=ProductKind.MORTGAGE) == [serious]
    assert found(opened_on__year=2026, opened_on__month=3) == [serious]


def test_case_changelist_query_count_does_not_grow_with_cases(admin_client, django_assert_max_num_queries):
    def add_cases(count):
        for n in range(count):
            team = Team.objects.create(name=f"组 {Team.objects.count()}")
            make_case(state=S.MINOR, officer=make_officer(f"officer-{team.pk}-{n}"), team=team)

    add_cases(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url("collectioncase_changelist")).status_code == 200
    add_cases(8)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(url("collectioncase_changelist"))

    assert len(results(response)) == 10


# --- Cases: read-only --------------------------------------------------------------------------------


def test_case_change_page_is_read_only_with_contacts_promises_and_approvals(admin_client):
    officer, manager = make_officer(), make_manager()
    case = make_case(state=S.SERIOUS, officer=officer)
    services.contact_log(actor=officer, case=case, channel=ContactChannel.CALL, outcome=ContactOutcome.PROMISED)
    services.promise_record(actor=officer, case=case, amount="500.00", promised_for=date(2026, 4, 25))
    services.approval_request(actor=manager, case=case, action=ApprovalAction.WRITE_OFF, reason="nothing left")

    response = admin_client.get(url("collectioncase_change", case.pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}
    inlines = {type(inline.opts).__name__: inline for inline in response.context["inline_admin_formsets"]}
    assert set(inlines) == {"ContactAttemptInline", "PromiseToPayInline", "ApprovalInline"}
    for inline in inlines.values():
        assert len(inline.formset.forms) == 1
        assert not (inline.has_add_permission or inline.has_change_permission or inline.has_delete_permission)
    content = response.content.decode()
    assert "Serious overdue" in content
    assert case.loan.borrower.name in content
    assert "nothing left" in content


def test_posting_the_case_form_cannot_change_the_state(admin_client):
    case = make_case(state=S.SERIOUS)

    response = admin_client.post(
        url("collectioncase_change", case.pk), {"state": S.RESOLVED, "officer": "", "priority_score": "0"}
    )

    assert response.status_code == 403
    case.refresh_from_db()
    assert (case.state, case.version) == (S.SERIOUS, 0)


def test_cases_cannot_be_added_or_deleted(admin_client):
    case = make_case()

    assert admin_client.get(url("collectioncase_add")).status_code == 403
    assert admin_client.post(url("collectioncase_add"), {"loan": case.loan.pk}).status_code == 403
    assert admin_client.post(url("collectioncase_delete", case.pk), {"post": "yes"}).status_code == 403
    actions = admin_client.get(url("collectioncase_changelist")).context["action_form"].fields["action"].choices
    assert "delete_selected" not in dict(actions)
    assert CollectionCase.objects.count() == 1


def test_case_change_page_query_count_does_not_grow_with_its_history(admin_client, django_assert_max_num_queries):
    officer = make_officer()
    case = make_case(state=S.MINOR, officer=officer)

    def add_history(count):
        for _ in range(count):
            # One call a day, as a history grows (a day allows only so many calls: rules.call_cap_breached).
            days = case.contact_attempts.count()
            services.contact_log(
                actor=officer,
                case=case,
                channel=ContactChannel.CALL,
                outcome=ContactOutcome.NO_ANSWER,
                attempted_at=timezone.now() - timedelta(days=days),
            )
            PromiseToPay.objects.create(case=case, amount=Decimal("100.00"), promised_for=date(2026, 4, 25))

    add_history(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url("collectioncase_change", case.pk)).status_code == 200
    add_history(6)

    with django_assert_max_num_queries(len(few)):
        assert admin_client.get(url("collectioncase_change", case.pk)).status_code == 200


# --- Cases: actions through the services --------------------------------------------------------------


def test_resolve_action_resolves_cured_cases_and_reports_the_others(admin_client, admin_user):
    cured = make_case(state=S.MINOR, loan=cured_loan())
    overdue = make_case(state=S.MINOR)

    response = run_action(admin_client, url("collectioncase_changelist"), "resolve_cases", [cured, overdue])

    assert response.status_code == 200
    cured.refresh_from_db()
    overdue.refresh_from_db()
    assert (cured.state, cured.resolution_reason, cured.closed_on) == (
        S.RESOLVED,
        ResolutionReason.CURED,
        date(2026, 4, 20),
    )
    assert overdue.state == S.MINOR
    assert shown(response) == [
        (messages.SUCCESS, "Resolved 1 case."),
        (
            messages.ERROR,
            f"{overdue}: The loan still has an overdue amount: the case cannot be resolved as cured.",
        ),
    ]
    entry = ActivityLog.objects.get(action="collection.case.resolved")
    assert (entry.actor, entry.target_id) == (admin_user, str(cured.pk))


def test_resolve_action_reports_a_state_that_does_not_allow_it(admin_client):
    closed = make_case(state=S.WRITTEN_OFF, loan=cured_loan())

    response = run_action(admin_client, url("collectioncase_changelist"), "resolve_cases", [closed])

    assert shown(response) == [(messages.ERROR, f"{closed}: This step is not allowed while the case is “Written off”.")]
    closed.refresh_from_db()
    assert closed.state == S.WRITTEN_OFF


def test_reassign_action_hands_the_cases_to_the_chosen_officer(admin_client, admin_user):
    before, after = make_officer("before"), make_officer("after")
    cases = [make_case(state=S.MINOR, officer=before), make_case(state=S.SERIOUS, officer=before)]

    response = run_action(
        admin_client, url("collectioncase_changelist"), "reassign_cases", cases, officer=str(after.pk)
    )

    assert shown(response) == [(messages.SUCCESS, "Reassigned 2 cases to after.")]
    assert set(CollectionCase.objects.values_list("officer", flat=True)) == {after.pk}
    assert ActivityLog.objects.filter(action="collection.case.reassigned", actor=admin_user).count() == 2


def test_reassign_action_needs_an_officer_and_open_cases(admin_client):
    officer = make_officer("li")
    open_case, closed = make_case(state=S.MINOR), make_case(state=S.RESOLVED)
    changelist = url("collectioncase_changelist")

    no_officer = run_action(admin_client, changelist, "reassign_cases", [open_case])
    with_closed = run_action(admin_client, changelist, "reassign_cases", [open_case, closed], officer=str(officer.pk))

    assert shown(no_officer) == [(messages.ERROR, "Choose the officer to reassign the cases to.")]
    assert shown(with_closed) == [(messages.ERROR, "Only open cases can be reassigned.")]
    assert not CollectionCase.objects.filter(officer=officer).exists()


# --- Contacts and promises -------------------------------------------------------------------------------


def test_contact_attempts_are_a_searchable_filterable_read_only_list(admin_client):
    officer = make_officer()
    wanted, other = make_case(officer=officer), make_case(officer=officer)
    called = services.contact_log(
        actor=officer, case=wanted, channel=ContactChannel.CALL, outcome=ContactOutcome.REFUSED
    )
    texted = services.contact_log(
        actor=officer, case=other, channel=ContactChannel.SMS, outcome=ContactOutcome.NO_ANSWER
    )
    changelist = url("contactattempt_changelist")

    assert set(results(admin_client.get(changelist))) == {called, texted}
    assert results(admin_client.get(changelist, {"q": wanted.loan.external_id})) == [called]
    assert results(admin_client.get(changelist, {"channel__exact": ContactChannel.SMS})) == [texted]
    assert results(admin_client.get(changelist, {"outcome__exact": ContactOutcome.REFUSED})) == [called]
    assert len(results(admin_client.get(changelist, {"party__exact": Party.BORROWER}))) == 2
    page = admin_client.get(url("contactattempt_change", called.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert admin_client.get(url("contactattempt_add")).status_code == 403
    assert admin_client.post(url("contactattempt_change", called.pk), {"outcome": "reached"}).status_code == 403
    assert admin_client.post(url("contactattempt_delete", called.pk), {"post": "yes"}).status_code == 403
    assert ContactAttempt.objects.get(pk=called.pk).outcome == ContactOutcome.REFUSED


def test_promises_are_a_searchable_filterable_read_only_list(admin_client):
    officer = make_officer()
    wanted, other = make_case(officer=officer), make_case(officer=officer)
    pending = services.promise_record(actor=officer, case=wanted, amount="500.00", promised_for=date(2026, 4, 25))
    broken = PromiseToPay.objects.create(
        case=other, amount=Decimal("800.00"), promised_for=date(2026, 4, 10), status=PromiseStatus.BROKEN
    )
    changelist = url("promisetopay_changelist")

    assert set(results(admin_client.get(changelist))) == {pending, broken}
    assert results(admin_client.get(changelist, {"q": wanted.loan.external_id})) == [pending]
    assert results(admin_client.get(changelist, {"status__exact": PromiseStatus.BROKEN})) == [broken]
    page = admin_client.get(url("promisetopay_change", pending.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert admin_client.get(url("promisetopay_add")).status_code == 403
    assert admin_client.post(url("promisetopay_delete", pending.pk), {"post": "yes"}).status_code == 403


# --- Approvals -------------------------------------------------------------------------------------------


@pytest.fixture
def requester():
    """Another manager: maker-checker lets the admin superuser decide only what someone else asked."""
    return make_manager("requester")


def test_approvals_are_a_filterable_read_only_list(admin_client, requester):
    write_off = services.approval_request(
        actor=requester, case=make_case(state=S.SERIOUS), action=ApprovalAction.WRITE_OFF, reason="nothing left"
    )
    transfer = services.approval_request(
        actor=requester, case=make_case(state=S.MINOR), action=ApprovalAction.TRANSFER, reason="debt sale"
    )
    changelist = url("approval_changelist")

    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert set(results(response)) == {write_off, transfer}
    assert results(admin_client.get(changelist, {"action__exact": ApprovalAction.TRANSFER})) == [transfer]
    assert len(results(admin_client.get(changelist, {"status__exact": ApprovalStatus.PENDING}))) == 2
    assert results(admin_client.get(changelist, {"q": write_off.case.loan.external_id})) == [write_off]
    page = admin_client.get(url("approval_change", write_off.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert admin_client.get(url("approval_add")).status_code == 403
    assert admin_client.post(url("approval_change", write_off.pk), {"status": "approved"}).status_code == 403
    assert admin_client.post(url("approval_delete", write_off.pk), {"post": "yes"}).status_code == 403


def test_approve_action_runs_the_transition(admin_client, admin_user, requester):
    case = make_case(state=S.SERIOUS)
    approval = services.approval_request(
        actor=requester, case=case, action=ApprovalAction.WRITE_OFF, reason="nothing to recover"
    )

    response = run_action(admin_client, url("approval_changelist"), "approve", [approval])

    assert shown(response) == [(messages.SUCCESS, "Approved 1 request.")]
    approval.refresh_from_db()
    case.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, admin_user)
    assert (case.state, case.closed_on) == (S.WRITTEN_OFF, date(2026, 4, 20))
    entry = ActivityLog.objects.get(action="collection.case.written_off")
    assert (entry.actor, entry.data["rule"]) == (admin_user, "approved")


def test_approving_ones_own_request_is_refused_with_a_message(admin_client, admin_user):
    case = make_case(state=S.SERIOUS)
    approval = services.approval_request(
        actor=admin_user, case=case, action=ApprovalAction.WRITE_OFF, reason="nothing to recover"
    )

    response = run_action(admin_client, url("approval_changelist"), "approve", [approval])

    assert response.status_code == 200
    assert shown(response) == [(messages.ERROR, f"{approval}: You cannot approve your own request (maker-checker).")]
    approval.refresh_from_db()
    case.refresh_from_db()
    assert (approval.status, case.state) == (ApprovalStatus.PENDING, S.SERIOUS)


def test_reject_action_rejects_with_a_note_and_leaves_the_case(admin_client, admin_user, requester):
    case = make_case(state=S.SERIOUS)
    approval = services.approval_request(
        actor=requester, case=case, action=ApprovalAction.WRITE_OFF, reason="nothing to recover"
    )

    response = run_action(admin_client, url("approval_changelist"), "reject", [approval])

    assert shown(response) == [(messages.SUCCESS, "Rejected 1 request.")]
    approval.refresh_from_db()
    case.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decision_note) == (
        ApprovalStatus.REJECTED,
        admin_user,
        "Rejected in the admin",
    )
    assert case.state == S.SERIOUS


def test_deciding_an_already_decided_request_is_a_message(admin_client, requester):
    approval = services.approval_request(
        actor=requester, case=make_case(state=S.SERIOUS), action=ApprovalAction.WRITE_OFF, reason="nothing left"
    )
    changelist = url("approval_changelist")
    run_action(admin_client, changelist, "reject", [approval])

    response = run_action(admin_client, changelist, "approve", [approval])

    [(level, text)] = shown(response)
    assert level == messages.ERROR
    assert text.endswith("This request was already decided: Rejected.")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED


def test_only_managers_are_offered_the_decisions(client, requester):
    viewer = make_officer("viewer")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)

    response = client.get(url("approval_changelist"))

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert client.get(url("collectioncase_changelist")).context["action_form"] is None


# --- Every list: bounded queries ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Team, CollectionCase, ContactAttempt, PromiseToPay, Approval])
def test_changelist_query_count_is_bounded(admin_client, django_assert_max_num_queries, model):
    changelist = url(f"{model._meta.model_name}_changelist")
    officer, requester = make_officer(), make_manager("requester")

    def add(count):
        for _ in range(count):
            team = Team.objects.create(name=f"组 {Team.objects.count()}", lead=officer)
            team.products.add(LoanProductFactory())
            team.members.add(officer)
            case = make_case(state=S.SERIOUS, officer=officer, team=team)
            services.contact_log(actor=officer, case=case, channel=ContactChannel.CALL, outcome=ContactOutcome.REACHED)
            services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 4, 25))
            services.approval_request(actor=requester, case=case, action=ApprovalAction.WRITE_OFF, reason="gone")

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(changelist).status_code == 200
    add(6)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(changelist)

    assert len(results(response)) == 8
