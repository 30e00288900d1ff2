"""The legal officer's day in a real browser: sign in, go to the legal worklist from the top bar, open
an action, schedule its hearing through the step's form, and see the hearing among the deadlines."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from collection.choices import CaseState
from core import roles
from core.apps import sync_roles
from core.dates import business_today
from legal import services
from legal.models import LawFirm
from loans.services import loan_refresh_balances
from tests.browser.test_officer import sign_in
from tests.collection.factories import make_case, make_user
from tests.loans.factories import make_loan

PASSWORD = "pw-Browser-1"


@pytest.fixture
def lawsuit(transactional_db):
    """A legal officer and a lawsuit filed on a case in legal."""
    sync_roles()
    lawyer = make_user("counsel", roles.LEGAL_OFFICER)
    lawyer.set_password(PASSWORD)
    lawyer.save()
    case = make_case(state=CaseState.LEGAL, officer=make_user("wang", roles.OFFICER), loan=make_loan())
    with transaction.atomic():  # the refresh locks the loan's row
        loan_refresh_balances(loan=case.loan, as_of=business_today())
    action = services.action_open(
        actor=lawyer,
        case=case,
        kind="lawsuit",
        law_firm=LawFirm.objects.create(name="金杜律师事务所"),
        lawyer_fee="3000",
        recoverable="20000",
    )
    return services.action_advance(
        actor=lawyer,
        action=action,
        step="file",
        on=business_today(),
        court="上海市黄浦区人民法院",
        court_case_number="(2026)沪0101民初1234号",
    )


def test_a_legal_officer_opens_an_action_from_the_worklist_and_schedules_the_hearing(
    page: Page, live_server, lawsuit, screenshot
):
    sign_in(page, live_server, "counsel", PASSWORD)
    page.locator(".mainnav").get_by_role("link", name="Legal").click()
    expect(page).to_have_url(re.compile(r"/legal/$"))
    rows = page.locator("#legal-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("(2026)沪0101民初1234号")
    screenshot(page, "legal-worklist")

    rows.first.get_by_role("link", name=lawsuit.case.loan.borrower.name).click()
    expect(page).to_have_url(re.compile(rf"/legal/actions/{lawsuit.pk}/$"))
    expect(page.locator("#action-state")).to_have_text("Filed")

    hearing_on = business_today() + timedelta(days=21)
    page.locator("#panel-schedule_hearing summary").click()
    form = page.locator("#form-schedule_hearing")
    form.locator("input[name=schedule_hearing-hearing_on]").fill(hearing_on.isoformat())
    form.locator("textarea[name=schedule_hearing-note]").fill("Courtroom 3")
    form.get_by_role("button", name="Schedule the hearing").click()

    expect(page.locator(".messages")).to_contain_text("The hearing was scheduled.")
    expect(page.locator("#action-state")).to_have_text("Hearing")
    expect(page.locator("#tasks")).to_contain_text(hearing_on.isoformat())
    expect(page.locator("#history")).to_contain_text("legal.action.schedule_hearing")
    screenshot(page, "legal-action")

    page.locator(".mainnav").get_by_role("link", name="Legal").click()
    expect(page.locator("#deadlines")).to_contain_text(hearing_on.isoformat())
