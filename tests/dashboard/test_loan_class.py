"""The loan card of the case page: its regulatory class (and a manager's judgment of it, with the
reason), IFRS 9 stage, comprehensive annual cost, legal costs and observation period; and the
manager's "Set class" form (loans.services.loan_set_class), refused to anyone else."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client

from core import roles
from core.apps import sync_roles
from core.models import ActivityLog
from loans.choices import Ifrs9Stage, LoanStatus, RegulatoryClass
from loans.models import Loan
from tests.collection.factories import make_case, make_manager, make_officer, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Business day 2026-04-20: the case's loan (disbursed 2026-01-15) is 64 days past due, special
    mention by the floor and in IFRS 9 stage 2."""
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        yield date(2026, 4, 20)


@pytest.fixture(autouse=True)
def role_permissions():
    sync_roles()


@pytest.fixture
def officer():
    return make_officer()


@pytest.fixture
def manager():
    return make_manager()


@pytest.fixture
def case(officer):
    case = make_case(officer=officer)
    assert (case.loan.regulatory_class, case.loan.ifrs9_stage) == (RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    return case


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def case_url(case):
    return f"/cases/{case.pk}/"


def set_class(client, case, regulatory_class, reason, *, shown=None, **kwargs):
    """POST the "Set class" form as the page shows it: `shown` is the hidden token the page carried
    (by default, the one for the loan as it is now)."""
    if shown is None:
        shown = shown_token(client, case)
    data = {"loan_class-regulatory_class": regulatory_class, "loan_class-reason": reason, "loan_class-shown": shown}
    return client.post(f"{case_url(case)}loan/class/", data, **kwargs)


def shown_token(client, case):
    return client.get(case_url(case)).context["loan_class_form"]["shown"].value()


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def class_entries(loan):
    return ActivityLog.objects.filter(action="loans.loan.class_set", target_id=str(loan.pk))


def class_of(loan):
    loan.refresh_from_db()
    return loan.manual_regulatory_class, loan.manual_class_reason, loan.regulatory_class, loan.ifrs9_stage


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- What the loan card shows ------------------------------------------------------------------------


def test_the_loan_card_shows_the_manual_class_stage_annual_cost_legal_costs_and_observation(officer, case):
    Loan.objects.filter(pk=case.loan.pk).update(
        manual_regulatory_class=RegulatoryClass.SUBSTANDARD,
        manual_class_reason="The enterprise stopped trading in March.",
        regulatory_class=RegulatoryClass.SUBSTANDARD,
        ifrs9_stage=Ifrs9Stage.STAGE_3,
        annual_cost=Decimal("0.235"),
        costs_outstanding=Decimal("1800.00"),
        observation_until=date(2026, 10, 20),
    )

    page = page_text(client_for(officer).get(case_url(case)))

    assert "Substandard (次级)" in page and "(manual: The enterprise stopped trading in March.)" in page
    assert "Stage 3 (credit-impaired)" in page
    assert "23.50%" in page
    assert "Legal costs outstanding" in page and "1,800.00" in page
    assert "under observation until 2026-10-20" in page


def test_a_manual_class_better_than_the_floor_is_named_beside_the_effective_one(officer, case):
    Loan.objects.filter(pk=case.loan.pk).update(
        manual_regulatory_class=RegulatoryClass.NORMAL, manual_class_reason="Collateral covers it twice."
    )

    page = page_text(client_for(officer).get(case_url(case)))

    assert "Special mention (关注)" in page and "(manual: Normal (正常), Collateral covers it twice.)" in page


def test_without_a_manual_class_annual_cost_legal_costs_or_observation_the_card_says_little(officer, case):
    Loan.objects.filter(pk=case.loan.pk).update(annual_cost=None)  # loans booked before it was computed

    page = page_text(client_for(officer).get(case_url(case)))

    assert "manual:" not in page
    assert '<dd id="loan-annual-cost">—</dd>' in page
    assert "Legal costs outstanding" not in page and "under observation until" not in page


# --- Who sees the form and may post it ---------------------------------------------------------------


def test_a_manager_sees_the_set_class_form_and_an_officer_does_not(officer, manager, case):
    manager_page = client_for(manager).get(case_url(case))
    officer_page = client_for(officer).get(case_url(case))

    form = manager_page.context["loan_class_form"]
    assert list(form["regulatory_class"].field.choices) == [("", "By days past due only"), *RegulatoryClass.choices]
    assert form["reason"].field.required
    assert 'id="form-loan_class"' in page_text(manager_page)
    assert officer_page.context["loan_class_form"] is None
    assert 'id="form-loan_class"' not in page_text(officer_page)


def test_a_closed_loan_offers_no_form(manager, case):
    Loan.objects.filter(pk=case.loan.pk).update(status=LoanStatus.PAID_OFF)

    assert client_for(manager).get(case_url(case)).context["loan_class_form"] is None


@pytest.mark.parametrize("role", [roles.OFFICER, roles.AUDITOR, roles.LEGAL_OFFICER])
def test_anyone_but_a_manager_is_refused_403_and_nothing_changes(case, role):
    client = client_for(make_user("someone", role))

    response = set_class(client, case, "4", "I think so.", shown="whatever")

    assert response.status_code == 403
    assert class_of(case.loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert not class_entries(case.loan).exists()


def test_an_anonymous_visitor_is_sent_to_log_in(case):
    response = set_class(Client(), case, "4", "I think so.", shown="whatever")

    assert response.status_code == 302 and "/login/" in response["Location"]


# --- Setting and clearing ----------------------------------------------------------------------------


def test_a_manager_sets_the_class_substandard_and_the_loan_moves_to_stage_3(manager, case):
    client = client_for(manager)

    response = set_class(client, case, "3", "The enterprise stopped trading in March.")

    assert response.status_code == 302 and response["Location"] == case_url(case)
    assert class_of(case.loan) == (3, "The enterprise stopped trading in March.", 3, 3)
    (entry,) = class_entries(case.loan)
    assert entry.reason == "The enterprise stopped trading in March." and entry.actor_id == manager.pk
    assert messages_of(response) == ["The class was set: the loan is Substandard (次级)."]
    page = page_text(client.get(case_url(case)))
    assert "Substandard (次级)" in page and "(manual: The enterprise stopped trading in March.)" in page
    assert "Stage 3 (credit-impaired)" in page


def test_by_days_past_due_only_withdraws_the_class_and_returns_to_the_floor(manager, case):
    client = client_for(manager)
    set_class(client, case, "4", "Fraud suspected.")
    assert class_of(case.loan) == (4, "Fraud suspected.", 4, 3)

    response = set_class(client, case, "", "The fraud report was withdrawn.")

    assert response.status_code == 302
    assert class_of(case.loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert messages_of(response)[-1] == (
        "The manual class was withdrawn: by days past due, the loan is Special mention (关注)."
    )
    assert [entry.reason for entry in class_entries(case.loan).order_by("id")] == [
        "Fraud suspected.",
        "The fraud report was withdrawn.",
    ]


@pytest.mark.parametrize(
    ("regulatory_class", "reason", "field"),
    [("3", "", "reason"), ("3", "   ", "reason"), ("6", "Out of range", "regulatory_class")],
)
def test_bad_input_shows_the_form_open_with_the_error_and_changes_nothing(
    manager, case, regulatory_class, reason, field
):
    response = set_class(client_for(manager), case, regulatory_class, reason)

    page = page_text(response)
    form = response.context["loan_class_form"]
    assert set(form.errors) == {field}
    assert '<details class="action" id="action-loan_class" open>' in page
    assert class_of(case.loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert not class_entries(case.loan).exists()


def test_a_missing_reason_says_why_one_is_needed(manager, case):
    response = set_class(client_for(manager), case, "3", "")

    assert response.context["loan_class_form"].errors["reason"] == ["Say why the loan is classed so."]


def test_htmx_errors_swap_the_form_and_success_reloads_the_page(manager, case):
    client = client_for(manager)
    htmx = {"HX-Request": "true"}

    bad = page_text(set_class(client, case, "3", "", headers=htmx))
    good = set_class(client, case, "3", "The enterprise stopped trading in March.", headers=htmx)

    assert bad.lstrip().startswith("<form") and 'id="form-loan_class"' in bad and "Say why" in bad
    assert good["HX-Redirect"] == case_url(case)
    assert class_of(case.loan)[0] == 3


def test_sending_the_form_twice_sets_the_class_once(manager, case):
    client = client_for(manager)
    shown = shown_token(client, case)

    first = set_class(client, case, "3", "The enterprise stopped trading in March.", shown=shown)
    again = set_class(client, case, "3", "The enterprise stopped trading in March.", shown=shown)

    assert (first.status_code, again.status_code) == (302, 302)
    assert again["Location"] == case_url(case)
    assert "Nothing was done" in messages_of(again)[-1]
    assert class_of(case.loan)[:2] == (3, "The enterprise stopped trading in March.")
    assert class_entries(case.loan).count() == 1


def test_a_form_shown_before_another_manager_set_the_class_is_refused(manager, case):
    other = client_for(make_manager("manager2"))
    shown = shown_token(client_for(manager), case)
    set_class(other, case, "4", "Fraud suspected.")

    response = set_class(client_for(manager), case, "2", "Looks fine to me.", shown=shown)

    assert response.status_code == 302
    assert "Nothing was done" in messages_of(response)[-1]
    assert class_of(case.loan)[:2] == (4, "Fraud suspected.")


def test_a_loan_closed_since_the_page_was_shown_is_refused_with_a_message(manager, case):
    client = client_for(manager)
    shown = shown_token(client, case)
    Loan.objects.filter(pk=case.loan.pk).update(status=LoanStatus.PAID_OFF)

    response = set_class(client, case, "5", "Too late.", shown=shown)

    assert response.status_code == 302
    assert messages_of(response) == ["The loan is closed: its class cannot change."]
    assert not class_entries(case.loan).exists()
