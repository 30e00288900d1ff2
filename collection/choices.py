from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CaseState(models.TextChoices):
    EARLY_WARNING = "early_warning", _("Early warning")
    MINOR = "minor", _("Minor overdue")
    SERIOUS = "serious", _("Serious overdue")
    RESTRUCTURING = "restructuring", _("Restructuring")
    MONITORING = "monitoring", _("Monitoring")
    LEGAL = "legal", _("Legal action")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    WRITTEN_OFF = "written_off", _("Written off")
    TRANSFERRED = "transferred", _("Transferred")

    @classmethod
    def open_states(cls):
        return [s for s in cls if s not in cls.closed_states()]

    @classmethod
    def closed_states(cls):
        return [cls.RESOLVED, cls.WRITTEN_OFF, cls.TRANSFERRED]


class Severity(models.TextChoices):
    UNCLASSIFIED = "", _("Not yet classified")
    MINOR = "minor", _("Minor")
    SERIOUS = "serious", _("Serious")


class ContactChannel(models.TextChoices):
    CALL = "call", _("Phone call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    LETTER = "letter", _("Letter")
    FIELD_VISIT = "field_visit", _("Field visit")


class Direction(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class Party(models.TextChoices):
    BORROWER = "borrower", _("Borrower")
    GUARANTOR = "guarantor", _("Guarantor")
    THIRD_PARTY = "third_party", _("Third party")


class ContactOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused to pay")
    PROMISED = "promised", _("Promised to pay")
    DISPUTED = "disputed", _("Disputed the debt")
    HARDSHIP = "hardship", _("Hardship claimed")
    DECEASED = "deceased", _("Reported deceased")

    @classmethod
    def failed(cls):
        """Outcomes in which nobody was reached: three in a row make the borrower unreachable."""
        return [cls.NO_ANSWER, cls.WRONG_NUMBER]


class PromiseStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("promise status", "Pending")
    KEPT = "kept", _("Kept")
    PARTIALLY_KEPT = "partially_kept", _("Partially kept")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class HoldReason(models.TextChoices):
    DISPUTE = "dispute", _("Dispute")
    COMPLAINT = "complaint", _("Complaint")
    DECEASED = "deceased", _("Deceased")
    BANKRUPTCY = "bankruptcy", _("Bankruptcy")


class ResolutionReason(models.TextChoices):
    CURED = "cured", _("Cured: nothing overdue")
    PAID_IN_FULL = "paid_in_full", _("Paid in full")
    RESTRUCTURED = "restructured", _("Restructuring completed")
    RECOVERED = "recovered", _("Recovered through legal action")
    SETTLED = "settled", _("Settled")


class ApprovalAction(models.TextChoices):
    """Actions that need a manager's approval (maker-checker)."""

    DEESCALATE = "deescalate", _("De-escalate to minor")
    REFER_TO_LEGAL = "refer_to_legal", _("Refer to legal action")
    WRITE_OFF = "write_off", _("Write off")
    TRANSFER = "transfer", _("Transfer (debt sale)")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("approval status", "Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class ReminderChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    CALL_TASK = "call_task", _("Call task for the officer")

    @classmethod
    def messages(cls):
        """The channels that carry a written message (choices for templates)."""
        return [(c.value, c.label) for c in (cls.SMS, cls.EMAIL)]


class StepAnchor(models.TextChoices):
    """What a strategy step counts its days from."""

    DUE_DATE = "due_date", _("Due date")
    CASE_OPENED = "case_opened", _("Case opening")


class Recipient(models.TextChoices):
    BORROWER = "borrower", _("Borrower")
    THIRD_PARTY = "third_party", _("Third parties (emergency contacts, employer)")


class ReminderStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


class PlanState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for approval")
    APPROVED = "approved", pgettext_lazy("plan state", "Approved")
    REJECTED = "rejected", pgettext_lazy("plan state", "Rejected")
    SIGNED = "signed", _("Signed")
    ACTIVE = "active", pgettext_lazy("plan state", "Active")
    COMPLETED = "completed", _("Completed")
    DEFAULTED = "defaulted", _("Defaulted")

    @classmethod
    def live(cls):
        """A case has at most one plan in these states."""
        return [cls.DRAFT, cls.SUBMITTED, cls.APPROVED, cls.SIGNED, cls.ACTIVE]


class PlanKind(models.TextChoices):
    TERM_EXTENSION = "term_extension", _("Term extension")
    RATE_REDUCTION = "rate_reduction", _("Rate reduction")
    ARREARS_INSTALMENTS = "arrears_instalments", _("Arrears in instalments")
    PENALTY_WAIVER = "penalty_waiver", _("Penalty waiver")


class SignatureMethod(models.TextChoices):
    """How the borrower signed the supplementary agreement."""

    SCAN = "scan", _("Signed on paper, scan uploaded")
    ONE_TIME_CODE = "one_time_code", _("Confirmed with a one-time code")
