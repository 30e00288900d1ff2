"""The legal officer's pages: the worklist with its filters and deadlines, the action page for each
role with a bounded number of queries, every form on it (a lawsuit from filing to enforcement with
property preserved, a vehicle seized, appraised, listed, sold and its proceeds distributed), the
services' refusals shown on the field they name, documents uploaded and served only to those who
may see the action, and opening an action from the case page."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collection.choices import CaseState
from core import roles
from core.apps import sync_roles
from legal import services
from legal.choices import ActionState, DisposalState, PreservationStatus
from legal.models import AssetDisposal, LawFirm, LegalAction, LegalCost, LegalDocument, LegalTask, PreservationOrder
from loans.choices import CollateralKind, CollateralStatus
from loans.models import Collateral
from tests import files
from tests.collection.factories import make_case, make_manager, make_officer, make_user
from tests.conftest import password_login
from tests.legal.factories import make_legal_case

TODAY = date(2026, 4, 20)
SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKLIST = "/legal/"
PDF = files.pdf("summons")
# Session, user, permissions (2), roles, the action, its tasks, costs, documents, recoveries, orders,
# disposals, the loan's collateral, the history, the result (3), the nav's role; a manager's nav adds
# the approvals count.
ACTION_PAGE_MAX_QUERIES = 19
WORKLIST_MAX_QUERIES = 13  # 11, a manager's approvals count, one spare
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
        "officer": make_officer("zhao"),
        "other_officer": make_officer("qian"),
        "lawyer": make_user("counsel", roles.LEGAL_OFFICER, last_name="孙", first_name="律"),
        "manager": make_manager("boss"),
        "auditor": make_user("auditor", roles.AUDITOR),
    }


def legal_case(officer):
    return make_legal_case(officer, as_of=TODAY)


@pytest.fixture
def case(people):
    return legal_case(people["officer"])


@pytest.fixture
def vehicle(case):
    return Collateral.objects.create(
        loan=case.loan,
        kind=CollateralKind.VEHICLE,
        description="大众帕萨特 2022",
        identifier="沪A12345",
        appraised_value=Decimal("60000.00"),
    )


def open_action(case, actor, kind="lawsuit", **fields):
    fields.setdefault("lawyer_fee", "3000")
    fields.setdefault("recoverable", "20000")
    return services.action_open(actor=actor, case=case, kind=kind, **fields)


def filed(action, actor):
    return services.action_advance(
        actor=actor, action=action, step="file", on=date(2026, 3, 2), court="上海市黄浦区人民法院",
        court_case_number="(2026)沪0101民初1234号",
    )  # fmt: skip


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def action_url(action):
    return f"/legal/actions/{action.pk}/"


def post(client, action, name, item=None, files=None, follow=False, headers=None, **fields):
    """POST one of the action page's forms as the browser does: fields under the form's prefix."""
    prefix = name if item is None else f"{name}-{item.pk}"
    data = {f"{prefix}-{field}": value for field, value in fields.items()}
    for field, upload in (files or {}).items():
        data[f"{prefix}-{field}"] = upload
    url = f"/legal/actions/{action.pk}/{name}/" + (f"{item.pk}/" if item is not None else "")
    return client.post(url, data, follow=follow, headers=headers or {})


def page_text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def form_errors(response, prefix):
    """The errors of the bound form `prefix` the page shows again."""
    for panel in response.context["page"].shown_forms():
        if panel.form.prefix == prefix:
            return panel.form.errors
    raise AssertionError(f"no form {prefix} on the page")


def pdf(name="judgment.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def listed(response):
    assert response.status_code == 200, response.status_code
    return [row.record.pk for row in response.context["table"].page.object_list]


# --- Who may come in ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(people, case):
    action = open_action(case, people["lawyer"])
    for url in (WORKLIST, action_url(action), f"/legal/cases/{case.pk}/open/"):
        response = Client().get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    response = Client().post(f"/legal/actions/{action.pk}/cost_add/", {})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not LegalCost.objects.exists()


def test_a_legal_officer_signs_in_and_finds_the_legal_link(people, case):
    lawyer = people["lawyer"]
    lawyer.set_password("pw-Legal-1")
    lawyer.save()
    client = Client()
    assert password_login(client, "counsel", "pw-Legal-1")
    home = page_text(client.get("/cases/"))
    assert 'href="/legal/"' in home
    assert 'href="/legal/"' not in page_text(client_for(people["officer"]).get("/cases/"))
    assert 'href="/legal/"' in page_text(client_for(people["auditor"]).get("/cases/"))


# --- The worklist ------------------------------------------------------------------------------------------


def test_the_worklist_lists_the_actions_each_user_may_see_and_filters_them(people, case):
    lawyer = people["lawyer"]
    firm = LawFirm.objects.create(name="金杜律师事务所")
    suit = filed(open_action(case, lawyer, law_firm=firm), lawyer)
    letter = open_action(case, lawyer, kind="lawyers_letter")
    elsewhere = open_action(legal_case(people["other_officer"]), lawyer)

    for role in ("lawyer", "manager", "auditor"):
        assert set(listed(client_for(people[role]).get(WORKLIST))) == {suit.pk, letter.pk, elsewhere.pk}
    assert set(listed(client_for(people["officer"]).get(WORKLIST))) == {suit.pk, letter.pk}  # own case only

    client = client_for(lawyer)
    assert listed(client.get(WORKLIST, {"state": "filed"})) == [suit.pk]
    assert set(listed(client.get(WORKLIST, {"kind": "lawsuit"}))) == {suit.pk, elsewhere.pk}
    assert listed(client.get(WORKLIST, {"law_firm": firm.pk})) == [suit.pk]
    assert set(listed(client.get(WORKLIST, {"handled_by": lawyer.pk}))) == {suit.pk, letter.pk, elsewhere.pk}
    assert listed(client.get(WORKLIST, {"open": "false"})) == []

    text = page_text(client.get(WORKLIST))
    assert "(2026)沪0101民初1234号" in text
    assert f'href="/legal/actions/{suit.pk}/"' in text and f'href="/cases/{case.pk}/"' in text
    results = client.get(WORKLIST, {"state": "filed"}, headers={"HX-Request": "true", "HX-Target": "legal-results"})
    assert page_text(results).lstrip().startswith('<div id="legal-results"')


def test_the_next_deadline_shows_with_its_kind_and_overdue_ones_are_marked(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    services.task_add(actor=lawyer, action=action, due_on=TODAY - timedelta(days=2), note="Collect the ruling")
    later = filed(open_action(case, lawyer, kind="arbitration"), lawyer)
    services.task_add(actor=lawyer, action=later, due_on=TODAY + timedelta(days=5), note="Call the clerk")
    services.task_add(actor=lawyer, action=later, due_on=TODAY + timedelta(days=45), note="Far away")

    client = client_for(lawyer)
    response = client.get(WORKLIST)
    assert listed(response) == [action.pk, later.pk]
    assert listed(client.get(WORKLIST, {"due_by": "2026-04-19"})) == [action.pk]
    assert listed(client.get(WORKLIST, {"sort": "-next_due_on"})) == [later.pk, action.pk]
    text = page_text(response)
    assert '<span class="deadline-overdue">2026-04-18</span>' in text
    assert '<span class="deadline">2026-04-25</span>' in text


def test_the_deadlines_list_overdue_first_and_stop_thirty_days_ahead(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    for days, note in ((10, "ten"), (-3, "overdue"), (0, "today"), (31, "too far"), (30, "thirty")):
        services.task_add(actor=lawyer, action=action, due_on=TODAY + timedelta(days=days), note=note)
    response = client_for(lawyer).get(WORKLIST)
    assert [task.note for task in response.context["deadlines"]] == ["overdue", "today", "ten", "thirty"]
    text = page_text(response)
    assert 'class="deadline-row overdue"' in text and "too far" not in text


def test_a_deadline_is_ticked_off_from_the_worklist(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    task = services.task_add(actor=lawyer, action=action, due_on=TODAY, note="File the evidence")
    client = client_for(lawyer)
    assert f'action="/legal/actions/{action.pk}/task_done/{task.pk}/"' in page_text(client.get(WORKLIST))
    response = client.post(f"/legal/actions/{action.pk}/task_done/{task.pk}/", {"next": "/legal/?kind=lawsuit"})
    assert response.status_code == 302 and response.url == "/legal/?kind=lawsuit"
    task.refresh_from_db()
    assert (task.done_on, task.done_by) == (TODAY, lawyer)
    # The auditor sees the deadlines but no button, and cannot post one.
    other = services.task_add(actor=lawyer, action=action, due_on=TODAY, note="Another")
    auditor = client_for(people["auditor"])
    assert "task_done" not in page_text(auditor.get(WORKLIST))
    assert auditor.post(f"/legal/actions/{action.pk}/task_done/{other.pk}/", {}).status_code == 403
    other.refresh_from_db()
    assert other.done_on is None


# --- The action page, by role, and its queries ---------------------------------------------------------


def test_the_action_page_shows_the_forms_to_legal_staff_and_none_to_readers(people, case):
    lawyer = people["lawyer"]
    action = open_action(case, lawyer, law_firm=LawFirm.objects.create(name="金杜"))
    for role in ("lawyer", "manager"):
        text = page_text(client_for(people[role]).get(action_url(action)))
        assert 'id="form-file"' in text and 'id="form-send_letter"' in text and 'id="form-cost_add"' in text
        assert 'id="form-record_judgment"' not in text  # not allowed before a hearing
        assert 'id="form-letter"' in text  # letters are generated from the action page
    for role in ("auditor", "officer"):
        text = page_text(client_for(people[role]).get(action_url(action)))
        assert 'id="read-only"' in text and '<form method="post" action="/legal/' not in text
        assert "金杜" in text and str(action.claim_principal) in text.replace(",", "")
    assert client_for(people["other_officer"]).get(action_url(action)).status_code == 404


def test_every_step_of_the_services_has_its_form():
    from legal import views

    assert set(views.STEPS) == set(services.STEPS)


def test_the_action_page_shows_the_feasibility_claim_and_dates(people, case):
    manager = people["manager"]
    action = open_action(case, manager, recoverable="0", override_reason="Deterrence: other debts with us.")
    text = page_text(client_for(people["auditor"]).get(action_url(action)))
    assert "Deterrence: other debts with us." in text
    assert f"¥{Decimal(action.feasibility['court_fee']):,.2f}" in text
    assert f"¥{action.claim:,.2f}" in text


def _fill(action, lawyer, count):
    for n in range(count):
        services.cost_add(actor=lawyer, action=action, kind="court_fee", amount=f"{n + 1}.00", incurred_on=TODAY)
        services.task_add(actor=lawyer, action=action, due_on=TODAY + timedelta(days=n), note=f"task {n}")
        services.document_upload(actor=lawyer, action=action, kind="ruling", file=pdf(f"ruling-{n}.pdf"))
        services.preservation_apply(
            actor=lawyer, action=action, asset_kind="bank_account", description=f"账户 {n}", amount="1000",
            applied_on=TODAY,
        )  # fmt: skip


def test_the_action_page_runs_the_same_few_queries_for_1_or_10_costs_tasks_and_documents(people, case, vehicle):
    lawyer = people["lawyer"]
    small = filed(open_action(case, lawyer), lawyer)
    large = filed(open_action(legal_case(people["officer"]), lawyer), lawyer)
    _fill(small, lawyer, 1)
    _fill(large, lawyer, 10)
    services.disposal_open(actor=lawyer, action=small, collateral=vehicle, seized_on=TODAY)

    def measure(action):
        counts = []
        for role in ("lawyer", "manager", "auditor", "officer"):
            client = client_for(people[role])
            client.get(action_url(action))  # the content-type cache is filled once per process
            with CaptureQueriesContext(connection) as queries:
                response = client.get(action_url(action))
            assert response.status_code == 200
            counts.append(len(queries))
        return counts

    few, many = measure(small), measure(large)
    assert few == many, (few, many)
    assert max(many) <= ACTION_PAGE_MAX_QUERIES


def test_the_worklist_runs_the_same_few_queries_for_2_actions_or_30(people, case):
    lawyer = people["lawyer"]
    firm = LawFirm.objects.create(name="金杜")

    def add(count):
        for _ in range(count):
            action = filed(open_action(legal_case(people["officer"]), lawyer, law_firm=firm), lawyer)
            services.task_add(actor=lawyer, action=action, due_on=TODAY, note="call the clerk")

    def measure():
        counts = []
        for role in ("lawyer", "manager", "officer"):
            client = client_for(people[role])
            for params in ({}, {"state": "filed", "sort": "-next_due_on"}):
                client.get(WORKLIST, params)
                with CaptureQueriesContext(connection) as queries:
                    assert client.get(WORKLIST, params).status_code == 200
                counts.append(len(queries))
        return counts

    add(2)
    few = measure()
    add(28)
    many = measure()
    assert few == many and max(many) <= WORKLIST_MAX_QUERIES, (few, many)


def test_the_case_page_reads_the_legal_actions_in_one_query(people, case):
    lawyer = people["lawyer"]
    client = client_for(lawyer)

    def measure():
        client.get(f"/cases/{case.pk}/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/cases/{case.pk}/").status_code == 200
        return len(queries)

    none = measure()
    open_action(case, lawyer)
    one = measure()
    open_action(case, lawyer, kind="arbitration")
    open_action(case, lawyer, kind="payment_order", law_firm=LawFirm.objects.create(name="金杜"))
    assert none == one == measure()


def test_the_case_page_links_its_legal_actions(people, case):
    lawyer = people["lawyer"]
    action = open_action(case, lawyer)
    text = page_text(client_for(lawyer).get(f"/cases/{case.pk}/"))
    assert f'href="/legal/actions/{action.pk}/"' in text and f'href="/legal/cases/{case.pk}/open/"' in text
    officer_text = page_text(client_for(people["officer"]).get(f"/cases/{case.pk}/"))
    assert f'href="/legal/actions/{action.pk}/"' in officer_text
    assert "/open/" not in officer_text  # the case officer reads, a legal officer opens


# --- Opening an action -----------------------------------------------------------------------------------


def test_a_legal_officer_opens_an_action_from_the_case(people, case):
    lawyer = people["lawyer"]
    client = client_for(lawyer)
    url = f"/legal/cases/{case.pk}/open/"
    assert 'id="form-open"' in page_text(client.get(url))
    firm = LawFirm.objects.create(name="金杜")
    response = client.post(
        url, {"kind": "lawsuit", "law_firm": firm.pk, "lawyer_fee": "3000", "recoverable": "20000", "preserve": "on"}
    )
    action = LegalAction.objects.get()
    assert response.status_code == 302 and response.url == action_url(action)
    assert (action.kind, action.law_firm, action.handled_by) == ("lawsuit", firm, lawyer)
    # The same kind again: refused on the form, nothing opened.
    again = client.post(url, {"kind": "lawsuit", "lawyer_fee": "3000", "recoverable": "20000"})
    assert "already under way" in str(again.context["form"].non_field_errors())
    assert LegalAction.objects.count() == 1


def test_an_action_expected_to_lose_money_shows_why_on_the_form(people, case):
    url = f"/legal/cases/{case.pk}/open/"
    hopeless = {"kind": "lawsuit", "lawyer_fee": "3000", "recoverable": "0"}
    response = client_for(people["lawyer"]).post(url, hopeless)
    assert "only a manager may go ahead" in str(response.context["form"].non_field_errors())
    manager = client_for(people["manager"])
    response = manager.post(url, hopeless)
    assert "say why to go ahead anyway" in str(response.context["form"].errors["override_reason"])
    assert not LegalAction.objects.exists()
    response = manager.post(url, {**hopeless, "override_reason": "Deterrence", "handled_by": people["lawyer"].pk})
    assert response.status_code == 302
    assert LegalAction.objects.get().feasibility["override_reason"] == "Deterrence"


def test_only_legal_staff_open_actions_and_only_on_cases_in_legal(people, case):
    url = f"/legal/cases/{case.pk}/open/"
    for role in ("auditor", "officer"):
        client = client_for(people[role])
        assert client.get(url).status_code == 403
        assert client.post(url, {"kind": "lawsuit", "lawyer_fee": "1", "recoverable": "9999"}).status_code == 403
    serious = make_case(state=CaseState.SERIOUS, officer=people["officer"])
    response = client_for(people["lawyer"]).post(
        f"/legal/cases/{serious.pk}/open/", {"kind": "lawsuit", "lawyer_fee": "1", "recoverable": "9999"}, follow=True
    )
    assert "opened on a case referred to legal" in " ".join(messages_of(response))
    assert not LegalAction.objects.exists()


# --- A lawsuit through the forms --------------------------------------------------------------------------


def test_a_lawsuit_goes_from_filing_to_enforcement_with_property_preserved(people, case):
    lawyer = people["lawyer"]
    client = client_for(lawyer)
    action = open_action(case, lawyer)

    # Filing without the court: the error on its field, nothing changed.
    response = post(client, action, "file", on="2026-03-02", court="", court_case_number="X")
    assert "court" in form_errors(response, "file")
    action.refresh_from_db()
    assert action.state == ActionState.PREPARING
    response = post(
        client, action, "file", on="2026-03-02", court="上海市黄浦区人民法院", court_case_number="(2026)沪0101民初1号",
        document_kind="complaint", files={"document": pdf("complaint.pdf")}, follow=True,
    )  # fmt: skip
    assert messages_of(response) == ["The action was filed."]
    action.refresh_from_db()
    assert (action.state, action.court_case_number) == (ActionState.FILED, "(2026)沪0101民初1号")
    assert LegalDocument.objects.get(action=action).step == "file"

    # A step for a future day is refused on its date.
    response = post(client, action, "schedule_hearing", on="2026-04-21", hearing_on="2026-05-20")
    assert "future day" in str(form_errors(response, "schedule_hearing")["on"])

    post(client, action, "preservation_apply", asset_kind="bank_account", description="工商银行 6222…1234",
         amount="15000", applied_on="2026-03-03")  # fmt: skip
    order = PreservationOrder.objects.get(action=action)
    response = post(client, action, "preservation_decide", item=order, decision="granted", on="2026-03-05",
                    ruling_number="")  # fmt: skip
    assert "ruling" in str(form_errors(response, f"preservation_decide-{order.pk}")["ruling_number"]).lower()
    post(client, action, "preservation_decide", item=order, decision="granted", on="2026-03-05",
         ruling_number="(2026)沪0101财保12号")  # fmt: skip
    order.refresh_from_db()
    action.refresh_from_db()
    assert (order.status, action.state) == (PreservationStatus.GRANTED, ActionState.PRESERVATION_GRANTED)

    post(client, action, "schedule_hearing", on="2026-03-10", hearing_on="2026-03-30")
    post(client, action, "record_judgment", on="2026-04-02", judgment_on="2026-04-02",
         performance_due_on="2026-04-12", judgment_principal="12000.00", judgment_interest="700.00",
         judgment_penalty="", judgment_costs="300.00")  # fmt: skip
    action.refresh_from_db()
    assert action.state == ActionState.JUDGMENT and action.appeal_deadline == date(2026, 4, 17)
    assert (action.judgment_principal, action.judgment_penalty, action.judgment_total) == (
        Decimal("12000.00"),
        Decimal("0.00"),
        Decimal("13000.00"),
    )
    post(client, action, "cost_add", kind="court_fee", amount="300.00", incurred_on="2026-03-02")
    post(client, action, "recovery_post", amount="2000.00", external_reference="COURT-7", channel="legal_recovery",
         on="2026-04-15")  # fmt: skip
    response = post(client, action, "apply_enforcement", on="2026-04-20", note="Not performed", follow=True)
    assert messages_of(response)[-1] == "The application for enforcement was recorded."
    action.refresh_from_db()
    assert action.state == ActionState.ENFORCEMENT
    text = page_text(client.get(action_url(action)))
    assert 'id="form-close_impossible"' in text and 'id="form-file"' not in text
    assert "legal.action.apply_enforcement" in text and "legal.preservation.granted" in text
    result = response.context["page"].result
    assert (result["recovered"], result["costs"], result["net"]) == (
        Decimal("2000.00"),
        Decimal("300.00"),
        Decimal("1700.00"),
    )
    assert not action.tasks.filter(done_on=None, kind__in=["appeal_deadline", "performance_due"]).exists()
    post(client, action, "preservation_lift", item=order, on="2026-04-20")
    order.refresh_from_db()
    assert order.status == PreservationStatus.LIFTED


def test_a_step_the_action_no_longer_allows_is_refused_with_a_message(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    response = post(client_for(lawyer), action, "send_letter", on="2026-04-20", follow=True)
    assert any("not allowed" in message or "not available" in message for message in messages_of(response))
    action.refresh_from_db()
    assert action.state == ActionState.FILED


def test_with_htmx_a_refused_form_comes_back_alone_with_its_error(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    response = post(
        client_for(lawyer), action, "cost_add", kind="court_fee", amount="-5", incurred_on="2026-04-20",
        headers={"HX-Request": "true"},
    )  # fmt: skip
    text = page_text(response)
    assert text.lstrip().startswith("<form") and 'id="form-cost_add"' in text and "has-error" in text
    ok = post(client_for(lawyer), action, "cost_add", kind="court_fee", amount="5", incurred_on="2026-04-20",
              headers={"HX-Request": "true"})  # fmt: skip
    assert ok.headers["HX-Redirect"] == action_url(action)


# --- Selling a vehicle through the forms ------------------------------------------------------------------


def test_a_vehicle_is_seized_appraised_listed_sold_and_its_proceeds_distributed(people, case, vehicle):
    lawyer = people["lawyer"]
    client = client_for(lawyer)
    action = filed(open_action(case, lawyer), lawyer)
    text = page_text(client.get(action_url(action)))
    assert 'id="form-disposal_open"' in text and "沪A12345" in text

    post(client, action, "disposal_open", collateral=vehicle.pk, seized_on="2026-04-01", location="法院停车场")
    disposal = AssetDisposal.objects.get()
    assert 'id="form-disposal_open"' not in page_text(client.get(action_url(action)))  # nothing left to seize
    post(client, action, "disposal_appraise", item=disposal, value="60000.00", on="2026-04-05", appraiser="上海某评估",
         fee="500.00")  # fmt: skip

    # The reserve floor is shown, and a reserve below it is refused on its field.
    response = client.get(action_url(action))
    assert "¥42,000.00" in page_text(response)
    response = post(client, action, "disposal_list", item=disposal, method="judicial_auction",
                    reserve_price="30000.00", on="2026-04-06")  # fmt: skip
    assert "no lower than ¥42,000.00" in str(form_errors(response, f"disposal_list-{disposal.pk}")["reserve_price"])
    disposal.refresh_from_db()
    assert disposal.state == DisposalState.APPRAISED

    post(client, action, "disposal_list", item=disposal, method="judicial_auction", reserve_price="42000.00",
         on="2026-04-06")  # fmt: skip
    post(client, action, "disposal_unsold", item=disposal, on="2026-04-10")
    response = client.get(action_url(action))
    assert "¥33,600.00" in page_text(response)  # 80% of the last reserve
    post(client, action, "disposal_list", item=disposal, method="judicial_auction", reserve_price="33600.00",
         on="2026-04-11")  # fmt: skip
    post(client, action, "disposal_sell", item=disposal, price="45000.00", on="2026-04-15", buyer="李四")
    response = post(client, action, "disposal_distribute", item=disposal, on="2026-04-20",
                    external_reference="AUCTION-1", follow=True)  # fmt: skip
    assert messages_of(response)[-1] == "The proceeds were distributed."
    disposal.refresh_from_db()
    vehicle.refresh_from_db()
    assert disposal.state == DisposalState.DISTRIBUTED and vehicle.status == CollateralStatus.SOLD
    # The appraisal fee was charged to the loan: the proceeds pay the loan (the fee first) and the rest is
    # the borrower's.
    assert disposal.to_costs == 0 and disposal.to_loan > 0 and disposal.surplus > 0
    assert disposal.to_loan + disposal.surplus == Decimal("45000.00")
    assert disposal.payment.allocations.filter(component="cost").get().amount == Decimal("500.00")
    assert f'id="form-disposal_surplus_paid-{disposal.pk}"' in page_text(response)

    post(client, action, "disposal_surplus_paid", item=disposal, on="2026-04-20", reference="TRANSFER-9")
    disposal.refresh_from_db()
    assert disposal.surplus_paid_on == TODAY
    assert not LegalTask.objects.filter(action=action, kind="surplus_refund", done_on=None).exists()


def test_a_seized_asset_is_released_with_a_reason(people, case, vehicle):
    lawyer = people["lawyer"]
    client = client_for(lawyer)
    action = filed(open_action(case, lawyer), lawyer)
    disposal = services.disposal_open(actor=lawyer, action=action, collateral=vehicle, seized_on=TODAY)
    response = post(client, action, "disposal_release", item=disposal, on="2026-04-20", note="")
    assert "note" in form_errors(response, f"disposal_release-{disposal.pk}")
    post(client, action, "disposal_release", item=disposal, on="2026-04-20", note="Paid in full")
    vehicle.refresh_from_db()
    assert vehicle.status == CollateralStatus.RELEASED


def test_an_item_of_another_action_is_not_found(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    other = filed(open_action(legal_case(people["officer"]), lawyer), lawyer)
    task = services.task_add(actor=lawyer, action=other, due_on=TODAY, note="theirs")
    assert post(client_for(lawyer), action, "task_done", item=task).status_code == 404
    assert client_for(lawyer).post(f"/legal/actions/{action.pk}/nonsense/", {}).status_code == 404


# --- Documents ------------------------------------------------------------------------------------------


def test_a_pdf_is_accepted_and_a_program_refused_with_the_reason(people, case):
    lawyer = people["lawyer"]
    client = client_for(lawyer)
    action = filed(open_action(case, lawyer), lawyer)
    response = post(client, action, "document_upload", document_kind="judgment", note="served",
                    files={"document": pdf()}, follow=True)  # fmt: skip
    assert messages_of(response) == ["The document was uploaded."]
    document = LegalDocument.objects.get()
    assert (document.content_type, document.original_name, document.size) == (
        "application/pdf",
        "judgment.pdf",
        len(PDF),
    )

    for name, content in (("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00"), ("notes.pdf", b"just some text")):
        upload = SimpleUploadedFile(name, content, content_type="application/pdf")
        response = post(client, action, "document_upload", document_kind="other", files={"document": upload})
        errors = form_errors(response, "document_upload")["document"]
        assert "Only these kinds of file may be uploaded: PDF, JPEG, PNG." in str(errors)
    assert LegalDocument.objects.count() == 1


def test_a_document_is_served_only_to_those_who_may_see_its_action(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    document = services.document_upload(actor=lawyer, action=action, kind="ruling", file=pdf("ruling.pdf"))
    url = f"/legal/documents/{document.pk}/"
    assert url in page_text(client_for(people["officer"]).get(action_url(action)))
    # Court papers show the borrower's full ID number: only those who may see it unmasked open them.
    for role in ("auditor", "officer"):
        assert client_for(people[role]).get(url).status_code == 403
    people["auditor"].user_permissions.add(Permission.objects.get(codename="unmask_pii"))
    for role in ("lawyer", "auditor"):
        response = client_for(people[role]).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content) == PDF
        assert "ruling.pdf" in response["Content-Disposition"]
    assert client_for(people["other_officer"]).get(url).status_code == 404
    assert Client().get(url).status_code == 302


def test_a_lawyers_letter_is_generated_from_the_action_page(people, case):
    lawyer = people["lawyer"]
    action = open_action(case, lawyer, law_firm=LawFirm.objects.create(name="金杜律师事务所"))
    response = post(client_for(lawyer), action, "letter", kind="lawyers_letter", on="2026-04-20", follow=True)
    assert messages_of(response) == ["The letter was generated: it is among the documents."], messages_of(response)
    document = LegalDocument.objects.get(action=action)
    assert document.generated and document.content_type == "application/pdf"


# --- Read-only roles ----------------------------------------------------------------------------------


def test_auditors_and_case_officers_cannot_post_anything(people, case, vehicle):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    task = services.task_add(actor=lawyer, action=action, due_on=TODAY, note="todo")
    for role in ("auditor", "officer"):
        client = client_for(people[role])
        assert (
            post(client, action, "cost_add", kind="court_fee", amount="5", incurred_on="2026-04-20").status_code == 403
        )
        assert post(client, action, "schedule_hearing", on="2026-04-20", hearing_on="2026-05-01").status_code == 403
        assert post(client, action, "task_done", item=task).status_code == 403
        response = post(client, action, "document_upload", document_kind="other", files={"document": pdf()})
        assert response.status_code == 403
    assert post(client_for(people["other_officer"]), action, "cost_add").status_code == 404
    action.refresh_from_db()
    assert action.state == ActionState.FILED and not action.costs.exists() and not action.documents.exists()


def test_every_form_needs_the_csrf_token(people, case):
    lawyer = people["lawyer"]
    action = filed(open_action(case, lawyer), lawyer)
    client = Client(enforce_csrf_checks=True)
    client.force_login(lawyer)
    response = post(client, action, "cost_add", kind="court_fee", amount="5", incurred_on="2026-04-20")
    assert response.status_code == 403 and not action.costs.exists()
