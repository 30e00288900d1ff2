"""POST /api/v1/loans/{id}/classify/: a manager's judgment of a loan's regulatory class, with a
written reason (loans.services.loan_set_class); null goes back to the days-past-due floor."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from core import roles
from core.models import ActivityLog
from loans.choices import Ifrs9Stage, LoanStatus, RegulatoryClass
from loans.models import Loan
from tests.loans.factories import make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOANS = "/api/v1/loans/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Business day 2026-04-20: a loan disbursed 2026-01-15 is 64 days past due, special mention
    by the floor and in IFRS 9 stage 2."""
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        yield date(2026, 4, 20)


@pytest.fixture
def manager(staff_client):
    return staff_client(roles.MANAGER)


@pytest.fixture
def officer(staff_client):
    return staff_client(roles.OFFICER)


@pytest.fixture
def loan():
    loan = make_loan(external_id="CB-0001")
    assert (loan.days_past_due, loan.regulatory_class, loan.ifrs9_stage) == (
        64,
        RegulatoryClass.SPECIAL_MENTION,
        Ifrs9Stage.STAGE_2,
    )
    return loan


def classify(client, loan, body):
    return client.post(f"{LOANS}{loan.pk}/classify/", body, format="json")


def assert_error(response, status_code, code="invalid", fields=()):
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    for field in fields:
        assert error["fields"][field], error
    return error


def class_entries(loan):
    return ActivityLog.objects.filter(action="loans.loan.class_set", target_id=str(loan.pk))


def class_of(loan):
    loan.refresh_from_db()
    return loan.manual_regulatory_class, loan.manual_class_reason, loan.regulatory_class, loan.ifrs9_stage


def test_a_manager_classes_a_loan_substandard_and_it_moves_to_stage_3_at_once(manager, loan):
    response = classify(manager, loan, {"regulatory_class": 3, "reason": "The enterprise stopped trading in March."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == loan.pk and "schedule" in body  # the loan as GET shows it
    assert (body["manual_regulatory_class"], body["regulatory_class"], body["ifrs9_stage"]) == (3, 3, 3)
    assert body["manual_class_reason"] == "The enterprise stopped trading in March."
    assert class_of(loan) == (3, "The enterprise stopped trading in March.", 3, 3)
    (entry,) = class_entries(loan)
    assert entry.reason == "The enterprise stopped trading in March." and entry.actor_label == "manager-user"
    assert entry.before["regulatory_class"] == 2 and entry.after["regulatory_class"] == 3


def test_a_manual_class_better_than_the_floor_leaves_the_floor(manager, loan):
    response = classify(manager, loan, {"regulatory_class": 1, "reason": "Collateral covers the debt twice."})

    assert response.status_code == 200, response.content
    assert class_of(loan) == (1, "Collateral covers the debt twice.", RegulatoryClass.SPECIAL_MENTION, 2)


def test_null_withdraws_the_manual_class_and_returns_to_the_days_past_due_floor(manager, loan):
    assert classify(manager, loan, {"regulatory_class": 4, "reason": "Fraud suspected."}).status_code == 200
    assert class_of(loan) == (4, "Fraud suspected.", 4, 3)

    response = classify(manager, loan, {"regulatory_class": None, "reason": "The fraud report was withdrawn."})

    assert response.status_code == 200, response.content
    assert class_of(loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert [entry.reason for entry in class_entries(loan).order_by("id")] == [
        "Fraud suspected.",
        "The fraud report was withdrawn.",
    ]


def test_setting_the_same_class_again_changes_nothing_and_logs_nothing(manager, loan):
    body = {"regulatory_class": 3, "reason": "The enterprise stopped trading in March."}
    first = classify(manager, loan, body)
    after_first = class_of(loan)

    again = classify(manager, loan, body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert class_of(loan) == after_first
    assert class_entries(loan).count() == 1


def test_only_a_manager_may_set_a_loans_class(officer, api_client_for, loan):
    body = {"regulatory_class": 3, "reason": "The enterprise stopped trading in March."}
    gateway = api_client_for("gateway", "loans.add_payment")  # may not even read loans

    assert_error(classify(officer, loan, body), 404, code="not_found")  # not their case's loan: not even seen
    assert_error(classify(gateway, loan, body), 403, code="permission_denied")
    assert_error(classify(APIClient(), loan, body), 401, code="not_authenticated")
    assert class_of(loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert not class_entries(loan).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"regulatory_class": 3}, "reason"),
        ({"regulatory_class": 3, "reason": "   "}, "reason"),
        ({"regulatory_class": 3, "reason": "x" * 501}, "reason"),
        ({"reason": "No class given"}, "regulatory_class"),
        ({"regulatory_class": 0, "reason": "Out of range"}, "regulatory_class"),
        ({"regulatory_class": 6, "reason": "Out of range"}, "regulatory_class"),
        ({"regulatory_class": "loss", "reason": "Not a number"}, "regulatory_class"),
        ({"regulatory_class": True, "reason": "Not a class"}, "regulatory_class"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(manager, loan, body, field):
    assert_error(classify(manager, loan, body), 400, fields=[field])

    assert class_of(loan) == (None, "", RegulatoryClass.SPECIAL_MENTION, Ifrs9Stage.STAGE_2)
    assert not class_entries(loan).exists()


def test_a_closed_loans_class_cannot_change_409(manager, loan):
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.PAID_OFF)

    assert_error(classify(manager, loan, {"regulatory_class": 5, "reason": "Too late"}), 409, code="loan_closed")
    assert not class_entries(loan).exists()


def test_an_unknown_loan_is_a_404(manager):
    response = manager.post(f"{LOANS}999999/classify/", {"regulatory_class": 3, "reason": "x"}, format="json")

    assert_error(response, 404, code="not_found")


def test_the_schema_documents_the_operation(manager):
    schema = manager.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/loans/{id}/classify/"]["post"]
    assert operation["summary"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][request]["required"]) == {"regulatory_class", "reason"}
