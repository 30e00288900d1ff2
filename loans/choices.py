from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductKind(models.TextChoices):
    MICRO_LOAN = "micro_loan", _("Online micro-loan")
    CONSUMER_CREDIT = "consumer_credit", _("Consumer credit")
    CAR_TITLE = "car_title", _("Car-title loan")
    MORTGAGE = "mortgage", _("Mortgage")
    ENTERPRISE = "enterprise", _("Enterprise working capital")


class RepaymentMethod(models.TextChoices):
    EQUAL_INSTALLMENT = "equal_installment", _("Equal instalments (等额本息)")
    EQUAL_PRINCIPAL = "equal_principal", _("Equal principal (等额本金)")
    INTEREST_ONLY = "interest_only", _("Interest only, principal at maturity (先息后本)")
    BULLET = "bullet", _("Principal and interest at maturity")


class AllocationOrder(models.TextChoices):
    CIVIL_CODE_561 = (
        "civil_code_561",
        _("Civil Code art. 561: costs of realising the claim, then interest, fees and penalty, then principal"),
    )
    INSTALLMENT_FIRST = "installment_first", _("Oldest instalment in full first")


class Component(models.TextChoices):
    COST = "cost", _("Costs of realising the claim")
    FEE = "fee", _("Fees")
    PENALTY = "penalty", _("Penalty interest")
    INTEREST = "interest", _("Interest")
    PRINCIPAL = "principal", _("Principal")


class PenaltyBasis(models.TextChoices):
    """How default interest on overdue principal relates to the contract rate."""

    ADD_ON = "add_on", _("Add-on: the penalty rate is charged on top of the contract rate")
    MARKUP = "markup", _("Markup: overdue principal bears the contract rate raised by the markup, instead of it")


class FirstPeriodBasis(models.TextChoices):
    """The interest of a first period shorter or longer than a month."""

    WHOLE_MONTH = "whole_month", _("A whole month's interest, whatever the first period's length")
    ACTUAL_DAYS = "actual_days", _("Interest for the days the first period actually runs (annual rate / 360 a day)")


class LoanStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    OVERDUE = "overdue", _("Overdue")
    RESTRUCTURED = "restructured", _("Restructured")
    PAID_OFF = "paid_off", _("Paid off")
    WRITTEN_OFF = "written_off", _("Written off")
    TRANSFERRED = "transferred", _("Transferred")

    @classmethod
    def closed(cls):
        """A closed loan takes no new payments."""
        return [cls.PAID_OFF, cls.WRITTEN_OFF, cls.TRANSFERRED]


class InstallmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    SUPERSEDED = "superseded", _("Superseded")


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REVERSAL = "reversal", _("Reversal")


class PaymentChannel(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    AUTO_DEBIT = "auto_debit", _("Automatic debit")
    PAYMENT_GATEWAY = "payment_gateway", _("Payment gateway")
    CASH = "cash", _("Cash at branch")
    LEGAL_RECOVERY = "legal_recovery", _("Legal recovery")
    COLLATERAL_SALE = "collateral_sale", _("Collateral sale proceeds")
    AGENCY = "agency", _("Collection agency")


class AgingBucket(models.TextChoices):
    M0 = "M0", _("M0 current")
    M1 = "M1", _("M1 (1-30 days)")
    M2 = "M2", _("M2 (31-60 days)")
    M3 = "M3", _("M3 (61-90 days)")
    M4 = "M4", _("M4 (91-120 days)")
    M5 = "M5", _("M5 (121-150 days)")
    M6 = "M6", _("M6 (151-180 days)")
    M7 = "M7", _("M7+ (over 180 days)")


class RegulatoryClass(models.IntegerChoices):
    """The five-category loan classification (商业银行金融资产风险分类办法, 2023); higher is worse."""

    NORMAL = 1, _("Normal (正常)")
    SPECIAL_MENTION = 2, _("Special mention (关注)")
    SUBSTANDARD = 3, _("Substandard (次级)")
    DOUBTFUL = 4, _("Doubtful (可疑)")
    LOSS = 5, _("Loss (损失)")


class Ifrs9Stage(models.IntegerChoices):
    STAGE_1 = 1, _("Stage 1 (performing)")
    STAGE_2 = 2, _("Stage 2 (significant increase in credit risk)")
    STAGE_3 = 3, _("Stage 3 (credit-impaired)")


class CollateralKind(models.TextChoices):
    VEHICLE = "vehicle", _("Vehicle")
    REAL_ESTATE = "real_estate", _("Real estate")
    EQUIPMENT = "equipment", _("Equipment")
    RECEIVABLE = "receivable", _("Receivable")
    DEPOSIT = "deposit", _("Deposit")


class CollateralStatus(models.TextChoices):
    HELD = "held", _("Held")
    SEIZED = "seized", _("Seized")
    AT_AUCTION = "at_auction", _("At auction")
    SOLD = "sold", _("Sold")
    RELEASED = "released", _("Released")
