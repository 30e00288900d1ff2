"""Every URL the product serves asks who is calling before it does anything: a visitor who has not
signed in is sent to sign in (pages) or refused with 401 (API), whatever the URL names, on GET and on
POST. The few pages meant for everyone are listed here by name, so a new view that forgets its
check fails this test until someone decides, here, that it is public."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Open to anyone, on purpose.
PUBLIC = {
    "login",  # where everyone signs in
    "logout",  # signing out needs no session
    "set_language",  # the language switch on the sign-in page
    "api-schema",  # public while developing; production asks for sign-in (API_DOCS_PUBLIC)
    "api-docs",
}


def routes(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def concrete(route: str) -> str:
    """A URL matching `route`, with 1 for every id and a plausible step name."""
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", "1", path)
    path = re.sub(r"<int:[a-z_]+>", "1", path)
    path = re.sub(r"<slug:[a-z_]+>", "contact", path)
    path = re.sub(r"<[a-z_:]+>", "1", path)
    return "/" + path


ROUTES = sorted({(concrete(route), name) for route, name in routes() if not route.startswith("admin/")})


def test_every_route_is_either_public_or_checked_below():
    names = {name for _path, name in ROUTES}
    assert names >= PUBLIC, PUBLIC - names  # a public name that no longer exists is a stale exception
    assert len(ROUTES) > 90


@pytest.mark.parametrize(("path", "name"), [(p, n) for p, n in ROUTES if n not in PUBLIC])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_visitor_who_has_not_signed_in_gets_nothing(client, path, name, method):
    response = getattr(client, method)(path)
    if path.startswith("/api/"):
        assert response.status_code == 401, (path, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated"
    else:
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/accounts/login/")


# --- An officer and a system reach nothing of another officer's cases -----------------------------------


@pytest.fixture
def book(api_client_for):
    """Officer A's work: a minor case with a plan, a serious case with a request waiting, a case in legal
    with a filed lawsuit, a preservation order, a document and its tasks, and a payment. Officer B and a
    payment gateway (holding only `loans.add_payment`) are the callers."""
    from datetime import date

    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from collection import restructuring, services
    from collection.choices import ApprovalAction, CaseState
    from core import roles
    from core.apps import sync_roles
    from legal import services as legal
    from legal.choices import AssetKind
    from loans.services import loan_refresh_balances, payment_post
    from tests import files
    from tests.collection.factories import make_case, make_officer, make_user
    from tests.legal.factories import make_legal_case, on_day

    sync_roles()
    a, b = make_officer("officer-a"), make_officer("officer-b")
    lawyer = make_user("lawyer", roles.LEGAL_OFFICER)
    with on_day(date(2026, 4, 20)):
        minor = make_case(state=CaseState.MINOR, officer=a)
        loan_refresh_balances(loan=minor.loan, as_of=date(2026, 4, 20))
        minor.refresh_from_db()
        plan = restructuring.plan_propose(
            actor=a, case=minor, extension_months=6, new_annual_rate="0.09", reason="Salary cut"
        )
        serious = make_case(state=CaseState.SERIOUS, officer=a)
        approval = services.approval_request(
            actor=a, case=serious, action=ApprovalAction.WRITE_OFF, reason="Nothing left to recover"
        )
        payment, _ = payment_post(
            actor="system", loan=serious.loan, amount="10.00", external_reference="P-A", channel="bank_transfer"
        )
        in_legal = make_legal_case(a)
        action = legal.action_open(actor=lawyer, case=in_legal, kind="lawsuit", lawyer_fee="1000", recoverable="90000")
        action = legal.action_advance(actor=lawyer, action=action, step="file", on=date(2026, 4, 20), court="某法院")
        order = legal.preservation_apply(
            actor=lawyer,
            action=action,
            asset_kind=AssetKind.OTHER,
            description="存款",
            amount="100",
            applied_on=date(2026, 4, 20),
        )
        task = legal.task_add(actor=lawyer, action=action, due_on=date(2026, 5, 1), note="Prepare the hearing")
        document = legal.document_upload(
            actor=lawyer, action=action, kind="judgment", file=SimpleUploadedFile("judgment.pdf", files.pdf("x"))
        )
    other = APIClient()
    other.force_authenticate(b)
    web = __import__("django.test", fromlist=["Client"]).Client()
    web.force_login(b)
    return {
        "ids": {
            "case": minor.pk,
            "plan": plan.pk,
            "approval": approval.pk,
            "borrower": minor.loan.borrower_id,
            "loan": minor.loan_id,
            "payment": payment.pk,
            "legal-action": action.pk,
            "legal-document": document.pk,
            "legal-task": task.pk,
            "preservation": order.pk,
            "disposal": 999999,  # none exists: the 404 is all anyone may get
            "activity": 1,
            "legal-case": in_legal.pk,
        },
        "officer_b_api": other,
        "officer_b_web": web,
        "gateway": api_client_for("gateway", "loans.add_payment"),
    }


# The object a route's ids name, by the start of the route's name (API) or the group's name (pages).
API_OWNERS = [
    "legal-action", "legal-document", "legal-task", "preservation", "disposal", "approval", "plan",
    "borrower", "loan", "payment", "case", "activity",
]  # fmt: skip
PAGE_GROUPS = {"plan_pk": "plan", "item": "preservation"}
PAGE_OWNERS = {"approval_decide": "approval", "document": "legal-document", "action_open": "legal-case"}


def owned_path(route, name, ids):
    """`route` with its ids set to officer A's objects, or None for a route that names none of them."""
    path = route.replace("^", "").replace("$", "")
    if path.startswith("api/"):
        owner = next((key for key in API_OWNERS if name.startswith(key)), None)
        if owner is None or "(?P<" not in path:
            return None
        path = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", str(ids[owner]), path)
        return "/" + path
    groups = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", path)
    if not groups:
        return None
    for group in groups:
        if group == "name":
            value = "contact"
        elif group in PAGE_GROUPS:
            value = ids[PAGE_GROUPS[group]]
        elif name in PAGE_OWNERS:
            value = ids[PAGE_OWNERS[name]]
        elif name.startswith(("action", "item")):
            value = ids["legal-action"]
        else:
            value = ids["case"]
        path = re.sub(r"<(?:[a-z]+:)?" + group + ">", str(value), path, count=1)
    return "/" + path


OWNED = sorted({(route, name) for route, name in routes() if not route.startswith("admin/") and name not in PUBLIC})


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_officer_and_a_payment_gateway_reach_nothing_of_an_officers_cases(book, method):
    reached = []
    for route, name in OWNED:
        path = owned_path(route, name, book["ids"])
        if path is None:
            continue
        callers = (
            [("officer B", book["officer_b_api"]), ("gateway", book["gateway"])]
            if path.startswith("/api/")
            else [("officer B", book["officer_b_web"])]
        )
        for who, client in callers:
            response = getattr(client, method)(path)
            if response.status_code not in (403, 404, 405):
                reached.append((who, method.upper(), path, response.status_code))
    assert reached == []
