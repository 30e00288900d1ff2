"""The case list pages by cursor: following `next` returns every case exactly once, in the list's order,
whatever the ordering; `previous` walks back through the same pages; cases added or removed behind a
client walking the list do not make it skip or repeat the others; a cursor the list did not give is a
400 in the API's error shape, never a 500."""

import json
from base64 import urlsafe_b64encode
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from collection.api import worklist
from collection.choices import CaseState
from collection.models import CollectionCase
from core.api.pagination import KeysetPagination
from core.apps import sync_roles
from loans.models import Loan, LoanProduct
from tests.collection.factories import make_case, make_manager, make_officer
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db

DEFAULT_ORDER = ["-priority_score", "id"]


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def client():
    sync_roles()
    client = APIClient()
    client.force_authenticate(make_manager())
    return client


def _case(priority, days_past_due, overdue, opened_on, state=CaseState.EARLY_WARNING):
    loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(days_past_due=days_past_due, overdue_amount=Decimal(overdue))
    return make_case(loan=loan, state=state, priority_score=priority, opened_on=opened_on)


@pytest.fixture
def book():
    """Nine cases with ties on every key the list orders by, so that pages end inside the ties."""
    return [
        _case(50, 10, "100.00", date(2026, 3, 1)),
        _case(50, 40, "250.50", date(2026, 3, 1)),
        _case(20, 10, "100.00", date(2026, 3, 5)),
        _case(90, 95, "9000.00", date(2026, 1, 10), state=CaseState.SERIOUS),
        _case(50, 10, "100.00", date(2026, 3, 5)),
        _case(20, 40, "250.50", date(2026, 3, 1), state=CaseState.MINOR),
        _case(5, 3, "12.34", date(2026, 4, 1)),
        _case(50, 95, "9000.00", date(2026, 2, 1), state=CaseState.MINOR),
        _case(20, 3, "12.34", date(2026, 4, 1)),
    ]


def ok(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    return body


def walk(client, url, link="next"):
    """The pages' ids, following `link` from `url` to the end."""
    pages = []
    while url:
        body = ok(client.get(url))
        pages.append([row["id"] for row in body["results"]])
        url = body[link]
    return pages, body


def cursor(ordering, keys, **extra):
    text = json.dumps({"o": ordering, "k": keys, **extra})
    return urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "order_by"),
    [
        ("", DEFAULT_ORDER),
        ("ordering=priority_score", ["priority_score", "id"]),
        ("ordering=-days_past_due", ["-loan__days_past_due", "id"]),
        ("ordering=overdue_amount", ["loan__overdue_amount", "id"]),
        ("ordering=-opened_on,overdue_amount", ["-opened_on", "loan__overdue_amount", "id"]),
        ("ordering=-id", ["-id"]),
        ("state=early_warning&state=minor", DEFAULT_ORDER),
    ],
)
def test_following_next_returns_every_case_once_in_the_lists_order(client, book, query, order_by):
    states = [value.split("=")[1] for value in query.split("&") if value.startswith("state=")]
    cases = CollectionCase.objects.filter(**({"state__in": states} if states else {}))
    expected = list(cases.order_by(*order_by).values_list("id", flat=True))
    pages, last = walk(client, f"/api/v1/cases/?{query}&page_size=2")
    assert [case_id for page in pages for case_id in page] == expected
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1) and 1 <= len(pages[-1]) <= 2
    # Back from the last page, through the same pages.
    back, first = walk(client, last["previous"], link="previous")
    assert back == pages[-2::-1]
    assert first["previous"] is None and first["next"]


def test_the_links_keep_the_filters_and_the_page_size(client, book):
    body = ok(client.get("/api/v1/cases/?state=minor&page_size=1"))
    assert body["previous"] is None
    assert "state=minor" in body["next"] and "page_size=1" in body["next"]
    second = ok(client.get(body["next"]))
    assert [row["state"] for row in body["results"] + second["results"]] == ["minor", "minor"]
    assert second["next"] is None and second["previous"]


def test_an_empty_list_has_no_links(client, book):
    assert ok(client.get("/api/v1/cases/?state=legal")) == {"next": None, "previous": None, "results": []}


def test_cases_added_or_removed_behind_the_cursor_do_not_shift_the_rest(client, book):
    """What page numbers get wrong: a page's position is its first row's keys, not a count of rows."""
    first = ok(client.get("/api/v1/cases/?page_size=3"))
    seen = [row["id"] for row in first["results"]]
    CollectionCase.objects.filter(pk=seen[0]).delete()  # one read already goes
    newcomer = _case(99, 1, "1.00", date(2026, 4, 19))  # one ranks above everything read
    pages, _last = walk(client, first["next"])
    rest = [case_id for page in pages for case_id in page]
    unseen = CollectionCase.objects.exclude(pk__in=[*seen, newcomer.pk]).order_by(*DEFAULT_ORDER)
    assert rest == list(unseen.values_list("id", flat=True))


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("", "not a cursor"),
        ("", "é"),
        ("", urlsafe_b64encode(b"not json").decode()),
        ("", urlsafe_b64encode(b"[1, 2]").decode()),
        ("", cursor(DEFAULT_ORDER, [50])),
        ("", cursor(["priority_score", "id"], [50, 1])),  # made for another ordering
        ("", cursor(DEFAULT_ORDER, [10**30, 1])),
        ("", cursor(DEFAULT_ORDER, [-1, 1])),
        ("", cursor(DEFAULT_ORDER, [50, 2**63])),
        ("", cursor(DEFAULT_ORDER, [None, 1])),
        ("", cursor(DEFAULT_ORDER, ["many", 1])),
        ("", cursor(DEFAULT_ORDER, [[50], 1])),
        ("", cursor(DEFAULT_ORDER, [50, 1], r="yes")),
        ("ordering=overdue_amount", cursor(["loan__overdue_amount", "id"], ["NaN", 1])),
        ("ordering=overdue_amount", cursor(["loan__overdue_amount", "id"], ["1e400", 1])),
        ("ordering=opened_on", cursor(["opened_on", "id"], ["2026-02-30", 1])),
        ("ordering=opened_on", cursor(["opened_on", "id"], [20260220, 1])),
    ],
)
def test_a_cursor_the_list_did_not_give_is_a_400_naming_the_cursor(client, book, query, bad):
    response = client.get("/api/v1/cases/", {"cursor": bad, **dict([query.split("=")] if query else [])})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["cursor"]


def test_a_cursor_made_by_hand_with_valid_keys_is_a_position_like_any_other(client, book):
    """The cursor is opaque to clients but not a secret: valid keys just say where to start."""
    body = ok(client.get("/api/v1/cases/", {"cursor": cursor(DEFAULT_ORDER, [50, 0])}))
    assert [row["priority_score"] for row in body["results"]] == [50, 50, 50, 50, 20, 20, 20, 5]


def test_the_same_filters_give_each_officer_their_own_cases(book):
    """The filtered cases' SQL is compiled once per filters and per whose cases the user sees."""
    sync_roles()
    officers = [make_officer(f"officer{n}") for n in range(2)]
    for officer, case in zip(officers, book[:2], strict=True):
        CollectionCase.objects.filter(pk=case.pk).update(officer=officer)
    for _round in range(2):
        for officer, case in zip(officers, book[:2], strict=True):
            client = APIClient()
            client.force_authenticate(officer)
            assert [row["id"] for row in ok(client.get("/api/v1/cases/?state=early_warning"))["results"]] == [case.pk]
    manager = APIClient()
    manager.force_authenticate(make_manager("manager2"))
    everyone = CollectionCase.objects.filter(state=CaseState.EARLY_WARNING).count()
    assert len(ok(manager.get("/api/v1/cases/?state=early_warning"))["results"]) == everyone > 2


def test_pages_stay_right_once_the_database_keeps_a_generic_plan(client, book):
    """PostgreSQL plans a prepared statement afresh five times, then may keep a generic plan."""
    expected = list(CollectionCase.objects.order_by(*DEFAULT_ORDER).values_list("id", flat=True))
    for _walk in range(4):
        pages, last = walk(client, "/api/v1/cases/?page_size=2")
        assert [case_id for page in pages for case_id in page] == expected
        back, _first = walk(client, last["previous"], link="previous")
        assert back == pages[-2::-1]


def test_past_the_most_prepared_statements_the_connection_starts_over(client, book, monkeypatch):
    monkeypatch.setattr(worklist, "_MAX_PREPARED", 1)
    expected = list(CollectionCase.objects.order_by(*DEFAULT_ORDER).values_list("id", flat=True))
    for _walk in range(2):  # the first page's statement and the next pages' take turns
        pages, _last = walk(client, "/api/v1/cases/?page_size=4")
        assert [case_id for page in pages for case_id in page] == expected


@pytest.mark.parametrize("code", ["o'brien", "100%_off", "back\\slash", "x' OR '1'='1"])
def test_a_filters_value_reaches_the_prepared_statement_as_itself(client, book, code):
    """The filters' values are bound into the prepared statement's text by psycopg2: quotes, percent
    signs and backslashes are part of the value, never SQL."""
    product = book[3].loan.product_id
    LoanProduct.objects.filter(pk=product).update(code=code)
    Loan.objects.filter(pk=book[5].loan_id).update(product_id=product)
    pages, _last = walk(client, f"/api/v1/cases/?{urlencode({'product': code, 'page_size': 1})}")
    assert pages == [[book[3].pk], [book[5].pk]]


def _paginate(queryset):
    return KeysetPagination().paginate_queryset(queryset, Request(APIRequestFactory().get("/")))


def test_keyset_orderings_must_end_in_the_primary_key_and_skip_nullable_keys(db):
    with pytest.raises(ImproperlyConfigured):
        _paginate(CollectionCase.objects.order_by("-priority_score"))
    with pytest.raises(ImproperlyConfigured):
        _paginate(CollectionCase.objects.order_by("next_action_at", "id"))
    assert _paginate(CollectionCase.objects.order_by("-pk")) == []
