"""The manager's pages: who may open them, the queue's figures and links, the approvals inbox's
decisions (maker-checker, double decisions, a rejection needs a note), and bounded query counts."""

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from collection import services
from collection.choices import ApprovalAction, ApprovalStatus, CaseState, PromiseStatus
from collection.models import Approval, CollectionCase, PromiseToPay
from core import roles
from loans.models import Loan
from tests.borrowers.factories import BorrowerFactory
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.conftest import password_login
from tests.loans.factories import LoanProductFactory

pytestmark = pytest.mark.django_db
PAGES = ["dashboard:queue", "dashboard:approvals", "dashboard:kpis"]


@pytest.fixture
def manager():
    return make_manager("boss")


@pytest.fixture
def officer():
    return make_officer("worker")


@pytest.fixture
def manager_client(client, manager):
    assert password_login(client, "boss", "pw")
    return client


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Who may open the pages --------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [roles.OFFICER, roles.AUDITOR, roles.LEGAL_OFFICER])
@pytest.mark.parametrize("name", PAGES)
def test_other_roles_are_refused(client, name, role):
    client.force_login(make_user("someone", role))
    assert client.get(reverse(name)).status_code == 403


def test_a_team_lead_who_is_not_a_manager_is_refused(client, officer):
    from collection.models import Team

    Team.objects.create(name="A", lead=officer)
    client.force_login(officer)
    assert client.get(reverse("dashboard:queue")).status_code == 403


def test_an_officer_cannot_post_a_decision(client, officer, manager):
    case = make_case(state=CaseState.SERIOUS, officer=officer)
    approval = request_legal(officer, case)
    client.force_login(officer)
    response = client.post(reverse("dashboard:approval_decide", args=[approval.pk]), {"decision": "approve"})
    assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.parametrize("name", PAGES)
def test_managers_open_every_page(manager_client, name):
    assert manager_client.get(reverse(name)).status_code == 200


# --- Queue overview ----------------------------------------------------------------------------------


@pytest.fixture
def queue_cases(officer):
    other = make_officer("worker2")
    cases = {
        "minor_m1": [make_case(state=CaseState.MINOR, officer=officer) for _ in range(2)],
        "serious_m3": [make_case(state=CaseState.SERIOUS, officer=other)],
        "early_unassigned": [make_case(state=CaseState.EARLY_WARNING)],
        "resolved": [make_case(state=CaseState.RESOLVED, officer=officer, closed_on=date(2026, 4, 1))],
    }
    for key, bucket, amount in (("minor_m1", "M1", "120.00"), ("serious_m3", "M3", "900.00")):
        Loan.objects.filter(pk__in=[c.loan_id for c in cases[key]]).update(
            aging_bucket=bucket, overdue_amount=Decimal(amount)
        )
    Loan.objects.filter(pk=cases["early_unassigned"][0].loan_id).update(aging_bucket="M1")
    return {"cases": cases, "officer": officer, "other": other}


def cases_behind(client, url):
    """The cases the case list shows for a link (all pages of it)."""
    response = client.get(url)
    assert response.status_code == 200
    return response.context["filter"].qs


def test_every_queue_figure_links_to_exactly_its_cases(manager_client, queue_cases):
    context = manager_client.get(reverse("dashboard:queue")).context
    worklist = reverse("dashboard:worklist")
    minor = next(row for row in context["state_rows"] if row["state"] == CaseState.MINOR)
    minor_m1 = minor["cells"][1]
    assert (minor_m1.cell.cases, minor_m1.cell.overdue_amount) == (2, Decimal("240.00"))
    assert urlsplit(minor_m1.url).path == worklist
    assert parse_qs(urlsplit(minor_m1.url).query) == {"state": ["minor"], "aging_bucket": ["M1"]}
    assert parse_qs(urlsplit(context["grand_total"].url).query) == {}  # the list's default: open cases
    links = [link for row in context["state_rows"] for link in [*row["cells"], row["total"]]]
    links += [*context["bucket_totals"], context["grand_total"]]
    for row in context["officer_rows"]:
        links += [*row["cells"], row["total"]]
    for link in links:
        behind = cases_behind(manager_client, link.url)
        assert behind.count() == link.cell.cases, link.url
        assert sum((c.loan.overdue_amount for c in behind), Decimal(0)) == link.cell.overdue_amount
    assert context["grand_total"].cell.cases == 4  # the resolved case is not in the queue


def test_the_queue_shows_each_officers_workload_and_the_unassigned_cases(manager_client, queue_cases):
    response = manager_client.get(reverse("dashboard:queue"))
    rows = response.context["officer_rows"]
    assert [(row["officer"], row["total"].cell.cases) for row in rows] == [
        (queue_cases["officer"], 2),
        (queue_cases["other"], 1),
    ]
    officer_total = rows[0]["total"].url
    assert parse_qs(urlsplit(officer_total).query)["officer"] == [str(queue_cases["officer"].pk)]
    unassigned = response.context["unassigned"]
    assert unassigned["total"].cell.cases == 1
    assert list(cases_behind(manager_client, unassigned["total"].url)) == queue_cases["cases"]["early_unassigned"]
    assert b"Unassigned" in response.content


def test_narrowing_the_queue_to_an_officer_carries_into_the_links(manager_client, queue_cases):
    officer = queue_cases["officer"]
    response = manager_client.get(reverse("dashboard:queue"), {"officer": officer.pk})
    total = response.context["grand_total"]
    assert total.cell.cases == 2
    assert parse_qs(urlsplit(total.url).query)["officer"] == [str(officer.pk)]
    assert cases_behind(manager_client, total.url).count() == 2


def test_the_queue_answers_htmx_with_the_overview_alone(manager_client, queue_cases):
    response = manager_client.get(reverse("dashboard:queue"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.templates[0].name == "collection/manager/_queue_overview.html"
    assert b"<html" not in response.content


# --- Approvals inbox ---------------------------------------------------------------------------------


def request_legal(actor, case):
    return services.approval_request(
        actor=actor,
        case=case,
        action=ApprovalAction.REFER_TO_LEGAL,
        reason="Refuses to pay; owns a flat.",
        details={"feasibility_note": "Flat worth 3x the claim; costs about ¥8,000."},
    )


@pytest.fixture
def referral(officer):
    case = make_case(state=CaseState.SERIOUS, officer=officer)
    return request_legal(officer, case)


def decide(client, approval, decision, note=""):
    return client.post(reverse("dashboard:approval_decide", args=[approval.pk]), {"decision": decision, "note": note})


def test_the_inbox_shows_the_request_with_its_feasibility_note(manager_client, referral):
    response = manager_client.get(reverse("dashboard:approvals"))
    [row] = response.context["pending"]
    assert row.approval == referral and not row.own
    content = response.content.decode()
    assert "Flat worth 3x the claim" in content
    assert "Refuses to pay; owns a flat." in content
    assert reverse("dashboard:approval_decide", args=[referral.pk]) in content


def test_approving_a_legal_referral_moves_the_case_to_legal(manager_client, referral, manager):
    response = decide(manager_client, referral, "approve", "Go ahead.")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:approvals")
    referral.refresh_from_db()
    assert (referral.status, referral.decided_by) == (ApprovalStatus.APPROVED, manager)
    assert referral.decision_note == "Go ahead."
    assert CollectionCase.objects.get(pk=referral.case_id).state == CaseState.LEGAL
    assert any("Approved" in m for m in messages_of(response))
    page = manager_client.get(reverse("dashboard:approvals"))
    assert page.context["pending"] == [] and list(page.context["decided"]) == [referral]


def test_a_rejection_needs_a_note_and_changes_nothing_without_one(manager_client, referral):
    response = decide(manager_client, referral, "reject")
    assert response.status_code == 400
    [row] = response.context["pending"]
    assert row.form.errors["note"]
    referral.refresh_from_db()
    assert referral.status == ApprovalStatus.PENDING
    response = decide(manager_client, referral, "reject", "Settlement talks first.")
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == ApprovalStatus.REJECTED
    assert CollectionCase.objects.get(pk=referral.case_id).state == CaseState.SERIOUS


def test_a_manager_cannot_decide_their_own_request(manager_client, manager):
    case = make_case(state=CaseState.SERIOUS, officer=manager)
    own = services.approval_request(actor=manager, case=case, action=ApprovalAction.WRITE_OFF, reason="Uncollectable")
    page = manager_client.get(reverse("dashboard:approvals"))
    [row] = page.context["pending"]
    assert row.own
    assert reverse("dashboard:approval_decide", args=[own.pk]) not in page.content.decode()  # no buttons
    response = decide(manager_client, own, "approve")
    assert response.status_code == 302
    assert any("maker-checker" in m for m in messages_of(response))
    own.refresh_from_db()
    assert own.status == ApprovalStatus.PENDING
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.SERIOUS


def test_a_request_decided_meanwhile_is_not_decided_twice(manager_client, referral):
    other = make_manager("boss2")
    services.approval_decide(actor=other, approval=referral, approve=False, note="No.")
    response = decide(manager_client, referral, "approve")
    assert response.status_code == 302
    assert any("already decided" in m for m in messages_of(response))
    referral.refresh_from_db()
    assert (referral.status, referral.decided_by) == (ApprovalStatus.REJECTED, other)
    assert CollectionCase.objects.get(pk=referral.case_id).state == CaseState.SERIOUS


def test_approval_of_a_case_that_moved_on_changes_nothing(manager_client, referral):
    CollectionCase.objects.filter(pk=referral.case_id).update(state=CaseState.RESOLVED)
    response = decide(manager_client, referral, "approve")
    assert response.status_code == 302
    assert messages_of(response)
    referral.refresh_from_db()
    assert referral.status == ApprovalStatus.PENDING


def test_a_request_cancelled_by_a_move_of_its_case_is_shown_as_cancelled(manager_client, officer):
    case = make_case(state=CaseState.MINOR, officer=officer)
    transfer = services.approval_request(
        actor=officer, case=case, action=ApprovalAction.TRANSFER, reason="Sold in the next batch."
    )
    services.case_escalate(actor=officer, case=case, reason="Stopped answering.")
    page = manager_client.get(reverse("dashboard:approvals"))
    assert page.context["pending"] == [] and list(page.context["decided"]) == [transfer]
    content = page.content.decode()
    assert "Cancelled" in content and "the case moved on to “Serious overdue”" in content
    assert "when the case moved on" in content
    assert reverse("dashboard:approval_decide", args=[transfer.pk]) not in content
    response = decide(manager_client, transfer, "approve")
    assert any("cancelled" in m for m in messages_of(response))
    assert CollectionCase.objects.get(pk=case.pk).state == CaseState.SERIOUS


def test_an_unknown_decision_is_refused(manager_client, referral):
    response = decide(manager_client, referral, "maybe")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == ApprovalStatus.PENDING


# --- Query counts ------------------------------------------------------------------------------------


def build_book(size, *, officers, manager):
    """`size` open cases over several states, officers and buckets, with approvals and promises,
    written in bulk (the pages' query counts do not depend on how the rows were made)."""
    product = LoanProductFactory(code="consumer")
    borrower = BorrowerFactory()
    today = timezone.localdate()
    loans = Loan.objects.bulk_create(
        Loan(
            external_id=f"Q{n:06d}",
            borrower=borrower,
            product=product,
            principal=Decimal("10000.00"),
            annual_rate=Decimal("0.12"),
            term_months=12,
            disbursed_on=today - timedelta(days=200),
            first_due_date=today - timedelta(days=170),
            maturity_date=today + timedelta(days=160),
            principal_outstanding=Decimal("8000.00"),
            overdue_amount=Decimal("500.00"),
            days_past_due=n % 200,
            aging_bucket=f"M{min(n % 8, 7)}",
        )
        for n in range(size)
    )
    states = [CaseState.EARLY_WARNING, CaseState.MINOR, CaseState.SERIOUS, CaseState.LEGAL, CaseState.RESOLVED]
    cases = CollectionCase.objects.bulk_create(
        CollectionCase(
            loan=loan,
            state=states[n % len(states)],
            officer=officers[n % len(officers)] if n % 7 else None,
            opened_on=today - timedelta(days=n % 300),
            closed_on=today if states[n % len(states)] == CaseState.RESOLVED else None,
        )
        for n, loan in enumerate(loans)
    )
    requesters = [*officers, manager]
    Approval.objects.bulk_create(
        Approval(
            case=case,
            action=ApprovalAction.REFER_TO_LEGAL,
            requested_by=requesters[n % len(requesters)],
            reason="why",
            details={"feasibility_note": "worth it"},
            status=ApprovalStatus.PENDING if n % 2 else ApprovalStatus.APPROVED,
            decided_by=None if n % 2 else manager,
            decided_at=None if n % 2 else timezone.now(),
        )
        for n, case in enumerate(cases)
    )
    statuses = [PromiseStatus.KEPT, PromiseStatus.BROKEN, PromiseStatus.PARTIALLY_KEPT]
    PromiseToPay.objects.bulk_create(
        PromiseToPay(case=case, amount=Decimal("100.00"), promised_for=today - timedelta(days=n % 200),
                     status=statuses[n % 3])
        for n, case in enumerate(cases)
    )  # fmt: skip


# The most queries each page may run, whatever the size of the book: session, user, role, the page's
# own aggregate queries and form choices, the navigation's pending-approvals count, and one spare.
# Each bound counts the audit footer's read of the last verification (kept an hour in the cache, so
# read once an hour in production, and on each first view here where the cache starts empty).
QUERY_BOUNDS = [("dashboard:queue", 10), ("dashboard:approvals", 8), ("dashboard:kpis", 12)]


@pytest.mark.parametrize("size", [10, 200])
@pytest.mark.parametrize(("name", "bound"), QUERY_BOUNDS)
def test_each_page_runs_a_bounded_number_of_queries(
    manager_client, manager, django_assert_max_num_queries, size, name, bound
):
    build_book(size, officers=[make_officer(f"o{n}") for n in range(3)], manager=manager)
    with django_assert_max_num_queries(bound):
        response = manager_client.get(reverse(name))
    assert response.status_code == 200
