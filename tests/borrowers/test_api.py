import pytest
from rest_framework.test import APIClient

from borrowers.choices import BorrowerKind, Channel, Relation, RiskGrade
from borrowers.models import Borrower, ContactPoint
from core import roles
from core.models import ActivityLog
from tests.borrowers.factories import BorrowerFactory, EnterpriseFactory, make_resident_id

pytestmark = pytest.mark.django_db

BORROWERS = "/api/v1/borrowers/"
VALID_RESIDENT_ID = "11010519491231002X"


@pytest.fixture
def officer(staff_client):
    return staff_client(roles.OFFICER)


@pytest.fixture
def manager(staff_client):
    return staff_client(roles.MANAGER)


@pytest.fixture
def reader(staff_client):
    """Reads every borrower without `unmask_pii` (an officer reads their own cases' borrowers only)."""
    return staff_client(roles.AUDITOR)


def assert_error(response, status_code, code="invalid", fields=()):
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    for field in fields:
        assert error["fields"][field], error
    return error


def new_borrower(**overrides):
    return {
        "kind": "person",
        "name": "李四",
        "id_number": VALID_RESIDENT_ID,
        "phone": "138 1234 5678",
        "email": "Li.Si@Example.CN",
        **overrides,
    }


# --- Reading -----------------------------------------------------------------------------------------


def test_a_reader_without_unmask_lists_borrowers_with_id_numbers_and_phones_masked(reader):
    borrower = BorrowerFactory()

    response = reader.get(BORROWERS)

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == borrower.pk and row["name"] == borrower.name
    assert row["id_number"] == borrower.masked_id_number != borrower.id_number
    assert row["phone"] == borrower.masked_phone != borrower.phone
    assert "****" in row["phone"]


def test_a_manager_holds_unmask_pii_and_sees_identifiers_in_full(manager):
    borrower = BorrowerFactory()

    [row] = manager.get(BORROWERS).json()["results"]

    assert row["id_number"] == borrower.id_number
    assert row["phone"] == borrower.phone


def test_an_api_client_sees_identifiers_only_with_the_unmask_permission(api_client_for):
    borrower = BorrowerFactory()
    masked = api_client_for("crm", "borrowers.view_borrower")
    unmasked = api_client_for("bureau", "borrowers.view_borrower", "collection.unmask_pii")

    assert masked.get(BORROWERS).json()["results"][0]["id_number"] == borrower.masked_id_number
    assert unmasked.get(BORROWERS).json()["results"][0]["id_number"] == borrower.id_number


def test_the_browser_reads_borrowers_with_its_session(staff_client):
    BorrowerFactory()
    client = staff_client(roles.OFFICER, session=True)

    assert client.get(BORROWERS).status_code == 200


def test_retrieve_nests_contact_points_and_masks_their_phone_numbers(reader, manager):
    borrower = BorrowerFactory()
    ContactPoint.objects.create(borrower=borrower, channel=Channel.MOBILE, value=borrower.phone)
    ContactPoint.objects.create(borrower=borrower, channel=Channel.EMAIL, value=borrower.email)

    as_officer = reader.get(f"{BORROWERS}{borrower.pk}/").json()
    as_manager = manager.get(f"{BORROWERS}{borrower.pk}/").json()

    by_channel = {point["channel"]: point["value"] for point in as_officer["contact_points"]}
    assert by_channel == {"mobile": borrower.masked_phone, "email": borrower.email}
    assert {point["value"] for point in as_manager["contact_points"]} == {borrower.phone, borrower.email}
    assert as_officer["time_zone"] == "Asia/Shanghai"


def test_an_unknown_borrower_is_a_404_in_the_error_shape(officer):
    assert_error(officer.get(f"{BORROWERS}999999/"), 404, code="not_found")
    assert_error(officer.get(f"{BORROWERS}99999999999999999999999/"), 404, code="not_found")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "enterprise"}, "enterprise"),
        ({"risk_grade": "E"}, "risky"),
        ({"id_number": VALID_RESIDENT_ID.lower()}, "known"),
        ({"phone": "138 1234 5678"}, "known"),
        ({"phone": "+86 13812345678"}, "known"),
    ],
)
def test_borrowers_filter_by_kind_grade_identifier_and_phone(reader, query, expected):
    named = {
        "enterprise": EnterpriseFactory(),
        "risky": BorrowerFactory(risk_grade=RiskGrade.E),
        "known": BorrowerFactory(id_number=VALID_RESIDENT_ID, phone="+8613812345678"),
    }

    response = reader.get(BORROWERS, query)

    assert [row["id"] for row in response.json()["results"]] == [named[expected].pk]


def test_a_phone_query_that_is_not_a_phone_number_finds_nothing(officer):
    BorrowerFactory()

    response = officer.get(BORROWERS, {"phone": "not a phone"})

    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("query", [{"kind": "robot"}, {"risk_grade": "Z"}, {"page_size": "501"}, {"page_size": "x"}])
def test_bad_filters_are_a_400_naming_the_parameter(officer, query):
    assert_error(officer.get(BORROWERS, query), 400, fields=list(query))


def test_the_borrower_list_does_not_query_per_row(reader, django_assert_max_num_queries):
    BorrowerFactory.create_batch(2)
    with django_assert_max_num_queries(4):
        assert len(reader.get(BORROWERS).json()["results"]) == 2
    BorrowerFactory.create_batch(8)
    with django_assert_max_num_queries(4):
        assert len(reader.get(BORROWERS).json()["results"]) == 10


# --- Creating ----------------------------------------------------------------------------------------


def test_a_manager_registers_a_borrower_through_the_service(manager):
    response = manager.post(BORROWERS, new_borrower(monthly_income="8500.00", risk_grade="B"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    borrower = Borrower.objects.get(pk=body["id"])
    assert borrower.phone == "+8613812345678" and borrower.email == "li.si@example.cn"
    assert body["id_number"] == VALID_RESIDENT_ID  # managers see it unmasked
    assert body["monthly_income"] == "8500.00"
    assert {(p["channel"], p["value"]) for p in body["contact_points"]} == {
        ("mobile", "+8613812345678"),
        ("email", "li.si@example.cn"),
    }
    assert ActivityLog.objects.filter(action="borrowers.borrower.created", target_id=str(borrower.pk)).exists()


def test_an_api_client_registers_an_enterprise_and_sees_it_masked(api_client_for):
    client = api_client_for("core-banking", "borrowers.add_borrower")
    code = EnterpriseFactory.build().id_number

    response = client.post(BORROWERS, {"kind": "enterprise", "name": "回收科技有限公司", "id_number": code})

    assert response.status_code == 201, response.content
    assert response.json()["id_number"] == Borrower.objects.get().masked_id_number
    assert response.json()["kind"] == BorrowerKind.ENTERPRISE


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id_number": "110105194912310021"}, "id_number", "check digit"),
        ({"phone": "12345"}, "phone", "phone number"),
        ({"email": "not-an-email"}, "email", "email"),
        ({"kind": "robot"}, "kind", "valid choice"),
        ({"monthly_income": 8500.5}, "monthly_income", "decimal string"),
        ({"monthly_income": "-1.00"}, "monthly_income", "greater than or equal"),
        ({"monthly_income": "1.005"}, "monthly_income", "2 decimal places"),
        ({"external_credit_score": 10}, "external_credit_score", "greater than or equal"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "time zone"),
        ({"name": ""}, "name", "blank"),
    ],
)
def test_bad_borrower_input_is_a_400_naming_the_field_and_writes_nothing(manager, overrides, field, message):
    response = manager.post(BORROWERS, new_borrower(**overrides), format="json")

    error = assert_error(response, 400, fields=[field])
    assert message in " ".join(error["fields"][field])
    assert not Borrower.objects.exists() and not ActivityLog.objects.exists()


def test_the_same_identifier_twice_is_refused(manager):
    BorrowerFactory(id_number=VALID_RESIDENT_ID)

    assert_error(manager.post(BORROWERS, new_borrower(), format="json"), 400)
    assert Borrower.objects.count() == 1


def test_malformed_json_is_a_400_in_the_error_shape(manager):
    response = manager.post(BORROWERS, data='{"name": ', content_type="application/json")

    assert_error(response, 400, code="parse_error")


def test_an_officer_may_not_register_borrowers(officer):
    assert_error(officer.post(BORROWERS, new_borrower(), format="json"), 403, code="permission_denied")
    assert not Borrower.objects.exists()


def test_anonymous_requests_are_a_401():
    client = APIClient()
    assert_error(client.get(BORROWERS), 401, code="not_authenticated")
    assert_error(client.post(BORROWERS, new_borrower(), format="json"), 401, code="not_authenticated")


def test_a_payment_gateway_may_not_read_borrowers(api_client_for):
    gateway = api_client_for("gateway", "loans.add_payment")

    assert_error(gateway.get(BORROWERS), 403, code="permission_denied")


# --- Contact points ----------------------------------------------------------------------------------


def contact_points_url(borrower):
    return f"{BORROWERS}{borrower.pk}/contact-points/"


def test_a_manager_adds_a_guarantor_phone(manager):
    borrower = BorrowerFactory()
    body = {"channel": "mobile", "value": "139 0000 1111", "relation": "guarantor", "contact_name": "王五"}

    response = manager.post(contact_points_url(borrower), body, format="json")

    assert response.status_code == 201, response.content
    point = ContactPoint.objects.get(pk=response.json()["id"])
    assert (point.value, point.relation) == ("+8613900001111", Relation.GUARANTOR)
    assert response.json()["value"] == "+8613900001111"
    assert ActivityLog.objects.filter(action="borrowers.contact_point.created").count() == 1


def test_contact_points_need_the_contact_point_permission_not_the_borrower_one(api_client_for):
    borrower = BorrowerFactory()
    body = {"channel": "email", "value": "someone@example.cn"}
    may_add_points = api_client_for("crm", "borrowers.add_contactpoint")
    may_add_borrowers = api_client_for("onboarding", "borrowers.add_borrower")

    assert may_add_points.post(contact_points_url(borrower), body).status_code == 201
    assert_error(may_add_borrowers.post(contact_points_url(borrower), body), 403, code="permission_denied")


def test_an_officer_may_not_add_contact_points_and_anonymous_must_sign_in(officer):
    borrower = BorrowerFactory()
    body = {"channel": "email", "value": "a@example.cn"}

    assert_error(officer.post(contact_points_url(borrower), body), 403, code="permission_denied")
    assert_error(APIClient().post(contact_points_url(borrower), body), 401, code="not_authenticated")
    assert not borrower.contact_points.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "mobile", "value": "12"}, "value"),
        ({"channel": "pigeon", "value": "roof"}, "channel"),
        ({"channel": "mobile", "value": "13900001111", "relation": "spouse"}, "contact_name"),
        ({"channel": "mobile"}, "value"),
    ],
)
def test_bad_contact_points_are_a_400_naming_the_field(manager, body, field):
    borrower = BorrowerFactory()

    assert_error(manager.post(contact_points_url(borrower), body, format="json"), 400, fields=[field])
    assert not borrower.contact_points.exists()


def test_a_contact_point_for_an_unknown_borrower_is_a_404(manager):
    response = manager.post(f"{BORROWERS}999999/contact-points/", {"channel": "email", "value": "a@example.cn"})

    assert_error(response, 404, code="not_found")


def test_resident_ids_made_by_the_factory_are_valid_input(manager):
    # Guards the fixtures above: the API accepts what the factory produces.
    response = manager.post(BORROWERS, new_borrower(id_number=make_resident_id(), phone=""), format="json")

    assert response.status_code == 201, response.content


def test_reads_that_show_identifiers_in_full_are_logged_and_masked_ones_are_not(manager, reader):
    from core.models import ActivityLog

    first, second = BorrowerFactory(), BorrowerFactory()
    assert reader.get(BORROWERS).status_code == 200 and reader.get(f"{BORROWERS}{first.pk}/").status_code == 200
    assert not ActivityLog.objects.filter(action="borrowers.borrower.pii_read").exists()
    assert manager.get(BORROWERS).status_code == 200
    assert manager.get(f"{BORROWERS}{first.pk}/").status_code == 200
    logged = ActivityLog.objects.filter(action="borrowers.borrower.pii_read").order_by("id")
    assert sorted(entry.target_id for entry in logged[:2]) == sorted([str(first.pk), str(second.pk)])
    assert logged.count() == 3 and logged.last().target_id == str(first.pk)
    assert {entry.data["via"] for entry in logged} == {"api"}
