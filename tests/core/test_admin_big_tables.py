"""The admin's lists of million-row tables: counts are bounded or estimated, searches are exact
lookups an index answers. Asserted through the SQL and its plan, never wall-clock time."""

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from core.admin import BoundedCountPaginator
from loans.models import Installment, Loan, Payment
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db


def test_a_filtered_list_is_counted_up_to_the_limit_only():
    loan = make_loan()
    with CaptureQueriesContext(connection) as queries:
        count = BoundedCountPaginator(Loan.objects.filter(borrower=loan.borrower), 100).count
    assert count == 1
    assert "LIMIT 10001" in queries[-1]["sql"]


def test_the_whole_table_is_counted_from_postgresqls_estimate(monkeypatch):
    make_loan()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE loans_installment")
    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 3)  # the loan's 12 instalments are "many"
    with CaptureQueriesContext(connection) as queries:
        count = BoundedCountPaginator(Installment.objects.all(), 100).count
    assert count == 12
    assert len(queries) == 1 and "reltuples" in queries[0]["sql"]


def _plan(queryset):
    """The plan PostgreSQL would use if scanning the whole table were its last resort: an index scan
    shows an index can answer the query (on a small test table the planner would scan anyway)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("model", "term"),
    [(Loan, "L-SEARCHED"), (Loan, "13912345678"), (Payment, "GW-SEARCHED")],
)
def test_the_admin_searches_of_the_big_tables_use_indexes(admin_user, model, term):
    admin = site._registry[model]
    request = RequestFactory().get("/", {"q": term})
    request.user = admin_user
    queryset, _duplicates = admin.get_search_results(request, model.objects.all(), term)
    plan = _plan(queryset)
    assert "Seq Scan" not in plan, plan


def test_a_phone_typed_without_its_country_code_finds_the_borrowers_loan(admin_user):
    loan = make_loan()
    borrower = loan.borrower
    admin = site._registry[Loan]
    request = RequestFactory().get("/")
    request.user = admin_user
    national = borrower.phone.removeprefix("+86")
    queryset, _duplicates = admin.get_search_results(request, Loan.objects.all(), national)
    assert list(queryset) == [loan]
