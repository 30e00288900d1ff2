"""A manager in a real browser on the demo portfolio: signs in through the login form, approves an
officer's legal referral in the approvals inbox (the case goes to legal) but is offered no button on
their own request; the queue and KPI pages are captured for the README."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from collection import services
from collection.choices import ApprovalAction, ApprovalStatus, CaseState
from collection.models import CollectionCase

PASSWORD = "huishou-demo"  # the demo users' password (loans/demo.py)


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    form = page.locator("form[action='/accounts/login/']")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))


def serious_case(officer, *, skip=()):
    """One of the officer's serious cases, escalating a minor one if the demo has none left."""
    cases = CollectionCase.objects.filter(officer=officer).exclude(pk__in=skip).order_by("id")
    case = cases.filter(state=CaseState.SERIOUS).first()
    if case is None:
        case = services.case_escalate(
            actor=officer, case=cases.filter(state=CaseState.MINOR).first(), reason="Refused to pay on the phone."
        )
    return case


@pytest.fixture
def requests(demo_portfolio):
    users = get_user_model().objects
    officer, manager = users.get(username="officer"), users.get(username="manager")
    referred = serious_case(officer)
    referral = services.approval_request(
        actor=officer,
        case=referred,
        action=ApprovalAction.REFER_TO_LEGAL,
        reason="Refuses to pay although reachable.",
        details={"feasibility_note": "Car worth twice the claim; lawyer's fee about 5,000 yuan."},
    )
    own = services.approval_request(
        actor=manager,
        case=serious_case(officer, skip=[referred.pk]),
        action=ApprovalAction.WRITE_OFF,
        reason="Borrower emigrated; nothing left to recover.",
    )
    return referral, own


def test_a_manager_approves_a_legal_referral_but_not_their_own_request(page, live_server, requests):
    referral, own = requests
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server.url}/manager/approvals/")

    row = page.locator(f"#approval-{referral.pk}")
    expect(row).to_contain_text("Car worth twice the claim")
    own_row = page.locator(f"#approval-{own.pk}")
    expect(own_row).to_be_visible()
    expect(own_row.locator("button")).to_have_count(0)  # maker-checker: nothing to press

    row.locator("textarea").fill("Agreed: send it to the law firm.")
    row.locator("button[value=approve]").click()

    expect(page.locator(".messages")).to_be_visible()
    expect(page.locator(f"#approval-{referral.pk}")).to_have_count(0)
    expect(page.locator("#decided")).to_contain_text(referral.case.loan.external_id)
    referral.refresh_from_db()
    own.refresh_from_db()
    assert referral.status == ApprovalStatus.APPROVED
    assert CollectionCase.objects.get(pk=referral.case_id).state == CaseState.LEGAL
    assert own.status == ApprovalStatus.PENDING


def test_the_queue_and_kpi_pages_on_the_demo_portfolio(page, live_server, demo_portfolio, screenshot):
    # What the Content-Security-Policy refuses shows in the console: nothing may be refused.
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    sign_in(page, live_server, "manager")
    # The screenshots in docs/ show the pages as managers see them by default: in Chinese.
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])

    page.goto(f"{live_server.url}/manager/queue/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("table.data").first).to_be_visible()
    screenshot(page, "queue")
    # A figure opens the case list filtered to its cases.
    page.locator("table.data tbody a").first.click()
    page.wait_for_url(re.compile(r"/cases/\?"))

    page.goto(f"{live_server.url}/manager/kpis/")
    expect(page.locator("svg[role=img]")).to_have_count(9)
    screenshot(page, "kpis")

    for path in ("/manager/approvals/", "/legal/", "/cases/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main")).to_be_visible()
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()  # its set-up script ran
    assert refused == []
