"""Dispatching: each due reminder is sent once, deferred through quiet hours, suppressed by the
contact rules with the rule's code, retried with backoff on transient errors, and never lost."""

import threading
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from collection import daily, reminders, sms
from collection.choices import HoldReason, ReminderStatus
from collection.models import CollectionCase, Reminder, ReminderTemplate
from collection.services import case_hold
from core.models import ActivityLog
from loans import delinquency
from loans.services import payment_post
from tests.collection.conftest import at

pytestmark = pytest.mark.django_db
R = ReminderStatus
D1 = date(2026, 2, 16)  # the first overdue day: the D+1 SMS


def run(day):
    """The night's run, then the morning's planning (beat runs them at 00:30 and 06:00)."""
    with time_machine.travel(at(day, 1), tick=False):
        daily.run_daily(as_of=day)
    with time_machine.travel(at(day, 6), tick=False):
        reminders.reminders_plan(as_of=day)


def dispatch(day=D1, hour=10, minute=0):
    with time_machine.travel(at(day, hour, minute), tick=False):
        return reminders.reminders_dispatch(worker="test-worker", budget_seconds=30)


def statuses():
    return sorted(Reminder.objects.values_list("status", flat=True))


@pytest.fixture
def d1(reminder_book):
    run(D1)
    assert Reminder.objects.count() == 3
    return reminder_book


def test_due_reminders_are_sent_once_with_the_providers_id_and_logged(d1, sms_outbox):
    assert dispatch(hour=8, minute=59).claimed == 0  # not before the step's 09:00
    summary = dispatch()
    assert (summary.claimed, summary.sent) == (3, 3)
    assert statuses() == [R.SENT] * 3
    assert len(sms_outbox) == 3
    for row in Reminder.objects.select_related("loan__borrower"):
        assert row.provider_message_id == f"locmem-{row.idempotency_key}"
        assert row.sent_at == at(D1, 10) and row.claimed_by == "test-worker" and row.claim_token != ""
        assert (row.body.startswith("【") and "回复TD退订" in row.body) or "Reply TD" in row.body
        assert row.loan.borrower.name in row.body
    assert ActivityLog.objects.filter(action="collection.reminder.sent").count() == 3
    assert dispatch().claimed == 0  # nothing left: a second pass sends nothing
    assert len(sms_outbox) == 3


def test_a_reminder_due_in_quiet_hours_waits_for_eight_in_the_morning(d1, sms_outbox):
    Reminder.objects.update(due_at=at(D1, 21, 0))
    summary = dispatch(hour=22, minute=0)
    assert summary.deferred == 3 and not sms_outbox
    assert set(Reminder.objects.values_list("due_at", "status")) == {(at(D1 + timedelta(days=1), 8), R.SCHEDULED)}
    assert dispatch(D1 + timedelta(days=1), 7, 59).claimed == 0
    assert dispatch(D1 + timedelta(days=1), 8, 0).sent == 3


def test_a_borrower_in_another_time_zone_is_reminded_on_their_clock(d1, sms_outbox):
    borrower = d1["loans"][0].borrower
    borrower.time_zone = "Asia/Tokyo"  # an hour ahead of Shanghai
    borrower.save()
    Reminder.objects.update(due_at=at(D1, 21, 0))
    summary = dispatch(hour=21, minute=30)  # 22:30 in Tokyo
    assert (summary.sent, summary.deferred) == (2, 1)
    deferred = Reminder.objects.get(status=R.SCHEDULED)
    assert deferred.loan.borrower == borrower
    assert timezone.localtime(deferred.due_at).hour == 7  # 08:00 in Tokyo is 07:00 in Shanghai


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda loan, case: _borrower(loan, sms_opt_out=True), "opted_out"),
        (lambda loan, case: _borrower(loan, do_not_contact=True), "do_not_contact"),
        (lambda loan, case: _borrower(loan, is_deceased=True), "deceased"),
        (lambda loan, case: _borrower(loan, is_bankrupt=True), "bankrupt"),
        (lambda loan, case: _hold(case, HoldReason.DISPUTE), "dispute"),
        (lambda loan, case: _hold(case, HoldReason.COMPLAINT), "complaint"),
        (lambda loan, case: Reminder.objects.filter(loan=loan).update(address=""), "no_address"),
    ],
)
def test_a_stopped_reminder_is_suppressed_with_the_rule_and_logged(d1, sms_outbox, change, code):
    loan = d1["loans"][0]
    change(loan, CollectionCase.objects.get(loan=loan))
    summary = dispatch()
    assert (summary.sent, summary.suppressed, summary.codes) == (2, 1, {code: 1})
    row = Reminder.objects.get(loan=loan)
    assert (row.status, row.suppression_code) == (R.SUPPRESSED, code)
    assert row.last_error  # the rule's message, for the timeline
    entry = ActivityLog.objects.get(action="collection.reminder.suppressed")
    assert entry.data["rule"] == code and entry.target_id == str(row.case_id)
    assert len(sms_outbox) == 2


def _borrower(loan, **flags):
    for name, value in flags.items():
        setattr(loan.borrower, name, value)
    loan.borrower.save()


def _hold(case, reason):
    case_hold(actor="system", case=case, reason=reason, note="The borrower disputes the interest.")


def test_a_case_cured_before_sending_gets_no_reminder(d1, sms_outbox):
    loan = d1["loans"][0]
    loan.refresh_from_db()
    with time_machine.travel(at(D1, 9, 30), tick=False):
        payment_post(
            actor="system", loan=loan, amount=loan.overdue_amount, external_reference="cure-1", channel="bank_transfer"
        )
    assert dispatch().codes == {"paid": 1}


def test_a_due_soon_reminder_for_an_instalment_paid_meanwhile_is_suppressed(reminder_book, sms_outbox):
    day = date(2026, 2, 12)
    with time_machine.travel(at(day, 1), tick=False):
        reminders.reminders_plan(as_of=day)
    loan = reminder_book["loans"][0]
    installment = loan.installments.order_by("due_date").first()
    with time_machine.travel(at(day, 8), tick=False):
        payment_post(
            actor="system",
            loan=loan,
            amount=installment.principal_due + installment.interest_due,
            external_reference="early-1",
            channel="bank_transfer",
        )
    summary = dispatch(day, 9, 0)
    assert (summary.sent, summary.codes) == (2, {"paid": 1})
    assert Reminder.objects.get(loan=loan).case_id is None


def test_the_daily_cap_stops_a_third_sms_the_same_day(d1, sms_outbox):
    loan = d1["loans"][0]
    template = Reminder.objects.get(loan=loan)
    for n in range(2):
        Reminder.objects.create(
            idempotency_key=f"earlier-{n}",
            loan=loan,
            case=template.case,
            channel="sms",
            address=template.address,
            planned_for=D1,
            due_at=at(D1, 8),
            status=R.SENT,
            sent_at=at(D1, 8, n),
        )
    assert dispatch().codes == {"daily_cap": 1}


def test_a_call_task_brings_the_case_to_the_top_of_the_officers_worklist(reminder_book):
    for day in range(16, 23):
        run(date(2026, 2, day))
    Reminder.objects.exclude(channel="call_task").delete()
    CollectionCase.objects.update(next_action_at=at(date(2026, 2, 25)))
    summary = dispatch(date(2026, 2, 22), 23, 0)  # a task for the officer is not a contact: no quiet hours
    assert summary.sent == 3
    assert set(CollectionCase.objects.values_list("next_action_at", flat=True)) == {at(date(2026, 2, 22), 23)}


# --- The HTTP gateway: retries, backoff, failures ---------------------------------------------------


def test_a_gateway_500_is_retried_with_exponential_backoff_then_sent_once(d1, gateway, settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    gateway.fail_next(3, status=500)
    first = dispatch(hour=10)
    assert (first.sent, first.retried) == (0, 3)
    row = Reminder.objects.order_by("id").first()
    assert (row.status, row.attempts, row.due_at) == (R.SCHEDULED, 1, at(D1, 10, 1))
    assert "500" in row.last_error
    assert dispatch(hour=10, minute=1).sent == 3
    assert sorted(gateway.delivery_counts().values()) == [1, 1, 1]


def test_backoff_doubles_and_the_row_fails_after_the_last_try_with_the_error_kept(d1, gateway, settings):
    settings.REMINDER_MAX_ATTEMPTS = 4
    Reminder.objects.exclude(pk=Reminder.objects.order_by("id").first().pk).delete()
    gateway.fail_next(10, status=503)
    moments = []
    clock = at(D1, 10)
    for _ in range(4):
        with time_machine.travel(clock, tick=False):
            reminders.reminders_dispatch(worker="w", budget_seconds=5)
        row = Reminder.objects.get()
        moments.append(row.due_at - clock if row.status == R.SCHEDULED else None)
        clock = row.due_at
    assert moments == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), None]
    row = Reminder.objects.get()
    assert (row.status, row.attempts) == (R.FAILED, 4) and "503" in row.last_error
    assert ActivityLog.objects.filter(action="collection.reminder.failed").count() == 1
    assert not gateway.deliveries


def test_a_timeout_is_retried_and_the_gateway_delivers_once(d1, gateway, settings):
    """The gateway took the message but answered too late: the retry carries the same idempotency
    key, so the handset gets it once."""
    settings.SMS_HTTP_TIMEOUT = 0.3
    Reminder.objects.exclude(pk=Reminder.objects.order_by("id").first().pk).delete()
    gateway.hang_next(1, seconds=1.0)
    assert dispatch(hour=10).retried == 1
    assert "unreachable" in Reminder.objects.get().last_error
    assert dispatch(hour=10, minute=2).sent == 1
    assert len(gateway.requests) == 2 and list(gateway.delivery_counts().values()) == [1]


def test_a_permanent_gateway_error_fails_at_once(d1, gateway):
    gateway.fail_next(1, status=400)
    summary = dispatch()
    assert (summary.failed, summary.sent) == (1, 2)
    assert "400" in Reminder.objects.get(status=R.FAILED).last_error


# --- Leases: a worker that dies mid-send ------------------------------------------------------------


def _die_after_sending(backend_sends=True):
    """A worker claims everything, sends the first row through the backend, and dies before
    recording anything."""
    with time_machine.travel(at(D1, 10), tick=False):
        token, _reclaimed = reminders._claim("dead-worker", 10)
        row = Reminder.objects.filter(claim_token=token).order_by("id").first()
        if backend_sends:
            backend = sms.get_backend()
            backend.send(sms.Sms(to=row.address, text="x", idempotency_key=row.idempotency_key))
    return row


def test_an_expired_lease_is_reclaimed_and_an_idempotent_gateway_delivers_once(d1, gateway, settings):
    settings.REMINDER_LEASE_SECONDS = 120
    _die_after_sending()
    assert dispatch(hour=10, minute=1).claimed == 0  # the lease still holds
    summary = dispatch(hour=10, minute=3)
    assert (summary.reclaimed, summary.sent) == (3, 3)
    assert sorted(gateway.delivery_counts().values()) == [1, 1, 1]
    assert len(gateway.requests) == 4  # the first row twice, answered as a repeat


def test_a_reclaimed_row_is_not_resent_through_a_provider_that_cannot_deduplicate(d1, settings, capsys):
    settings.SMS_BACKEND = "console"
    dead = _die_after_sending(backend_sends=False)
    summary = dispatch(hour=10, minute=5)
    assert (summary.reclaimed, summary.failed) == (3, 3)
    row = Reminder.objects.get(pk=dead.pk)
    assert row.status == R.FAILED and "delivery unknown" in row.last_error


def test_a_slow_batch_renews_its_lease(d1, settings):
    settings.REMINDER_LEASE_SECONDS = 120
    with time_machine.travel(at(D1, 10), tick=False):
        token, _ = reminders._claim("w", 10)
        lease = timezone.now() + timedelta(seconds=120)
    with time_machine.travel(at(D1, 10) + timedelta(seconds=30), tick=False):
        assert reminders._renew_lease_if_short(token, lease) == lease  # 90 s of 120 left: enough
    with time_machine.travel(at(D1, 10) + timedelta(seconds=90), tick=False):
        renewed = reminders._renew_lease_if_short(token, lease)
    assert renewed == at(D1, 10) + timedelta(seconds=210)
    assert set(Reminder.objects.values_list("lease_until", flat=True)) == {renewed}


def test_claims_skip_rows_another_worker_has_locked(reminder_book, transactional_db):
    run(D1)
    locked = list(Reminder.objects.order_by("id").values_list("id", flat=True)[:2])
    holding, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            list(Reminder.objects.select_for_update().filter(id__in=locked))
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    holding.wait(10)
    try:
        with time_machine.travel(at(D1, 10), tick=False):
            token, _ = reminders._claim("me", 10)
        claimed = set(Reminder.objects.filter(claim_token=token).values_list("id", flat=True))
    finally:
        release.set()
        thread.join()
    assert claimed and not claimed & set(locked)
    assert len(claimed) == Reminder.objects.count() - 2


def test_the_beat_task_starts_one_sender_per_batch_due_up_to_the_limit(d1, sms_outbox, settings):
    from collection import tasks

    settings.REMINDER_BATCH_SIZE = 2
    settings.REMINDER_DISPATCH_TASKS = 8
    with time_machine.travel(at(D1, 8), tick=False):
        assert tasks.dispatch_reminders() == 0  # nothing due before 09:00
    with time_machine.travel(at(D1, 10), tick=False):
        assert tasks.dispatch_reminders() == 2  # three due rows, two per batch (run eagerly here)
    assert statuses() == [R.SENT] * 3 and len(sms_outbox) == 3


def test_a_call_task_that_fills_a_write_group_is_recorded_with_its_case_brought_forward(reminder_book, monkeypatch):
    for day in range(16, 23):
        run(date(2026, 2, day))
    Reminder.objects.exclude(channel="call_task").delete()
    CollectionCase.objects.update(next_action_at=at(date(2026, 2, 25)))
    monkeypatch.setattr(reminders._Writer, "FLUSH_EVERY", 1)  # every row fills the group
    assert dispatch(date(2026, 2, 22), 11).sent == 3
    assert set(CollectionCase.objects.values_list("next_action_at", flat=True)) == {at(date(2026, 2, 22), 11)}


def test_a_row_that_cannot_be_prepared_fails_alone_and_the_batch_goes_on(d1, sms_outbox):
    broken = Reminder.objects.order_by("id").first()
    broken.template.body_en = broken.template.body_zh_hans = "{{ nosuchvariable }}"
    broken.template.save()  # saved around the admin's check, as an old template could be
    Reminder.objects.exclude(pk=broken.pk).update(template=None, channel="call_task")
    summary = dispatch()
    broken.refresh_from_db()
    assert (broken.status, summary.sent, summary.failed) == (R.FAILED, 2, 1)
    assert "nosuchvariable" in broken.last_error


@pytest.mark.parametrize(("zone", "capped"), [("Asia/Shanghai", False), ("Asia/Tokyo", True)])
def test_the_daily_cap_counts_the_borrowers_own_day_and_only_messages_to_them(d1, sms_outbox, zone, capped):
    loan = d1["loans"][0]
    loan.borrower.time_zone = zone
    loan.borrower.save()
    row = Reminder.objects.get(loan=loan)
    late_last_night = at(D1 - timedelta(days=1), 23, 30)  # 00:30 today in Tokyo
    for n in range(2):
        Reminder.objects.create(
            idempotency_key=f"night-{n}",
            loan=loan,
            case=row.case,
            channel="sms",
            address=row.address,
            planned_for=D1,
            due_at=late_last_night,
            status=R.SENT,
            sent_at=late_last_night,
        )
    Reminder.objects.create(
        idempotency_key="to-a-third-party",
        loan=loan,
        case=row.case,
        channel="sms",
        recipient="third_party",
        address="+8613700000000",
        planned_for=D1,
        due_at=at(D1, 9),
        status=R.SENT,
        sent_at=at(D1, 9),
    )
    with time_machine.travel(at(D1, 10), tick=False):
        codes = reminders.reminders_dispatch(worker="w", budget_seconds=30).codes
    assert codes == ({"daily_cap": 1} if capped else {})


def test_an_overdue_reminder_quotes_the_instalment_with_its_penalty_as_of_today(d1, sms_outbox):
    later = D1 + timedelta(days=30)
    with time_machine.travel(at(later, 1), tick=False):
        daily.run_daily(as_of=later)  # the run keeps the loans' penalty; the instalments' stays as stored
    Reminder.objects.update(due_at=at(later, 10))
    ReminderTemplate.objects.update(body_zh_hans="本期应还{{ amount_due }}。", body_en="Due: {{ amount_due }}.")
    assert dispatch(later).sent == 3
    for row in Reminder.objects.select_related("loan"):
        first = row.loan.installments.order_by("due_date").first()
        penalty = delinquency.penalties(later, [row.loan_id])[first.pk]
        assert penalty > first.penalty_accrued  # what is stored is as of the loan's last payment
        owed = first.total_due - first.penalty_accrued + penalty - first.total_paid
        assert f"{owed:,.2f}" in row.body, row.body
