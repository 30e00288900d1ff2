"""The SMS backends, the HTTP one against the fake gateway server on loopback."""

import json

import pytest

from collection import sms
from tests.fakes.sms_gateway import FakeGateway

MESSAGE = sms.Sms(to="+8613800138000", text="【回收】您好 回复TD退订", idempotency_key="C1-S2-sms-P0-2026-02-16")


@pytest.fixture
def fake():
    with FakeGateway(token="t0ken") as gateway:
        yield gateway


def http(fake, **options):
    return sms.HttpBackend(url=fake.url, token=options.pop("token", "t0ken"), timeout=options.pop("timeout", 0.5))


def test_http_posts_json_with_the_bearer_token_and_the_idempotency_key(fake, settings):
    message_id = http(fake).send(MESSAGE)
    assert message_id == "gw-1"
    assert fake.requests == [
        {
            "to": "+8613800138000",
            "text": "【回收】您好 回复TD退订",
            "sender": settings.LENDER_NAME,
            "idempotency_key": MESSAGE.idempotency_key,
        }
    ]


def test_a_repeat_with_the_same_key_is_answered_with_the_first_id_and_not_delivered_again(fake):
    backend = http(fake)
    assert backend.send(MESSAGE) == backend.send(MESSAGE) == "gw-1"
    assert len(fake.requests) == 2 and len(fake.deliveries) == 1


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (503, True), (429, True), (400, False)])
def test_gateway_errors_map_to_transient_or_permanent(fake, status, transient):
    fake.fail_next(1, status=status)
    with pytest.raises(sms.SendError) as error:
        http(fake).send(MESSAGE)
    assert error.value.transient is transient
    assert str(status) in str(error.value)


def test_a_wrong_token_is_permanent(fake):
    with pytest.raises(sms.PermanentError, match="401"):
        http(fake, token="wrong").send(MESSAGE)


def test_a_timeout_is_transient(fake):
    fake.hang_next(1, seconds=1.0)
    with pytest.raises(sms.TransientError, match="unreachable"):
        http(fake, timeout=0.2).send(MESSAGE)


def test_a_gateway_that_is_down_is_transient():
    gateway = FakeGateway().start()
    url = gateway.url
    gateway.stop()
    with pytest.raises(sms.TransientError):
        sms.HttpBackend(url=url, token="x", timeout=0.5).send(MESSAGE)


def test_the_file_backend_appends_one_json_line_per_message(tmp_path):
    backend = sms.FileBackend(path=tmp_path)
    backend.send(MESSAGE)
    backend.send(MESSAGE)
    (written,) = tmp_path.iterdir()
    lines = [json.loads(line) for line in written.read_text(encoding="utf-8").splitlines()]
    assert [line["to"] for line in lines] == ["+8613800138000"] * 2
    assert lines[0]["text"] == MESSAGE.text


def test_the_console_backend_prints(capsys):
    assert sms.ConsoleBackend().send(MESSAGE).startswith("console-")
    assert "[SMS to +8613800138000]" in capsys.readouterr().out


def test_the_backend_comes_from_settings(settings):
    settings.SMS_BACKEND = "locmem"
    assert isinstance(sms.get_backend(), sms.LocmemBackend)
    settings.SMS_BACKEND = "pigeon"
    with pytest.raises(ValueError, match="SMS_BACKEND must be one of"):
        sms.get_backend()
