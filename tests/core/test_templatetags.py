from decimal import Decimal

import pytest

from core.templatetags.huishou import yuan


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.56"), "¥1,234.56"),
        (Decimal("1234.565"), "¥1,234.57"),  # half-up to the fen
        (Decimal("-0.5"), "-¥0.50"),
        (Decimal("0"), "¥0.00"),
        ("1000000", "¥1,000,000.00"),
        (None, ""),
        ("n/a", ""),
    ],
)
def test_yuan_formats_money_with_the_sign_and_thousands(value, shown):
    assert yuan(value) == shown


def test_a_form_reads_an_amount_typed_in_full_width_as_what_it_says():
    from decimal import Decimal

    from core.forms import AmountField

    field = AmountField()
    assert field.clean("１２５０．００") == Decimal("1250.00")
    assert field.clean("1,250.50") == Decimal("1250.50")
