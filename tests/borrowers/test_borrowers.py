import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import ric, uscc

from borrowers import validators
from borrowers.choices import BorrowerKind, Channel, Relation
from borrowers.models import Borrower
from borrowers.services import borrower_create, contact_point_create
from core.models import ActivityLog
from tests.borrowers.factories import BorrowerFactory, make_credit_code, make_resident_id

VALID_RESIDENT_ID = "11010519491231002X"


def test_resident_id_with_a_good_check_digit_is_accepted():
    assert validators.resident_id(VALID_RESIDENT_ID) == VALID_RESIDENT_ID
    generated = make_resident_id()
    assert validators.resident_id(generated) == generated


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("11010519491331002" + ric.calc_check_digit("110105194913310020"), "not a valid"),  # month 13
    ],
)
def test_bad_resident_ids_are_refused_with_a_clear_message(value, message):
    with pytest.raises(ValidationError) as error:
        validators.resident_id(value)
    assert message in error.value.messages[0]


@pytest.mark.parametrize("authority", ["9", "1", "5", "A", "N", "Y"])
def test_social_credit_codes_of_every_registering_authority_are_accepted(authority):
    # stdnum's own validate() rejects A, N and Y; ours checks only the check digit for those.
    code = make_credit_code(authority=authority)
    assert validators.social_credit_code(code) == code


def test_a_known_social_credit_code_and_a_bad_check_digit():
    assert validators.social_credit_code("91110000600037341L") == "91110000600037341L"
    body = "N1110000MA0000001"
    good = body + uscc.calc_check_digit(body)
    assert validators.social_credit_code(good) == good
    wrong = body + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError, match="check digit"):
        validators.social_credit_code(wrong)
    with pytest.raises(ValidationError, match="18 characters"):
        validators.social_credit_code("9111000060003734")
    with pytest.raises(ValidationError, match="not a valid"):
        validators.social_credit_code("91ABCDEF600037341L")


def test_mobile_numbers_are_kept_in_e164():
    assert validators.mobile_phone("138 0013 8000") == "+8613800138000"
    assert validators.mobile_phone("+86 138-0013-8000") == "+8613800138000"
    with pytest.raises(ValidationError):
        validators.mobile_phone("12345")
    with pytest.raises(ValidationError, match="mobile"):
        validators.mobile_phone("010 6552 9988")  # a Beijing landline
    assert validators.any_phone("010 6552 9988") == "+861065529988"


@pytest.mark.django_db
def test_borrower_create_canonicalises_and_adds_own_contact_points():
    borrower = borrower_create(
        actor="system",
        kind=BorrowerKind.PERSON,
        name="王小明",
        id_number=VALID_RESIDENT_ID.lower(),
        phone="138 0013 8000",
        email=" Wang@Example.CN ",
        address="北京市朝阳区建国路 1 号",
    )
    assert borrower.id_number == VALID_RESIDENT_ID
    assert borrower.phone == "+8613800138000" and borrower.email == "wang@example.cn"
    assert set(borrower.contact_points.values_list("channel", flat=True)) == {
        Channel.MOBILE,
        Channel.EMAIL,
        Channel.ADDRESS,
    }
    assert ActivityLog.objects.filter(action="borrowers.borrower.created", target_id=str(borrower.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"kind": BorrowerKind.ENTERPRISE}, "id_number"),  # a resident ID is no credit code
    ],
)
def test_invalid_borrowers_are_refused_naming_the_field_and_nothing_is_saved(fields, bad_field):
    data = {"kind": BorrowerKind.PERSON, "name": "李四", "id_number": VALID_RESIDENT_ID, "phone": "13800138000"}
    data.update(fields)
    with pytest.raises(ValidationError) as error:
        borrower_create(actor="system", **data)
    assert bad_field in error.value.message_dict
    assert not Borrower.objects.exists()


@pytest.mark.django_db
def test_the_same_id_number_cannot_be_registered_twice_for_one_kind():
    BorrowerFactory(id_number=VALID_RESIDENT_ID)
    with pytest.raises(ValidationError) as error:
        borrower_create(actor="system", kind=BorrowerKind.PERSON, name="重复", id_number=VALID_RESIDENT_ID)
    assert "__all__" in error.value.message_dict or "id_number" in error.value.message_dict


@pytest.mark.django_db
def test_third_party_contact_points_need_a_name_and_a_valid_value():
    borrower = BorrowerFactory()
    with pytest.raises(ValidationError) as error:
        contact_point_create(
            actor="system", borrower=borrower, channel=Channel.MOBILE, value="13900139000", relation=Relation.EMERGENCY
        )
    assert "contact_name" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        contact_point_create(
            actor="system", borrower=borrower, channel=Channel.MOBILE, value="999", relation=Relation.SELF
        )
    assert "value" in error.value.message_dict
    point = contact_point_create(
        actor="system",
        borrower=borrower,
        channel=Channel.MOBILE,
        value="139 0013 9000",
        relation=Relation.EMERGENCY,
        contact_name="王芳",
    )
    assert point.value == "+8613900139000" and point.is_third_party


def test_masking_hides_the_middle_of_identifiers():
    borrower = Borrower(id_number=VALID_RESIDENT_ID, phone="+8613800138000")
    assert borrower.masked_id_number == "1101**********002X"
    assert borrower.masked_phone == "+86138****8000"
