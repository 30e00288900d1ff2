from datetime import date
from decimal import Decimal

import factory

from loans.choices import AllocationOrder, ProductKind, RepaymentMethod
from loans.models import LoanProduct
from loans.services import loan_create
from tests.borrowers.factories import BorrowerFactory


class LoanProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoanProduct
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"consumer-{n}")
    name = factory.Sequence(lambda n: f"消费贷 {n}")
    kind = ProductKind.CONSUMER_CREDIT
    repayment_method = RepaymentMethod.EQUAL_INSTALLMENT
    penalty_rate = Decimal("0.18")
    allocation_order = AllocationOrder.CIVIL_CODE_561


def make_loan(
    *,
    principal="12000.00",
    annual_rate="0.12",
    term_months=12,
    disbursed_on=date(2026, 1, 15),
    product=None,
    borrower=None,
    external_id=None,
    **product_fields,
):
    """Book a loan through the real service, as core banking would."""
    product = product or LoanProductFactory(**product_fields)
    borrower = borrower or BorrowerFactory()
    make_loan.counter += 1
    loan, _created = loan_create(
        actor="system",
        external_id=external_id or f"L{make_loan.counter:08d}",
        borrower=borrower,
        product=product,
        principal=Decimal(principal),
        annual_rate=Decimal(annual_rate),
        term_months=term_months,
        disbursed_on=disbursed_on,
    )
    return loan


make_loan.counter = 0
