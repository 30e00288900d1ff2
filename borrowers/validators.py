"""Identifier, phone and e-mail checks. Each raises Django's ValidationError with a message a person
can act on, and returns the value in its canonical form."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc


def resident_id(value):
    """An 18-character PRC resident identity card number (GB 11643), with its check digit."""
    try:
        return ric.validate(value)
    except stdnum_errors.InvalidLength:
        raise ValidationError(_("A resident ID number has 18 characters."), code="invalid_length") from None
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(_("This resident ID number's check digit is wrong."), code="invalid_checksum") from None
    except stdnum_errors.ValidationError:
        raise ValidationError(_("This is not a valid resident ID number."), code="invalid") from None


def social_credit_code(value):
    """An 18-character unified social credit code (GB 32100). stdnum.cn.uscc.validate insists the
    first eight characters are digits, which wrongly rejects codes registered by authorities A, N and
    Y; so the format is checked here and only the check digit is left to stdnum."""
    code = uscc.compact(value or "")
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    if len(code) != 18:
        raise ValidationError(_("A unified social credit code has 18 characters."), code="invalid_length")
    if any(c not in alphabet for c in code) or not code[2:8].isdigit():
        raise ValidationError(_("This is not a valid unified social credit code."), code="invalid")
    if code[-1] != uscc.calc_check_digit(code[:-1]):
        raise ValidationError(_("This unified social credit code's check digit is wrong."), code="invalid_checksum")
    return code


def mobile_phone(value, region="CN"):
    """A mobile number, returned in E.164 (+8613812345678)."""
    number = _parse_phone(value, region)
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValidationError(_("This is not a mobile phone number."), code="not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def any_phone(value, region="CN"):
    """A mobile or landline number, returned in E.164."""
    return phonenumbers.format_number(_parse_phone(value, region), phonenumbers.PhoneNumberFormat.E164)


def phone_search_term(value, region="CN"):
    """What a number typed into a search box is stored as (13912345678 -> +8613912345678), or None
    when it is not a phone number."""
    try:
        return any_phone(value, region)
    except ValidationError:
        return None


def _parse_phone(value, region):
    try:
        number = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("This is not a phone number."), code="invalid") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This is not a valid phone number."), code="invalid")
    return number


def email(value):
    value = (value or "").strip()
    validate_email(value)
    return value.lower()
