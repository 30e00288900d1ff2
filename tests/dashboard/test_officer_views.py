"""The officer's side of the dashboard: sign-in, the worklist (and a manager's whole book with bulk
reassignment), the case page and every form on it, with the role matrix, the services' refusals
shown on the right field, and bounded query counts."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from borrowers.choices import Channel, Relation
from borrowers.models import Borrower, ContactPoint
from collection import selectors, services
from collection.choices import (
    ApprovalAction,
    ApprovalStatus,
    CaseState,
    ContactChannel,
    ContactOutcome,
    HoldReason,
    PromiseStatus,
)
from collection.filters import sees_own_cases_only
from collection.models import Approval, CollectionCase, ContactAttempt, PromiseToPay, Team
from core import roles
from core.apps import sync_roles
from core.audit import build_entry
from core.models import ActivityLog
from loans import delinquency
from loans.models import Loan
from tests.borrowers.factories import BorrowerFactory
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.conftest import password_login
from tests.loans.factories import LoanProductFactory, make_loan

S = CaseState
TODAY = date(2026, 4, 20)
SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKLIST = "/cases/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        yield TODAY


@pytest.fixture(autouse=True)
def role_permissions():
    sync_roles()


@pytest.fixture
def people():
    return {
        "officer": make_officer(),
        "other_officer": make_officer("officer2"),
        "manager": make_manager(),
        "auditor": make_user("auditor", roles.AUDITOR),
        "legal": make_user("lawyer", roles.LEGAL_OFFICER),
    }


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def case_url(case, action=""):
    return f"/cases/{case.pk}/{action + '/' if action else ''}"


def post_action(client, case, name, version=None, follow=False, **fields):
    """POST a case page form as the browser does: fields under the form's prefix, the case version
    the page showed for the workflow steps."""
    data = {f"{name}-{field}": value for field, value in fields.items()}
    if name not in ("contact", "promise"):
        data[f"{name}-version"] = case.version if version is None else version
    return client.post(case_url(case, name), data, follow=follow)


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def listed_ids(response):
    """The case ids in the worklist's table (the page shown), in order."""
    assert response.status_code == 200, response.status_code
    return [row.record.pk for row in response.context["table"].page.object_list]


def _loan(**fields):
    loan = make_loan(**({"product": fields.pop("product")} if "product" in fields else {}))
    Loan.objects.filter(pk=loan.pk).update(**fields)
    loan.refresh_from_db()
    return loan


# --- Signing in, the home page, who may read -------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(people):
    case = make_case(officer=people["officer"])
    for url in ("/", WORKLIST, case_url(case)):
        response = Client().get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_the_login_page_signs_a_user_in_and_sends_them_to_their_worklist(people):
    client = Client()
    page = page_text(client.get("/accounts/login/"))
    assert 'name="username"' in page and 'name="password"' in page and "huishou.css" in page
    response = client.post("/accounts/login/", {"username": "officer", "password": "pw"}, follow=True)
    assert response.redirect_chain[-1][0] == WORKLIST
    assert "officer" in page_text(response)


def test_home_sends_managers_to_the_queue_overview_and_officers_to_their_worklist(people):
    assert client_for(people["officer"]).get("/").url == WORKLIST
    try:
        queue = reverse("dashboard:queue")
    except NoReverseMatch:  # the manager's pages are another module's
        queue = WORKLIST
    assert client_for(people["manager"]).get("/").url == queue


def test_a_signed_in_user_without_a_role_may_not_read_cases(people):
    nobody = User.objects.create_user("nobody", password="pw")
    case = make_case(officer=people["officer"])
    assert client_for(nobody).get(WORKLIST).status_code == 403
    assert client_for(nobody).get(case_url(case)).status_code == 403


def test_logging_out_is_a_post_from_every_page(people):
    client = client_for(people["officer"])
    page = page_text(client.get(WORKLIST))
    assert 'action="/accounts/logout/"' in page
    assert client.post("/accounts/logout/").url == reverse("login")
    assert client.get(WORKLIST).status_code == 302


def test_an_officer_changes_their_password(people):
    client = client_for(people["officer"])
    assert "new_password1" in page_text(client.get("/accounts/password/"))
    response = client.post(
        "/accounts/password/",
        {"old_password": "pw", "new_password1": "Zhong-Guo-2026!", "new_password2": "Zhong-Guo-2026!"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/accounts/password/done/"
    people["officer"].refresh_from_db()
    assert people["officer"].check_password("Zhong-Guo-2026!")


def failed_logins(username, address, times=5):
    client = Client(REMOTE_ADDR=address)
    for _ in range(times):
        response = client.post("/accounts/login/", {"username": username, "password": "wrong"})
        assert response.status_code in (200, 429)
    return client


def test_five_failed_logins_lock_the_username_from_that_address(people):
    client = failed_logins("officer", "10.0.0.5")
    locked = client.post("/accounts/login/", {"username": "officer", "password": "pw"})
    assert locked.status_code == 429
    assert "registration/locked_out.html" in [template.name for template in locked.templates]
    assert "_auth_user_id" not in client.session
    # Another account from the same office address is not locked.
    assert password_login(Client(), "officer2", "pw", "10.0.0.5")


def test_wrong_passwords_sent_from_elsewhere_do_not_lock_the_owner_out(people):
    failed_logins("officer", "203.0.113.9")  # somebody else, somewhere else
    assert password_login(Client(), "officer", "pw", "10.0.0.5")


def test_the_lock_lifts_after_the_cool_off(people, settings):
    failed_logins("officer", "10.0.0.5")
    assert timedelta(minutes=60) == settings.AXES_COOLOFF_TIME  # AXES_COOLOFF_MINUTES
    # (Another try while locked would count as a failure and start the cool-off again.)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert password_login(Client(), "officer", "pw", "10.0.0.5")


def test_an_admin_unlocks_a_user_at_once_and_it_is_logged(people, admin_client):
    failed_logins("officer", "10.0.0.5")
    assert not password_login(Client(), "officer", "pw", "10.0.0.5")
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "unlock_sign_in", "_selected_action": [people["officer"].pk]},
        follow=True,
    )
    assert "Sign-in unlocked for 1 user." in response.content.decode()
    assert password_login(Client(), "officer", "pw", "10.0.0.5")
    entry = ActivityLog.objects.get(action="auth.user.unlocked")
    assert entry.target_id == str(people["officer"].pk) and entry.data == {"attempts": 1}


@override_settings(LANGUAGE_CODE="zh-hans")
def test_pages_speak_chinese_by_default_and_english_after_switching(people):
    client = client_for(people["officer"])
    assert '<html lang="zh-hans">' in page_text(client.get(WORKLIST))
    response = client.post("/i18n/setlang/", {"language": "en", "next": WORKLIST})
    assert response.url == WORKLIST
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in page_text(client.get(WORKLIST))
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": WORKLIST})
    assert '<html lang="zh-hans">' in page_text(client.get(WORKLIST))


def test_the_nav_shows_managers_their_pages_and_officers_only_the_cases(people):
    officer_page = page_text(client_for(people["officer"]).get(WORKLIST))
    manager_page = page_text(client_for(people["manager"]).get(WORKLIST))
    for name in ("dashboard:queue", "dashboard:approvals", "dashboard:kpis"):
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        assert f'href="{url}"' in manager_page
        assert f'href="{url}"' not in officer_page


# --- The worklist -----------------------------------------------------------------------------------


def test_an_officer_sees_their_own_cases_a_team_lead_their_teams_a_manager_all(people):
    own = make_case(officer=people["officer"], priority_score=50)
    team = Team.objects.create(name="East", lead=people["officer"])
    led = make_case(officer=people["other_officer"], team=team, priority_score=40)
    other = make_case(officer=people["other_officer"], priority_score=30)
    assert listed_ids(client_for(people["officer"]).get(WORKLIST)) == [own.pk, led.pk]
    assert listed_ids(client_for(people["other_officer"]).get(WORKLIST)) == [led.pk, other.pk]
    for role in ("manager", "auditor"):
        assert listed_ids(client_for(people[role]).get(WORKLIST)) == [own.pk, led.pk, other.pk]


def test_the_worklist_orders_by_priority_then_next_action_and_shows_open_cases_only(people):
    officer = people["officer"]
    later = make_case(officer=officer, priority_score=10, next_action_at=datetime(2026, 4, 22, tzinfo=SHANGHAI))
    sooner = make_case(officer=officer, priority_score=10, next_action_at=datetime(2026, 4, 21, tzinfo=SHANGHAI))
    top = make_case(officer=officer, priority_score=99)
    closed = make_case(state=S.RESOLVED, officer=officer, priority_score=500)
    client = client_for(officer)
    assert listed_ids(client.get(WORKLIST)) == [top.pk, sooner.pk, later.pk]
    assert listed_ids(client.get(WORKLIST, {"state": "resolved"})) == [closed.pk]


def test_a_legal_officer_starts_from_the_cases_at_law(people):
    at_law = make_case(state=S.LEGAL, officer=people["officer"])
    make_case(state=S.SERIOUS, officer=people["officer"])
    assert listed_ids(client_for(people["legal"]).get(WORKLIST)) == [at_law.pk]


def test_the_worklist_row_shows_what_an_officer_works_from(people):
    officer = people["officer"]
    product = LoanProductFactory(code="car-1", name="车贷一号")
    loan = _loan(product=product, days_past_due=45, aging_bucket="M2", overdue_amount=Decimal("2345.60"))
    case = make_case(
        state=S.MINOR, officer=officer, loan=loan, last_contact_at=datetime(2026, 4, 19, 15, 30, tzinfo=SHANGHAI)
    )
    services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 4, 28))
    services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 4, 23))
    PromiseToPay.objects.create(case=case, amount=1, promised_for=date(2026, 4, 21), status=PromiseStatus.BROKEN)
    page = page_text(client_for(officer).get(WORKLIST))
    row = page[page.index(f'href="/cases/{case.pk}/"') :]
    row = row[: row.index("</tr>")]
    for shown in (
        "badge-minor",
        "45",
        "M2",
        "¥2,345.60",
        "04-19 15:30",
        "2026-04-23",
        loan.borrower.name,
        loan.external_id,
        "车贷一号",
    ):
        assert shown in row, shown
    assert 'name="case_ids"' not in page  # no bulk actions for officers


def test_the_counts_on_top_cover_the_users_open_book_in_one_query(people, django_assert_num_queries):
    officer = people["officer"]
    first = make_case(state=S.MINOR, officer=officer, loan=_loan(overdue_amount=Decimal("100.50")))
    make_case(state=S.SERIOUS, officer=officer, loan=_loan(overdue_amount=Decimal("200.00")))
    make_case(state=S.SERIOUS, officer=officer, loan=_loan(overdue_amount=Decimal("300.00")))
    make_case(state=S.RESOLVED, officer=officer, loan=_loan(overdue_amount=Decimal("999.00")))
    make_case(state=S.MINOR, officer=people["other_officer"])
    services.promise_record(actor=officer, case=first, amount="50.00", promised_for=TODAY)
    services.promise_record(actor=officer, case=first, amount="50.00", promised_for=TODAY)
    sees_own_cases_only(officer)  # the roles are read once per request, before the counts
    with django_assert_num_queries(1):
        counts = selectors.worklist_counts(officer, today=TODAY)
    assert (counts["open_cases"], counts["promises_due_today"], counts["overdue_amount"]) == (3, 1, Decimal("600.50"))
    assert dict(counts["by_state"])[S.SERIOUS] == 2 and dict(counts["by_state"])[S.MINOR] == 1
    page = page_text(client_for(officer).get(WORKLIST))
    assert "¥600.50" in page


def test_the_worklist_filters(people):
    manager = people["manager"]
    car = LoanProductFactory(code="car", name="Car")
    serious = make_case(state=S.SERIOUS, officer=people["officer"], loan=_loan(product=car, aging_bucket="M3"))
    minor = make_case(state=S.MINOR, officer=people["other_officer"], loan=_loan(aging_bucket="M1"))
    warned = make_case(officer=people["officer"], loan=_loan(aging_bucket="M1"))
    services.promise_record(actor=manager, case=minor, amount="10.00", promised_for=TODAY)
    services.promise_record(actor=manager, case=warned, amount="10.00", promised_for=TODAY + timedelta(days=1))
    client = client_for(manager)

    def found(**params):
        return sorted(listed_ids(client.get(WORKLIST, params)))

    assert found(state=["minor", "serious"]) == sorted([serious.pk, minor.pk])
    assert found(severity="serious") == [serious.pk]
    assert found(aging_bucket="M1") == sorted([minor.pk, warned.pk])
    assert found(product="car") == [serious.pk]
    assert found(promise_due_today="on") == [minor.pk]
    assert found(officer=people["other_officer"].pk) == [minor.pk]
    assert found(officer=people["officer"].pk, state="early_warning") == [warned.pk]


def test_the_search_box_finds_name_loan_phone_tail_and_id_number(people):
    officer = people["officer"]
    borrower = BorrowerFactory(name="欧阳明", phone="+8613912345678", id_number="11010119900307001X")
    wanted = make_case(officer=officer, loan=make_loan(borrower=borrower, external_id="CORE-77"))
    make_case(officer=officer)
    client = client_for(officer)
    for text in ("欧阳", "core-77", "5678", "13912345678", "11010119900307001x", "001X"):
        assert listed_ids(client.get(WORKLIST, {"q": text})) == [wanted.pk], text
    assert listed_ids(client.get(WORKLIST, {"q": "nobody"})) == []


def test_the_search_never_matches_a_longer_ending_than_the_masked_number_shows(people):
    """Trying endings digit by digit would unmask an ID number that the officer may not see."""
    officer = people["officer"]
    borrower = BorrowerFactory(name="欧阳明", phone="+8613912345678", id_number="11010119900307001X")
    make_case(officer=officer, loan=make_loan(borrower=borrower))
    client = client_for(officer)
    for text in ("7001X", "307001X", "45678", "2345678"):
        assert listed_ids(client.get(WORKLIST, {"q": text})) == [], text


def test_the_worklist_sorts_by_a_column_and_pages_by_fifty(people):
    officer = people["officer"]
    _bulk_cases(60, officer)
    client = client_for(officer)
    first_page = listed_ids(client.get(WORKLIST, {"sort": "id"}))
    second_page = listed_ids(client.get(WORKLIST, {"sort": "id", "page": 2}))
    assert len(first_page) == 50 and len(second_page) == 10
    assert first_page + second_page == sorted(
        CollectionCase.objects.filter(officer=officer).values_list("pk", flat=True)
    )
    by_dpd = listed_ids(client.get(WORKLIST, {"sort": "-days_past_due"}))
    dpd = dict(CollectionCase.objects.values_list("pk", "loan__days_past_due"))
    assert [dpd[pk] for pk in by_dpd] == sorted((dpd[pk] for pk in by_dpd), reverse=True)


def test_htmx_filtering_swaps_only_the_results(people):
    case = make_case(officer=people["officer"])
    response = client_for(people["officer"]).get(
        WORKLIST, {"q": case.loan.external_id}, headers={"HX-Request": "true", "HX-Target": "worklist-results"}
    )
    page = page_text(response)
    assert page.lstrip().startswith('<div id="worklist-results"') and "<html" not in page
    assert listed_ids(response) == [case.pk]
    assert "HX-Request" in response["Vary"]


# --- Bulk reassignment ------------------------------------------------------------------------------


def test_a_manager_reassigns_ticked_cases_in_bulk(people):
    manager, target = people["manager"], people["other_officer"]
    cases = [make_case(officer=people["officer"]) for _ in range(3)]
    client = client_for(manager)
    assert page_text(client.get(WORKLIST)).count('name="case_ids"') == 3
    response = client.post(
        "/cases/reassign/",
        {"case_ids": [cases[0].pk, cases[1].pk], "officer": target.pk, "reason": "leave", "next": "/cases/?q=x"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/cases/?q=x"
    assert messages_of(response) == [f"2 cases reassigned to {target.username}."]
    assert [c.officer_id for c in CollectionCase.objects.order_by("pk")] == [target.pk, target.pk, people["officer"].pk]
    assert ActivityLog.objects.filter(action="collection.case.reassigned").count() == 2


def test_bulk_reassignment_changes_nothing_when_refused(people):
    case = make_case(officer=people["officer"])
    closed = make_case(state=S.RESOLVED, officer=people["officer"])
    target = people["other_officer"].pk

    def reassign(user, ids, officer=target):
        return client_for(user).post("/cases/reassign/", {"case_ids": ids, "officer": officer}, follow=True)

    refused = reassign(people["officer"], [case.pk])  # officers do not reassign
    assert messages_of(refused) == ["Nothing was reassigned: Only a manager may reassign cases."]
    assert "Only open cases" in messages_of(reassign(people["manager"], [case.pk, closed.pk]))[0]
    assert messages_of(reassign(people["manager"], [])) == ["Tick the cases to reassign."]
    assert messages_of(reassign(people["manager"], [case.pk], officer=people["auditor"].pk))
    assert CollectionCase.objects.get(pk=case.pk).officer_id == people["officer"].pk
    assert not ActivityLog.objects.filter(action="collection.case.reassigned").exists()


# --- The case page ----------------------------------------------------------------------------------


def test_an_officer_may_not_see_someone_elses_case(people):
    other = make_case(officer=people["other_officer"])
    client = client_for(people["officer"])
    assert client.get(case_url(other)).status_code == 404
    assert post_action(client, other, "contact", channel="call", outcome="reached").status_code == 404
    assert not ContactAttempt.objects.exists()


def test_the_case_page_shows_borrower_loan_schedule_payments_collateral_and_timeline(people):
    officer = people["officer"]
    case = make_case(state=S.MINOR, officer=officer, loan=_loan(days_past_due=40, overdue_amount=Decimal("2500.00")))
    borrower = case.loan.borrower
    ContactPoint.objects.create(
        borrower=borrower,
        channel=Channel.MOBILE,
        value="+8613800001111",
        relation=Relation.EMERGENCY,
        contact_name="王芳",
    )
    services.contact_log(
        actor=officer, case=case, channel=ContactChannel.CALL, outcome=ContactOutcome.PROMISED, note="will pay"
    )
    services.promise_record(actor=officer, case=case, amount="1000.00", promised_for=date(2026, 4, 25))
    case = services.case_escalate(actor=officer, case=case, reason="Refused on the phone")
    page = page_text(client_for(officer).get(case_url(case)))
    assert borrower.name in page and case.loan.external_id in page
    assert borrower.masked_id_number in page and borrower.id_number not in page
    assert borrower.masked_phone in page and borrower.phone not in page
    assert "+86138****1111" in page and "王芳" in page and "third party" in page
    assert "¥2,500.00" in page
    assert page.count('class="tl tl-') == 3  # the escalation, the contact, the promise
    assert "Escalated" in page and "Refused on the phone" in page and "Minor overdue → Serious overdue" in page
    assert "will pay" in page and "Promise to pay recorded" in page
    assert page.count("<td>2026-") + page.count("<td>2027-") == 12  # the schedule's due dates
    assert 'id="form-contact"' in page and 'id="form-promise"' in page
    assert 'id="action-hold"' in page and 'id="action-write_off"' in page  # serious: hold, request write-off...
    assert 'id="action-classify"' not in page


def test_the_case_pages_schedule_shows_each_penalty_as_of_today_adding_up_to_the_loans(people, today):
    case = make_case(state=S.MINOR, officer=people["officer"])  # booked, and its balances taken, on 20 April
    stored = sum(row.penalty_accrued for row in case.loan.installments.all())
    later = today + timedelta(days=10)
    with time_machine.travel(datetime(2026, 4, 30, 10, tzinfo=SHANGHAI), tick=False):
        with transaction.atomic():
            delinquency.update_range(as_of=later, first_id=case.loan_id, last_id=case.loan_id)  # the night's run
        rows = selectors.case_page(people["officer"], CollectionCase.objects.get(pk=case.pk)).installments
    loan = Loan.objects.get(pk=case.loan_id)
    assert sum(row.penalty_accrued - row.penalty_paid for row in rows) == loan.penalty_outstanding > stored
    assert sum(row.penalty_accrued for row in loan.installments.all()) == stored  # the run rewrote no instalment


def test_an_auditor_reads_any_case_but_gets_no_forms_and_cannot_post(people):
    case = make_case(state=S.MINOR, officer=people["officer"])
    client = client_for(people["auditor"])
    page = page_text(client.get(case_url(case)))
    assert "Read only" in page
    assert page.count("<form") == 2  # the language switch and logging out
    assert 'id="form-contact"' not in page and 'class="action"' not in page and "Unmask" not in page
    contact = {"channel": "call", "direction": "outbound", "party": "borrower", "outcome": "reached"}
    response = post_action(client, case, "contact", follow=True, **contact)
    assert messages_of(response) == ["Only the case's officer, the team lead or a manager may act on this case."]
    response = post_action(client, case, "escalate", reason="x", follow=True)
    assert messages_of(response) == ["Only the case's officer, the team lead or a manager may act on this case."]
    response = post_action(client, case, "escalate", reason="", follow=True)  # a form the page does not offer
    assert messages_of(response) == ["This step is not available on this case now. Nothing was done."]
    assert not ContactAttempt.objects.exists() and CollectionCase.objects.get(pk=case.pk).state == S.MINOR


def test_an_unknown_action_is_a_404(people):
    case = make_case(officer=people["officer"])
    assert client_for(people["officer"]).post(case_url(case, "explode")).status_code == 404
    assert client_for(people["officer"]).get(case_url(case, "contact")).status_code == 405


# --- Contacts and promises --------------------------------------------------------------------------


def test_logging_a_contact(people):
    officer = people["officer"]
    case = make_case(officer=officer)
    point = ContactPoint.objects.create(borrower=case.loan.borrower, channel=Channel.MOBILE, value="+8613900002222")
    page = page_text(client_for(officer).get(case_url(case)))
    assert 'value="2026-04-20T10:00"' in page  # when: now, in the lender's time zone
    response = post_action(
        client_for(officer),
        case,
        "contact",
        channel="call",
        direction="outbound",
        party="borrower",
        contact_point=point.pk,
        outcome="hardship",
        attempted_at="2026-04-20T09:30",
        note="lost job",
    )
    assert response.status_code == 302 and response.url == case_url(case)
    attempt = ContactAttempt.objects.get()
    assert (attempt.outcome, attempt.contact_point, attempt.by, attempt.note) == (
        "hardship",
        point,
        officer,
        "lost job",
    )
    assert attempt.attempted_at == datetime(2026, 4, 20, 9, 30, tzinfo=SHANGHAI)
    assert CollectionCase.objects.get(pk=case.pk).hardship_documented
    assert messages_of(client_for(officer).get(case_url(case))) == []  # shown once, on the redirect


def test_a_contact_in_quiet_hours_is_refused_on_its_field(people):
    officer = people["officer"]
    case = make_case(officer=officer)
    response = post_action(
        client_for(officer), case, "contact", channel="call", direction="outbound", party="borrower",
        outcome="no_answer", attempted_at="2026-04-20T07:30",
    )  # fmt: skip
    form = response.context["records"][0].form
    assert form.errors["attempted_at"] == ["No collection contact between 22:00 and 08:00 in the borrower's time zone."]
    page = page_text(response)
    assert "No collection contact between 22:00 and 08:00" in page
    assert not ContactAttempt.objects.exists()


def test_a_third_party_is_not_contacted_while_the_borrower_is_reachable(people):
    officer = people["officer"]
    case = make_case(officer=officer)
    response = post_action(
        client_for(officer), case, "contact", channel="call", direction="outbound", party="third_party",
        outcome="reached", attempted_at="",
    )  # fmt: skip
    assert response.context["records"][0].form.errors["party"] == [
        "Third parties may be contacted only while the borrower is unreachable."
    ]
    assert not ContactAttempt.objects.exists()


def test_a_contact_cannot_be_logged_in_the_future_or_without_an_outcome(people):
    case = make_case(officer=people["officer"])
    response = post_action(
        client_for(people["officer"]), case, "contact", channel="call", direction="outbound", party="borrower",
        attempted_at="2026-04-21T10:00",
    )  # fmt: skip
    errors = response.context["records"][0].form.errors
    assert set(errors) == {"attempted_at", "outcome"}
    assert not ContactAttempt.objects.exists()


def test_htmx_form_errors_swap_the_form_and_success_reloads_the_page(people):
    officer = people["officer"]
    case = make_case(officer=officer)
    htmx = {"HX-Request": "true"}
    client = client_for(officer)
    bad = client.post(
        case_url(case, "promise"), {"promise-amount": "10", "promise-promised_for": "2026-06-30"}, headers=htmx
    )
    page = page_text(bad)
    assert page.lstrip().startswith("<form") and 'id="form-promise"' in page
    assert "A promise falls between today and 30 days from now." in page
    good = client.post(
        case_url(case, "promise"), {"promise-amount": "10", "promise-promised_for": "2026-04-30"}, headers=htmx
    )
    assert good["HX-Redirect"] == case_url(case)
    assert PromiseToPay.objects.get().amount == Decimal("10.00")


def test_recording_a_promise(people):
    officer = people["officer"]
    case = make_case(officer=officer)
    response = post_action(
        client_for(officer), case, "promise", amount="1234.50", promised_for="2026-04-27", note="payday", follow=True
    )
    assert messages_of(response) == ["The promise to pay was recorded."]
    promise = PromiseToPay.objects.get()
    assert (promise.amount, promise.promised_for, promise.recorded_by) == (
        Decimal("1234.50"),
        date(2026, 4, 27),
        officer,
    )
    assert "2026-04-27" in page_text(client_for(officer).get(WORKLIST))


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"amount": "100", "promised_for": "2026-05-30"}, "promised_for"),
        ({"amount": "100", "promised_for": "2026-04-19"}, "promised_for"),
        ({"amount": "0", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "12.345", "promised_for": "2026-04-25"}, "amount"),
        ({"amount": "lots", "promised_for": "2026-04-25"}, "amount"),
    ],
)
def test_a_bad_promise_is_refused_on_its_field(people, fields, field):
    case = make_case(officer=people["officer"])
    response = post_action(client_for(people["officer"]), case, "promise", **fields)
    assert list(response.context["records"][1].form.errors) == [field]
    assert not PromiseToPay.objects.exists()


# --- Workflow steps ---------------------------------------------------------------------------------


def test_classifying_as_the_rules_say(people):
    officer = people["officer"]
    case = make_case(officer=officer, days_past_due=10)
    page = page_text(client_for(officer).get(case_url(case)))
    assert 'id="action-classify"' in page and "The rules say" in page and "No sign of a serious overdue" in page
    response = post_action(client_for(officer), case, "classify", severity="", override_reason="", follow=True)
    assert messages_of(response) == ["The case was classified."]
    case.refresh_from_db()
    assert (case.state, case.severity, case.classified_by_officer, case.version) == (S.MINOR, "minor", True, 1)


def test_classifying_against_the_rules_needs_a_reason(people):
    officer = people["officer"]
    case = make_case(officer=officer, days_past_due=10)
    refused = post_action(client_for(officer), case, "classify", severity="serious", override_reason="")
    form = refused.context["transitions"][0].form
    assert refused.context["transitions"][0].is_open
    assert form.errors["override_reason"] == ["The rules say “Minor”: give a reason to override them."]
    assert 'id="action-classify" open' in page_text(refused)
    assert CollectionCase.objects.get(pk=case.pk).state == S.EARLY_WARNING
    post_action(client_for(officer), case, "classify", severity="serious", override_reason="hiding assets")
    case.refresh_from_db()
    assert (case.state, case.override_reason) == (S.SERIOUS, "hiding assets")


# A restructuring is proposed with its terms and decided on the plan: tests/dashboard/test_plans.py.
@pytest.mark.parametrize(
    "name,state,fields,target,done",
    [
        ("escalate", S.MINOR, {"reason": "refused to pay"}, S.SERIOUS, "The case was escalated to serious."),
        (
            "grant_grace",
            S.MINOR,
            {"until": "2026-05-10", "reason": "salary late"},
            S.MINOR,
            "A grace period was granted.",
        ),
        ("hold", S.SERIOUS, {"reason": "complaint", "note": "complaint #12"}, S.ON_HOLD, "The case is on hold."),
        ("release", S.ON_HOLD, {"note": "answered"}, S.MINOR, "The case was released from hold."),
        ("resolve", S.LEGAL, {"reason": "settled", "note": "court"}, S.RESOLVED, "The case was resolved."),
    ],
)
def test_each_step_of_the_workflow(people, name, state, fields, target, done):
    officer = people["officer"]
    case = make_case(state=state, officer=officer)
    assert f'id="action-{name}"' in page_text(client_for(officer).get(case_url(case)))
    response = post_action(client_for(officer), case, name, follow=True, **fields)
    assert messages_of(response) == [done]
    case.refresh_from_db()
    assert (case.state, case.version) == (target, 1)


@pytest.mark.parametrize(
    "name,state,fields,field",
    [
        ("escalate", S.MINOR, {"reason": ""}, "reason"),
        ("grant_grace", S.MINOR, {"until": "2026-08-01", "reason": "salary late"}, "until"),
        ("grant_grace", S.MINOR, {"until": "tomorrow", "reason": "salary late"}, "until"),
        ("hold", S.SERIOUS, {"reason": "complaint", "note": ""}, "note"),
        ("hold", S.SERIOUS, {"reason": "boredom", "note": "x"}, "reason"),
        ("refer_to_legal", S.SERIOUS, {"reason": "assets found", "feasibility_note": "  "}, "feasibility_note"),
    ],
)
def test_bad_input_to_a_step_is_refused_on_its_field_and_changes_nothing(people, name, state, fields, field):
    officer = people["officer"]
    case = make_case(state=state, officer=officer)
    response = post_action(client_for(officer), case, name, **fields)
    panel = next(panel for panel in response.context["transitions"] if panel.name == name)
    assert panel.is_open and field in panel.form.errors
    assert CollectionCase.objects.get(pk=case.pk).version == 0
    assert not Approval.objects.exists()


def test_a_step_on_a_stale_page_is_refused_as_a_conflict(people):
    officer = people["officer"]
    case = make_case(state=S.MINOR, officer=officer)
    stale_version = case.version
    services.case_grant_grace(actor=people["manager"], case=case, until=date(2026, 5, 1), reason="asked")
    response = post_action(client_for(officer), case, "escalate", version=stale_version, reason="late", follow=True)
    assert response.redirect_chain[-1][0] == case_url(case)
    assert messages_of(response) == [
        "Someone else changed this case first: it is now “Minor overdue”. Nothing was done."
    ]
    case.refresh_from_db()
    assert (case.state, case.version) == (S.MINOR, 1)
    response = post_action(client_for(officer), case, "write_off", version=stale_version, reason="sell", follow=True)
    assert "Someone else changed this case first" in messages_of(response)[0]
    assert not Approval.objects.exists()


def test_a_step_the_state_does_not_allow_is_refused_with_a_message(people):
    officer = people["officer"]
    case = make_case(officer=officer)  # early warning: no escalation yet
    response = post_action(client_for(officer), case, "escalate", reason="late", follow=True)
    assert messages_of(response) == ["This step is not allowed while the case is “Early warning”."]
    resolvable = make_case(state=S.MINOR, officer=officer, loan=_loan(overdue_amount=Decimal("10.00")))
    response = post_action(client_for(officer), resolvable, "resolve", reason="cured", note="", follow=True)
    assert messages_of(response) == ["The loan still has an overdue amount: the case cannot be resolved as cured."]
    assert CollectionCase.objects.get(pk=resolvable.pk).state == S.MINOR


def test_steps_a_manager_must_approve_are_requested_and_then_await_the_decision(people):
    officer = people["officer"]
    case = make_case(state=S.SERIOUS, officer=officer)
    response = post_action(
        client_for(officer), case, "refer_to_legal", reason="assets found", feasibility_note="recover 80%, cost 5%",
        follow=True,
    )  # fmt: skip
    assert messages_of(response) == ["Legal referral requested: a manager will decide."]
    approval = Approval.objects.get()
    assert (approval.action, approval.status, approval.requested_by) == (
        ApprovalAction.REFER_TO_LEGAL,
        ApprovalStatus.PENDING,
        officer,
    )
    assert approval.details == {"feasibility_note": "recover 80%, cost 5%"}
    page = page_text(response)
    assert "awaiting approval" in page and 'id="action-refer_to_legal"' not in page and "Waiting for a manager" in page
    # One request at a time per case: the write-off waits too, saying why.
    assert 'id="action-write_off"' not in page and "another request is waiting" in page
    assert CollectionCase.objects.get(pk=case.pk).state == S.SERIOUS
    assert "Approval requested" in page  # on the timeline


# --- PII ----------------------------------------------------------------------------------------------


def test_officers_see_masked_pii_and_may_not_unmask(people):
    case = make_case(officer=people["officer"])
    client = client_for(people["officer"])
    assert "Unmask" not in page_text(client.get(case_url(case)))
    assert client.post(case_url(case, "unmask")).status_code == 403
    assert not ActivityLog.objects.filter(action="collection.case.pii_unmasked").exists()


def test_unmasking_shows_the_numbers_and_writes_the_audit_log(people):
    manager = people["manager"]
    case = make_case(officer=people["officer"])
    borrower = case.loan.borrower
    ContactPoint.objects.create(borrower=borrower, channel=Channel.MOBILE, value="+8613800001111")
    client = client_for(manager)
    page = page_text(client.get(case_url(case)))
    assert "Unmask" in page and borrower.id_number not in page
    page = page_text(client.post(case_url(case, "unmask")))
    assert borrower.id_number in page and borrower.phone in page and "+8613800001111" in page
    assert f'value="/cases/{case.pk}/"' in page  # the language switch returns to the case, not the POST
    entry = ActivityLog.objects.get(action="collection.case.pii_unmasked")
    assert (entry.actor, entry.target_id, entry.data) == (manager, str(case.pk), {"borrower": borrower.pk})
    partial = page_text(client.post(case_url(case, "unmask"), headers={"HX-Request": "true"}))
    assert partial.lstrip().startswith('<section class="card" id="borrower-card"') and borrower.id_number in partial
    assert ActivityLog.objects.filter(action="collection.case.pii_unmasked").count() == 2
    # Nothing stays unmasked for the next page.
    assert borrower.id_number not in page_text(client.get(case_url(case)))


# --- The timeline -------------------------------------------------------------------------------------


def test_the_timeline_merges_the_audit_log_contacts_and_promises_newest_first(people):
    officer = people["officer"]
    case = make_case(state=S.MINOR, officer=officer)
    with time_machine.travel(datetime(2026, 4, 20, 9, tzinfo=SHANGHAI), tick=False):
        services.contact_log(actor=officer, case=case, channel=ContactChannel.CALL, outcome=ContactOutcome.PROMISED)
    with time_machine.travel(datetime(2026, 4, 20, 9, 5, tzinfo=SHANGHAI), tick=False):
        services.promise_record(actor=officer, case=case, amount="500.00", promised_for=date(2026, 4, 25))
    with time_machine.travel(datetime(2026, 4, 20, 9, 10, tzinfo=SHANGHAI), tick=False):
        case = services.case_hold(actor=officer, case=case, reason=HoldReason.DISPUTE, note="disputes the fee")
    with time_machine.travel(datetime(2026, 4, 20, 9, 15, tzinfo=SHANGHAI), tick=False):
        services.case_set_flags(actor=officer, case=case, suspected_evasion=True, note="sold the car")
    entries = selectors.case_timeline(case)
    assert [entry.kind for entry in entries] == ["flag", "transition", "promise", "contact"]
    flag, hold, promise, contact = entries
    assert (hold.title, hold.who, hold.detail) == ("Put on hold", "officer", "disputes the fee")
    assert ("state", "Minor overdue → On hold") in [(str(label), value) for label, value in hold.facts]
    assert ("rule", "officer's decision") in [(str(label), str(value)) for label, value in hold.facts]
    assert promise.title == "Promise to pay recorded" and ("amount", "¥500.00") in [
        (str(label), value) for label, value in promise.facts
    ]
    assert contact.title == "Phone call · Promised to pay" and contact.when == datetime(2026, 4, 20, 9, tzinfo=SHANGHAI)
    assert flag.detail == "sold the car"


def test_the_timeline_shows_the_rule_behind_an_automatic_move(people):
    case = make_case(officer=people["officer"])
    ActivityLog.objects.bulk_create(
        [
            build_entry(
                actor="system",
                action="collection.case.classified",
                target=case,
                before={"state": "early_warning"},
                after={"state": "serious"},
                data={"rule": "classification_rules", "reasons": [{"code": "refused", "message": "Refused to pay"}]},
            )
        ]
    )
    (entry,) = selectors.case_timeline(case)
    facts = {str(label): str(value) for label, value in entry.facts}
    # The reason is shown from its code, in the reader's language, not as stored on the day.
    assert (entry.who, facts["rule"], facts["reasons"]) == (
        "system",
        "classification rules",
        "Borrower explicitly refused to pay",
    )
    with translation.override("zh-hans"):
        (entry,) = selectors.case_timeline(case)
        shown = [str(value) for _label, value in entry.facts]
    assert "借款人明确拒绝还款" in shown


# --- Query counts -------------------------------------------------------------------------------------


def _bulk_cases(count, officer, team=None, start=0):
    """`count` open cases on loans written straight to the table (no schedules): query counts and
    paging need many rows, not realistic ones."""
    product = LoanProductFactory(code="bulk")
    numbers = range(start, start + count)
    borrowers = Borrower.objects.bulk_create(
        Borrower(name=f"批量{n}", id_number=f"B{n:017d}", phone=f"+86139{n:08d}") for n in numbers
    )
    loans = Loan.objects.bulk_create(
        Loan(
            external_id=f"BULK-{officer.pk}-{n}",
            borrower=borrower,
            product=product,
            principal=Decimal("1000.00"),
            annual_rate=Decimal("0.12"),
            term_months=12,
            disbursed_on=date(2026, 1, 1),
            first_due_date=date(2026, 2, 1),
            maturity_date=date(2027, 1, 1),
            days_past_due=n % 90 + 1,
            overdue_amount=Decimal(100 + n),
            aging_bucket=f"M{n % 90 // 30 + 1}",
        )
        for n, borrower in zip(numbers, borrowers, strict=True)
    )
    cases = CollectionCase.objects.bulk_create(
        CollectionCase(
            loan=loan,
            state=[S.EARLY_WARNING, S.MINOR, S.SERIOUS][n % 3],
            severity=["", "minor", "serious"][n % 3],
            officer=officer,
            team=team,
            opened_on=date(2026, 3, 1),
            priority_score=n,
            last_contact_at=datetime(2026, 4, 19, 9, tzinfo=SHANGHAI),
        )
        for n, loan in zip(numbers, loans, strict=True)
    )
    PromiseToPay.objects.bulk_create(
        PromiseToPay(case=case, amount=Decimal("10.00"), promised_for=TODAY + timedelta(days=n % 5))
        for n, case in zip(numbers, cases, strict=True)
    )
    return cases


def _queries(client, url, params=None, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params, **kwargs)
    assert response.status_code == 200
    return len(queries)


WORKLIST_MAX_QUERIES = 15
# The case page's 21 (one reads the schedule's penalties as of today), the latest restructuring
# plan, and the loan's position beside the proposal (3).
CASE_PAGE_MAX_QUERIES = 25


def test_the_worklist_runs_the_same_few_queries_for_10_cases_or_200(people):
    """Session, user, the counts, the page and its count, the drop-downs (permissions and roles come from
    the cache once read): never a query per row (the borrower, loan, product, officer and next promise
    come with the page)."""
    team = Team.objects.create(name="Bulk", lead=people["manager"])
    requests = [
        ({"sort": "-overdue_amount"}, {}),
        ({"sort": "next_promise_due", "severity": "minor"}, {}),
        ({"q": "批量", "page": 1}, {"headers": {"HX-Request": "true", "HX-Target": "worklist-results"}}),
    ]
    clients = {role: client_for(people[role]) for role in ("officer", "manager")}

    def measure():
        return {
            (role, index): _queries(client, WORKLIST, params, **kwargs)
            for role, client in clients.items()
            for index, (params, kwargs) in enumerate(requests)
        }

    _bulk_cases(10, people["officer"], team=team)
    for client in clients.values():  # permissions and roles are read once, then kept (core/auth.py)
        client.get(WORKLIST)
    few = measure()
    _bulk_cases(190, people["officer"], team=team, start=10)
    many = measure()
    assert few == many
    assert max(many.values()) <= WORKLIST_MAX_QUERIES
    assert len(listed_ids(clients["manager"].get(WORKLIST))) == 50


def test_the_case_page_runs_the_same_few_queries_for_10_timeline_entries_or_200(people):
    officer = people["officer"]
    case = make_case(state=S.SERIOUS, officer=officer, team=Team.objects.create(name="T", lead=people["manager"]))
    ContactPoint.objects.create(borrower=case.loan.borrower, channel=Channel.MOBILE, value="+8613800001111")
    services.approval_request(actor=officer, case=case, action=ApprovalAction.WRITE_OFF, reason="sale")
    clients = [client_for(officer), client_for(people["manager"])]

    def add_history(rows, start=0):
        numbers = range(start, start + rows)
        first_call = datetime(2026, 4, 1, 9, tzinfo=SHANGHAI)
        ContactAttempt.objects.bulk_create(
            ContactAttempt(
                case=case, channel="call", outcome="reached", by=officer, attempted_at=first_call + timedelta(minutes=n)
            )
            for n in numbers
        )
        PromiseToPay.objects.bulk_create(
            PromiseToPay(case=case, amount=Decimal(n + 1), promised_for=TODAY, recorded_by=officer) for n in numbers
        )
        ActivityLog.objects.bulk_create(
            build_entry(actor=officer, action="collection.case.flagged", target=case, reason=f"flag {n}")
            for n in numbers
        )

    def measure():
        for client in clients:
            client.get(case_url(case))  # the content-type cache is filled once per process
        return [_queries(client, case_url(case)) for client in clients]

    add_history(10)
    few = measure()
    add_history(190, start=10)
    many = measure()
    assert few == many
    assert max(many) <= CASE_PAGE_MAX_QUERIES
    page = page_text(clients[0].get(case_url(case)))
    assert page.count('class="tl tl-') == selectors.CASE_PAGE_ROWS


def test_the_timeline_shows_what_happened_to_the_cases_loan(people):
    """A manager's class, a bounced payment and the later payments allocated again are the loan's
    own entries; the officer sees them on the case, with who and why."""
    from loans.services import loan_set_class, payment_post, payment_reverse

    case = make_case(state=S.MINOR, officer=people["officer"])
    manager = people["manager"]
    with time_machine.travel(datetime(2026, 4, 20, 9, tzinfo=SHANGHAI), tick=False):
        loan_set_class(
            actor=manager, loan=case.loan, regulatory_class=3, reason="Main customer bankrupt", on=date(2026, 4, 20)
        )
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        first, _ = payment_post(
            actor="system", loan=case.loan, amount="100.00", external_reference="T-1", channel="bank_transfer"
        )
        payment_post(actor="system", loan=case.loan, amount="100.00", external_reference="T-2", channel="bank_transfer")
        payment_reverse(actor=manager, payment=first, reason="Bounced")
    titles = [entry.title for entry in selectors.case_timeline(case)]
    assert titles[:3] == ["Later payments allocated again", "Payment reversed", "Loan class set by a manager"]
    class_set = next(entry for entry in selectors.case_timeline(case) if entry.title == "Loan class set by a manager")
    assert class_set.detail == "Main customer bankrupt"
