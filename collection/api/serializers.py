"""What the API shows of cases, contacts, promises and approvals, and the input each transition takes.

Input serializers check types and shapes only; the rules (a reason must be given, a grace period ends
within 60 days, no calls at night) are the services', which answer with a field and a message."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from borrowers.models import Borrower, ContactPoint
from core.api.fields import AwareDateTimeField, MoneyField
from core.fields import NOTE_MAX_LENGTH
from core.models import ActivityLog
from core.permissions import UNMASK_PII
from loans.models import Loan

from .. import services
from ..choices import ApprovalAction, ApprovalStatus, HoldReason, ResolutionReason, Severity, SignatureMethod
from ..models import Approval, CollectionCase, ContactAttempt, PromiseToPay, RestructuringPlan, Team

# --- Transition names -------------------------------------------------------------------------------

# The steps the API takes at once, by the name of the case's own transition...
DIRECT_TRANSITIONS = [
    "classify",
    "escalate",
    "grant_grace",
    "hold",
    "release",
    "resolve",
]
# ...and the ones a manager must approve, which the API asks for (maker-checker).
APPROVAL_REQUESTS = {
    "request_deescalation": ApprovalAction.DEESCALATE,
    "request_legal_referral": ApprovalAction.REFER_TO_LEGAL,
    "request_write_off": ApprovalAction.WRITE_OFF,
    "request_transfer": ApprovalAction.TRANSFER,
}
TRANSITION_NAMES = [*DIRECT_TRANSITIONS, *APPROVAL_REQUESTS]
# What `allowed_transitions` may list: the transitions above, and `propose_plan` (POST a plan).
ALLOWED_NAMES = [*TRANSITION_NAMES, "propose_plan"]
_REQUEST_FOR_TRANSITION = {services.APPROVAL_TRANSITIONS[action]: name for name, action in APPROVAL_REQUESTS.items()}


def api_transition_names(transition_names):
    """The API names of the case transitions allowed now. A restructuring is proposed, decided and
    activated through /cases/{id}/plans/ and /plans/{id}/ (the case moves with its plan), so the
    case's plan steps appear as `propose_plan` only, meaning: a plan may be proposed now."""
    names = []
    for name in transition_names:
        if name == "propose_plan" or name in DIRECT_TRANSITIONS:
            names.append(name)
        elif name in _REQUEST_FOR_TRANSITION:
            names.append(_REQUEST_FOR_TRANSITION[name])
    return names


# --- Small pieces -----------------------------------------------------------------------------------


class CaseUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class CaseTeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class CaseLoanSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("the product's code"))

    class Meta:
        model = Loan
        fields = ["id", "external_id", "product", "days_past_due", "overdue_amount", "aging_bucket"]


class CaseBorrowerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Borrower
        fields = ["id", "name"]


class CaseBorrowerDetailSerializer(serializers.ModelSerializer):
    """ID number and phone masked unless the user holds `collection.unmask_pii`."""

    id_number = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()

    class Meta:
        model = Borrower
        fields = ["id", "name", "id_number", "phone"]

    def _unmasked(self):
        request = self.context.get("request")
        return bool(request and request.user.has_perm(UNMASK_PII))

    def get_id_number(self, borrower) -> str:
        return borrower.id_number if self._unmasked() else borrower.masked_id_number

    def get_phone(self, borrower) -> str:
        return borrower.phone if self._unmasked() else borrower.masked_phone


# --- Approvals --------------------------------------------------------------------------------------


class ApprovalSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("null while pending, and for a request cancelled because its case moved on"),
    )

    class Meta:
        model = Approval
        fields = [
            "id",
            "case",
            "action",
            "status",
            "requested_by",
            "reason",
            "details",
            "case_version",
            "decided_by",
            "decided_at",
            "decision_note",
            "created_at",
        ]
        read_only_fields = fields


class ApprovalDecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField(help_text=_("true approves (the case moves), false rejects (it stays)"))
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("required when rejecting: say why"),
    )


# --- Contacts and promises --------------------------------------------------------------------------


class ContactAttemptSerializer(serializers.ModelSerializer):
    """Read and write: a contact attempt is recorded through collection.services.contact_log."""

    by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    attempted_at = AwareDateTimeField(
        required=False, help_text=_("when, with its UTC offset; now if left out; within the last year")
    )

    class Meta:
        model = ContactAttempt
        fields = [
            "id",
            "channel",
            "direction",
            "party",
            "contact_point",
            "attempted_at",
            "outcome",
            "note",
            "recording_reference",
            "by",
            "created_at",
        ]
        read_only_fields = ["id", "by", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        case = self.context.get("case")
        if case is not None and "contact_point" in self.fields:
            # Only the case's borrower's contact points (theirs, or the people around them).
            self.fields["contact_point"].queryset = ContactPoint.objects.filter(borrower_id=case.loan.borrower_id)


class PromiseToPaySerializer(serializers.ModelSerializer):
    """Read and write: a promise is recorded through collection.services.promise_record."""

    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    amount = MoneyField()

    class Meta:
        model = PromiseToPay
        fields = [
            "id",
            "amount",
            "promised_for",
            "note",
            "status",
            "paid_amount",
            "judged_on",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = ["id", "status", "paid_amount", "judged_on", "recorded_by", "created_at"]


# --- The timeline -----------------------------------------------------------------------------------

TIMELINE_LIMIT = 100
# Contacts and promises are shown from their own rows; their audit entries would repeat them.
_SHOWN_FROM_OWN_ROWS = ["collection.contact.logged", "collection.promise.recorded"]


class TimelineEntrySerializer(serializers.Serializer):
    entry_type = serializers.ChoiceField(
        choices=[("activity", _("Activity")), ("contact", _("Contact attempt")), ("promise", _("Promise to pay"))]
    )
    at = serializers.DateTimeField()
    actor = serializers.CharField(help_text=_("user name, or system"))
    action = serializers.CharField(help_text=_("the audit code, e.g. collection.case.escalated"))
    summary = serializers.CharField()
    note = serializers.CharField()
    data = serializers.DictField()


def case_timeline(case, limit=TIMELINE_LIMIT):
    """The case's audit entries, contact attempts and promises, newest first (three queries)."""
    activity = (
        ActivityLog.objects.filter(
            target_type=ContentType.objects.get_for_model(CollectionCase), target_id=str(case.pk)
        )
        .exclude(action__in=_SHOWN_FROM_OWN_ROWS)
        .order_by("-created_at", "-id")[:limit]
    )
    contacts = case.contact_attempts.select_related("by").order_by("-attempted_at", "-id")[:limit]
    promises = case.promises.select_related("recorded_by").order_by("-created_at", "-id")[:limit]
    entries = [_activity_entry(entry) for entry in activity]
    entries += [_contact_entry(attempt) for attempt in contacts]
    entries += [_promise_entry(promise) for promise in promises]
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:limit]


def _activity_entry(entry):
    before, after = entry.before or {}, entry.after or {}
    summary = f"{before['state']} → {after['state']}" if "state" in before and "state" in after else ""
    return {
        "entry_type": "activity",
        "at": entry.created_at,
        "actor": entry.actor_label,
        "action": entry.action,
        "summary": summary,
        "note": entry.reason,
        "data": {**entry.data, "before": entry.before, "after": entry.after},
    }


def _contact_entry(attempt):
    return {
        "entry_type": "contact",
        "at": attempt.attempted_at,
        "actor": attempt.by.get_username() if attempt.by else "system",
        "action": "collection.contact.logged",
        "summary": f"{attempt.get_channel_display()}: {attempt.get_outcome_display()}",
        "note": attempt.note,
        "data": {
            "contact_attempt": attempt.pk,
            "channel": attempt.channel,
            "direction": attempt.direction,
            "party": attempt.party,
            "outcome": attempt.outcome,
        },
    }


def _promise_entry(promise):
    return {
        "entry_type": "promise",
        "at": promise.created_at,
        "actor": promise.recorded_by.get_username() if promise.recorded_by else "system",
        "action": "collection.promise.recorded",
        "summary": _("¥%(amount)s by %(date)s: %(status)s")
        % {"amount": promise.amount, "date": promise.promised_for.isoformat(), "status": promise.get_status_display()},
        "note": promise.note,
        "data": {
            "promise": promise.pk,
            "amount": str(promise.amount),
            "promised_for": promise.promised_for.isoformat(),
            "status": promise.status,
        },
    }


# --- Cases ------------------------------------------------------------------------------------------


# The case list's rows are not built by CaseSerializer but read straight from the database in its shape
# (collection/api/worklist.py; tests/collection/test_api.py compares them): CaseSerializer is what the
# schema documents.


class CaseSerializer(serializers.ModelSerializer):
    """A row of the worklist."""

    loan = CaseLoanSerializer(read_only=True)
    borrower = CaseBorrowerSerializer(source="loan.borrower", read_only=True)
    officer = CaseUserSerializer(read_only=True, allow_null=True)
    team = CaseTeamSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CollectionCase
        fields = [
            "id",
            "state",
            "severity",
            "version",
            "priority_score",
            "opened_on",
            "next_action_at",
            "loan",
            "borrower",
            "officer",
            "team",
        ]
        read_only_fields = fields


class CaseDetailSerializer(CaseSerializer):
    """The case page: the case, who works it, what may be done now and what happened so far."""

    borrower = CaseBorrowerDetailSerializer(source="loan.borrower", read_only=True)
    # Plain strings: their choice sets are documented on the transitions' inputs (hold, resolve).
    held_from_state = serializers.CharField(read_only=True, help_text=_("the state a release returns to"))
    hold_reason = serializers.CharField(read_only=True)
    resolution_reason = serializers.CharField(read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text=_("what the requesting user may do now: POST /cases/{id}/transitions/{name}/")
    )
    pending_approvals = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField(
        help_text=_("audit entries, contact attempts and promises, newest first (the latest 100)")
    )

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "classification_reasons",
            "classified_by_officer",
            "override_reason",
            "classified_at",
            "closed_on",
            "resolution_reason",
            "grace_until",
            "hold_reason",
            "held_from_state",
            "last_contact_at",
            "last_reached_at",
            "unreachable",
            "refused_to_pay",
            "hardship_documented",
            "suspected_evasion",
            "collateral_at_risk",
            "broken_promises",
            "kept_promises",
            "allowed_transitions",
            "pending_approvals",
            "timeline",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ALLOWED_NAMES)))
    def get_allowed_transitions(self, case):
        return api_transition_names(services.allowed_transitions(case, self.context["request"].user))

    @extend_schema_field(ApprovalSerializer(many=True))
    def get_pending_approvals(self, case):
        pending = getattr(case, "pending_approvals", None)  # prefetched by the views
        if pending is None:
            pending = case.approvals.filter(status=ApprovalStatus.PENDING).select_related("requested_by", "decided_by")
        return ApprovalSerializer(pending, many=True, context=self.context).data

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, case):
        return TimelineEntrySerializer(case_timeline(case), many=True, context=self.context).data


# --- Transition inputs ------------------------------------------------------------------------------


class TransitionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=0, help_text=_("the case's version as the client saw it; a newer one on the server is a 409")
    )


class ClassifySerializer(TransitionSerializer):
    severity = serializers.ChoiceField(
        choices=[(Severity.MINOR, Severity.MINOR.label), (Severity.SERIOUS, Severity.SERIOUS.label)],
        required=False,
        help_text=_("left out: the classification rules decide"),
    )
    override_reason = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("required when choosing against the rules"),
    )


class EscalateSerializer(TransitionSerializer):
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH, allow_blank=True)


class GrantGraceSerializer(TransitionSerializer):
    until = serializers.DateField(help_text=_("after today, within 60 days"))
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH, allow_blank=True)


class HoldSerializer(TransitionSerializer):
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, allow_blank=True, help_text=_("the dispute, complaint or event")
    )


class ReleaseSerializer(TransitionSerializer):
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, allow_blank=True, help_text=_("how the hold was settled"))


class ResolveSerializer(TransitionSerializer):
    reason = serializers.ChoiceField(choices=ResolutionReason.choices, default=ResolutionReason.CURED)
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")


class ManagerApprovalSerializer(TransitionSerializer):
    reason = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, allow_blank=True, help_text=_("why; the manager reads it")
    )


class LegalReferralSerializer(ManagerApprovalSerializer):
    feasibility_note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("expected recovery against the cost; a referral without one is refused"),
    )


# --- Reminder delivery receipts ---------------------------------------------------------------------


class ReceiptSerializer(serializers.Serializer):
    message_id = serializers.CharField(max_length=100, help_text=_("The id the gateway answered the send with."))
    status = serializers.ChoiceField(choices=[("delivered", _("Delivered")), ("failed", _("Failed"))])
    error = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    at = AwareDateTimeField(required=False, help_text=_("When the handset or mailbox took it; now if omitted."))


class ReminderStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()


# --- Restructuring plans ----------------------------------------------------------------------------


class RestructuringPlanSerializer(serializers.ModelSerializer):
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    lender_signed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    penalty_waiver = MoneyField(read_only=True)
    old_terms = serializers.DictField(
        read_only=True, help_text=_("instalments, total payable, first and regular amount, end date")
    )
    new_terms = serializers.DictField(
        read_only=True, help_text=_("the same figures under the plan, and the waived amount")
    )
    new_schedule = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = RestructuringPlan
        fields = [
            "id",
            "case",
            "state",
            "kinds",
            "extension_months",
            "new_annual_rate",
            "arrears_instalments",
            "penalty_waiver",
            "first_due_date",
            "old_terms",
            "new_terms",
            "new_schedule",
            "reason",
            "proposed_by",
            "decided_by",
            "decided_at",
            "decision_note",
            "borrower_signed_on",
            "borrower_sign_method",
            "borrower_sign_reference",
            "lender_signed_by",
            "lender_signed_at",
            "activated_on",
            "observation_until",
            "created_at",
        ]
        read_only_fields = fields


class PlanProposalSerializer(serializers.Serializer):
    extension_months = serializers.IntegerField(min_value=0, max_value=120, default=0)
    new_annual_rate = serializers.DecimalField(
        max_digits=8,
        decimal_places=6,
        min_value=Decimal("0"),
        required=False,
        allow_null=True,
        help_text=_("a fraction: 0.045 is 4.5%; omit to keep the rate"),
    )
    arrears_instalments = serializers.IntegerField(min_value=0, max_value=36, default=0)
    penalty_waiver = MoneyField(default=Decimal("0"), min_value=Decimal("0"))
    first_due_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_("after today, within a year; the next contractual due date if left out"),
    )
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH, help_text=_("why the borrower needs new terms"))


class PlanDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="", help_text=_("required to reject")
    )


class PlanSignatureSerializer(serializers.Serializer):
    borrower_signed_on = serializers.DateField()
    method = serializers.ChoiceField(choices=SignatureMethod.choices)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    scan = serializers.FileField(required=False, help_text=_("the signed agreement, for method `scan` (multipart)"))
