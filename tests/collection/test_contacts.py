from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from borrowers.models import ContactPoint
from collection import rules, services
from collection.choices import ContactChannel, ContactOutcome, Party, Severity
from collection.errors import NotPermitted
from collection.models import CollectionCase
from core.errors import ApplicationError
from core.models import ActivityLog
from tests.collection.factories import make_case, make_manager, make_officer

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(day, hour):
    return datetime(2026, 4, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(at(20, 10), tick=False):
        yield


@pytest.fixture
def officer():
    return make_officer()


def call(case, officer, outcome, when, **kwargs):
    return services.contact_log(
        actor=officer, case=case, channel=ContactChannel.CALL, outcome=outcome, attempted_at=when, **kwargs
    )


def test_three_failed_calls_across_three_days_make_the_borrower_unreachable(officer):
    case = make_case(officer=officer)
    call(case, officer, ContactOutcome.NO_ANSWER, at(17, 10))
    call(case, officer, ContactOutcome.NO_ANSWER, at(17, 15))
    call(case, officer, ContactOutcome.WRONG_NUMBER, at(18, 10))
    assert not CollectionCase.objects.get(pk=case.pk).unreachable  # three, but only two days
    call(case, officer, ContactOutcome.NO_ANSWER, at(19, 11))
    case.refresh_from_db()
    assert case.unreachable
    # Now a third party may be asked to restore contact.
    call(case, officer, ContactOutcome.REACHED, at(20, 9), party=Party.THIRD_PARTY)
    call(
        case,
        officer,
        ContactOutcome.REACHED,
        at(
            20,
            9,
        ),
        party=Party.BORROWER,
    )
    case.refresh_from_db()
    assert not case.unreachable and case.last_reached_at == at(20, 9)


def test_more_failed_calls_the_same_evening_keep_the_borrower_unreachable(officer):
    """An officer who calls twice a day: the run of failures since the last success spans three days
    after the fifth call, and a sixth the same evening only lengthens it."""
    case = make_case(officer=officer)
    for day, hour in ((17, 10), (17, 18), (18, 10), (18, 18), (19, 10)):
        call(case, officer, ContactOutcome.NO_ANSWER, at(day, hour))
    assert CollectionCase.objects.get(pk=case.pk).unreachable
    call(case, officer, ContactOutcome.NO_ANSWER, at(19, 18))
    assert CollectionCase.objects.get(pk=case.pk).unreachable
    # Reaching the borrower ends the run; the next failures start a new one.
    call(case, officer, ContactOutcome.REACHED, at(20, 9))
    call(
        case,
        officer,
        ContactOutcome.NO_ANSWER,
        at(
            20,
            9,
        )
        + timedelta(minutes=30),
    )
    assert not CollectionCase.objects.get(pk=case.pk).unreachable


def test_third_parties_are_off_limits_while_the_borrower_is_reachable(officer):
    case = make_case(officer=officer)
    with pytest.raises(ApplicationError) as error:
        call(case, officer, ContactOutcome.REACHED, at(20, 9), party=Party.THIRD_PARTY)
    assert error.value.field == "party"


def test_the_number_dialled_says_who_was_contacted(officer):
    """An emergency contact's phone logged as "the borrower" would dodge the third-party rule and
    count towards "unreachable"."""
    case = make_case(officer=officer)
    emergency = ContactPoint.objects.create(
        borrower=case.loan.borrower, channel="mobile", value="+8613700000001", relation="emergency", contact_name="王五"
    )
    with pytest.raises(ApplicationError) as error:
        call(case, officer, ContactOutcome.NO_ANSWER, at(20, 9), party=Party.BORROWER, contact_point=emergency)
    assert error.value.field == "party"
    stranger = ContactPoint.objects.create(
        borrower=make_case().loan.borrower, channel="mobile", value="+8613700000002", relation="self"
    )
    with pytest.raises(ApplicationError) as error:
        call(case, officer, ContactOutcome.NO_ANSWER, at(20, 9), contact_point=stranger)
    assert error.value.field == "contact_point"
    assert not case.contact_attempts.exists()


def test_no_outbound_contact_in_quiet_hours_unless_the_borrower_agreed(officer):
    case = make_case(officer=officer)
    with pytest.raises(ApplicationError) as error:
        call(case, officer, ContactOutcome.NO_ANSWER, at(19, 22))
    assert error.value.field == "attempted_at"
    with pytest.raises(ApplicationError):
        call(case, officer, ContactOutcome.NO_ANSWER, datetime(2026, 4, 20, 7, 59, tzinfo=SHANGHAI))
    # An inbound call at night is the borrower's choice, and is recorded.
    services.contact_log(
        actor=officer,
        case=case,
        channel=ContactChannel.CALL,
        outcome=ContactOutcome.REACHED,
        attempted_at=at(19, 23),
        direction="inbound",
    )
    case.loan.borrower.agreed_to_quiet_hours_contact = True
    case.loan.borrower.save()
    call(case, officer, ContactOutcome.NO_ANSWER, at(19, 22))


def test_quiet_hours_are_in_the_borrowers_time_zone(officer):
    case = make_case(officer=officer)
    case.loan.borrower.time_zone = "Asia/Urumqi"  # two hours behind Beijing
    case.loan.borrower.save()
    call(case, officer, ContactOutcome.NO_ANSWER, at(19, 23))  # 21:00 in Urumqi: allowed
    with pytest.raises(ApplicationError):
        call(case, officer, ContactOutcome.NO_ANSWER, at(20, 9))  # 07:00 in Urumqi


def test_refusal_and_hardship_feed_the_classification(officer):
    case = make_case(officer=officer, days_past_due=8)
    call(case, officer, ContactOutcome.HARDSHIP, at(20, 9), note="Lost job, new one starts next month")
    case.refresh_from_db()
    assert case.hardship_documented
    assert services.case_facts(case).hardship_documented
    assert rules.classify(services.case_facts(case)).severity == Severity.MINOR
    call(
        case,
        officer,
        ContactOutcome.REFUSED,
        at(
            20,
            9,
        ),
    )
    case.refresh_from_db()
    assert rules.classify(services.case_facts(case)).severity == Severity.SERIOUS
    assert ActivityLog.objects.filter(action="collection.contact.logged").count() == 2


def test_promises_are_recorded_within_limits(officer):
    case = make_case(officer=officer)
    promise = services.promise_record(
        actor=officer, case=case, amount="1500.00", promised_for=date(2026, 4, 25), note="after payday"
    )
    assert promise.amount == Decimal("1500.00") and promise.status == "pending"
    with pytest.raises(ApplicationError) as error:
        services.promise_record(actor=officer, case=case, amount="10.00", promised_for=date(2026, 6, 1))
    assert error.value.field == "promised_for"
    with pytest.raises(ApplicationError) as error:
        services.promise_record(actor=officer, case=case, amount="-1", promised_for=date(2026, 4, 25))
    assert error.value.field == "amount"


def test_only_managers_reassign_and_each_move_is_logged(officer):
    manager = make_manager()
    other = make_officer("officer2")
    cases = [make_case(officer=officer) for _ in range(3)]
    with pytest.raises(NotPermitted):
        services.cases_reassign(actor=officer, case_ids=[c.pk for c in cases], officer=other)
    moved = services.cases_reassign(actor=manager, case_ids=[c.pk for c in cases], officer=other, reason="leave")
    assert {c.officer_id for c in moved} == {other.pk}
    assert ActivityLog.objects.filter(action="collection.case.reassigned").count() == 3


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        ([], False),
        ([(date(2026, 4, 1), "no_answer")] * 3, False),
        ([(date(2026, 4, 1), "no_answer"), (date(2026, 4, 2), "no_answer"), (date(2026, 4, 3), "no_answer")], True),
        ([(date(2026, 4, 1), "no_answer"), (date(2026, 4, 2), "reached"), (date(2026, 4, 3), "no_answer")], False),
        (
            [(date(2026, 4, 1), "no_answer"), (date(2026, 4, 2), "no_answer"), (date(2026, 4, 9), "wrong_number")],
            True,
        ),
        # Four failures over three days, then one more the same evening: still unreachable.
        ([(date(2026, 4, d), "no_answer") for d in (1, 2, 3, 3)] + [(date(2026, 4, 3), "no_answer")], True),
        # Twice a day: the last three span two days, the run since the last success three.
        ([(date(2026, 4, d), "no_answer") for d in (1, 1, 2, 2, 3, 3)], True),
        (
            [(date(2026, 4, 1), "no_answer"), (date(2026, 4, 2), "reached")] + [(date(2026, 4, 3), "no_answer")] * 3,
            False,
        ),
    ],
)
def test_unreachable_rule(attempts, expected):
    assert rules.is_unreachable(attempts) is expected


def test_minor_by_default_and_every_serious_sign_is_named():
    assert rules.classify(rules.CaseFacts(days_past_due=8)).severity == Severity.MINOR
    verdict = rules.classify(
        rules.CaseFacts(days_past_due=61, serious_days=60, unreachable=True, broken_promises=2, refused=True)
    )
    assert verdict.severity == Severity.SERIOUS
    assert [r.code for r in verdict.reasons] == ["unreachable", "refused", "broken_promises", "dpd_threshold"]
    assert rules.in_quiet_hours(datetime(2026, 1, 1, 22, 0)) and not rules.in_quiet_hours(datetime(2026, 1, 1, 8, 0))
    assert not rules.in_quiet_hours(datetime(2026, 1, 1, 23, 0), agreed=True)


def test_a_grace_period_must_be_short_and_in_the_future(officer):
    case = make_case(state="minor", officer=officer)
    for until in (date(2026, 4, 20), date(2026, 4, 20) + timedelta(days=61)):
        with pytest.raises(ApplicationError) as error:
            services.case_grant_grace(actor=officer, case=case, until=until, reason="x")
        assert error.value.field == "until"


@time_machine.travel(at(22, 10), tick=False)  # the calls below are logged afterwards, not ahead
def test_at_most_three_connected_calls_a_day_per_borrower_across_cases(officer):
    """The cap counts every case of the borrower (an agency's calls are logged on
    the same cases), and the day is the borrower's."""
    case = make_case(officer=officer)
    other_loan_case = make_case(officer=officer)
    other_loan_case.loan.borrower = case.loan.borrower
    other_loan_case.loan.save()
    call(case, officer, ContactOutcome.REACHED, at(20, 9))
    call(other_loan_case, officer, ContactOutcome.PROMISED, at(20, 10))
    call(case, officer, ContactOutcome.REFUSED, at(20, 11))
    with pytest.raises(ApplicationError) as refused:
        call(case, officer, ContactOutcome.REACHED, at(20, 12))
    assert refused.value.code == "call_cap" and "3" in str(refused.value.message)
    assert case.contact_attempts.count() == 2
    call(case, officer, ContactOutcome.NO_ANSWER, at(20, 13))  # an unanswered attempt is not a connected call
    call(case, officer, ContactOutcome.REACHED, at(21, 9))  # a new day
    inbound = services.contact_log(
        actor=officer,
        case=case,
        channel=ContactChannel.CALL,
        outcome=ContactOutcome.REACHED,
        attempted_at=at(20, 14),
        direction="inbound",
    )
    assert inbound.pk  # the borrower calling in is never capped


@time_machine.travel(at(22, 10), tick=False)  # the calls below are logged afterwards, not ahead
def test_at_most_six_unanswered_calls_a_day_to_one_number(officer):
    case = make_case(officer=officer)
    mobile = ContactPoint.objects.create(
        borrower=case.loan.borrower, channel="mobile", value="+8613700000003", relation="self"
    )
    for hour in range(9, 15):
        call(case, officer, ContactOutcome.NO_ANSWER, at(20, hour), contact_point=mobile)
    with pytest.raises(ApplicationError) as refused:
        call(case, officer, ContactOutcome.NO_ANSWER, at(20, 15), contact_point=mobile)
    assert refused.value.code == "call_cap"
    call(case, officer, ContactOutcome.NO_ANSWER, at(20, 15))  # another number (the one on file)
    call(case, officer, ContactOutcome.REACHED, at(20, 16), contact_point=mobile)  # answered at last
