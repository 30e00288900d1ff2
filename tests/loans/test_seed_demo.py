"""The demo portfolio looks as if the services had booked it: balances, allocations and schedules
agree with the application's own maths, identifiers are valid and unique, and reruns are safe."""

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Count, Max, Sum
from django.test import RequestFactory
from django.utils import timezone

from borrowers import validators
from borrowers.choices import BorrowerKind
from borrowers.models import Borrower, ContactPoint
from core import roles
from core.dates import business_today
from core.models import ActivityLog
from core.money import to_fen
from loans import demo
from loans.choices import AgingBucket, CollateralKind, InstallmentStatus, LoanStatus, ProductKind, RepaymentMethod
from loans.cost import annual_cost
from loans.models import Collateral, Installment, Loan, LoanProduct, Payment, PaymentAllocation
from loans.schedule import build_schedule, contract_day
from loans.services import loan_refresh_balances, payment_post
from tests.borrowers.factories import BorrowerFactory
from tests.loans.factories import make_loan

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()
LOANS = 300


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def seed(**options):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded(frozen):
    return seed(loans=LOANS)


def test_seed_writes_the_portfolio_and_reports_it(seeded):
    assert Loan.objects.count() == LOANS
    assert LoanProduct.objects.count() == len(demo.PRODUCT_SPECS)
    assert 0 < Borrower.objects.count() <= LOANS
    assert Installment.objects.count() == sum(
        1 if method == RepaymentMethod.BULLET else term
        for method, term in Loan.objects.values_list("product__repayment_method", "term_months")
    )
    assert Payment.objects.count() > LOANS
    entry = ActivityLog.objects.get(action="loans.demo.seeded")
    assert entry.actor_label == "system"
    assert entry.data["loans"] == LOANS
    assert "officer" in seeded and demo.DEMO_PASSWORD in seeded


def test_every_loans_balances_are_what_the_refresh_computes(seeded):
    fields = demo.BALANCE_COLUMNS
    for loan in Loan.objects.select_related("product"):
        stored = {name: getattr(loan, name) for name in fields}
        loan_refresh_balances(loan=loan, as_of=business_today())
        assert {name: getattr(loan, name) for name in fields} == stored, loan.external_id


def test_instalments_are_paid_by_their_allocation_lines(seeded):
    allocated = defaultdict(Decimal)
    rows = PaymentAllocation.objects.values_list("installment_id", "component").annotate(total=Sum("amount"))
    for installment_id, component, total in rows:
        allocated[installment_id, component] += to_fen(total)
    for installment in Installment.objects.all():
        for component, _due, paid in Installment.COMPONENT_FIELDS:
            assert getattr(installment, paid) == allocated[installment.pk, component]
        if installment.total_outstanding == 0:
            assert installment.status == InstallmentStatus.PAID and installment.paid_on is not None
        else:
            paid_any = installment.total_paid > 0
            assert installment.status == (InstallmentStatus.PARTIALLY_PAID if paid_any else InstallmentStatus.PENDING)
            assert installment.paid_on is None


def test_payments_are_whole_and_in_the_past(seeded):
    lines = dict(PaymentAllocation.objects.values_list("payment_id").annotate(total=Sum("amount")))
    for payment in Payment.objects.all():
        assert payment.amount > 0 and payment.unapplied_amount == 0
        assert to_fen(lines[payment.pk]) == payment.amount
        assert timezone.localdate(payment.received_at) == payment.value_date < TODAY
    assert not PaymentAllocation.objects.filter(applied_on__gte=TODAY).exists()


def test_schedules_are_the_ones_loan_create_books(seeded):
    for loan in Loan.objects.select_related("product").prefetch_related("installments"):
        first_due_date = loan.disbursed_on + relativedelta(months=1)  # as loan_create does by default
        lines = build_schedule(
            method=loan.product.repayment_method,
            principal=loan.principal,
            annual_rate=loan.annual_rate,
            term_months=loan.term_months,
            first_due_date=first_due_date,
            monthly_fee=to_fen(loan.principal * loan.product.monthly_fee_rate),
            day_of_month=contract_day(loan.disbursed_on, first_due_date),
            first_period_basis=loan.product.first_period_basis,
            disbursed_on=loan.disbursed_on,
        )
        booked = [(i.seq, i.due_date, i.principal_due, i.interest_due, i.fee_due) for i in loan.installments.all()]
        assert booked == [(line.seq, line.due_date, line.principal, line.interest, line.fee) for line in lines]
        assert loan.maturity_date == lines[-1].due_date
        assert loan.annual_cost == annual_cost(principal=loan.principal, disbursed_on=loan.disbursed_on, lines=lines)
        product = loan.product
        assert product.min_principal <= loan.principal <= product.max_principal
        assert product.min_term_months <= loan.term_months <= product.max_term_months
        assert loan.annual_rate <= product.max_annual_rate
        assert loan.annual_cost.quantize(Decimal("0.0001")) <= product.cost_cap_rate  # loan_create's cap


def test_portfolio_spans_the_buckets_products_and_collateral(seeded):
    buckets = set(Loan.objects.values_list("aging_bucket", flat=True))
    assert {AgingBucket.M0, AgingBucket.M1, AgingBucket.M7} <= buckets
    assert len(buckets) >= 6
    statuses = dict(Loan.objects.values_list("status").annotate(n=Count("id")))
    assert statuses[LoanStatus.PAID_OFF] > 0 and statuses[LoanStatus.OVERDUE] > 0
    assert statuses[LoanStatus.ACTIVE] > statuses[LoanStatus.OVERDUE]
    kinds = set(Loan.objects.values_list("product__kind", flat=True))
    assert kinds == set(ProductKind.values) - {ProductKind.MORTGAGE}
    assert Installment.objects.filter(status=InstallmentStatus.PARTIALLY_PAID).exists()
    assert set(Collateral.objects.values_list("kind", flat=True)) == {
        CollateralKind.VEHICLE,
        CollateralKind.REAL_ESTATE,
    }
    assert not Collateral.objects.exclude(loan__product__kind__in=[ProductKind.CAR_TITLE, ProductKind.ENTERPRISE])
    vehicle = Collateral.objects.filter(kind=CollateralKind.VEHICLE).first()
    vin, plate = vehicle.identifier.split(" ")
    assert len(vin) == 17 and 7 <= len(plate) <= 8


def test_borrowers_and_contact_points_pass_the_models_checks(seeded):
    for borrower in Borrower.objects.all():
        check = validators.resident_id if borrower.kind == BorrowerKind.PERSON else validators.social_credit_code
        assert check(borrower.id_number) == borrower.id_number
        borrower.full_clean()  # phone and e-mail canonical, fields in range, unique per kind
    for contact in ContactPoint.objects.all():
        contact.full_clean()  # third parties named, numbers valid
    assert ContactPoint.objects.filter(relation="emergency").exists()
    assert Borrower.objects.filter(kind=BorrowerKind.ENTERPRISE).exists()


def test_every_region_and_mobile_prefix_gives_valid_identifiers():
    for region in demo.REGIONS:
        years = demo._birth_years(region, TODAY)
        assert len(years) >= 10, region.code  # borrowers of many ages
        validators.resident_id(demo.resident_id(region.code, dt.date(years[0], 2, 28), 999))
        validators.social_credit_code(demo.social_credit_code(region.code, "12345678"))
    for prefix in demo.MOBILE_PREFIXES:
        validators.mobile_phone(f"+86{prefix}00001111")


def test_demo_users_log_in_with_their_roles(seeded):
    expected = {
        "officer": roles.OFFICER,
        "officer2": roles.OFFICER,
        "manager": roles.MANAGER,
        "legal": roles.LEGAL_OFFICER,
        "auditor": roles.AUDITOR,
    }
    request = RequestFactory().post("/accounts/login/")  # django-axes checks each login against its request
    for username, group in expected.items():
        user = authenticate(request, username=username, password=demo.DEMO_PASSWORD)
        assert user is not None, username
        assert list(user.groups.values_list("name", flat=True)) == [group]
    assert authenticate(request, username="manager", password=demo.DEMO_PASSWORD).is_staff
    admin = authenticate(request, username="admin", password=demo.DEMO_PASSWORD)
    assert admin.is_superuser and admin.is_staff


def test_if_empty_leaves_a_filled_database_alone(seeded):
    output = seed(loans=50, if_empty=True)
    assert Loan.objects.count() == LOANS
    assert "not seeded" in output


def test_if_empty_seeds_an_empty_database(frozen):
    seed(loans=20, if_empty=True)
    assert Loan.objects.count() == 20


def test_running_again_adds_loans_without_collisions(seeded):
    seed(loans=100)  # the same seed again: every identifier it draws first is taken already
    seed(loans=100, seed=7)
    assert Loan.objects.count() == LOANS + 200
    for kind in BorrowerKind.values:
        ids = Borrower.objects.filter(kind=kind).values_list("id_number", flat=True)
        assert len(ids) == len(set(ids))
    assert ActivityLog.objects.filter(action="loans.demo.seeded").count() == 3
    loan = Loan.objects.order_by("-id").first()
    stored = {name: getattr(loan, name) for name in demo.BALANCE_COLUMNS}
    loan_refresh_balances(loan=loan, as_of=business_today())
    assert {name: getattr(loan, name) for name in demo.BALANCE_COLUMNS} == stored


def test_the_services_book_new_rows_after_seeding(seeded):
    """The seeding gives primary keys itself; the id sequences (PostgreSQL) must have moved past them."""
    product = LoanProduct.objects.get(code="demo-consumer-annuity")
    loan = make_loan(product=product, borrower=BorrowerFactory(), principal="12000.00", term_months=12)
    payment, created = payment_post(
        actor="system", loan=loan, amount="500.00", external_reference="BANK-1", channel="bank_transfer"
    )
    assert created and payment.allocations.exists()
    assert Loan.objects.count() == LOANS + 1


def test_postgres_id_sequences_move_past_the_seeded_rows(frozen):
    """Rows are written with explicit keys; PostgreSQL's sequences do not see those by themselves."""
    models = [Borrower, ContactPoint, Loan, Collateral, Installment, Payment, PaymentAllocation]
    with connection.cursor() as cursor:
        # Sequences ignore rollbacks, so earlier tests have moved them on: rewind them to the
        # (empty) tables, as on a fresh database, so that a missing reset would show.
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
    seed(loans=50)
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
            cursor.execute(f"SELECT last_value FROM {cursor.fetchone()[0]}")
            assert cursor.fetchone()[0] >= model.objects.aggregate(top=Max("id"))["top"], model.__name__
