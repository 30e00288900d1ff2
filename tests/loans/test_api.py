from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from core import roles
from core.models import ActivityLog
from loans.choices import InstallmentStatus, LoanStatus, PaymentChannel, PaymentKind
from loans.models import Installment, Loan, Payment, PaymentAllocation
from loans.services import payment_post, payment_reverse
from tests.borrowers.factories import BorrowerFactory
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODUCTS, LOANS, PAYMENTS = "/api/v1/products/", "/api/v1/loans/", "/api/v1/payments/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Business day 2026-04-20: a loan disbursed 2026-01-15 and due on the 15th has three
    instalments past due."""
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=SHANGHAI), tick=False):
        yield date(2026, 4, 20)


@pytest.fixture
def officer(staff_client):
    return staff_client(roles.OFFICER)


@pytest.fixture
def manager(staff_client):
    return staff_client(roles.MANAGER)


@pytest.fixture
def reader(staff_client):
    """Someone who reads the whole book (an officer reads their own cases' loans only)."""
    return staff_client(roles.AUDITOR)


@pytest.fixture
def core_banking(api_client_for):
    return api_client_for("core-banking", "loans.add_loan", "loans.view_loan")


@pytest.fixture
def gateway(api_client_for):
    """A payment gateway: it may post payments and nothing else."""
    return api_client_for("gateway", "loans.add_payment")


@pytest.fixture
def settler(api_client_for):
    """A gateway that takes early settlements: it sees loans and may settle them."""
    return api_client_for("settler", "loans.add_payment", "loans.settle_loan", "loans.view_loan")


@pytest.fixture
def product():
    return LoanProductFactory(code="consumer-12m")


@pytest.fixture
def loan():
    return make_loan(external_id="CB-0001")


def assert_error(response, status_code, code="invalid", fields=()):
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    for field in fields:
        assert error["fields"][field], error
    return error


def new_loan(product, borrower, overrides=None):
    return {
        "external_id": "CB-0042",
        "borrower": borrower.pk,
        "product": product.code,
        "principal": "12000.00",
        "annual_rate": "0.12",
        "term_months": 12,
        "disbursed_on": "2026-01-15",
        **(overrides or {}),
    }


def new_payment(loan, overrides=None):
    return {
        "loan": loan.external_id,
        "amount": "500.00",
        "channel": "payment_gateway",
        "external_reference": "GW-1",
        **(overrides or {}),
    }


def written():
    """Row counts of everything a loan or payment post writes."""
    return (
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        PaymentAllocation.objects.count(),
        ActivityLog.objects.count(),
    )


# --- Products ----------------------------------------------------------------------------------------


def test_products_are_listed_and_read_by_code(officer, product):
    listed = officer.get(PRODUCTS).json()["results"]
    one = officer.get(f"{PRODUCTS}{product.code}/")

    assert [p["code"] for p in listed] == ["consumer-12m"]
    assert one.status_code == 200 and one.json()["max_principal"] == "1000000.00"
    assert one.json()["max_annual_rate"] == "0.240000"
    assert_error(officer.get(f"{PRODUCTS}no-such-product/"), 404, code="not_found")


def test_products_are_read_only_even_for_a_superuser(product):
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("root"))

    assert_error(client.delete(f"{PRODUCTS}{product.code}/"), 405, code="method_not_allowed")
    assert_error(client.post(PRODUCTS, {"code": "x"}), 405, code="method_not_allowed")


# --- Booking loans -----------------------------------------------------------------------------------


def test_core_banking_books_a_loan_and_gets_its_schedule(core_banking, product):
    borrower = BorrowerFactory()

    response = core_banking.post(LOANS, new_loan(product, borrower), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    loan = Loan.objects.get(external_id="CB-0042")
    assert body["id"] == loan.pk and body["product"] == "consumer-12m" and body["borrower"] == borrower.pk
    assert body["principal"] == "12000.00" and body["annual_rate"] == "0.120000"
    assert len(body["schedule"]) == 12
    assert body["schedule"][0]["due_date"] == "2026-02-15"
    assert sum(Decimal(line["principal_due"]) for line in body["schedule"]) == Decimal("12000.00")
    assert all(len(line["interest_due"].split(".")[1]) == 2 for line in body["schedule"])
    # Booked today with three instalments already past due.
    assert body["status"] == LoanStatus.OVERDUE and body["days_past_due"] > 0
    assert Decimal(body["overdue_amount"]) > 0
    assert ActivityLog.objects.filter(action="loans.loan.created").count() == 1


def test_booking_the_same_loan_again_answers_200_with_the_same_body(core_banking, product):
    body = new_loan(product, BorrowerFactory())
    first = core_banking.post(LOANS, body, format="json")
    before = written()

    again = core_banking.post(LOANS, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert written() == before


def test_the_same_external_id_with_other_terms_is_a_422_and_writes_nothing(core_banking, product):
    body = new_loan(product, BorrowerFactory())
    core_banking.post(LOANS, body, format="json")
    before = written()

    response = core_banking.post(LOANS, {**body, "principal": "13000.00"}, format="json")

    assert_error(response, 422, code="idempotency_mismatch", fields=["external_id"])
    assert written() == before
    assert Loan.objects.get().principal == Decimal("12000.00")


def test_a_loan_may_name_its_first_due_date(core_banking, product):
    body = new_loan(product, BorrowerFactory(), {"first_due_date": "2026-02-28"})

    response = core_banking.post(LOANS, body, format="json")

    assert response.status_code == 201 and response.json()["first_due_date"] == "2026-02-28"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": 12000.5}, "principal"),
        ({"principal": "12000.005"}, "principal"),
        ({"principal": "-100.00"}, "principal"),
        ({"principal": "lots"}, "principal"),
        ({"principal": "50.00"}, "principal"),  # below the product's minimum: the service says so
        ({"annual_rate": "0.30"}, "annual_rate"),  # above the product's maximum
        ({"annual_rate": "1.5"}, "annual_rate"),
        ({"annual_rate": "0.1234567"}, "annual_rate"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": 48}, "term_months"),
        ({"term_months": "twelve"}, "term_months"),
        ({"disbursed_on": "2026-02-30"}, "disbursed_on"),
        ({"disbursed_on": "9999-12-31"}, "disbursed_on"),
        ({"disbursed_on": "2150-01-15", "first_due_date": "2150-02-15"}, "disbursed_on"),  # not disbursed yet
        ({"first_due_date": "2026-01-10"}, "first_due_date"),
        ({"first_due_date": "2198-02-15"}, "first_due_date"),  # 172 years after disbursement
        ({"first_due_date": "2027-02-15"}, "first_due_date"),  # past the 12 months' term
        ({"product": "no-such-product"}, "product"),
        ({"product": ["consumer-12m"]}, "product"),
        ({"borrower": 999999}, "borrower"),
        ({"borrower": "me"}, "borrower"),
        ({"borrower": [1]}, "borrower"),
        ({"borrower": 2**70}, "borrower"),
        ({"currency": "USD"}, "currency"),
        ({"external_id": "x" * 65}, "external_id"),
        ({"external_id": ""}, "external_id"),
    ],
)
def test_bad_loan_input_is_a_400_naming_the_field_and_writes_nothing(core_banking, product, overrides, field):
    before = written()

    response = core_banking.post(LOANS, new_loan(product, BorrowerFactory(), overrides), format="json")

    assert_error(response, 400, fields=[field])
    assert written() == before


def test_booking_loans_needs_the_add_loan_permission(staff_client, gateway, product):
    body = new_loan(product, BorrowerFactory())

    for client in (staff_client(roles.OFFICER), staff_client(roles.MANAGER), gateway):
        assert_error(client.post(LOANS, body, format="json"), 403, code="permission_denied")
    assert_error(APIClient().post(LOANS, body, format="json"), 401, code="not_authenticated")
    assert not Loan.objects.exists()


# --- Reading loans -----------------------------------------------------------------------------------


def test_a_loan_reads_with_its_schedule_and_balances(reader, loan):
    response = reader.get(f"{LOANS}{loan.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == "CB-0001"
    assert body["principal_outstanding"] == f"{loan.principal_outstanding:.2f}"
    assert body["total_outstanding"] == f"{loan.total_outstanding:.2f}"
    assert body["aging_bucket"] == loan.aging_bucket and body["regulatory_class"] == loan.regulatory_class
    assert [line["seq"] for line in body["schedule"]] == list(range(1, 13))
    assert body["schedule"][0]["status"] == InstallmentStatus.PENDING
    assert Decimal(body["schedule"][0]["penalty_accrued"]) > 0
    # Each instalment's penalty as of today adds up to the loan's, which the daily run keeps.
    owed = sum(Decimal(line["penalty_accrued"]) - Decimal(line["penalty_paid"]) for line in body["schedule"])
    assert owed == Decimal(body["penalty_outstanding"]) > 0


def test_the_loan_list_leaves_the_schedule_out_newest_first(reader):
    older, newer = make_loan(), make_loan()

    rows = reader.get(LOANS).json()["results"]

    assert [row["id"] for row in rows] == [newer.pk, older.pk]
    assert "schedule" not in rows[0]


def test_loans_filter_by_status_bucket_class_stage_product_borrower_dpd_and_external_id(reader):
    overdue = make_loan(external_id="OVERDUE", disbursed_on=date(2026, 1, 15))
    current = make_loan(external_id="CURRENT", disbursed_on=date(2026, 4, 1))
    assert overdue.days_past_due > 0 and current.days_past_due == 0

    def found(**query):
        response = reader.get(LOANS, query)
        assert response.status_code == 200, response.content
        return {row["external_id"] for row in response.json()["results"]}

    assert found(status="overdue") == {"OVERDUE"}
    assert found(status="active") == {"CURRENT"}
    assert found(aging_bucket=overdue.aging_bucket) == {"OVERDUE"}
    assert found(regulatory_class=overdue.regulatory_class) == {"OVERDUE"}
    assert found(ifrs9_stage=current.ifrs9_stage) >= {"CURRENT"}
    assert found(product=current.product.code) == {"CURRENT"}
    assert found(borrower=overdue.borrower_id) == {"OVERDUE"}
    assert found(dpd_min=1) == {"OVERDUE"}
    assert found(dpd_max=0) == {"CURRENT"}
    assert found(dpd_min=overdue.days_past_due, dpd_max=overdue.days_past_due) == {"OVERDUE"}
    assert found(dpd_min=overdue.days_past_due + 1) == set()
    assert found(external_id="CURRENT") == {"CURRENT"}
    assert found(borrower=2**62) == set()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "sleeping"},
        {"aging_bucket": "M9"},
        {"regulatory_class": "7"},
        {"ifrs9_stage": "x"},
        {"dpd_min": "abc"},
        {"dpd_max": "-1"},
        {"borrower": "1.5"},
        {"borrower": str(2**70)},
        {"page_size": "10000"},
    ],
)
def test_bad_loan_filters_are_a_400_naming_the_parameter(officer, query):
    assert_error(officer.get(LOANS, query), 400, fields=list(query))


def test_an_unknown_loan_is_a_404(officer):
    assert_error(officer.get(f"{LOANS}424242/"), 404, code="not_found")
    assert_error(officer.get(f"{LOANS}abc/"), 404, code="not_found")


def test_the_loan_list_does_not_query_per_row(reader, django_assert_max_num_queries):
    for _ in range(2):
        make_loan()
    with django_assert_max_num_queries(4):
        assert len(reader.get(LOANS).json()["results"]) == 2
    for _ in range(6):
        make_loan()
    with django_assert_max_num_queries(4):
        assert len(reader.get(LOANS).json()["results"]) == 8


def test_reading_loans_needs_the_view_permission(gateway, loan):
    assert_error(gateway.get(LOANS), 403, code="permission_denied")
    assert_error(gateway.get(f"{LOANS}{loan.pk}/"), 403, code="permission_denied")
    assert_error(APIClient().get(LOANS), 401, code="not_authenticated")


# --- Posting payments --------------------------------------------------------------------------------


def test_a_gateway_posts_a_payment_and_gets_its_allocation(gateway, loan):
    overdue_before = loan.overdue_amount

    response = gateway.post(PAYMENTS, new_payment(loan, {"received_at": "2026-04-20T09:30:00+08:00"}), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(external_reference="GW-1")
    assert body["id"] == payment.pk and body["loan"] == "CB-0001" and body["kind"] == PaymentKind.PAYMENT
    assert body["amount"] == "500.00" and body["unapplied_amount"] == "0.00"
    assert body["value_date"] == "2026-04-20" and body["reversed_by"] is None
    assert sum(Decimal(line["amount"]) for line in body["allocations"]) == Decimal("500.00")
    assert {line["installment_seq"] for line in body["allocations"]} == {1, 2, 3}
    assert payment.posted_by.username == "gateway"
    loan.refresh_from_db()
    assert loan.overdue_amount == overdue_before - Decimal("500.00")


def test_posting_the_same_payment_again_answers_200_with_the_same_body_and_writes_nothing(gateway, loan):
    first = gateway.post(PAYMENTS, new_payment(loan), format="json")
    before = written()

    again = gateway.post(PAYMENTS, new_payment(loan), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert written() == before


def test_the_same_reference_for_other_money_is_a_422_and_writes_nothing(gateway, loan):
    gateway.post(PAYMENTS, new_payment(loan), format="json")
    before = written()

    response = gateway.post(PAYMENTS, new_payment(loan, {"amount": "600.00"}), format="json")

    assert_error(response, 422, code="idempotency_mismatch", fields=["external_reference"])
    assert written() == before


def test_the_idempotency_key_header_stands_in_for_the_external_reference(gateway, loan):
    body = new_payment(loan)
    del body["external_reference"]

    first = gateway.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-123")
    again = gateway.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="key-123")
    other = gateway.post(PAYMENTS, {**body, "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="key-123")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and first.json()["external_reference"] == "key-123"
    assert_error(other, 422, code="idempotency_mismatch")
    assert Payment.objects.count() == 1


def test_the_body_reference_wins_over_the_header(gateway, loan):
    response = gateway.post(PAYMENTS, new_payment(loan), format="json", HTTP_IDEMPOTENCY_KEY="key-123")

    assert response.json()["external_reference"] == "GW-1"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "5.001"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "99999999999999999.00"}, "amount"),
        ({"amount": None}, "amount"),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"currency": "USD"}, "currency"),
        ({"received_at": "yesterday"}, "received_at"),
        ({"received_at": "2026-04-20T09:30:00"}, "received_at"),  # no offset
        ({"received_at": "2026-04-20"}, "received_at"),
        ({"received_at": "2026-05-20T09:30:00+08:00"}, "received_at"),  # in the future
        ({"received_at": "2025-12-31T09:30:00+08:00"}, "received_at"),  # before the loan
        ({"received_at": "0001-01-01T00:00:00+14:00"}, "received_at"),
        ({"loan": "NO-SUCH-LOAN"}, "loan"),
        ({"loan": None}, "loan"),
        ({"loan": ["CB-0001"]}, "loan"),
        ({"loan": {"external_id": "CB-0001"}}, "loan"),
        ({"external_reference": "nul\x00byte"}, "external_reference"),
        ({"external_reference": "r" * 101}, "external_reference"),
        ({"external_reference": ""}, "external_reference"),
        ({"note": "n" * 301}, "note"),
    ],
)
def test_bad_payment_input_is_a_400_naming_the_field_and_writes_nothing(gateway, loan, overrides, field):
    before = written()

    response = gateway.post(PAYMENTS, new_payment(loan, overrides), format="json")

    assert_error(response, 400, fields=[field])
    assert written() == before


def test_a_payment_needs_a_reference_in_the_body_or_the_header(gateway, loan):
    body = new_payment(loan)
    del body["external_reference"]

    assert_error(gateway.post(PAYMENTS, body, format="json"), 400, fields=["external_reference"])
    long_key = gateway.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert_error(long_key, 400, fields=["external_reference"])
    assert not Payment.objects.exists()


def test_a_closed_loan_takes_no_payment_409(gateway, loan):
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.TRANSFERRED)

    assert_error(gateway.post(PAYMENTS, new_payment(loan), format="json"), 409, code="loan_closed", fields=["loan"])
    assert not Payment.objects.exists()


def test_posting_payments_needs_the_add_payment_permission(officer, core_banking, loan):
    for client in (officer, core_banking):
        assert_error(client.post(PAYMENTS, new_payment(loan), format="json"), 403, code="permission_denied")
    assert_error(APIClient().post(PAYMENTS, new_payment(loan), format="json"), 401, code="not_authenticated")
    assert not Payment.objects.exists()


def test_a_gateway_may_post_payments_but_not_read_them_or_borrowers(gateway, loan):
    assert gateway.post(PAYMENTS, new_payment(loan), format="json").status_code == 201

    assert_error(gateway.get(PAYMENTS), 403, code="permission_denied")
    assert_error(gateway.get("/api/v1/borrowers/"), 403, code="permission_denied")


# --- Reversing payments ------------------------------------------------------------------------------


def posted(loan, ref="GW-1", amount="500.00", **kwargs):
    kwargs.setdefault("channel", PaymentChannel.PAYMENT_GATEWAY)
    payment, _created = payment_post(
        actor="system", loan=loan, amount=Decimal(amount), external_reference=ref, **kwargs
    )
    return payment


def test_a_manager_reverses_a_payment_once(manager, loan):
    payment = posted(loan)
    url = f"{PAYMENTS}{payment.pk}/reverse/"

    first = manager.post(url, {"reason": "Bounced"}, format="json")
    before = written()
    again = manager.post(url, {"reason": "Bounced"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert again.json() == first.json()
    assert written() == before
    body = first.json()
    assert body["kind"] == PaymentKind.REVERSAL and body["amount"] == "-500.00" and body["reverses"] == payment.pk
    assert sum(Decimal(line["amount"]) for line in body["allocations"]) == Decimal("-500.00")
    assert manager.get(f"{PAYMENTS}{payment.pk}/").json()["reversed_by"] == body["id"]


def test_a_reversal_needs_a_reason_and_cannot_itself_be_reversed(manager, loan):
    payment = posted(loan)
    assert_error(manager.post(f"{PAYMENTS}{payment.pk}/reverse/", {}, format="json"), 400, fields=["reason"])
    reversal = manager.post(f"{PAYMENTS}{payment.pk}/reverse/", {"reason": "Bounced"}, format="json").json()

    response = manager.post(f"{PAYMENTS}{reversal['id']}/reverse/", {"reason": "Again"}, format="json")

    assert_error(response, 400, fields=["payment"])
    assert Payment.objects.count() == 2


def test_reversing_needs_its_own_permission_and_sight_of_the_payment(officer, gateway, api_client_for, loan):
    payment = posted(loan)
    url = f"{PAYMENTS}{payment.pk}/reverse/"
    blind = api_client_for("blind", "loans.add_payment", "loans.reverse_payment")  # may not read payments
    finance = api_client_for("finance", "loans.reverse_payment", "loans.view_payment")

    for refused in (officer, gateway, blind):
        response = refused.post(url, {"reason": "Bounced"})
        assert_error(response, 403, code="permission_denied")
        assert "500.00" not in response.content.decode() and loan.external_id not in response.content.decode()
    assert_error(APIClient().post(url, {"reason": "Bounced"}), 401, code="not_authenticated")
    assert not Payment.objects.filter(kind=PaymentKind.REVERSAL).exists()
    assert finance.post(url, {"reason": "Bounced"}).status_code == 201
    assert_error(finance.post(f"{PAYMENTS}999999/reverse/", {"reason": "Bounced"}), 404, code="not_found")


# --- Reading payments --------------------------------------------------------------------------------


def test_payments_filter_by_loan_value_date_kind_and_channel(reader, loan, today):
    other_loan = make_loan(external_id="CB-0002")
    early = posted(loan, "P-early", received_at=datetime(2026, 3, 1, 10, tzinfo=SHANGHAI))
    cash = posted(loan, "P-cash", channel=PaymentChannel.CASH)
    elsewhere = posted(other_loan, "P-other")
    reversal, _created = payment_reverse(actor="system", payment=cash, reason="Counterfeit")

    def found(**query):
        response = reader.get(PAYMENTS, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert found() == {early.pk, cash.pk, elsewhere.pk, reversal.pk}
    assert found(loan="CB-0002") == {elsewhere.pk}
    assert found(value_date_before="2026-03-31") == {early.pk}
    assert found(value_date_after=str(today), loan="CB-0001") == {cash.pk, reversal.pk}
    assert found(kind="reversal") == {reversal.pk}
    assert found(channel="cash") == {cash.pk, reversal.pk}
    assert found(loan="NO-SUCH-LOAN") == set()


@pytest.mark.parametrize(
    "query", [{"kind": "gift"}, {"channel": "pigeon"}, {"value_date_after": "2026-13-01"}, {"page": "0"}]
)
def test_bad_payment_filters_are_a_4xx(officer, query):
    response = officer.get(PAYMENTS, query)

    assert response.status_code in (400, 404) and response.json()["error"]["code"]


def test_a_payment_reads_with_its_allocation_lines(reader, loan):
    payment = posted(loan)

    body = reader.get(f"{PAYMENTS}{payment.pk}/").json()

    assert body["external_reference"] == "GW-1" and body["received_at"] == "2026-04-20T10:00:00+08:00"
    lines = list(payment.allocations.order_by("id"))
    assert [line["id"] for line in body["allocations"]] == [line.pk for line in lines]
    assert [line["amount"] for line in body["allocations"]] == [f"{line.amount:.2f}" for line in lines]


def test_the_payment_list_does_not_query_per_row(reader, loan, django_assert_max_num_queries):
    posted(loan, "P-1", amount="10.00")
    posted(loan, "P-2", amount="10.00")
    with django_assert_max_num_queries(4):
        assert len(reader.get(PAYMENTS).json()["results"]) == 2
    for n in range(3, 9):
        posted(make_loan(), f"P-{n}", amount="10.00")
    with django_assert_max_num_queries(4):
        assert len(reader.get(PAYMENTS).json()["results"]) == 8


def test_payment_timestamps_are_given_with_their_offset(reader, loan):
    payment = posted(loan, received_at=datetime(2026, 4, 20, 1, 30, tzinfo=ZoneInfo("UTC")))

    body = reader.get(f"{PAYMENTS}{payment.pk}/").json()

    assert body["received_at"] == "2026-04-20T09:30:00+08:00"


def test_reversing_a_payment_whose_reversal_reference_is_taken_is_not_a_500(manager, loan):
    payment = posted(loan, "GW-9", amount="1.00")
    posted(loan, "GW-9:reversal", amount="1.00")

    response = manager.post(f"{PAYMENTS}{payment.pk}/reverse/", {"reason": "Bounced"}, format="json")

    assert response.status_code == 201
    assert response.json()["external_reference"] == f"reversal:{payment.pk}"


# --- Early settlement ---------------------------------------------------------------------------------


def test_a_loan_quotes_what_settling_today_takes_and_is_settled_once(reader, settler, loan):
    quote = reader.get(f"{LOANS}{loan.pk}/payoff-quote/")
    assert quote.status_code == 200, quote.content
    body = quote.json()
    assert body["on"] == "2026-04-20"
    total = Decimal(body["due_now"]) + Decimal(body["future_principal"]) + Decimal(body["accrued_interest"])
    assert Decimal(body["total"]) == total > loan.principal_outstanding - 1
    assert (Decimal(body["credit"]), Decimal(body["to_pay"])) == (0, total)  # no money held for the loan

    short = settler.post(
        f"{LOANS}{loan.pk}/settle/",
        {"amount": f"{total - Decimal('0.01')}", "channel": "bank_transfer", "external_reference": "SETTLE-1"},
        format="json",
    )
    assert_error(short, 400, fields=["amount"])
    settle = {"amount": body["total"], "channel": "bank_transfer", "external_reference": "SETTLE-1"}
    first = settler.post(f"{LOANS}{loan.pk}/settle/", settle, format="json")
    assert first.status_code == 201, first.content
    again = settler.post(f"{LOANS}{loan.pk}/settle/", settle, format="json")
    assert (again.status_code, again.json()) == (200, first.json())
    loan.refresh_from_db()
    assert (loan.status, loan.total_outstanding) == (LoanStatus.PAID_OFF, 0)
    assert Payment.objects.filter(loan=loan).count() == 1
    assert_error(reader.get(f"{LOANS}{loan.pk}/payoff-quote/"), 409, code="loan_closed")


def test_settling_needs_its_own_permission_and_sight_of_the_loan(core_banking, officer, gateway, api_client_for, loan):
    body = {"amount": "1.00", "channel": "bank_transfer", "external_reference": "SETTLE-2"}
    blind = api_client_for("blind", "loans.add_payment", "loans.settle_loan")  # may not read loans
    for refused in (core_banking, officer, gateway, blind):
        response = refused.post(f"{LOANS}{loan.pk}/settle/", body, format="json")
        assert_error(response, 403, code="permission_denied")
        assert "¥" not in response.content.decode()  # nothing of the payoff
    assert APIClient().get(f"{LOANS}{loan.pk}/payoff-quote/").status_code in (401, 403)
    assert not Payment.objects.exists()


def test_a_loan_costing_more_than_the_cap_is_refused_with_its_cost_and_nothing_is_booked(core_banking):
    """23.4% and a 0.15% monthly service fee: the comprehensive annual cost is 26.49%, above 24%."""
    product = LoanProductFactory(code="micro-fee", monthly_fee_rate=Decimal("0.0015"), cost_cap_rate=Decimal("0.24"))
    body = new_loan(product, BorrowerFactory(), {"principal": "10000.00", "annual_rate": "0.234"})
    response = core_banking.post(LOANS, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "cost_cap" and "26.49%" in error["fields"]["annual_rate"][0]
    assert not Loan.objects.exists()
    body["annual_rate"] = "0.20"
    booked = core_banking.post(LOANS, body, format="json")
    assert booked.status_code == 201 and Decimal("0.20") < Decimal(booked.json()["annual_cost"]) <= Decimal("0.24")


def test_a_short_settlement_names_the_payoff_only_to_those_who_may_see_the_loan(loan):
    from django.contrib.auth.models import Permission, User

    from core.errors import ApplicationError
    from loans.settlement import loan_settle_early

    blind = User.objects.create_user("blind")
    blind.user_permissions.add(Permission.objects.get(codename="settle_loan"))
    with pytest.raises(ApplicationError) as short:
        loan_settle_early(actor=blind, loan=loan, amount="1.00", external_reference="S-1", channel="bank_transfer")
    assert "¥" not in short.value.message and "does not cover" in short.value.message
    with pytest.raises(ApplicationError) as told:
        loan_settle_early(actor="system", loan=loan, amount="1.00", external_reference="S-1", channel="bank_transfer")
    assert "Settling today takes ¥" in told.value.message
    assert not Payment.objects.exists()


# --- Idempotency keys belong to their client ---------------------------------------------------------


def test_another_clients_reference_neither_blocks_nor_shows_its_payment(api_client_for, loan):
    first, second = (api_client_for(name, "loans.add_payment") for name in ("gateway-a", "gateway-b"))
    other_loan = make_loan(external_id="CB-0002")
    body = {"loan": "CB-0001", "amount": "300.00", "channel": "payment_gateway", "external_reference": "TX-1"}
    mine = first.post(PAYMENTS, body, format="json")
    assert mine.status_code == 201, mine.content

    replay = second.post(PAYMENTS, {**body, "loan": "CB-0002", "amount": "5.00"}, format="json")
    assert replay.status_code == 201, replay.content  # its own payment, not a 422 about somebody else's
    assert replay.json()["id"] != mine.json()["id"] and replay.json()["loan"] != mine.json()["loan"]
    assert "300.00" not in replay.content.decode()
    keyed = second.post(
        PAYMENTS,
        {k: v for k, v in body.items() if k != "external_reference"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="TX-1",
    )
    assert keyed.status_code == 422 and "300.00" not in keyed.content.decode()  # its own TX-1 was other money
    assert first.post(PAYMENTS, body, format="json").json() == mine.json()  # a repeat within a scope: the first
    assert Payment.objects.filter(external_reference="TX-1").count() == 2
    assert set(Payment.objects.values_list("loan", flat=True)) == {loan.pk, other_loan.pk}


def test_people_share_one_scope_so_a_bank_reference_entered_twice_is_one_payment(staff_client, loan):
    body = {"loan": "CB-0001", "amount": "120.00", "channel": "bank_transfer", "external_reference": "BANK-77"}
    first = staff_client(roles.MANAGER, username="m1").post(PAYMENTS, body, format="json")
    again = staff_client(roles.MANAGER, username="m2").post(PAYMENTS, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Payment.objects.get().idempotency_scope == ""


@pytest.mark.parametrize(("amount", "says"), [("99999999999999.99", "overpayment allowance"), ("１０.00", "0-9")])
def test_an_absurd_or_full_width_amount_is_a_400_that_writes_nothing(gateway, loan, amount, says):
    body = {"loan": "CB-0001", "amount": amount, "channel": "payment_gateway", "external_reference": "GW-X"}
    response = gateway.post(PAYMENTS, body, format="json")
    assert_error(response, 400, fields=["amount"])
    assert says in response.json()["error"]["fields"]["amount"][0]
    assert not Payment.objects.exists()
