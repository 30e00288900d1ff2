"""The contact rules the dispatcher applies to each reminder at send time (pure functions)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from collection import rules
from collection.choices import CaseState, HoldReason, Recipient, ReminderChannel

SHANGHAI = ZoneInfo("Asia/Shanghai")


def facts(**changes):
    values = {
        "channel": ReminderChannel.SMS,
        "local_now": datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI),
        "case_state": CaseState.MINOR,
        "step_states": (CaseState.EARLY_WARNING, CaseState.MINOR, CaseState.SERIOUS),
    }
    return rules.ReminderFacts(**{**values, **changes})


@pytest.mark.parametrize(
    ("clock", "action", "send_from"),
    [
        ((21, 59), "send", None),
        ((22, 0), "defer", datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)),  # the next morning
        ((23, 30), "defer", datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)),
        ((0, 0), "defer", datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)),  # the same morning
        ((7, 59), "defer", datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)),
        ((8, 0), "send", None),
    ],
)
def test_quiet_hours_boundaries_in_shanghai(clock, action, send_from):
    verdict = rules.reminder_verdict(facts(local_now=datetime(2026, 3, 2, *clock, tzinfo=SHANGHAI)))
    assert verdict.action == action
    assert verdict.send_from == send_from
    if action == "defer":
        assert verdict.code == "quiet_hours"


def test_quiet_hours_are_the_borrowers_not_the_lenders():
    """21:30 in Shanghai is 22:30 in Tokyo and 14:30 in London: only the borrower's clock counts."""
    shanghai_evening = datetime(2026, 3, 2, 21, 30, tzinfo=SHANGHAI)
    tokyo = rules.reminder_verdict(facts(local_now=shanghai_evening.astimezone(ZoneInfo("Asia/Tokyo"))))
    london = rules.reminder_verdict(facts(local_now=shanghai_evening.astimezone(ZoneInfo("Europe/London"))))
    assert tokyo.action == "defer"
    assert tokyo.send_from == datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert london.action == "send"


def test_deferral_lands_on_eight_in_the_morning_across_a_dst_change():
    """New York springs forward on 2026-03-08: 23:00 the evening before defers to 08:00 EDT."""
    new_york = ZoneInfo("America/New_York")
    verdict = rules.reminder_verdict(facts(local_now=datetime(2026, 3, 7, 23, 0, tzinfo=new_york)))
    assert verdict.send_from == datetime(2026, 3, 8, 8, 0, tzinfo=new_york)
    assert verdict.send_from.utcoffset().total_seconds() == -4 * 3600


def test_a_borrower_who_agreed_may_be_reminded_at_night():
    night = datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI)
    assert rules.reminder_verdict(facts(local_now=night, agreed_to_quiet_hours=True)).sends


def test_a_call_task_is_not_held_back_by_quiet_hours():
    night = datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI)
    assert rules.reminder_verdict(facts(channel=ReminderChannel.CALL_TASK, local_now=night)).sends


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"deceased": True}, "deceased"),
        ({"bankrupt": True}, "bankrupt"),
        ({"do_not_contact": True}, "do_not_contact"),
        ({"do_not_contact": True, "do_not_contact_until": date(2026, 3, 2)}, "do_not_contact"),
        ({"sms_opt_out": True}, "opted_out"),
        ({"channel": ReminderChannel.EMAIL, "email_opt_out": True}, "opted_out"),
        ({"channel": ReminderChannel.CALL_TASK, "call_opt_out": True}, "opted_out"),
        ({"case_state": CaseState.ON_HOLD, "hold_reason": HoldReason.DISPUTE}, "dispute"),
        ({"case_state": CaseState.ON_HOLD, "hold_reason": HoldReason.COMPLAINT}, "complaint"),
        ({"case_state": CaseState.ON_HOLD, "hold_reason": HoldReason.DECEASED}, "on_hold"),
        ({"case_state": CaseState.RESOLVED}, "case_closed"),
        ({"case_state": CaseState.LEGAL}, "state_left"),
        ({"still_owed": False}, "paid"),
        ({"recipient": Recipient.THIRD_PARTY}, "third_party"),
        (
            {"recipient": Recipient.THIRD_PARTY, "borrower_unreachable": True, "recipient_refused": True},
            "third_party_refused",
        ),
        ({"has_address": False}, "no_address"),
        ({"sent_today": 2}, "daily_cap"),
        ({"channel": ReminderChannel.EMAIL, "sent_today": 2}, "daily_cap"),
    ],
)
def test_each_suppression_rule(changes, code):
    verdict = rules.reminder_verdict(facts(**changes))
    assert (verdict.action, verdict.code) == ("suppress", code)
    assert verdict.message == str(rules.SUPPRESSION_MESSAGES[code])


@pytest.mark.parametrize(
    "changes",
    [
        {"do_not_contact": True, "do_not_contact_until": date(2026, 3, 1)},  # the restriction has ended
        {"recipient": Recipient.THIRD_PARTY, "borrower_unreachable": True},  # unreachable: a third party may be asked
        {"sent_today": 1},
        {"case_state": None, "step_states": ()},  # "due soon": no case yet
    ],
)
def test_what_does_not_stop_a_reminder(changes):
    assert rules.reminder_verdict(facts(**changes)).sends


def test_a_suppression_wins_over_quiet_hours():
    """A reminder that must never go is suppressed at night too, not deferred to the morning."""
    verdict = rules.reminder_verdict(facts(local_now=datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI), sms_opt_out=True))
    assert verdict.code == "opted_out"
