"""The KPI page on a generated book of 200,000 loans (100,000 of them in arrears with a case) and a
year of daily snapshots: its queries read the snapshot tables through their indexes and never the
ledger, loans or cases, and their number does not depend on the size of the book. Asserted through
the queries and their plans (EXPLAIN), not the clock."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collection import snapshots
from collection.choices import CaseState
from collection.models import CollectionCase, PortfolioSnapshotRow
from loans.models import Loan
from tests.collection.factories import make_case, make_manager
from tests.conftest import password_login
from tests.loans.factories import LoanProductFactory, make_loan

pytestmark = pytest.mark.django_db
TODAY = date(2026, 4, 20)
LOANS = 200_000
DAYS = 400
SNAPSHOT_TABLES = {"collection_portfoliosnapshot", "collection_portfoliosnapshotrow", "collection_portfolioflow"}
# What a signed-in page reads besides its own figures: the session, the user, the roles, the approvals
# count in the navigation (an indexed count of pending approvals).
PAGE_TABLES = {
    "django_session",
    "auth_user",
    "auth_group",
    "auth_user_groups",
    "auth_permission",
    "auth_group_permissions",
    "auth_user_user_permissions",
    "django_content_type",
    "collection_approval",
}
LEDGER_TABLES = {
    "loans_loan",
    "loans_installment",
    "loans_paymentallocation",
    "loans_payment",
    "collection_collectioncase",
    "collection_promisetopay",
}


def copies(model, template_id, overrides: dict, source: str) -> str:
    """INSERT … SELECT copying one row of `model` once per row of `source` (aliased g), with some
    columns computed instead."""
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    values = [overrides.get(column, f"t.{column}") for column in columns]
    table = model._meta.db_table
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM {table} t CROSS JOIN {source} WHERE t.id = {int(template_id)}"
    )


def generate_book():
    consumer, car = LoanProductFactory(code="consumer"), LoanProductFactory(code="car")
    with time_machine.travel(datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        loan = make_loan(product=consumer)
    case = make_case(state=CaseState.MINOR, loan=loan, opened_on=date(2026, 2, 16))
    in_arrears = "(g % 2 = 1)"
    with connection.cursor() as cursor:
        cursor.execute(
            copies(
                Loan,
                loan.pk,
                {
                    "external_id": "'GEN-' || g",
                    "product_id": f"CASE WHEN g % 3 = 0 THEN {car.pk} ELSE {consumer.pk} END",
                    "status": f"CASE WHEN {in_arrears} THEN 'overdue' ELSE 'active' END",
                    "aging_bucket": f"CASE WHEN {in_arrears} THEN 'M' || (1 + g % 7) ELSE 'M0' END",
                    "days_past_due": f"CASE WHEN {in_arrears} THEN 1 + (g % 7) * 30 ELSE 0 END",
                    "overdue_amount": f"CASE WHEN {in_arrears} THEN 100 + g % 900 ELSE 0 END",
                    "regulatory_class": f"CASE WHEN {in_arrears} THEN 2 + g % 4 ELSE 1 END",
                    "ifrs9_stage": f"CASE WHEN {in_arrears} THEN 2 + g % 2 ELSE 1 END",
                },
                f"generate_series(2, {LOANS}) g",
            )
        )
        cursor.execute(
            copies(
                CollectionCase,
                case.pk,
                {"loan_id": "g.id", "state": "CASE WHEN g.id % 5 = 0 THEN 'serious' ELSE 'minor' END"},
                "(SELECT id FROM loans_loan WHERE status = 'overdue' AND external_id LIKE 'GEN-%%') g",
            )
        )
    snapshots.snapshot_write(TODAY)
    # A year of earlier snapshots like today's, so that reading a few dates must use the indexes.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO collection_portfoliosnapshot (as_of, source, written_at, cases_by_state) "
            "SELECT d::date, 'run', now(), '{}' FROM generate_series(%s::date, %s::date, '1 day') d",
            [TODAY - timedelta(days=DAYS), TODAY - timedelta(days=1)],
        )
        for table, columns in (
            (
                "collection_portfoliosnapshotrow",
                "product_id, aging_bucket, previous_bucket, regulatory_class, ifrs9_stage, team_id, case_state, "
                "loans, principal_outstanding, overdue_amount, exposure",
            ),
            (
                "collection_portfolioflow",
                "month, product_id, team_id, cases_opened, cases_cured, promises_kept, promises_partially_kept, "
                "promises_broken, recovered",
            ),
        ):
            cursor.execute(
                f"INSERT INTO {table} (snapshot_id, {columns}) SELECT s.id, {columns.replace(', ', ', r.')} "
                f"FROM collection_portfoliosnapshot s CROSS JOIN {table} r "
                "WHERE s.as_of < %s AND r.snapshot_id = (SELECT id FROM collection_portfoliosnapshot WHERE as_of = %s)",
                [TODAY, TODAY],
            )
        for table in (*SNAPSHOT_TABLES, "loans_loan", "collection_collectioncase"):
            cursor.execute(f"ANALYZE {table}")


def relations(plan: dict) -> list[tuple[str, str, float]]:
    """(table, node type, rows the planner expects) for every scan in a plan."""
    found = []
    if "Relation Name" in plan:
        found.append((plan["Relation Name"], plan["Node Type"], plan["Plan Rows"]))
    for child in plan.get("Plans", []):
        found.extend(relations(child))
    return found


def kpi_page_queries(client) -> list[str]:
    with (
        time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False),
        CaptureQueriesContext(connection) as captured,
    ):
        response = client.get(reverse("dashboard:kpis"))
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_kpi_page_reads_snapshots_through_their_indexes_on_a_200000_loan_book(client):
    make_manager("boss")
    assert password_login(client, "boss", "pw")
    small_book = len(kpi_page_queries(client))  # no snapshot yet

    generate_book()
    assert Loan.objects.count() == LOANS
    rows_per_day = PortfolioSnapshotRow.objects.filter(snapshot__as_of=TODAY).count()
    assert 50 < rows_per_day < 1_000  # the book grouped: hundreds of rows, not loans
    queries = kpi_page_queries(client)
    # The page runs as many queries as on an empty book, plus the two that read the snapshot's rows and flows.
    assert len(queries) <= small_book + 2

    scanned = []
    with connection.cursor() as cursor:
        for text in queries:
            if not text.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + text)
            (explained,) = cursor.fetchone()
            if isinstance(explained, str):
                explained = json.loads(explained)
            scanned.extend(relations(explained[0]["Plan"]))
    tables = {table for table, _node, _rows in scanned}
    assert tables & SNAPSHOT_TABLES == SNAPSHOT_TABLES
    assert not tables & LEDGER_TABLES, "the KPI page must not read the ledger"
    assert tables <= SNAPSHOT_TABLES | PAGE_TABLES
    for table, node, rows in scanned:
        if table in {"collection_portfoliosnapshotrow", "collection_portfolioflow"}:
            assert node != "Seq Scan", f"{table} is read whole"
            # 14 month ends at most, each a few hundred grouped rows.
            assert rows <= 14 * rows_per_day
    # The snapshots themselves, one row a day, may be read whole: a year is 365 rows.
