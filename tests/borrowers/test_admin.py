import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from borrowers.choices import BorrowerKind, Channel, Relation
from borrowers.models import Borrower, ContactPoint
from core.models import ActivityLog
from tests.borrowers.factories import BorrowerFactory, EnterpriseFactory, make_resident_id

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:borrowers_borrower_changelist")
ADD = reverse("admin:borrowers_borrower_add")
NO_CONTACT_POINTS = {
    "contact_points-TOTAL_FORMS": "0",
    "contact_points-INITIAL_FORMS": "0",
    "contact_points-MIN_NUM_FORMS": "0",
    "contact_points-MAX_NUM_FORMS": "1000",
}


def borrower_form(**overrides):
    """What the add/change form posts for a person, with no contact points."""
    data = {
        "kind": BorrowerKind.PERSON,
        "name": "王五",
        "id_number": make_resident_id(),
        "phone": "13812345678",
        "email": "Wang.Wu@Example.cn",
        "address": "",
        "monthly_income": "",
        "employer": "",
        "industry": "",
        "external_credit_score": "",
        "risk_grade": "",
        "language": "zh-hans",
        "time_zone": "Asia/Shanghai",
        "do_not_contact_reason": "",
        "do_not_contact_until": "",
        **NO_CONTACT_POINTS,
    }
    data.update(overrides)
    return data


def change_url(borrower):
    return reverse("admin:borrowers_borrower_change", args=[borrower.pk])


def results(response):
    return list(response.context["cl"].result_list)


# --- The list ----------------------------------------------------------------------------------------


def test_changelist_lists_borrowers_with_masked_id_number_and_phone(admin_client):
    borrower = BorrowerFactory(name="赵六", phone="+8613812345678", do_not_contact=True)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert results(response) == [borrower]
    content = response.content.decode()
    assert "赵六" in content
    assert borrower.masked_id_number in content
    assert borrower.id_number not in content
    assert "+86138****5678" in content
    assert "+8613812345678" not in content


@pytest.mark.parametrize("field", ["name", "id_number", "phone", "email"])
def test_search_finds_the_borrower_by_field(admin_client, field):
    wanted, _other = BorrowerFactory(), BorrowerFactory()

    response = admin_client.get(CHANGELIST, {"q": getattr(wanted, field)})

    assert results(response) == [wanted]


def test_search_by_phone_without_country_code(admin_client):
    wanted = BorrowerFactory(phone="+8613912345678")
    BorrowerFactory(phone="+8615012345678")

    assert results(admin_client.get(CHANGELIST, {"q": "13912345678"})) == [wanted]


def test_search_by_contact_point_value_lists_the_borrower_once(admin_client):
    wanted, _other = BorrowerFactory(), BorrowerFactory()
    for relation, name in [(Relation.SPOUSE, "配偶"), (Relation.EMERGENCY, "紧急联系人")]:
        ContactPoint.objects.create(
            borrower=wanted, channel=Channel.MOBILE, value="+8617712340000", relation=relation, contact_name=name
        )

    response = admin_client.get(CHANGELIST, {"q": "17712340000"})

    assert results(response) == [wanted]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": BorrowerKind.ENTERPRISE}, "enterprise"),
        ({"risk_grade": "E"}, "person"),
        ({"language": "en"}, "enterprise"),
        ({"do_not_contact__exact": "1"}, "person"),
        ({"is_deceased__exact": "1"}, "person"),
        ({"is_bankrupt__exact": "1"}, "enterprise"),
    ],
)
def test_changelist_filters(admin_client, params, expected):
    borrowers = {
        "person": BorrowerFactory(risk_grade="E", do_not_contact=True, is_deceased=True),
        "enterprise": EnterpriseFactory(language="en", is_bankrupt=True),
    }

    response = admin_client.get(CHANGELIST, params)

    assert results(response) == [borrowers[expected]]


def test_changelist_query_count_does_not_grow_with_borrowers(admin_client):
    BorrowerFactory.create_batch(20)
    with CaptureQueriesContext(connection) as twenty:
        assert admin_client.get(CHANGELIST).status_code == 200
    BorrowerFactory.create_batch(20)

    with CaptureQueriesContext(connection) as forty:
        response = admin_client.get(CHANGELIST)

    assert len(results(response)) == 40
    assert len(forty) <= len(twenty)


# --- The change form ---------------------------------------------------------------------------------


def test_change_page_shows_the_full_identifiers_and_contact_points(admin_client):
    borrower = BorrowerFactory()
    ContactPoint.objects.create(borrower=borrower, channel=Channel.EMAIL, value="self@example.cn")

    response = admin_client.get(change_url(borrower))

    assert response.status_code == 200
    content = response.content.decode()
    assert borrower.id_number in content
    assert "self@example.cn" in content
    titles = [str(fieldset.name) for fieldset in response.context["adminform"]]
    assert titles == ["Identity", "Contact", "Finances", "Contact restrictions and consent", "Record"]


def test_add_form_rejects_an_invalid_resident_id_naming_the_field(admin_client):
    valid = make_resident_id()
    wrong_check_digit = valid[:-1] + ("0" if valid[-1] != "0" else "1")

    response = admin_client.post(ADD, borrower_form(id_number=wrong_check_digit))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["id_number"]
    assert "errors field-id_number" in response.content.decode()
    assert not Borrower.objects.exists()
    assert not ActivityLog.objects.exists()


def test_add_form_rejects_a_resident_id_of_the_wrong_length(admin_client):
    response = admin_client.post(ADD, borrower_form(id_number="11010119900101"))

    assert response.status_code == 200
    assert "id_number" in response.context["adminform"].form.errors
    assert not Borrower.objects.exists()


def test_add_form_rejects_an_invalid_phone_naming_the_field(admin_client):
    response = admin_client.post(ADD, borrower_form(phone="12345"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["phone"]
    assert "errors field-phone" in response.content.decode()
    assert not Borrower.objects.exists()


def test_add_form_rejects_a_duplicate_id_number(admin_client):
    existing = BorrowerFactory()

    response = admin_client.post(ADD, borrower_form(id_number=existing.id_number))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Borrower.objects.count() == 1


def test_add_form_accepts_an_enterprise_credit_code(admin_client):
    code = EnterpriseFactory.build().id_number

    response = admin_client.post(ADD, borrower_form(kind=BorrowerKind.ENTERPRISE, name="回收科技", id_number=code))

    assert response.status_code == 302
    assert Borrower.objects.get().id_number == code


def test_adding_a_borrower_canonicalises_and_logs_it(admin_client, admin_user):
    id_number = make_resident_id()

    response = admin_client.post(ADD, borrower_form(id_number=id_number))

    assert response.status_code == 302
    borrower = Borrower.objects.get()
    assert borrower.phone == "+8613812345678"
    assert borrower.email == "wang.wu@example.cn"
    entry = ActivityLog.objects.get(action="borrowers.borrower.created")
    assert entry.actor == admin_user
    assert entry.target_id == str(borrower.pk)
    assert entry.after["id_number"] == id_number
    assert entry.after["phone"] == "+8613812345678"


def test_changing_a_borrower_logs_the_changed_fields(admin_client, admin_user):
    borrower = BorrowerFactory(phone="+8613812345678")
    form = borrower_form(name=borrower.name, id_number=borrower.id_number, phone="13912345678", email=borrower.email)

    response = admin_client.post(
        change_url(borrower), {**form, "do_not_contact": "on", "do_not_contact_reason": "投诉"}
    )

    assert response.status_code == 302
    borrower.refresh_from_db()
    assert borrower.phone == "+8613912345678"
    assert borrower.do_not_contact
    entry = ActivityLog.objects.get(action="borrowers.borrower.changed")
    assert entry.actor == admin_user
    assert entry.before == {"phone": "+8613812345678", "do_not_contact": False, "do_not_contact_reason": ""}
    assert entry.after == {"phone": "+8613912345678", "do_not_contact": True, "do_not_contact_reason": "投诉"}


def test_saving_without_changes_logs_nothing(admin_client):
    borrower = BorrowerFactory()
    form = borrower_form(name=borrower.name, id_number=borrower.id_number, phone=borrower.phone, email=borrower.email)

    assert admin_client.post(change_url(borrower), form).status_code == 302

    assert not ActivityLog.objects.exists()


def test_retyping_a_phone_in_another_spelling_is_no_change(admin_client):
    borrower = BorrowerFactory(phone="+8613812345678")
    form = borrower_form(name=borrower.name, id_number=borrower.id_number, phone="138 1234 5678", email=borrower.email)

    assert admin_client.post(change_url(borrower), form).status_code == 302

    borrower.refresh_from_db()
    assert borrower.phone == "+8613812345678"
    assert not ActivityLog.objects.exists()


def test_borrower_autocomplete_searches_names_and_id_numbers(admin_client):
    wanted, _other = BorrowerFactory(), BorrowerFactory()
    params = {"app_label": "loans", "model_name": "loan", "field_name": "borrower"}

    for term in (wanted.name, wanted.id_number):
        response = admin_client.get(reverse("admin:autocomplete"), {**params, "term": term})
        assert [row["id"] for row in response.json()["results"]] == [str(wanted.pk)]


def test_contact_points_added_inline_are_validated_and_logged_against_the_borrower(admin_client):
    borrower = BorrowerFactory()
    base = borrower_form(name=borrower.name, id_number=borrower.id_number, phone=borrower.phone, email=borrower.email)
    inline = {
        "contact_points-TOTAL_FORMS": "1",
        "contact_points-0-relation": Relation.EMERGENCY,
        "contact_points-0-contact_name": "",
        "contact_points-0-channel": Channel.MOBILE,
        "contact_points-0-value": "13712345678",
    }

    refused = admin_client.post(change_url(borrower), {**base, **inline})
    assert refused.status_code == 200
    assert "contact_name" in refused.context["inline_admin_formsets"][0].formset.forms[0].errors

    accepted = admin_client.post(change_url(borrower), {**base, **inline, "contact_points-0-contact_name": "母亲"})

    assert accepted.status_code == 302
    point = borrower.contact_points.get(relation=Relation.EMERGENCY)
    assert point.value == "+8613712345678"
    entry = ActivityLog.objects.get(action="borrowers.contact_point.created")
    assert entry.target_id == str(borrower.pk)
    assert entry.after["value"] == "+8613712345678"
    assert entry.data["id"] == point.pk


def test_deleting_a_borrower_is_logged(admin_client):
    borrower = BorrowerFactory()
    borrower_id = borrower.pk

    response = admin_client.post(reverse("admin:borrowers_borrower_delete", args=[borrower.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Borrower.objects.exists()
    entry = ActivityLog.objects.get(action="borrowers.borrower.deleted")
    assert entry.target_id == str(borrower_id)
    assert entry.before["id_number"] == borrower.id_number


# --- Contact points ------------------------------------------------------------------------------------


def test_contact_point_changelist_search_and_change_page(admin_client):
    borrower = BorrowerFactory(name="孙七")
    point = ContactPoint.objects.create(
        borrower=borrower,
        channel=Channel.MOBILE,
        value="+8618612345678",
        relation=Relation.EMPLOYER,
        contact_name="人事部",
    )
    ContactPoint.objects.create(borrower=BorrowerFactory(), channel=Channel.EMAIL, value="x@example.cn")
    changelist = reverse("admin:borrowers_contactpoint_changelist")

    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert "孙七" in response.content.decode()
    assert results(admin_client.get(changelist, {"q": "18612345678"})) == [point]
    assert results(admin_client.get(changelist, {"q": "孙七"})) == [point]
    assert results(admin_client.get(changelist, {"relation__exact": Relation.EMPLOYER})) == [point]
    assert admin_client.get(reverse("admin:borrowers_contactpoint_change", args=[point.pk])).status_code == 200


def test_contact_point_added_on_its_own_page_is_logged_against_the_borrower(admin_client):
    borrower = BorrowerFactory()

    response = admin_client.post(
        reverse("admin:borrowers_contactpoint_add"),
        {
            "borrower": borrower.pk,
            "relation": Relation.SELF,
            "contact_name": "",
            "channel": Channel.LANDLINE,
            "value": "010-65123456",
            "invalid_since": "",
        },
    )

    assert response.status_code == 302
    assert borrower.contact_points.get().value == "+861065123456"
    entry = ActivityLog.objects.get(action="borrowers.contact_point.created")
    assert entry.target_id == str(borrower.pk)


@pytest.mark.django_db
def test_a_borrower_added_in_the_admin_gets_its_own_contact_points(admin_client):
    response = admin_client.post(
        reverse("admin:borrowers_borrower_add"),
        {
            "kind": "person",
            "name": "赵六",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
            "email": "zhao@example.cn",
            "address": "",
            "language": "zh-hans",
            "time_zone": "Asia/Shanghai",
            "contact_points-TOTAL_FORMS": "0",
            "contact_points-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    borrower = Borrower.objects.get(name="赵六")
    assert set(borrower.contact_points.values_list("channel", "value")) == {
        ("mobile", "+8613800138000"),
        ("email", "zhao@example.cn"),
    }
