from django.db import models
from django.utils.translation import gettext_lazy as _


class ActionKind(models.TextChoices):
    LAWYERS_LETTER = "lawyers_letter", _("Lawyer's letter")
    LAWSUIT = "lawsuit", _("Lawsuit")
    ARBITRATION = "arbitration", _("Arbitration")
    PAYMENT_ORDER = "payment_order", _("Payment order (支付令)")


class ActionState(models.TextChoices):
    PREPARING = "preparing", _("Preparing")
    LETTER_SENT = "letter_sent", _("Lawyer's letter sent")
    FILED = "filed", _("Filed")
    PRESERVATION_APPLIED = "preservation_applied", _("Preservation applied for")
    PRESERVATION_GRANTED = "preservation_granted", _("Preservation granted")
    HEARING = "hearing", _("Hearing")
    JUDGMENT = "judgment", _("Judgment")
    ENFORCEMENT = "enforcement", _("Enforcement")
    CLOSED_RECOVERED = "closed_recovered", _("Closed: recovered")
    CLOSED_SETTLED = "closed_settled", _("Closed: settled")
    CLOSED_IMPOSSIBLE = "closed_impossible", _("Closed: enforcement impossible (终结本次执行)")
    WITHDRAWN = "withdrawn", _("Withdrawn")

    @classmethod
    def closed(cls):
        return [cls.CLOSED_RECOVERED, cls.CLOSED_SETTLED, cls.CLOSED_IMPOSSIBLE, cls.WITHDRAWN]


class CostKind(models.TextChoices):
    COURT_FEE = "court_fee", _("Court fee")
    LAWYER_FEE = "lawyer_fee", _("Lawyer's fee")
    PRESERVATION = "preservation", _("Preservation fee")
    APPRAISAL = "appraisal", _("Appraisal")
    AUCTION = "auction", _("Auction")
    OTHER = "other", _("Other")


class TaskKind(models.TextChoices):
    """Dated things a legal officer must not miss; the services create them from the action's dates."""

    HEARING = "hearing", _("Hearing")
    APPEAL_DEADLINE = "appeal_deadline", _("Appeal deadline")
    PERFORMANCE_DUE = "performance_due", _("Judgment to be performed")
    ENFORCEMENT_APPLICATION = "enforcement_application", _("Apply for enforcement")
    PRESERVATION_EXPIRY = "preservation_expiry", _("Preservation expires: renew")
    SURPLUS_REFUND = "surplus_refund", _("Pay the surplus back to the borrower")
    OTHER = "other", _("Other")


class DocumentKind(models.TextChoices):
    LAWYERS_LETTER = "lawyers_letter", _("Lawyer's letter")
    DEMAND_LETTER = "demand_letter", _("Demand letter")
    COMPLAINT = "complaint", _("Statement of claim (起诉状)")
    RULING = "ruling", _("Ruling (裁定书)")
    JUDGMENT = "judgment", _("Judgment (判决书)")
    ENFORCEMENT = "enforcement", _("Enforcement document")
    APPRAISAL = "appraisal", _("Appraisal report")
    AUCTION = "auction", _("Auction record")
    RECEIPT = "receipt", _("Receipt")
    OTHER = "other", _("Other")


class AssetKind(models.TextChoices):
    BANK_ACCOUNT = "bank_account", _("Bank account")
    VEHICLE = "vehicle", _("Vehicle")
    REAL_PROPERTY = "real_property", _("Real property")
    EQUITY = "equity", _("Equity or other property rights")
    OTHER = "other", _("Other movable property")


class PreservationStatus(models.TextChoices):
    APPLIED = "applied", _("Applied for")
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    LIFTED = "lifted", _("Lifted")


class DisposalState(models.TextChoices):
    SEIZED = "seized", _("Seized")
    APPRAISED = "appraised", _("Appraised")
    LISTED = "listed", _("Listed for sale")
    UNSOLD = "unsold", _("Unsold (流拍)")
    SOLD = "sold", _("Sold")
    DISTRIBUTED = "distributed", _("Proceeds distributed")
    RELEASED = "released", _("Released")

    @classmethod
    def under_way(cls):
        """The asset may still bring money in."""
        return [cls.SEIZED, cls.APPRAISED, cls.LISTED, cls.UNSOLD, cls.SOLD]


class DisposalMethod(models.TextChoices):
    JUDICIAL_AUCTION = "judicial_auction", _("Judicial auction")
    NEGOTIATED_SALE = "negotiated_sale", _("Negotiated sale")
