import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import ActivityLog
from loans import delinquency
from loans.choices import (
    AgingBucket,
    AllocationOrder,
    CollateralKind,
    CollateralStatus,
    InstallmentStatus,
    LoanStatus,
    PaymentChannel,
    PaymentKind,
    ProductKind,
    RegulatoryClass,
)
from loans.models import Collateral, Installment, Loan, LoanProduct, Payment, PaymentAllocation
from loans.services import payment_post
from tests.borrowers.factories import BorrowerFactory
from tests.loans.factories import LoanProductFactory, make_loan

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Disbursed 2026-01-15, first due 2026-02-15: on 2026-04-20 three instalments are overdue (64 days).
TODAY = dt.datetime(2026, 4, 20, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _frozen_time():
    with time_machine.travel(TODAY, tick=False):
        yield


def url(name, *args):
    return reverse(f"admin:loans_{name}", args=args)


def results(response):
    return list(response.context["cl"].result_list)


def form_errors(response):
    return response.context["adminform"].form.errors


# --- Products ----------------------------------------------------------------------------------------


def test_product_changelist_filters_and_change_page(admin_client):
    consumer = LoanProductFactory(name="消费贷")
    car = LoanProductFactory(name="车抵贷", kind=ProductKind.CAR_TITLE, is_active=False)

    response = admin_client.get(url("loanproduct_changelist"))
    assert response.status_code == 200
    assert set(results(response)) == {consumer, car}
    assert results(admin_client.get(url("loanproduct_changelist"), {"kind__exact": ProductKind.CAR_TITLE})) == [car]
    assert results(admin_client.get(url("loanproduct_changelist"), {"is_active__exact": "1"})) == [consumer]
    assert results(admin_client.get(url("loanproduct_changelist"), {"q": "车抵"})) == [car]
    assert admin_client.get(url("loanproduct_change", car.pk)).status_code == 200


def test_product_is_editable_and_the_change_is_logged(admin_client, admin_user):
    product = LoanProductFactory(grace_days=0)
    page = admin_client.get(url("loanproduct_change", product.pk))
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value is not None and value is not False}

    response = admin_client.post(url("loanproduct_change", product.pk), {**data, "grace_days": "3"})

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.grace_days == 3
    entry = ActivityLog.objects.get(action="loans.loan_product.changed")
    assert entry.actor == admin_user
    assert (entry.before, entry.after) == ({"grace_days": 0}, {"grace_days": 3})


# --- Loans: the list ---------------------------------------------------------------------------------


def test_loan_changelist_shows_balances_and_delinquency(admin_client):
    loan = make_loan()

    response = admin_client.get(url("loan_changelist"))

    assert response.status_code == 200
    assert results(response) == [loan]
    loan.refresh_from_db()
    assert loan.days_past_due == 64
    content = response.content.decode()
    assert loan.external_id in content
    assert loan.borrower.name in content
    assert loan.product.name in content


@pytest.mark.parametrize("query", ["external_id", "name", "id_number", "phone", "phone_without_country_code"])
def test_loan_search(admin_client, query):
    wanted, _other = make_loan(), make_loan()
    terms = {
        "external_id": wanted.external_id,
        "name": wanted.borrower.name,
        "id_number": wanted.borrower.id_number,
        "phone": wanted.borrower.phone,
        "phone_without_country_code": wanted.borrower.phone.removeprefix("+86"),
    }

    response = admin_client.get(url("loan_changelist"), {"q": terms[query]})

    assert results(response) == [wanted]


def test_loan_filters(admin_client):
    overdue = make_loan()
    current = make_loan(disbursed_on=dt.date(2026, 4, 1), kind=ProductKind.MORTGAGE)
    changelist = url("loan_changelist")

    assert results(admin_client.get(changelist, {"status__exact": LoanStatus.OVERDUE})) == [overdue]
    assert results(admin_client.get(changelist, {"aging_bucket__exact": AgingBucket.M0})) == [current]
    assert results(admin_client.get(changelist, {"regulatory_class__exact": RegulatoryClass.SPECIAL_MENTION})) == [
        overdue
    ]
    assert results(admin_client.get(changelist, {"ifrs9_stage__exact": 2})) == [overdue]
    assert results(admin_client.get(changelist, {"product__kind": ProductKind.MORTGAGE})) == [current]
    assert results(admin_client.get(changelist, {"product__id__exact": overdue.product_id})) == [overdue]


def test_loan_changelist_query_count_does_not_grow_with_loans(admin_client, django_assert_max_num_queries):
    product = LoanProductFactory()
    for _ in range(20):
        make_loan(product=product)
    with CaptureQueriesContext(connection) as twenty:
        assert admin_client.get(url("loan_changelist")).status_code == 200
    for _ in range(20):
        make_loan(product=product)

    with django_assert_max_num_queries(len(twenty)):
        response = admin_client.get(url("loan_changelist"))

    assert len(results(response)) == 40


# --- Loans: the change page --------------------------------------------------------------------------


def test_loan_change_page_shows_schedule_payments_and_collateral_read_only(admin_client):
    loan = make_loan(allocation_order=AllocationOrder.INSTALLMENT_FIRST)
    payment_post(actor="system", loan=loan, amount="1100.00", external_reference="BANK-1", channel="bank_transfer")
    Collateral.objects.create(loan=loan, kind=CollateralKind.VEHICLE, description="比亚迪 汉", identifier="LGXC1")

    response = admin_client.get(url("loan_change", loan.pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}  # balances and terms are read-only
    inlines = {type(inline.opts).__name__: inline for inline in response.context["inline_admin_formsets"]}
    assert set(inlines) == {"InstallmentInline", "PaymentInline", "CollateralInline"}
    assert len(inlines["InstallmentInline"].formset.forms) == 12
    assert not inlines["InstallmentInline"].has_change_permission
    assert not inlines["PaymentInline"].has_change_permission
    assert inlines["CollateralInline"].has_change_permission
    content = response.content.decode()
    assert "BANK-1" in content
    assert "LGXC1" in content
    assert 'alt="True"' in content  # the first instalment's paid mark
    assert 'alt="False"' in content


def test_loan_change_post_saves_collateral_but_never_the_balances(admin_client, admin_user):
    loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(overdue_amount=Decimal("1.00"))
    data = {
        "installments-TOTAL_FORMS": "0",
        "installments-INITIAL_FORMS": "0",
        "payments-TOTAL_FORMS": "0",
        "payments-INITIAL_FORMS": "0",
        "collateral-TOTAL_FORMS": "1",
        "collateral-INITIAL_FORMS": "0",
        "collateral-0-kind": CollateralKind.VEHICLE,
        "collateral-0-status": CollateralStatus.HELD,
        "collateral-0-description": "大众 帕萨特",
        "collateral-0-identifier": "LSVAA4182E2184841",
        "collateral-0-owner_name": "",
        "collateral-0-appraised_value": "90000.00",
        "collateral-0-appraised_on": "",
        "collateral-0-lien_reference": "",
        "overdue_amount": "0.00",
        "status": LoanStatus.PAID_OFF,
    }

    response = admin_client.post(url("loan_change", loan.pk), data)

    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.overdue_amount == Decimal("1.00")  # the loan row is not rewritten
    assert loan.status == LoanStatus.OVERDUE
    collateral = loan.collateral.get()
    assert collateral.identifier == "LSVAA4182E2184841"
    entry = ActivityLog.objects.get(action="loans.collateral.created")
    assert (entry.actor, entry.target_id, entry.data["id"]) == (admin_user, str(loan.pk), collateral.pk)


def test_loans_cannot_be_deleted_through_the_admin(admin_client):
    loan = make_loan()

    assert admin_client.post(url("loan_delete", loan.pk), {"post": "yes"}).status_code == 403
    assert Loan.objects.filter(pk=loan.pk).exists()


# --- Loans: booking through the service -------------------------------------------------------------


def loan_form(borrower, product, **overrides):
    return {
        "external_id": "CB-0001",
        "borrower": borrower.pk,
        "product": product.pk,
        "principal": "12000.00",
        "annual_rate": "0.12",
        "term_months": "12",
        "disbursed_on": "2026-04-01",
        "first_due_date": "",
        **overrides,
    }


def test_loan_add_books_the_loan_through_the_service(admin_client, admin_user):
    borrower, product = BorrowerFactory(), LoanProductFactory()

    response = admin_client.post(url("loan_add"), loan_form(borrower, product))

    assert response.status_code == 302
    loan = Loan.objects.get(external_id="CB-0001")
    assert (loan.borrower, loan.product, loan.principal) == (borrower, product, Decimal("12000.00"))
    assert loan.first_due_date == dt.date(2026, 5, 1)
    assert loan.installments.count() == 12
    assert loan.principal_outstanding == Decimal("12000.00")
    entry = ActivityLog.objects.get(action="loans.loan.created")
    assert (entry.actor, entry.target_id) == (admin_user, str(loan.pk))


def test_loan_add_page_renders(admin_client):
    response = admin_client.get(url("loan_add"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == [
        "external_id",
        "borrower",
        "product",
        "principal",
        "annual_rate",
        "term_months",
        "disbursed_on",
        "first_due_date",
    ]
    assert response.context["inline_admin_formsets"] == []


def test_loan_add_shows_a_service_refusal_as_a_field_error(admin_client):
    borrower, product = BorrowerFactory(), LoanProductFactory(max_principal=Decimal("5000.00"))

    response = admin_client.post(url("loan_add"), loan_form(borrower, product))

    assert response.status_code == 200
    assert list(form_errors(response)) == ["principal"]
    assert not Loan.objects.exists()


def test_loan_add_offers_only_products_on_sale(admin_client):
    borrower, product = BorrowerFactory(), LoanProductFactory(is_active=False)

    response = admin_client.post(url("loan_add"), loan_form(borrower, product))

    assert list(form_errors(response)) == ["product"]
    assert not Loan.objects.exists()


def test_booking_the_same_loan_again_changes_nothing(admin_client):
    loan = make_loan(external_id="CB-0001", disbursed_on=dt.date(2026, 4, 1))
    data = loan_form(loan.borrower, loan.product)
    updated_at = loan.updated_at

    response = admin_client.post(url("loan_add"), data)

    assert response.status_code == 200
    assert list(form_errors(response)) == ["external_id"]
    assert Loan.objects.count() == 1
    loan.refresh_from_db()
    assert loan.updated_at == updated_at

    conflict = admin_client.post(url("loan_add"), {**data, "principal": "13000.00"})
    assert list(form_errors(conflict)) == ["external_id"]
    assert Loan.objects.count() == 1


# --- Loans: refreshing balances ------------------------------------------------------------------------


def test_refresh_balances_action_recomputes_the_selected_loans(admin_client, admin_user):
    stale, untouched = make_loan(), make_loan()
    Loan.objects.filter(pk__in=[stale.pk, untouched.pk]).update(
        overdue_amount=Decimal("0.00"), days_past_due=0, aging_bucket=AgingBucket.M0, status=LoanStatus.ACTIVE
    )

    response = admin_client.post(
        url("loan_changelist"), {"action": "refresh_balances", "_selected_action": [stale.pk]}, follow=True
    )

    assert response.status_code == 200
    stale.refresh_from_db()
    assert (stale.days_past_due, stale.aging_bucket, stale.status) == (64, AgingBucket.M3, LoanStatus.OVERDUE)
    assert stale.overdue_amount > 0
    untouched.refresh_from_db()
    assert untouched.days_past_due == 0
    entry = ActivityLog.objects.get(action="loans.loan.balances_refreshed")
    assert (entry.actor, entry.target_id) == (admin_user, str(stale.pk))
    assert entry.before["days_past_due"] == 0
    assert entry.after["days_past_due"] == 64
    assert [str(m) for m in response.context["messages"]] == ["Refreshed the balances of 1 loan (1 changed)."]


def test_refresh_balances_logs_nothing_when_nothing_changed(admin_client):
    loan = make_loan()

    admin_client.post(url("loan_changelist"), {"action": "refresh_balances", "_selected_action": [loan.pk]})

    assert not ActivityLog.objects.filter(action="loans.loan.balances_refreshed").exists()


# --- Instalments -------------------------------------------------------------------------------------


def test_installment_admin_is_a_searchable_read_only_list(admin_client):
    wanted, _other = make_loan(), make_loan()
    changelist = url("installment_changelist")

    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert len(results(response)) == 24

    found = results(admin_client.get(changelist, {"q": wanted.external_id}))
    assert len(found) == 12
    assert {i.loan_id for i in found} == {wanted.pk}
    assert len(results(admin_client.get(changelist, {"status__exact": InstallmentStatus.PENDING}))) == 24

    installment = wanted.installments.first()
    page = admin_client.get(url("installment_change", installment.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert admin_client.get(url("installment_add")).status_code == 403
    assert admin_client.post(url("installment_change", installment.pk), {"seq": 99}).status_code == 403
    assert admin_client.post(url("installment_delete", installment.pk), {"post": "yes"}).status_code == 403


# --- Payments ----------------------------------------------------------------------------------------


def payment_form(loan, **overrides):
    return {
        "loan": loan.pk,
        "amount": "1100.00",
        "external_reference": "BANK-1",
        "channel": PaymentChannel.BANK_TRANSFER,
        "received_at_0": "2026-04-20",
        "received_at_1": "09:30:00",
        "note": "",
        **overrides,
    }


def test_payment_add_page_renders(admin_client):
    response = admin_client.get(url("payment_add"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == [
        "loan",
        "amount",
        "external_reference",
        "channel",
        "received_at",
        "note",
    ]


def test_payment_add_finds_the_loan_by_autocomplete_and_defaults_to_now(admin_client):
    wanted, _other = make_loan(), make_loan()

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "loans", "model_name": "payment", "field_name": "loan", "term": wanted.external_id},
    )
    page = admin_client.get(url("payment_add"), {"loan": wanted.pk})

    assert [row["id"] for row in response.json()["results"]] == [str(wanted.pk)]
    form = page.context["adminform"].form
    assert form["loan"].value() == str(wanted.pk)
    assert form["received_at"].value() == TODAY


def test_payment_add_posts_through_the_service(admin_client, admin_user):
    loan = make_loan(allocation_order=AllocationOrder.INSTALLMENT_FIRST)

    response = admin_client.post(url("payment_add"), payment_form(loan))

    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.loan, payment.amount, payment.kind) == (loan, Decimal("1100.00"), PaymentKind.PAYMENT)
    assert payment.received_at == dt.datetime(2026, 4, 20, 9, 30, tzinfo=SHANGHAI)
    assert payment.posted_by == admin_user
    assert payment.allocations.exists()
    loan.refresh_from_db()
    assert loan.days_past_due == 36  # the first instalment is paid; the oldest unpaid fell due on 2026-03-15
    entry = ActivityLog.objects.get(action="loans.payment.posted")
    assert (entry.actor, entry.target_id) == (admin_user, str(loan.pk))


def test_posting_a_duplicate_reference_changes_nothing(admin_client):
    loan = make_loan()
    assert admin_client.post(url("payment_add"), payment_form(loan)).status_code == 302
    loan.refresh_from_db()
    balances = (loan.overdue_amount, loan.principal_outstanding, loan.days_past_due)
    allocations = PaymentAllocation.objects.count()

    again = admin_client.post(url("payment_add"), payment_form(loan))
    conflict = admin_client.post(url("payment_add"), payment_form(loan, amount="500.00"))

    for response in (again, conflict):
        assert response.status_code == 200
        assert list(form_errors(response)) == ["external_reference"]
    assert Payment.objects.count() == 1
    assert PaymentAllocation.objects.count() == allocations
    loan.refresh_from_db()
    assert (loan.overdue_amount, loan.principal_outstanding, loan.days_past_due) == balances
    assert ActivityLog.objects.filter(action="loans.payment.posted").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"received_at_0": "2026-04-21"}, "received_at"),  # the future
        ({"received_at_0": "2026-01-01"}, "received_at"),  # before disbursement
        ({"external_reference": ""}, "external_reference"),
    ],
)
def test_payment_add_shows_refusals_as_field_errors(admin_client, overrides, field):
    loan = make_loan()

    response = admin_client.post(url("payment_add"), payment_form(loan, **overrides))

    assert response.status_code == 200
    assert list(form_errors(response)) == [field]
    assert not Payment.objects.exists()


def test_payment_to_a_closed_loan_is_refused_on_the_loan_field(admin_client):
    loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.TRANSFERRED)

    response = admin_client.post(url("payment_add"), payment_form(loan))

    assert list(form_errors(response)) == ["loan"]
    assert not Payment.objects.exists()


def test_payment_changelist_search_filters_and_read_only_change_page(admin_client):
    loan, other = make_loan(), make_loan()
    payment, _ = payment_post(
        actor="system", loan=loan, amount="1100.00", external_reference="BANK-1", channel=PaymentChannel.BANK_TRANSFER
    )
    cash, _ = payment_post(
        actor="system", loan=other, amount="50.00", external_reference="CASH-9", channel=PaymentChannel.CASH
    )
    changelist = url("payment_changelist")

    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert set(results(response)) == {payment, cash}
    assert results(admin_client.get(changelist, {"q": "BANK-1"})) == [payment]
    assert results(admin_client.get(changelist, {"q": other.external_id})) == [cash]
    assert results(admin_client.get(changelist, {"channel__exact": PaymentChannel.CASH})) == [cash]
    assert set(results(admin_client.get(changelist, {"kind__exact": PaymentKind.PAYMENT}))) == {payment, cash}
    assert results(admin_client.get(changelist, {"kind__exact": PaymentKind.REVERSAL})) == []

    page = admin_client.get(url("payment_change", payment.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    [allocations] = page.context["inline_admin_formsets"]
    assert len(allocations.formset.forms) == payment.allocations.count() > 0


def test_payments_cannot_be_edited_or_deleted(admin_client):
    loan = make_loan()
    payment, _ = payment_post(
        actor="system", loan=loan, amount="1100.00", external_reference="BANK-1", channel=PaymentChannel.BANK_TRANSFER
    )

    assert admin_client.post(url("payment_change", payment.pk), {"amount": "1.00"}).status_code == 403
    assert admin_client.post(url("payment_delete", payment.pk), {"post": "yes"}).status_code == 403
    payment.refresh_from_db()
    assert payment.amount == Decimal("1100.00")
    assert admin_client.get(url("payment_changelist")).context["action_form"] is None  # no bulk delete


def test_payment_allocation_admin_is_read_only_and_searchable(admin_client):
    loan = make_loan()
    payment, _ = payment_post(
        actor="system", loan=loan, amount="1100.00", external_reference="BANK-1", channel=PaymentChannel.BANK_TRANSFER
    )
    changelist = url("paymentallocation_changelist")

    response = admin_client.get(changelist)
    assert response.status_code == 200
    lines = list(payment.allocations.all())
    assert set(results(response)) == set(lines)
    assert set(results(admin_client.get(changelist, {"q": "BANK-1"}))) == set(lines)
    assert set(results(admin_client.get(changelist, {"q": loan.external_id}))) == set(lines)
    assert admin_client.get(url("paymentallocation_change", lines[0].pk)).status_code == 200
    assert admin_client.get(url("paymentallocation_add")).status_code == 403


# --- Collateral ----------------------------------------------------------------------------------------


def test_collateral_changelist_filters_search_and_change_page(admin_client):
    car = Collateral.objects.create(
        loan=make_loan(), kind=CollateralKind.VEHICLE, description="丰田 凯美瑞", identifier="LVGBE40K8GP000001"
    )
    house = Collateral.objects.create(
        loan=make_loan(),
        kind=CollateralKind.REAL_ESTATE,
        description="朝阳区住宅",
        identifier="京(2020)朝阳区不动产权第0000001号",
        status=CollateralStatus.SEIZED,
    )
    changelist = url("collateral_changelist")

    assert set(results(admin_client.get(changelist))) == {car, house}
    assert results(admin_client.get(changelist, {"kind__exact": CollateralKind.VEHICLE})) == [car]
    assert results(admin_client.get(changelist, {"status__exact": CollateralStatus.SEIZED})) == [house]
    assert results(admin_client.get(changelist, {"q": "LVGBE40K"})) == [car]
    assert results(admin_client.get(changelist, {"q": "朝阳区住宅"})) == [house]
    assert results(admin_client.get(changelist, {"q": house.loan.external_id})) == [house]
    assert admin_client.get(url("collateral_change", car.pk)).status_code == 200


def test_collateral_change_is_logged_against_the_loan(admin_client, admin_user):
    loan = make_loan()
    car = Collateral.objects.create(loan=loan, kind=CollateralKind.VEHICLE, description="丰田 凯美瑞")

    response = admin_client.post(
        url("collateral_change", car.pk),
        {
            "loan": loan.pk,
            "kind": CollateralKind.VEHICLE,
            "status": CollateralStatus.SEIZED,
            "description": "丰田 凯美瑞",
            "identifier": "",
            "owner_name": "",
            "appraised_value": "0.00",
            "appraised_on": "",
            "lien_reference": "",
        },
    )

    assert response.status_code == 302
    car.refresh_from_db()
    assert car.status == CollateralStatus.SEIZED
    entry = ActivityLog.objects.get(action="loans.collateral.changed")
    assert (entry.actor, entry.target_id, entry.data["id"]) == (admin_user, str(loan.pk), car.pk)
    assert (entry.before, entry.after) == ({"status": "held"}, {"status": "seized"})


# --- Every page renders --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [LoanProduct, Loan, Installment, Payment, PaymentAllocation, Collateral])
def test_every_changelist_renders(admin_client, model):
    loan = make_loan()
    payment_post(actor="system", loan=loan, amount="100.00", external_reference="R-1", channel="cash")
    Collateral.objects.create(loan=loan, kind=CollateralKind.DEPOSIT, description="保证金")

    response = admin_client.get(url(f"{model._meta.model_name}_changelist"))

    assert response.status_code == 200
    assert results(response)


@pytest.mark.parametrize("model", [Loan, Installment, Payment, PaymentAllocation, Collateral])
def test_changelist_query_count_is_bounded(admin_client, django_assert_max_num_queries, model):
    changelist = url(f"{model._meta.model_name}_changelist")

    def add_loans(count):
        for _ in range(count):
            loan = make_loan()
            payment_post(
                actor="system", loan=loan, amount="100.00", external_reference=loan.external_id, channel="cash"
            )
            Collateral.objects.create(loan=loan, kind=CollateralKind.DEPOSIT, description="保证金")

    add_loans(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(changelist).status_code == 200
    add_loans(6)

    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(changelist)

    assert len(results(response)) >= 8


def test_the_admins_schedules_show_each_penalty_as_of_today(admin_client):
    loan = make_loan()  # nothing paid: overdue since February
    Installment.objects.filter(loan=loan).update(penalty_accrued=0)  # stored as of before it accrued
    expected = delinquency.penalties(TODAY.date(), [loan.pk])
    assert expected and all(amount > 0 for amount in expected.values())

    listed = results(admin_client.get(url("installment_changelist"), {"q": loan.external_id}))
    assert {row.pk: row.penalty_accrued for row in listed if row.pk in expected} == expected
    page = admin_client.get(url("loan_change", loan.pk)).content.decode()
    assert all(f"{amount}" in page for amount in expected.values())
