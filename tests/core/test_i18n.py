"""Simplified Chinese by default, English on request; the compiled catalogue ships with the code."""

import pytest
from django.test import Client, override_settings
from django.utils import translation

from core.errors import ApplicationError
from core.money import parse_amount


def test_messages_are_translated_to_simplified_chinese():
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as error:
        parse_amount("-3")
    assert error.value.message == "金额必须为正数。"
    with translation.override("en"), pytest.raises(ApplicationError) as error:
        parse_amount("-3")
    assert error.value.message == "The amount must be positive."


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="zh-hans")
def test_pages_speak_chinese_by_default_and_english_on_request():
    client = Client()
    assert "登录" in client.get("/admin/login/").content.decode()
    english = client.get("/admin/login/", headers={"accept-language": "en"}).content.decode()
    assert "Log in" in english
