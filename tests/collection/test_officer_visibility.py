"""An officer reads the borrowers, loans and payments of their own cases (and their team's, as its
lead), and nothing else of the book; managers, auditors and systems given the view permissions read
it all."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from collection.choices import CaseState
from collection.models import CollectionCase, Team
from core import roles
from core.apps import sync_roles
from loans.choices import PaymentChannel
from loans.services import payment_post
from tests.collection.factories import make_case, make_manager, make_officer, make_user

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def book():
    sync_roles()
    mine, theirs = make_officer("mine"), make_officer("theirs")
    own = make_case(state=CaseState.MINOR, officer=mine)
    other = make_case(state=CaseState.SERIOUS, officer=theirs)
    payments = {
        case.pk: payment_post(
            actor="system",
            loan=case.loan,
            amount=Decimal("10.00"),
            external_reference=f"P-{case.pk}",
            channel=PaymentChannel.BANK_TRANSFER,
        )[0]
        for case in (own, other)
    }
    return {"mine": mine, "theirs": theirs, "own": own, "other": other, "payments": payments}


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_officer_reads_only_the_borrowers_loans_and_payments_of_their_cases(book):
    officer, own, other = client_for(book["mine"]), book["own"], book["other"]
    assert ids(officer.get("/api/v1/borrowers/")) == {own.loan.borrower_id}
    assert ids(officer.get("/api/v1/loans/")) == {own.loan_id}
    assert ids(officer.get("/api/v1/payments/")) == {book["payments"][own.pk].pk}
    assert officer.get(f"/api/v1/borrowers/{own.loan.borrower_id}/").status_code == 200
    for url in (
        f"/api/v1/borrowers/{other.loan.borrower_id}/",
        f"/api/v1/loans/{other.loan_id}/",
        f"/api/v1/loans/{other.loan_id}/payoff-quote/",
        f"/api/v1/payments/{book['payments'][other.pk].pk}/",
    ):
        response = officer.get(url)
        assert response.status_code == 404, url
        assert other.loan.borrower.name not in response.content.decode()


def test_filters_do_not_reach_past_the_officers_cases(book):
    officer, other = client_for(book["mine"]), book["other"]
    assert ids(officer.get("/api/v1/loans/", {"borrower": other.loan.borrower_id})) == set()
    assert ids(officer.get("/api/v1/payments/", {"loan": other.loan.external_id})) == set()


def test_a_team_lead_reads_their_teams_cases_too(book):
    team = Team.objects.create(name="East", lead=book["mine"])
    CollectionCase.objects.filter(pk=book["other"].pk).update(team=team)
    lead = client_for(book["mine"])
    assert ids(lead.get("/api/v1/loans/")) == {book["own"].loan_id, book["other"].loan_id}
    assert lead.get(f"/api/v1/borrowers/{book['other'].loan.borrower_id}/").status_code == 200


@pytest.mark.parametrize("role", [roles.MANAGER, roles.AUDITOR, roles.LEGAL_OFFICER])
def test_the_other_roles_read_the_whole_book(book, role):
    reader = client_for(make_user(f"a-{role}", role) if role != roles.MANAGER else make_manager("boss"))
    assert ids(reader.get("/api/v1/loans/")) == {book["own"].loan_id, book["other"].loan_id}
    assert len(ids(reader.get("/api/v1/borrowers/"))) == 2
    assert len(ids(reader.get("/api/v1/payments/"))) == 2


def test_a_system_with_the_view_permission_reads_the_whole_book(book, api_client_for):
    core_banking = api_client_for("core-banking", "loans.view_loan")
    assert ids(core_banking.get("/api/v1/loans/")) == {book["own"].loan_id, book["other"].loan_id}


def test_a_case_read_with_the_borrower_unmasked_is_logged(book):
    from core.models import ActivityLog

    manager = client_for(make_manager("unmasker"))
    assert manager.get(f"/api/v1/cases/{book['own'].pk}/").status_code == 200
    entry = ActivityLog.objects.get(action="collection.case.pii_unmasked")
    assert entry.target_id == str(book["own"].pk) and entry.actor_label == "unmasker"
    assert client_for(book["mine"]).get(f"/api/v1/cases/{book['own'].pk}/").status_code == 200  # masked for him
    assert ActivityLog.objects.filter(action="collection.case.pii_unmasked").count() == 1
