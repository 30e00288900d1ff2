"""The officer's day in a real browser: sign in through the form, find a case, log a contact, record a
promise, classify; a late-night contact refused; a manager's bulk reassignment; the language switch.
The worklist and case page screenshots in docs/screenshots come from here."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from collection.choices import CaseState
from collection.models import CollectionCase, ContactAttempt, PromiseToPay
from core import roles
from core.apps import sync_roles
from tests.collection.factories import make_case, make_user
from tests.loans.factories import make_loan

DEMO_PASSWORD = "huishou-demo"
PASSWORD = "pw-Browser-1"


def sign_in(page: Page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.form-stack button[type=submit]")
    expect(page.locator(".usernav .user")).to_be_visible()


@pytest.fixture
def office_hours():
    """Today at 10:00 in the lender's time zone, the clock running: contacts are allowed whenever the
    suite runs. The live server runs in this process, so it sees the travelled clock too."""
    with time_machine.travel(timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0), tick=True):
        yield


@pytest.fixture
def staff(transactional_db):
    """An officer with three early-warning cases, another officer and a manager (no demo data)."""
    sync_roles()
    people = {
        "officer": make_user("wang", roles.OFFICER),
        "other": make_user("li", roles.OFFICER),
        "manager": make_user("boss", roles.MANAGER),
    }
    for user in people.values():
        user.set_password(PASSWORD)
        user.save()
    people["cases"] = [make_case(officer=people["officer"], loan=make_loan()) for _ in range(3)]
    return people


def test_an_officer_finds_a_case_logs_a_contact_records_a_promise_and_classifies_it(
    page: Page, live_server, demo_portfolio, office_hours, screenshot
):
    case = (
        CollectionCase.objects.filter(officer__username="officer", state=CaseState.EARLY_WARNING)
        .select_related("loan__borrower")
        .order_by("-priority_score")
        .first()
    )
    assert case is not None, "the demo portfolio opens early-warning cases for the demo officer"
    name = case.loan.borrower.name

    sign_in(page, live_server, "officer", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/cases/$"))
    expect(page.locator("#case-table tbody tr").first).to_be_visible()

    page.fill("input[name=q]", case.loan.external_id)  # htmx narrows the list as the officer types
    expect(page.locator("#case-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=name).first.click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    expect(page.locator("#case-state")).to_have_text("Early warning")

    contact = page.locator("#form-contact")
    contact.locator("select[name=contact-channel]").select_option("call")
    contact.locator("select[name=contact-outcome]").select_option("reached")
    contact.locator("textarea[name=contact-note]").fill("Salary arrives on the 25th.")
    contact.get_by_role("button", name="Log a contact").click()
    expect(page.locator(".messages")).to_contain_text("The contact was logged.")

    promise = page.locator("#form-promise")
    promise.locator("input[name=promise-amount]").fill("800.00")
    promised_for = timezone.localdate() + timedelta(days=5)
    promise.locator("input[name=promise-promised_for]").fill(promised_for.isoformat())
    promise.get_by_role("button", name="Record a promise").click()
    expect(page.locator(".messages")).to_contain_text("The promise to pay was recorded.")

    page.locator("#action-classify summary").click()
    classify = page.locator("#form-classify")
    expect(classify).to_contain_text("The rules say")
    classify.get_by_role("button", name="Classify").click()
    expect(page.locator(".messages")).to_contain_text("The case was classified.")
    case.refresh_from_db()
    assert case.state in (CaseState.MINOR, CaseState.SERIOUS)
    expect(page.locator("#case-state")).to_have_text(case.get_state_display())
    expect(page.locator("#timeline")).to_contain_text("Classified")
    assert ContactAttempt.objects.filter(case=case, note="Salary arrives on the 25th.").exists()
    assert PromiseToPay.objects.filter(case=case, promised_for=promised_for).exists()

    # The screenshots in docs/ show the pages as officers see them by default: in Chinese.
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/cases/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    screenshot(page, "worklist")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    screenshot(page, "case")


def test_a_late_night_contact_is_refused(page: Page, live_server, staff):
    case = staff["cases"][0]
    late = timezone.localtime().replace(hour=22, minute=30, second=0, microsecond=0)
    with time_machine.travel(late, tick=True):
        sign_in(page, live_server, "wang", PASSWORD)  # at night: a session from the morning would have ended
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        contact = page.locator("#form-contact")
        expect(contact.locator("input[name=contact-attempted_at]")).to_have_value(re.compile(r"T22:3\d$"))
        contact.locator("select[name=contact-outcome]").select_option("no_answer")
        contact.get_by_role("button", name="Log a contact").click()
        refusal = page.locator("#form-contact .errorlist")
        expect(refusal).to_contain_text("No collection contact between 22:00 and 08:00")
    assert not ContactAttempt.objects.exists()


def test_a_manager_reassigns_several_cases_at_once(page: Page, live_server, staff):
    sign_in(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/cases/")
    rows = page.locator("#case-table tbody tr")
    expect(rows).to_have_count(3)
    for row in range(2):
        rows.nth(row).locator("input[name=case_ids]").check()
    bulk = page.locator("#reassign-form")
    bulk.locator("select[name=officer]").select_option(label="li")
    bulk.locator("input[name=reason]").fill("Wang is on leave")
    bulk.get_by_role("button", name="Reassign").click()
    expect(page.locator(".messages")).to_contain_text("2 cases reassigned to li.")
    assert CollectionCase.objects.filter(officer=staff["other"]).count() == 2
    assert CollectionCase.objects.filter(officer=staff["officer"]).count() == 1


def test_the_language_switch(browser, live_server, staff):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")  # a Chinese browser
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator("label[for=id_username]")).to_contain_text("用户名")  # Django's own catalogue
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("label[for=id_username]")).to_contain_text("Username")
        sign_in(page, live_server, "wang", PASSWORD)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_role("button", name="简体中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page).to_have_url(re.compile(r"/cases/$"))
    finally:
        context.close()
