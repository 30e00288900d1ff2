"""Loans, their schedules and the money that comes in against them."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from borrowers.models import Borrower
from core.fields import money_field, rate_field
from core.models import TimeStampedModel

from .choices import (
    AgingBucket,
    AllocationOrder,
    CollateralKind,
    CollateralStatus,
    Component,
    FirstPeriodBasis,
    Ifrs9Stage,
    InstallmentStatus,
    LoanStatus,
    PaymentChannel,
    PaymentKind,
    PenaltyBasis,
    ProductKind,
    RegulatoryClass,
    RepaymentMethod,
)
from .restructuring import Limits

CURRENCY_CHOICES = [("CNY", _("Chinese yuan (CNY)"))]


class LoanProduct(TimeStampedModel):
    """The terms a loan is sold under: how it repays, what lateness costs, how payments are
    allocated, and when the collection workflow classifies and escalates."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=24, choices=ProductKind.choices)
    repayment_method = models.CharField(_("repayment method"), max_length=24, choices=RepaymentMethod.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    min_principal = money_field(_("minimum principal"), default=Decimal("100.00"))
    max_principal = money_field(_("maximum principal"), default=Decimal("1000000.00"))
    min_term_months = models.PositiveSmallIntegerField(_("minimum term (months)"), default=1)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), default=36)
    max_annual_rate = rate_field(
        _("maximum annual rate"),
        default=Decimal("0.240000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    monthly_fee_rate = rate_field(
        _("monthly service fee rate"),
        default=Decimal("0"),
        help_text=_("Charged with every instalment, as a fraction of the principal."),
        validators=[MinValueValidator(Decimal("0"))],
    )
    penalty_basis = models.CharField(
        _("penalty basis"),
        max_length=12,
        choices=PenaltyBasis.choices,
        default=PenaltyBasis.ADD_ON,
        help_text=_(
            "Add-on: the penalty rate is charged on overdue principal on top of the contract interest. "
            "Markup: overdue principal bears the contract rate raised by the markup instead of the contract "
            "rate (bank practice: 30-50%), so the penalty is the contract rate times the markup."
        ),
    )
    penalty_rate = rate_field(
        _("penalty (default) interest rate, annual"),
        default=Decimal("0.180000"),
        help_text=_("Add-on basis: accrued daily on overdue principal on top of the contract rate."),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    penalty_markup = rate_field(
        _("penalty markup on the contract rate"),
        default=Decimal("0.500000"),
        help_text=_("Markup basis: 0.5 makes overdue principal bear 1.5 times the contract rate."),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    cost_cap_rate = rate_field(
        _("cap on the comprehensive annual cost"),
        default=Decimal("0.240000"),
        help_text=_(
            "The comprehensive annual cost of a loan (the IRR of the borrower's cash flows: interest and fees) "
            "may not exceed this when it is booked or restructured, and its cost plus the penalty on overdue "
            "principal stays within it."
        ),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    overpayment_allowance = money_field(
        _("overpayment allowance"),
        default=Decimal("1000.00"),
        help_text=_(
            "How much a payment may exceed everything the loan still owes (a round sum, a payoff quoted a "
            "few days early); the excess is kept as credit. A larger payment is refused as a mistake."
        ),
        validators=[MinValueValidator(Decimal("0"))],
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"),
        default=0,
        help_text=_(
            "Paying within this many days after the due date is paying on time: no days past due, no case, "
            "no class change, no penalty."
        ),
    )
    first_period_basis = models.CharField(
        _("first period interest"),
        max_length=12,
        choices=FirstPeriodBasis.choices,
        default=FirstPeriodBasis.WHOLE_MONTH,
        help_text=_("How the interest of a first period shorter or longer than a month is counted."),
    )
    allocation_order = models.CharField(
        _("payment allocation order"),
        max_length=24,
        choices=AllocationOrder.choices,
        default=AllocationOrder.CIVIL_CODE_561,
    )
    classify_day = models.PositiveSmallIntegerField(
        _("classify at days past due"), default=7, help_text=_("The daily run classifies a case minor or serious here.")
    )
    serious_days = models.PositiveSmallIntegerField(
        _("serious at days past due"), default=60, help_text=_("Past this, a minor case escalates to serious.")
    )
    # The regulatory class floor by days past due (any amount overdue is at least special mention).
    substandard_after_days = models.PositiveSmallIntegerField(_("substandard beyond days past due"), default=90)
    doubtful_after_days = models.PositiveSmallIntegerField(_("doubtful beyond days past due"), default=270)
    loss_after_days = models.PositiveSmallIntegerField(_("loss beyond days past due"), default=360)
    # What a restructuring may do on this product (loans/restructuring.py checks a plan against them).
    max_extension_months = models.PositiveSmallIntegerField(_("longest extension (months)"), default=12)
    max_rate_cut = rate_field(
        _("largest rate cut, annual"),
        default=Decimal("0.060000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    max_penalty_waiver_share = rate_field(
        _("largest penalty waiver, share of the penalty"),
        default=Decimal("1.000000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("loan product")
        verbose_name_plural = _("loan products")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def restructuring_limits(self):
        return Limits(
            max_extension_months=self.max_extension_months,
            max_rate_cut=self.max_rate_cut,
            max_waiver_share=self.max_penalty_waiver_share,
        )


class Loan(TimeStampedModel):
    """One loan, keyed by the core-banking system's id. Its balances are denormalised for the
    worklists and the daily run, and maintained only by the services and the daily run."""

    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(LoanProduct, verbose_name=_("product"), on_delete=models.PROTECT, related_name="loans")
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    principal = money_field(_("principal"))
    annual_rate = rate_field(_("annual interest rate"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    disbursed_on = models.DateField(_("disbursed on"))
    first_due_date = models.DateField(_("first due date"))
    maturity_date = models.DateField(_("maturity date"))
    status = models.CharField(_("status"), max_length=16, choices=LoanStatus.choices, default=LoanStatus.ACTIVE)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    # Balances: what remains to be paid over the whole current schedule, and what is overdue now.
    principal_outstanding = money_field(_("principal outstanding"))
    interest_outstanding = money_field(_("interest outstanding"))
    fees_outstanding = money_field(_("fees outstanding"))
    costs_outstanding = money_field(_("costs outstanding"))
    penalty_outstanding = money_field(_("penalty outstanding"))
    overdue_amount = money_field(_("overdue amount"))
    credit_balance = money_field(
        _("credit balance"),
        help_text=_("Money received but not yet applied: it pays the next instalments as they fall due."),
    )
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    aging_bucket = models.CharField(
        _("aging bucket"), max_length=2, choices=AgingBucket.choices, default=AgingBucket.M0
    )
    regulatory_class = models.PositiveSmallIntegerField(
        _("regulatory class"), choices=RegulatoryClass.choices, default=RegulatoryClass.NORMAL
    )
    manual_regulatory_class = models.PositiveSmallIntegerField(
        _("manual regulatory class"),
        choices=RegulatoryClass.choices,
        null=True,
        blank=True,
        help_text=_(
            "A class set by a credit officer; the effective class is never better than the days-past-due floor."
        ),
    )
    manual_class_reason = models.CharField(_("reason for the manual class"), max_length=500, blank=True)
    observation_until = models.DateField(
        _("under observation until"),
        null=True,
        blank=True,
        help_text=_("A restructured loan is watched until this day: at least IFRS 9 stage 2 meanwhile."),
    )
    annual_cost = rate_field(
        _("comprehensive annual cost"),
        null=True,
        blank=True,
        help_text=_("综合年化成本: the IRR of the borrower's cash flows under the current schedule."),
    )
    ifrs9_stage = models.PositiveSmallIntegerField(
        _("IFRS 9 stage"), choices=Ifrs9Stage.choices, default=Ifrs9Stage.STAGE_1
    )
    balances_as_of = models.DateField(_("balances as of"), null=True, blank=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-disbursed_on", "-id"]
        # No index holds a column the daily run changes every day (days past due, overdue amount):
        # a changed indexed column makes PostgreSQL add an entry to every index for the new row
        # version, where otherwise it updates in place (HOT). The bucket changes once a month.
        indexes = [
            models.Index(fields=["status"], name="loan_status_idx"),
            models.Index(fields=["aging_bucket"]),
            # The few loans holding credit, which the daily run applies to instalments that fell due:
            # found without reading every loan of a chunk.
            models.Index(fields=["id"], condition=Q(credit_balance__gt=0), name="loan_holding_credit_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(condition=Q(credit_balance__gte=0), name="loan_credit_balance_not_negative"),
        ]
        permissions = [("settle_loan", _("Can settle loans early"))]

    def __str__(self):
        return self.external_id

    @property
    def total_outstanding(self):
        return (
            self.principal_outstanding
            + self.interest_outstanding
            + self.fees_outstanding
            + self.costs_outstanding
            + self.penalty_outstanding
        )

    @property
    def is_closed(self):
        return self.status in LoanStatus.closed()


class Installment(models.Model):
    """One due date of a loan's schedule and what has been paid against it. A restructuring
    supersedes unpaid instalments (they are kept) and adds a new schedule version."""

    # No index of its own: the unique (loan, schedule version, seq) index starts with the loan.
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.CASCADE, related_name="installments", db_index=False
    )
    schedule_version = models.PositiveSmallIntegerField(_("schedule version"), default=1)
    seq = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    principal_due = money_field(_("principal due"))
    interest_due = money_field(_("interest due"))
    fee_due = money_field(_("fees due"))
    # Costs of realising the claim the lender advanced (court fees, preservation, lawyer), charged to
    # the instalment open when they were booked: Civil Code art. 561 ranks them first.
    cost_due = money_field(_("costs due"))
    # As of the last time the loan was touched (a payment, settlement, restructuring, closing): the
    # daily run keeps only the loan's penalty total current. Read it as of a day with
    # loans.delinquency.with_penalty.
    penalty_accrued = money_field(_("penalty accrued"))
    principal_paid = money_field(_("principal paid"))
    interest_paid = money_field(_("interest paid"))
    fee_paid = money_field(_("fees paid"))
    cost_paid = money_field(_("costs paid"))
    penalty_paid = money_field(_("penalty paid"))
    status = models.CharField(
        _("status"), max_length=16, choices=InstallmentStatus.choices, default=InstallmentStatus.PENDING
    )
    paid_on = models.DateField(_("paid in full on"), null=True, blank=True)

    class Meta:
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        ordering = ["loan_id", "schedule_version", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "schedule_version", "seq"], name="installment_unique_seq"),
        ]
        indexes = [
            # What the daily run reads: a loan range's unpaid instalments due before the day. With
            # the due date in the key, the few overdue ones are found in the index without reading
            # every unpaid row of the range (a plain loan index would win the planner's choice
            # over it, which is why the loan has none of its own). Those paid after a past run
            # date (re-runs) come from the paid-on index.
            models.Index(
                fields=["loan", "due_date"],
                condition=Q(status__in=["pending", "partially_paid"]),
                name="installment_unpaid_due_idx",
            ),
            models.Index(fields=["paid_on"], condition=Q(paid_on__isnull=False), name="installment_paid_on_idx"),
        ]

    def __str__(self):
        return f"{self.loan_id} #{self.seq} {self.due_date}"

    # The components, in one place: (component, due field, paid field).
    COMPONENT_FIELDS = [
        (Component.COST, "cost_due", "cost_paid"),
        (Component.FEE, "fee_due", "fee_paid"),
        (Component.PENALTY, "penalty_accrued", "penalty_paid"),
        (Component.INTEREST, "interest_due", "interest_paid"),
        (Component.PRINCIPAL, "principal_due", "principal_paid"),
    ]

    def outstanding(self, component):
        _component, due, paid = next(f for f in self.COMPONENT_FIELDS if f[0] == component)
        return getattr(self, due) - getattr(self, paid)

    @property
    def total_due(self):
        return self.principal_due + self.interest_due + self.fee_due + self.cost_due + self.penalty_accrued

    @property
    def total_paid(self):
        return self.principal_paid + self.interest_paid + self.fee_paid + self.cost_paid + self.penalty_paid

    @property
    def total_outstanding(self):
        return self.total_due - self.total_paid


class Payment(TimeStampedModel):
    """Money received for a loan, or the reversal of such money (a new negative entry: a payment is
    never edited). The external reference is unique within its idempotency scope, so posting the same
    payment twice is a no-op. Each API client has a scope of its own (a reference another client used
    means nothing to it and tells it nothing); people and the system share one, so the same bank
    reference entered by two officers is one payment (loans.services.idempotency_scope)."""

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=10, choices=PaymentKind.choices, default=PaymentKind.PAYMENT)
    external_reference = models.CharField(_("external reference"), max_length=100)
    idempotency_scope = models.CharField(
        _("idempotency scope"),
        max_length=40,
        blank=True,
        default="",
        db_default="",  # rows written in SQL (imports) fall into the shared scope
        editable=False,
        help_text=_("Whose references this one is unique among: an API client's own, or blank for people and imports."),
    )
    amount = money_field(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    received_at = models.DateTimeField(_("received at"))
    value_date = models.DateField(_("value date"), help_text=_("The lender's business day the money arrived."))
    channel = models.CharField(_("channel"), max_length=20, choices=PaymentChannel.choices)
    unapplied_amount = money_field(
        _("unapplied amount"), help_text=_("The part of this payment held as credit, not yet allocated.")
    )
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["loan", "value_date"])]
        permissions = [("reverse_payment", _("Can reverse payments"))]
        constraints = [
            # external_reference first: the admin's search by reference uses this index too.
            models.UniqueConstraint(
                fields=["external_reference", "idempotency_scope"], name="payment_reference_unique"
            ),
            models.CheckConstraint(
                condition=(Q(kind=PaymentKind.PAYMENT, amount__gt=0, reverses__isnull=True))
                | Q(kind=PaymentKind.REVERSAL, amount__lt=0, reverses__isnull=False),
                name="payment_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.external_reference} ¥{self.amount}"


class PaymentAllocation(models.Model):
    """One line of how a payment was applied: to which instalment, which component, how much, on
    which business day. A reversal adds negative lines."""

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="allocations"
    )
    installment = models.ForeignKey(
        Installment, verbose_name=_("instalment"), on_delete=models.PROTECT, related_name="allocations"
    )
    component = models.CharField(_("component"), max_length=10, choices=Component.choices)
    amount = money_field(_("amount"))
    applied_on = models.DateField(_("applied on"))

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["payment_id", "id"]

    def __str__(self):
        return f"{self.payment_id} → {self.installment_id} {self.component} {self.amount}"


class Collateral(TimeStampedModel):
    """An asset securing a loan: a vehicle (VIN and plate), property (certificate number), equipment,
    a receivable or a deposit; its value, lien and where it stands."""

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="collateral")
    kind = models.CharField(_("kind"), max_length=16, choices=CollateralKind.choices)
    description = models.CharField(_("description"), max_length=300)
    identifier = models.CharField(
        _("identifier"),
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("VIN and plate for a vehicle, certificate number for property."),
    )
    owner_name = models.CharField(_("owner"), max_length=200, blank=True)
    appraised_value = money_field(_("appraised value"))
    appraised_on = models.DateField(_("appraised on"), null=True, blank=True)
    lien_registered = models.BooleanField(_("lien registered"), default=False)
    lien_reference = models.CharField(_("lien reference"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CollateralStatus.choices, default=CollateralStatus.HELD
    )

    class Meta:
        verbose_name = _("collateral")
        verbose_name_plural = _("collateral")
        ordering = ["loan_id", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description}"
