"""Reminder templates: a text that does not render is refused when saved; every message names the
lender and carries the opt-out line, in the borrower's language."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from borrowers.choices import Language
from collection import templating
from collection.choices import Recipient, ReminderChannel
from collection.models import CollectionStrategy, ReminderTemplate, StrategyStep
from loans.choices import ProductKind

pytestmark = pytest.mark.django_db

VARIABLES = templating.borrower_variables(
    name="张三",
    amount_overdue=Decimal("1234.5"),
    amount_due=Decimal("1000"),
    due_date=None,
    days_past_due=3,
    loan_reference="L00001234",
)


def template(**changes):
    fields = {
        "code": "t",
        "name": "t",
        "channel": ReminderChannel.SMS,
        "body_zh_hans": "{{ name }}您好，逾期金额{{ amount_overdue }}。",
        "body_en": "Dear {{ name }}, {{ amount_overdue }} is overdue.",
    }
    return ReminderTemplate(**{**fields, **changes})


def test_the_defaults_give_every_product_kind_a_strategy_that_renders(default_strategies):
    assert set(CollectionStrategy.objects.values_list("product_kind", flat=True)) == set(ProductKind.values)
    offsets = list(
        StrategyStep.objects.filter(strategy__product_kind=ProductKind.CONSUMER_CREDIT).values_list(
            "offset_days", "channel"
        )
    )
    assert offsets == [
        (-3, "sms"),
        (1, "sms"),
        (3, "sms"),
        (3, "email"),
        (7, "call_task"),
        (15, "email"),
        (30, "sms"),
        (30, "email"),
    ]
    for saved in ReminderTemplate.objects.all():
        saved.full_clean()
    for step in StrategyStep.objects.select_related("template"):
        step.full_clean()


def test_an_sms_is_signed_with_the_lenders_name_and_carries_the_opt_out_line(settings):
    zh = templating.compose(template(), language=Language.ZH_HANS, variables=VARIABLES)
    en = templating.compose(template(), language=Language.EN, variables=VARIABLES)
    assert zh.body == f"【{settings.LENDER_NAME}】张三您好，逾期金额¥1,234.50。 回复TD退订"
    assert en.body == f"【{settings.LENDER_NAME}】Dear 张三, ¥1,234.50 is overdue. Reply TD to unsubscribe."


def test_an_email_ends_with_the_lender_the_hotline_and_the_opt_out(settings):
    email = template(channel=ReminderChannel.EMAIL, subject_en="Overdue: {{ amount_overdue }}", subject_zh_hans="逾期")
    message = templating.compose(email, language=Language.EN, variables=VARIABLES)
    assert message.subject == "Overdue: ¥1,234.50"
    assert settings.LENDER_NAME in message.body and settings.LENDER_HOTLINE in message.body
    assert "To stop these emails, reply UNSUBSCRIBE" in message.body
    chinese = templating.compose(email, language=Language.ZH_HANS, variables=VARIABLES)
    assert chinese.subject == "逾期" and "如不希望再收到此类邮件" in chinese.body


def test_an_opt_out_line_written_in_the_template_is_not_repeated():
    text = template(body_en="Dear {{ name }}. {{ opt_out }}")
    body = templating.compose(text, language=Language.EN, variables=VARIABLES).body
    assert body.count("Reply TD to unsubscribe.") == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"body_en": "Dear {{ nmae }}"}, "body_en", "Unknown variable “nmae”"),
        ({"body_zh_hans": "{% if %}"}, "body_zh_hans", "does not render"),
        ({"body_en": "{{ name|nosuchfilter }}"}, "body_en", "does not render"),
        ({"body_en": "{% include 'base.html' %}"}, "body_en", "does not render"),
        ({"body_en": "{% load static %}"}, "body_en", "does not render"),
        (
            {"recipient": Recipient.THIRD_PARTY, "body_en": "Tell {{ borrower_name }}: {{ amount_overdue }}"},
            "body_en",
            "Unknown variable “amount_overdue”",
        ),
        ({"channel": ReminderChannel.EMAIL, "subject_en": "Hi"}, "subject_zh_hans", "needs a subject"),
    ],
)
def test_a_template_that_does_not_render_is_refused(changes, field, words):
    with pytest.raises(ValidationError) as refused:
        template(**changes).full_clean()
    assert words in " ".join(refused.value.message_dict[field])


def test_a_third_party_text_may_name_the_borrower_but_not_the_amount():
    text = template(
        recipient=Recipient.THIRD_PARTY,
        body_zh_hans="{{ contact_name }}您好，请转告{{ borrower_name }}致电{{ hotline }}。",
        body_en="Dear {{ contact_name }}, please ask {{ borrower_name }} to call {{ hotline }}.",
    )
    text.full_clean()


def test_the_admin_refuses_a_broken_template_and_shows_the_error():
    User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(User.objects.get(username="root"))
    response = client.post(
        "/admin/collection/remindertemplate/add/",
        {
            "code": "broken",
            "name": "Broken",
            "channel": "sms",
            "recipient": "borrower",
            "body_zh_hans": "{{ name }}",
            "body_en": "Dear {{ nmae }}",
        },
    )
    assert response.status_code == 200
    assert "Unknown variable “nmae”" in response.content.decode()
    assert not ReminderTemplate.objects.filter(code="broken").exists()
