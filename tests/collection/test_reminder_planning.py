"""Planning: the daily run writes the day's reminders from the strategies, once."""

import io
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command

from borrowers.choices import Channel, Relation
from borrowers.models import ContactPoint
from collection import daily, tasks
from collection.choices import CaseState, Recipient, ReminderChannel, ReminderStatus
from collection.models import CollectionCase, CollectionStrategy, Reminder, ReminderTemplate, StrategyStep
from collection.reminders import reminders_plan
from tests.collection.conftest import at

pytestmark = pytest.mark.django_db


def run(day):
    """The night's run, then the morning's planning (beat runs them at 00:30 and 06:00)."""
    with time_machine.travel(at(day, 1), tick=False):
        summary = daily.run_daily(as_of=day)
    with time_machine.travel(at(day, 6), tick=False):
        summary.reminders_planned = tasks.plan_reminders()
    return summary


def planned(day):
    return sorted(Reminder.objects.filter(planned_for=day).values_list("channel", flat=True))


def test_due_soon_reminders_go_three_days_before_the_due_date_and_planning_twice_adds_nothing(reminder_book):
    day = date(2026, 2, 12)
    with time_machine.travel(at(day, 1), tick=False):
        assert reminders_plan(as_of=day) == 3
        assert reminders_plan(as_of=day) == 0
    rows = list(Reminder.objects.select_related("loan__borrower"))
    assert len(rows) == 3
    for row in rows:
        assert (row.channel, row.recipient, row.case_id, row.status) == ("sms", "borrower", None, "scheduled")
        assert row.address == row.loan.borrower.phone
        assert row.due_at == at(day, 9)  # the step's send time, the lender's clock
        assert row.idempotency_key == f"L{row.loan_id}-S{row.step_id}-sms-P0-2026-02-12"


def test_the_daily_run_plans_each_overdue_step_once(reminder_book):
    run(date(2026, 2, 15))  # due today: nothing overdue
    assert planned(date(2026, 2, 16)) == []
    summary = run(date(2026, 2, 16))
    assert summary.cases_opened == 3 and summary.reminders_planned == 3  # D+1 SMS
    assert run(date(2026, 2, 16)).reminders_planned == 0  # the same day again: nothing new
    run(date(2026, 2, 17))
    assert planned(date(2026, 2, 17)) == []
    run(date(2026, 2, 18))
    assert planned(date(2026, 2, 18)) == ["email"] * 3 + ["sms"] * 3  # D+3 SMS and email
    for day in range(19, 23):
        run(date(2026, 2, day))
    assert planned(date(2026, 2, 22)) == ["call_task"] * 3  # D+7
    assert all(
        row.case_id and row.case.loan_id == row.loan_id
        for row in Reminder.objects.filter(planned_for__gte=date(2026, 2, 16)).select_related("case")
    )


def test_within_the_grace_days_the_borrower_gets_a_payment_due_sms_and_no_case_opens(reminder_book):
    """A product with 3 grace days: D+1 and D+3 fall within them, so the overdue SMS become the
    payment-due SMS and no case opens; on D+4 the instalment is overdue and collection starts."""
    product = reminder_book["product"]
    product.grace_days = 3
    product.save()
    run(date(2026, 2, 15))
    run(date(2026, 2, 16))
    rows = list(Reminder.objects.filter(planned_for=date(2026, 2, 16)).select_related("template"))
    assert len(rows) == 3 and {row.template.code for row in rows} == {"payment-due-sms"}
    assert all(row.case_id is None for row in rows) and not CollectionCase.objects.exists()
    run(date(2026, 2, 17))
    run(date(2026, 2, 18))
    due = Reminder.objects.filter(planned_for=date(2026, 2, 18)).select_related("template")
    assert sorted(row.template.code for row in due) == ["payment-due-sms"] * 3  # D+3 SMS; no overdue email
    run(date(2026, 2, 19))
    assert CollectionCase.objects.count() == 3
    assert Reminder.objects.filter(template__code__startswith="overdue").count() == 0  # nothing said "overdue"


def test_a_payment_due_sms_within_grace_names_the_due_date_it_fell_on(reminder_book):
    from collection.reminders import _compose

    product = reminder_book["product"]
    product.grace_days = 3
    product.save()
    run(date(2026, 2, 15))
    run(date(2026, 2, 16))
    row = Reminder.objects.filter(planned_for=date(2026, 2, 16)).select_related("loan__borrower", "step").first()
    row.next_amount_due = row.loan.installments.get(seq=1).total_due
    body = _compose(row).body
    assert "已于2026-02-15到期" in body and "逾期" not in body.replace("不计逾期", "")


def test_the_command_plans_today_but_never_for_a_past_date(reminder_book):
    run(date(2026, 2, 16))
    Reminder.objects.all().delete()
    out = io.StringIO()
    with time_machine.travel(at(date(2026, 2, 20), 1), tick=False):
        call_command("run_daily", "--date", "2026-02-16", stdout=out)
    assert not Reminder.objects.exists()
    assert "reminders planned" not in out.getvalue()
    with time_machine.travel(at(date(2026, 2, 16), 1), tick=False):
        call_command("run_daily", stdout=out)
    assert Reminder.objects.filter(planned_for=date(2026, 2, 16)).count() == 3
    assert "reminders planned" in out.getvalue()


def test_no_email_is_planned_for_a_borrower_without_one(reminder_book):
    loan = reminder_book["loans"][0]
    loan.borrower.email = ""
    loan.borrower.save()
    for day in range(16, 19):
        run(date(2026, 2, day))
    assert Reminder.objects.filter(planned_for=date(2026, 2, 18), loan=loan).get().channel == "sms"


def test_steps_follow_the_case_state(reminder_book):
    """A step applies only while the case is in its states: D+15 is for minor and serious cases."""
    for day in range(16, 32):
        run(date(2026, 2, day) if day <= 28 else date(2026, 3, day - 28))
    # 2026-03-02 is D+15; the cases were classified on the product's classify day (7).
    states = set(CollectionCase.objects.values_list("state", flat=True))
    assert states <= {CaseState.MINOR, CaseState.SERIOUS}
    assert planned(date(2026, 3, 2)) == ["email"] * 3


@pytest.fixture
def third_party_step(reminder_book):
    text = ReminderTemplate.objects.create(
        code="third-party",
        name="Third party",
        channel=ReminderChannel.SMS,
        recipient=Recipient.THIRD_PARTY,
        body_zh_hans="{{ contact_name }}您好，请转告{{ borrower_name }}致电{{ hotline }}。",
        body_en="Dear {{ contact_name }}, please ask {{ borrower_name }} to call {{ hotline }}.",
    )
    strategy = CollectionStrategy.objects.get(product_kind=reminder_book["product"].kind)
    return StrategyStep.objects.create(
        strategy=strategy, offset_days=2, channel="sms", template=text, case_states=[CaseState.EARLY_WARNING]
    )


def test_third_parties_are_planned_only_while_the_borrower_is_unreachable(reminder_book, third_party_step):
    first, second = reminder_book["loans"][:2]
    for loan in (first, second):
        for n, relation in enumerate([Relation.EMERGENCY, Relation.EMPLOYER]):
            ContactPoint.objects.create(
                borrower=loan.borrower,
                channel=Channel.MOBILE,
                value=f"+86138{loan.pk:04d}{n:04d}",
                relation=relation,
                contact_name=f"联系人{n}",
            )
    ContactPoint.objects.create(
        borrower=first.borrower,
        channel=Channel.MOBILE,
        value="+8613900000000",
        relation=Relation.SPOUSE,
        contact_name="拒绝者",
        refused_contact=True,
    )
    run(date(2026, 2, 16))
    CollectionCase.objects.filter(loan=first).update(unreachable=True)
    run(date(2026, 2, 17))
    rows = Reminder.objects.filter(recipient=Recipient.THIRD_PARTY)
    assert sorted(rows.values_list("loan_id", "contact_point__contact_name")) == [
        (first.pk, "联系人0"),
        (first.pk, "联系人1"),
    ]
    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.SCHEDULED}
    assert run(date(2026, 2, 17)).reminders_planned == 0


def test_a_paused_strategy_or_step_plans_nothing(reminder_book):
    CollectionStrategy.objects.filter(product_kind=reminder_book["product"].kind).update(is_active=False)
    run(date(2026, 2, 16))
    assert not Reminder.objects.exists()
    CollectionStrategy.objects.update(is_active=True)
    StrategyStep.objects.filter(offset_days=1).update(is_active=False)
    run(date(2026, 2, 16) + timedelta(days=0))
    assert not Reminder.objects.filter(planned_for=date(2026, 2, 16)).exists()
