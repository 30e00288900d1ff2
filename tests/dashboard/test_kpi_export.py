"""The snapshot as CSV: what a manager downloads from the KPI page, read back as a spreadsheet would."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from collection import snapshots
from collection.choices import CaseState
from collection.models import Team
from core import roles
from loans.models import Loan
from tests.collection.factories import make_case, make_manager, make_user
from tests.conftest import password_login
from tests.loans.factories import LoanProductFactory, make_loan

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)
URL = reverse("dashboard:kpi_export")


@pytest.fixture
def manager_client(client):
    make_manager("boss")
    assert password_login(client, "boss", "pw")
    return client


@pytest.fixture
def book():
    """Two products, a team, cases in two states, a snapshot of TODAY and an empty one of 31 March."""
    team = Team.objects.create(name="东区")
    consumer, car = LoanProductFactory(code="consumer", name="消费贷"), LoanProductFactory(code="car", name="车贷")
    minor = make_case(state=CaseState.MINOR, opened_on=date(2026, 4, 2), team=team, loan=make_loan(product=consumer))
    serious = make_case(state=CaseState.SERIOUS, opened_on=date(2026, 4, 3), loan=make_loan(product=car))
    make_loan(product=consumer)  # no case
    Loan.objects.filter(pk=minor.loan_id).update(aging_bucket="M1", overdue_amount=Decimal("120.50"))
    Loan.objects.filter(pk=serious.loan_id).update(aging_bucket="M4", overdue_amount=Decimal("3000.00"))
    snapshots.snapshot_write(date(2026, 3, 31))
    snapshots.snapshot_write(TODAY)


def read(response):
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")  # spreadsheet programs read it as UTF-8, names intact
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_book_lists_every_snapshot_row_with_names_and_amounts(manager_client, book):
    response = manager_client.get(URL, {"kind": "book", "date": "2026-04-20"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="huishou-book-2026-04-20.csv"'
    header, *rows = read(response)
    assert header[:3] == ["Business date", "Product", "Aging bucket"]
    assert sum(int(row[8]) for row in rows) == 3  # every loan on the book, once
    by_state = {row[7]: row for row in rows}
    assert by_state["Minor overdue"][1:3] == ["消费贷", "M1"] and by_state["Minor overdue"][6] == "东区"
    assert Decimal(by_state["Minor overdue"][10]) == Decimal("120.50")
    assert by_state["Serious overdue"][1:3] == ["车贷", "M4"] and by_state["Serious overdue"][6] == ""
    assert Decimal(by_state["Serious overdue"][10]) == Decimal("3000.00")
    assert by_state["No open case"][1] == "消费贷"


def test_the_flows_list_each_month_product_and_team(manager_client, book):
    header, *rows = read(manager_client.get(URL, {"kind": "flows", "date": "2026-04-20"}, HTTP_ACCEPT_LANGUAGE="en"))
    assert header[1:4] == ["Month", "Product", "Team"]
    april = {(row[2], row[3]): int(row[4]) for row in rows if row[1] == "2026-04"}
    assert april == {("消费贷", "东区"): 1, ("车贷", ""): 1}


def test_headers_speak_the_lenders_chinese(manager_client, book):
    header, *rows = read(manager_client.get(URL, {"kind": "book"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert header[:3] == ["业务日期", "产品", "账龄"]
    assert "小组" in header
    assert {row[7] for row in rows} == {"轻度逾期", "严重逾期", "无未结案件"}


def test_without_a_date_the_latest_snapshot_is_exported(manager_client, book):
    response = manager_client.get(URL, {"kind": "book"})
    assert response["Content-Disposition"].endswith('2026-04-20.csv"')
    march = manager_client.get(URL, {"kind": "book", "date": "2026-03-31"})
    assert march.status_code == 200 and "2026-03-31" in march["Content-Disposition"]


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"kind": "loans"}, 400, "loans"),
        ({"kind": "book", "date": "2026-13-01"}, 400, "date"),
        ({"kind": "book", "date": "2026-04-19"}, 404, "snapshot"),
    ],
)
def test_a_bad_request_says_what_is_wrong(manager_client, book, params, status, says):
    response = manager_client.get(URL, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == status
    assert says in response.content.decode().lower()


def test_before_the_first_run_there_is_nothing_to_export(manager_client):
    response = manager_client.get(URL, {"kind": "book"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "no portfolio snapshot yet" in response.content.decode().lower()


@pytest.mark.parametrize("role", [roles.OFFICER, roles.AUDITOR, roles.LEGAL_OFFICER])
def test_only_managers_export(client, book, role):
    client.force_login(make_user("someone", role))
    assert client.get(URL, {"kind": "book"}).status_code == 403


def test_the_kpi_page_offers_the_download_of_its_snapshot(manager_client, book):
    page = manager_client.get(reverse("dashboard:kpis")).content.decode()
    assert f'action="{URL}"' in page
    assert 'name="date" value="2026-04-20"' in page
