"""Email reminders through Django's SMTP backend to a real SMTP server on loopback (aiosmtpd)."""

import socket
from datetime import date
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from collection.choices import ReminderStatus
from collection.models import Reminder
from tests.collection.test_reminder_dispatch import dispatch, run

pytestmark = pytest.mark.django_db
D3 = date(2026, 2, 18)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox(Message):
    def __init__(self):
        super().__init__(message_class=None)
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)

    def prepare_message(self, session, envelope):
        return message_from_bytes(envelope.original_content, policy=policy.default)


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = free_port()  # aiosmtpd's start-up check connects to the port it was given, so not 0
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield inbox
    controller.stop()


def test_email_reminders_reach_the_mail_server_with_subject_lender_and_opt_out(reminder_book, smtp, settings):
    for day in range(16, 19):
        run(D3.replace(day=day))
    Reminder.objects.exclude(channel="email").delete()
    borrower = reminder_book["loans"][0].borrower
    borrower.language = "en"
    borrower.save()
    summary = dispatch(D3, 10)
    assert summary.sent == 3
    assert len(smtp.messages) == 3
    by_address = {message["To"]: message for message in smtp.messages}
    english = by_address[borrower.email]
    assert english["Subject"].strip().startswith("Payment reminder: your loan ending")
    body = english.get_content()
    assert settings.LENDER_NAME in body and "To stop these emails, reply UNSUBSCRIBE" in body
    chinese = next(message for address, message in by_address.items() if address != borrower.email)
    assert chinese["Subject"].strip().startswith("还款提醒")
    row = Reminder.objects.get(address=borrower.email)
    assert english["Message-ID"] == row.provider_message_id == f"<{row.idempotency_key}@huishou>"


def test_a_mail_server_that_is_down_means_a_retry_not_a_loss(reminder_book, settings):
    for day in range(16, 19):
        run(D3.replace(day=day))
    Reminder.objects.exclude(channel="email").delete()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    summary = dispatch(D3, 10)
    assert summary.retried == 3
    assert set(Reminder.objects.values_list("status", flat=True)) == {ReminderStatus.SCHEDULED}
