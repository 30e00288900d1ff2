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
