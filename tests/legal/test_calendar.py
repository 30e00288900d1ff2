"""The court's calendar: a legal action's steps follow the dates they depend on. A hearing is not before
the filing, a judgment is not served before its hearing nor recorded before it was served, enforcement
waits for the appeal deadline and the performance date to pass, and no step (nor a preservation or a
sale's step) is dated before the one it follows. A day too early is refused on its field with the
earliest day allowed, in the services, on the action page's forms and over the API."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from core import roles
from core.apps import sync_roles
from core.errors import ApplicationError
from legal import rules, services
from legal.choices import ActionState
from loans.choices import CollateralKind
from loans.models import Collateral
from tests.collection.factories import make_officer, make_user
from tests.collection.test_api import client_for as api_client
from tests.collection.test_api import error_of
from tests.legal.factories import make_legal_case, on_day

D = date
FILED = D(2026, 3, 2)


# --- The rules ------------------------------------------------------------------------------------------


def test_enforcement_may_be_applied_for_the_day_after_the_later_of_the_appeal_deadline_and_the_performance_date():
    assert rules.earliest_enforcement(appeal_deadline=D(2026, 5, 5), performance_due_on=D(2026, 4, 30)) == D(2026, 5, 6)
    assert rules.earliest_enforcement(appeal_deadline=D(2026, 5, 5), performance_due_on=D(2026, 6, 1)) == D(2026, 6, 2)
    assert rules.earliest_enforcement(appeal_deadline=None, performance_due_on=None) is None


def test_the_hearing_and_the_judgment_follow_the_days_they_depend_on():
    assert rules.earliest_hearing(FILED) == FILED
    assert rules.earliest_judgment(D(2026, 4, 1)) == D(2026, 4, 1)
    assert rules.latest(None, D(2026, 4, 1), D(2026, 3, 1), None) == D(2026, 4, 1)
    assert rules.latest(None) is None


@pytest.mark.parametrize(
    ("step", "on", "values", "field", "earliest"),
    [
        ("schedule_hearing", D(2026, 3, 5), {"hearing_on": D(2026, 3, 1)}, "hearing_on", FILED),
        (
            "record_judgment",
            D(2026, 4, 10),
            {"judgment_on": D(2026, 3, 29), "performance_due_on": D(2026, 4, 20)},
            "judgment_on",
            D(2026, 3, 30),
        ),
        (
            "record_judgment",
            D(2026, 4, 1),
            {"judgment_on": D(2026, 4, 2), "performance_due_on": D(2026, 4, 20)},
            "on",
            D(2026, 4, 2),
        ),
        (
            "record_judgment",
            D(2026, 4, 2),
            {"judgment_on": D(2026, 4, 2), "performance_due_on": D(2026, 4, 1)},
            "performance_due_on",
            D(2026, 4, 2),
        ),
        ("close_settled", D(2026, 3, 4), {}, "on", D(2026, 3, 5)),
    ],
)
def test_a_step_before_what_it_depends_on_is_refused_with_the_earliest_day(step, on, values, field, earliest):
    dates = rules.ActionDates(filed_on=FILED, last_step_on=D(2026, 3, 5), hearing_on=D(2026, 3, 30))
    refusal = rules.step_too_early(step, on=on, dates=dates, values=values)
    assert (refusal.field, refusal.earliest) == (field, earliest)
    assert earliest.isoformat() in refusal.message


def test_enforcement_before_the_judgment_is_final_and_due_is_refused_and_allowed_the_day_after():
    dates = rules.ActionDates(
        filed_on=FILED, last_step_on=D(2026, 4, 2), appeal_deadline=D(2026, 4, 17), performance_due_on=D(2026, 4, 30)
    )
    refusal = rules.step_too_early("apply_enforcement", on=D(2026, 4, 30), dates=dates, values={})
    assert (refusal.field, refusal.earliest) == ("on", D(2026, 5, 1))
    assert rules.step_too_early("apply_enforcement", on=D(2026, 5, 1), dates=dates, values={}) is None


def test_a_step_in_order_is_not_refused_and_unknown_dates_check_nothing():
    dates = rules.ActionDates(filed_on=FILED, last_step_on=FILED)
    assert rules.step_too_early("schedule_hearing", on=FILED, dates=dates, values={"hearing_on": FILED}) is None
    assert rules.step_too_early("withdraw", on=D(2020, 1, 1), dates=rules.ActionDates(), values={}) is None


# --- The services -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def lawyer(db):
    sync_roles()
    return make_user("counsel", roles.LEGAL_OFFICER)


@pytest.fixture
def case(db):
    return make_legal_case(make_officer("zhao"))


@pytest.fixture
def filed(case, lawyer):
    action = services.action_open(actor=lawyer, case=case, kind="lawsuit", lawyer_fee="1000", recoverable="20000")
    return services.action_advance(actor=lawyer, action=action, step="file", on=FILED, court="黄浦区人民法院")


def advance(lawyer, action, step, on, **fields):
    return services.action_advance(actor=lawyer, action=action, step=step, on=on, **fields)


def refused(call):
    with pytest.raises(ApplicationError) as error:
        call()
    assert error.value.code == "too_early", error.value.message
    return error.value


def test_hearing_judgment_and_enforcement_cannot_all_be_recorded_on_one_day(filed, lawyer):
    today = D(2026, 4, 20)
    action = advance(lawyer, filed, "schedule_hearing", today, hearing_on=today)
    action = advance(
        lawyer,
        action,
        "record_judgment",
        today,
        judgment_on=today,
        performance_due_on=D(2026, 4, 30),
        judgment_principal="12000.00",
    )
    error = refused(lambda: advance(lawyer, action, "apply_enforcement", today))
    assert error.field == "on" and error.extra == {"earliest": "2026-05-06"}  # the appeal deadline, 5 May, passed
    assert "2026-05-06" in error.message
    action.refresh_from_db()
    assert action.state == ActionState.JUDGMENT and action.last_step_on == today


def test_a_hearing_cannot_be_scheduled_before_the_filing(filed, lawyer):
    assert filed.filed_on == FILED
    error = refused(lambda: advance(lawyer, filed, "schedule_hearing", FILED, hearing_on=D(2026, 3, 1)))
    assert error.field == "hearing_on" and "2026-03-02" in error.message
    filed.refresh_from_db()
    assert filed.state == ActionState.FILED and filed.hearing_on is None


def test_a_judgment_is_not_served_before_its_hearing_nor_recorded_before_it_was_served(filed, lawyer):
    action = advance(lawyer, filed, "schedule_hearing", D(2026, 3, 5), hearing_on=D(2026, 3, 30))
    judgment = {"performance_due_on": D(2026, 4, 30), "judgment_principal": "1.00"}
    error = refused(
        lambda: advance(lawyer, action, "record_judgment", D(2026, 4, 1), judgment_on=D(2026, 3, 29), **judgment)
    )
    assert error.field == "judgment_on" and "2026-03-30" in error.message
    error = refused(
        lambda: advance(lawyer, action, "record_judgment", D(2026, 4, 1), judgment_on=D(2026, 4, 2), **judgment)
    )
    assert error.field == "on" and "2026-04-02" in error.message
    action = advance(lawyer, action, "record_judgment", D(2026, 4, 2), judgment_on=D(2026, 4, 2), **judgment)
    assert action.state == ActionState.JUDGMENT


def test_enforcement_waits_for_a_performance_date_later_than_the_appeal_deadline(filed, lawyer):
    action = advance(lawyer, filed, "schedule_hearing", D(2026, 3, 5), hearing_on=D(2026, 3, 30))
    action = advance(
        lawyer,
        action,
        "record_judgment",
        D(2026, 3, 31),
        judgment_on=D(2026, 3, 30),
        performance_due_on=D(2026, 4, 20),  # the appeal deadline, 14 April, comes first
        judgment_principal="1.00",
    )
    error = refused(lambda: advance(lawyer, action, "apply_enforcement", D(2026, 4, 20)))
    assert error.extra == {"earliest": "2026-04-21"}
    with on_day(D(2026, 4, 21)):
        action = advance(lawyer, action, "apply_enforcement", D(2026, 4, 21))
    assert action.state == ActionState.ENFORCEMENT and action.last_step_on == D(2026, 4, 21)


def test_no_step_is_dated_before_the_step_it_follows(case, lawyer):
    letter = services.action_open(actor=lawyer, case=case, kind="lawyers_letter", lawyer_fee="0", recoverable="100")
    letter = advance(lawyer, letter, "send_letter", D(2026, 4, 10))
    for step in ("close_settled", "close_recovered", "withdraw", "file"):
        fields = {"court": "某法院"} if step == "file" else {}
        error = refused(lambda step=step, fields=fields: advance(lawyer, letter, step, D(2026, 4, 9), **fields))
        assert error.field == "on" and "2026-04-10" in error.message, step
    letter = advance(lawyer, letter, "close_settled", D(2026, 4, 10), note="Paid after the letter.")
    assert (letter.state, letter.closed_on) == (ActionState.CLOSED_SETTLED, D(2026, 4, 10))


def test_preservation_and_seizure_follow_the_filing_and_a_lift_follows_the_grant(filed, lawyer):
    order = {"asset_kind": "bank_account", "description": "工商银行 6222", "amount": "5000"}
    error = refused(lambda: services.preservation_apply(actor=lawyer, action=filed, applied_on=D(2026, 3, 1), **order))
    assert error.field == "applied_on"
    applied = services.preservation_apply(actor=lawyer, action=filed, applied_on=D(2026, 3, 3), **order)
    error = refused(
        lambda: services.preservation_decide(
            actor=lawyer, order=applied, granted=True, on=D(2026, 3, 2), ruling_number="1"
        )
    )
    assert error.field == "on"
    granted = services.preservation_decide(
        actor=lawyer, order=applied, granted=True, on=D(2026, 3, 6), ruling_number="财保1号"
    )
    filed.refresh_from_db()
    assert filed.last_step_on == D(2026, 3, 6)  # the ruling moved the action on
    error = refused(lambda: services.preservation_lift(actor=lawyer, order=granted, on=D(2026, 3, 5)))
    assert error.field == "on" and "2026-03-06" in error.message
    error = refused(lambda: advance(lawyer, filed, "schedule_hearing", D(2026, 3, 5), hearing_on=D(2026, 4, 1)))
    assert error.field == "on"  # the hearing is scheduled after the ruling it follows
    car = Collateral.objects.create(loan=filed.case.loan, kind=CollateralKind.VEHICLE, description="帕萨特")
    error = refused(lambda: services.disposal_open(actor=lawyer, action=filed, collateral=car, seized_on=D(2026, 3, 1)))
    assert error.field == "seized_on"


def test_a_sales_step_is_not_dated_before_the_assets_last_step(filed, lawyer):
    car = Collateral.objects.create(loan=filed.case.loan, kind=CollateralKind.VEHICLE, description="帕萨特")
    disposal = services.disposal_open(actor=lawyer, action=filed, collateral=car, seized_on=D(2026, 4, 1))
    error = refused(
        lambda: services.disposal_appraise(
            actor=lawyer, disposal=disposal, value="9000", on=D(2026, 3, 31), appraiser="A"
        )
    )
    assert error.field == "on" and "2026-04-01" in error.message
    disposal = services.disposal_appraise(
        actor=lawyer, disposal=disposal, value="9000", on=D(2026, 4, 2), appraiser="A"
    )
    disposal = services.disposal_list(
        actor=lawyer, disposal=disposal, method="negotiated_sale", reserve_price="8000", on=D(2026, 4, 5)
    )
    error = refused(
        lambda: services.disposal_sell(actor=lawyer, disposal=disposal, price="8000", on=D(2026, 4, 4), buyer="B")
    )
    assert error.field == "on"
    disposal = services.disposal_sell(actor=lawyer, disposal=disposal, price="8000", on=D(2026, 4, 10), buyer="B")
    error = refused(
        lambda: services.disposal_distribute(
            actor=lawyer, disposal=disposal, on=D(2026, 4, 9), external_reference="S-1"
        )
    )
    assert error.field == "on" and "2026-04-10" in error.message


# --- Shown on the form and over the API ------------------------------------------------------------------


def judged_on_the_2nd_of_april(lawyer, action):
    action = advance(lawyer, action, "schedule_hearing", D(2026, 3, 5), hearing_on=D(2026, 3, 30))
    return advance(
        lawyer,
        action,
        "record_judgment",
        D(2026, 4, 2),
        judgment_on=D(2026, 4, 2),
        performance_due_on=D(2026, 4, 30),
        judgment_principal="1.00",
    )


def test_the_action_page_shows_a_step_too_early_on_its_field_with_the_day_allowed(filed, lawyer):
    action = judged_on_the_2nd_of_april(lawyer, filed)
    client = Client()
    client.force_login(lawyer)
    page = client.get(f"/legal/actions/{action.pk}/")
    assert "2026-05-01" in page.content.decode()  # enforcement from: the day after the performance date
    response = client.post(f"/legal/actions/{action.pk}/apply_enforcement/", {"apply_enforcement-on": "2026-04-20"})
    assert response.status_code == 200
    [panel] = [panel for panel in response.context["page"].shown_forms() if panel.form.prefix == "apply_enforcement"]
    assert panel.is_open and "2026-05-01" in str(panel.form.errors["on"])
    assert "From 2026-05-01" in str(panel.form.fields["on"].help_text)
    action.refresh_from_db()
    assert action.state == ActionState.JUDGMENT

    closing = client.post(
        f"/legal/actions/{action.pk}/close_settled/",
        {"close_settled-on": "2026-04-01", "close_settled-note": "Paid"},
        headers={"HX-Request": "true"},
    )
    text = closing.content.decode()
    assert text.lstrip().startswith("<form") and "has-error" in text and "2026-04-02" in text


def test_the_api_answers_a_step_too_early_with_a_400_naming_the_field(filed, lawyer):
    action = judged_on_the_2nd_of_april(lawyer, filed)
    client = api_client(lawyer)
    page = client.get(f"/api/v1/legal-actions/{action.pk}/").json()
    assert (page["enforcement_from"], page["last_step_on"], page["filed_on"]) == (
        "2026-05-01",
        "2026-04-02",
        "2026-03-02",
    )
    url = f"/api/v1/legal-actions/{action.pk}/steps/apply_enforcement/"
    error = error_of(client.post(url, {"on": "2026-04-20"}, format="json"), 400, "too_early")
    assert "2026-05-01" in error["fields"]["on"][0]
    other = services.action_open(
        actor=lawyer, case=make_legal_case(), kind="lawsuit", lawyer_fee="1000", recoverable="20000"
    )
    advance(lawyer, other, "file", FILED, court="某法院")
    url = f"/api/v1/legal-actions/{other.pk}/steps/schedule_hearing/"
    error = error_of(client.post(url, {"hearing_on": "2026-03-01"}, format="json"), 400, "too_early")
    assert set(error["fields"]) == {"hearing_on"}
