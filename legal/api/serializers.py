"""What the API shows of legal actions and their parts, and the input each step takes.

Input serializers check types, shapes and the lengths the database holds; the rules (a court to file
in, a reserve no lower than the law allows, no step recorded for a future day) are legal/services.py's,
which answer with a field and a message. Dates are business days (YYYY-MM-DD), money decimal strings."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collection.filters import visible_cases
from collection.models import CollectionCase
from core import roles
from core.api.fields import MoneyField
from core.dates import business_today
from core.fields import NOTE_MAX_LENGTH
from core.money import FEN
from core.permissions import has_role
from loans.api.serializers import PLAUSIBLE_DATES
from loans.choices import PaymentChannel
from loans.models import Collateral, Payment

from .. import rules, services
from ..choices import (
    ActionKind,
    ActionState,
    AssetKind,
    CostKind,
    DisposalMethod,
    DisposalState,
    DocumentKind,
    TaskKind,
)
from ..models import AssetDisposal, LawFirm, LegalAction, LegalCost, LegalDocument, LegalTask, PreservationOrder
from ..selectors import action_history

STEP_NAMES = list(services.STEPS)
DISPOSAL_STEP_NAMES = ["appraise", "list", "unsold", "sell", "distribute", "surplus-paid", "release"]
ZERO = Decimal("0")


class BusinessDateField(serializers.DateField):
    """A business day, YYYY-MM-DD, within the years a loan or a court can plausibly name (a far date is a
    typo, and deadlines counted from it would overflow)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validators", list(PLAUSIBLE_DATES))
        super().__init__(**kwargs)


def day(help_text=None, **kwargs):
    """An optional business day that defaults to today."""
    help_text = help_text or _("the day it happened; today if left out")
    return BusinessDateField(default=business_today, help_text=help_text, **kwargs)


def note(max_length=300, help_text=None, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    return serializers.CharField(max_length=max_length, help_text=help_text, **kwargs)


def may_act(context) -> bool:
    """Whether the requesting user may take steps: a legal officer or a manager (the services' rule) who
    also holds the permission to change actions. Read once per response (nested serializers share the
    context)."""
    if "may_act" not in context:
        request = context.get("request")
        user = getattr(request, "user", None)
        context["may_act"] = bool(
            user is not None
            and has_role(user, roles.LEGAL_OFFICER, roles.MANAGER)
            and user.has_perm("legal.change_legalaction")
        )
    return context["may_act"]


# --- Small pieces -----------------------------------------------------------------------------------


class LegalUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class LawFirmSerializer(serializers.ModelSerializer):
    class Meta:
        model = LawFirm
        fields = ["id", "name"]


class LegalCaseSerializer(serializers.ModelSerializer):
    loan = serializers.SlugRelatedField(slug_field="external_id", read_only=True, help_text=_("the loan's external id"))
    borrower = serializers.CharField(source="loan.borrower.name", read_only=True, help_text=_("the borrower's name"))

    class Meta:
        model = CollectionCase
        fields = ["id", "state", "loan", "borrower"]
        read_only_fields = fields


class ClaimSerializer(serializers.Serializer):
    """What the loan owed when the action was opened: the amount claimed. Interest and fees of periods
    still to come are not owed yet and are not claimed."""

    principal = MoneyField(source="claim_principal", read_only=True, help_text=_("all unpaid principal"))
    interest = MoneyField(
        source="claim_interest", read_only=True, help_text=_("due and unpaid, with the running period's so far")
    )
    fees = MoneyField(source="claim_fees", read_only=True, help_text=_("due and unpaid"))
    penalty = MoneyField(source="claim_penalty", read_only=True)
    costs = MoneyField(source="claim_costs", read_only=True, help_text=_("legal costs charged to the loan, unpaid"))
    total = MoneyField(source="claim", read_only=True)


class FeasibilitySerializer(serializers.Serializer):
    """The estimate made when the action was opened (amounts as decimal strings)."""

    claim = serializers.CharField(read_only=True, required=False)
    recoverable = serializers.CharField(read_only=True, required=False)
    court_fee = serializers.CharField(read_only=True, required=False)
    preservation_fee = serializers.CharField(read_only=True, required=False)
    lawyer_fee = serializers.CharField(read_only=True, required=False)
    other_costs = serializers.CharField(read_only=True, required=False)
    costs = serializers.CharField(read_only=True, required=False)
    expected_recovery = serializers.CharField(read_only=True, required=False)
    expected_net = serializers.CharField(read_only=True, required=False)
    override_reason = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        read_only=True,
        required=False,
        help_text=_("why a manager went ahead against the estimate"),
    )


class ResultSerializer(serializers.Serializer):
    recovered = MoneyField(read_only=True, help_text=_("paid to the loan through the action"))
    costs = MoneyField(read_only=True, help_text=_("what the action cost"))
    reimbursed = MoneyField(read_only=True, help_text=_("costs paid back from the sale of collateral"))
    net = MoneyField(read_only=True, help_text=_("recovered + reimbursed - costs"))


class CollateralSerializer(serializers.ModelSerializer):
    appraised_value = MoneyField(read_only=True)

    class Meta:
        model = Collateral
        fields = ["id", "kind", "description", "identifier", "appraised_value", "appraised_on", "status"]
        read_only_fields = fields


class LegalCostSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    charged_to_loan = serializers.BooleanField(
        read_only=True, help_text=_("the borrower owes it: it was added to the loan, whose next payment meets it first")
    )
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LegalCost
        fields = [
            *("id", "action", "kind", "amount", "incurred_on", "charged_to_loan", "note", "recorded_by"),
            "created_at",
        ]
        read_only_fields = fields


class LegalTaskSerializer(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = LegalTask
        fields = ["id", "action", "kind", "due_on", "note", "done_on", "done_by", "created_at"]
        read_only_fields = fields


class LegalDocumentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField(help_text=_("where to download it: GET /legal-documents/{id}/file/"))

    class Meta:
        model = LegalDocument
        fields = [
            *("id", "action", "kind", "original_name", "content_type", "size", "sha256"),
            *("generated", "step", "note", "uploaded_by", "created_at", "url"),
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, document):
        path = reverse("api:legal-document-file", args=[document.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class PreservationOrderSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)

    class Meta:
        model = PreservationOrder
        fields = [
            *("id", "action", "collateral", "asset_kind", "description", "amount", "status"),
            *("applied_on", "granted_on", "ruling_number", "expires_on", "ended_on", "created_at"),
        ]
        read_only_fields = fields


class AssetDisposalSerializer(serializers.ModelSerializer):
    appraised_value = MoneyField(read_only=True)
    method = serializers.ChoiceField(
        choices=DisposalMethod.choices, allow_blank=True, read_only=True, help_text=_("empty until listed")
    )
    reserve_price = MoneyField(read_only=True)
    sale_price = MoneyField(read_only=True)
    to_costs = MoneyField(read_only=True)
    to_loan = MoneyField(read_only=True)
    surplus = MoneyField(read_only=True)
    lowest_reserve = serializers.SerializerMethodField(
        help_text=_("the lowest reserve a judicial auction may start at now (none before the appraisal)")
    )
    allowed_steps = serializers.SerializerMethodField(help_text=_("what may be done now: POST /disposals/{id}/{step}/"))

    class Meta:
        model = AssetDisposal
        fields = [
            *("id", "action", "collateral", "state", "seized_on", "location"),
            *("appraised_value", "appraised_on", "appraiser", "method", "reserve_price", "listed_on", "round"),
            *("lowest_reserve", "sold_on", "sale_price", "buyer"),
            *("distributed_on", "to_costs", "to_loan", "surplus", "surplus_paid_on", "payment"),
            *("allowed_steps", "created_at"),
        ]
        read_only_fields = fields

    @extend_schema_field(MoneyField(allow_null=True))
    def get_lowest_reserve(self, disposal):
        if disposal.state not in (DisposalState.APPRAISED, DisposalState.UNSOLD):
            return None
        previous = disposal.reserve_price if disposal.round else None
        lowest = rules.lowest_reserve(appraised_value=disposal.appraised_value, previous_reserve=previous)
        return MoneyField().to_representation(lowest)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=DISPOSAL_STEP_NAMES)))
    def get_allowed_steps(self, disposal):
        if not may_act(self.context):
            return []
        transitions = {
            "appraise": disposal.appraise,
            "list": disposal.list_for_sale,
            "unsold": disposal.fail_sale,
            "sell": disposal.sell,
            "distribute": disposal.distribute,
            "release": disposal.release,
        }
        steps = [name for name, method in transitions.items() if can_proceed(method)]
        if disposal.surplus > 0 and disposal.surplus_paid_on is None:
            steps.append("surplus-paid")
        return [name for name in DISPOSAL_STEP_NAMES if name in steps]


class RecoverySerializer(serializers.ModelSerializer):
    """A payment to the loan the action recovered."""

    amount = MoneyField(read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "external_reference", "amount", "channel", "received_at", "value_date"]
        read_only_fields = fields


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    who = serializers.CharField(source="actor_label", help_text=_("user name, or system"))
    code = serializers.CharField(source="action", help_text=_("the audit code, e.g. legal.action.file"))
    reason = serializers.CharField(help_text=_("the note given with the step"))
    before = serializers.DictField(allow_null=True)
    after = serializers.DictField(allow_null=True)
    data = serializers.DictField()


# --- Legal actions ----------------------------------------------------------------------------------


class LegalActionSerializer(serializers.ModelSerializer):
    """A row of the legal worklist."""

    case = LegalCaseSerializer(read_only=True)
    law_firm = LawFirmSerializer(read_only=True, allow_null=True)
    handled_by = LegalUserSerializer(read_only=True, allow_null=True)
    claim = ClaimSerializer(source="*", read_only=True)
    next_due_on = serializers.DateField(read_only=True, allow_null=True, help_text=_("the next open task's day"))
    next_task_kind = serializers.ChoiceField(choices=TaskKind.choices, read_only=True, allow_null=True)
    open_tasks = serializers.IntegerField(read_only=True)

    class Meta:
        model = LegalAction
        fields = [
            *("id", "case", "kind", "state", "law_firm", "handled_by", "court", "court_case_number"),
            *("claim", "hearing_on", "next_due_on", "next_task_kind", "open_tasks", "closed_on", "created_at"),
        ]
        read_only_fields = fields


class LegalActionDetailSerializer(LegalActionSerializer):
    """The action page: the claim and the estimate, its dates and result, what may be done now, and
    its costs, tasks, documents, preservation orders, disposals, recoveries and history."""

    HISTORY_LIMIT = 100

    feasibility = FeasibilitySerializer(read_only=True)
    judgment_principal = MoneyField(read_only=True)
    judgment_interest = MoneyField(read_only=True)
    judgment_fees = MoneyField(read_only=True)
    judgment_penalty = MoneyField(read_only=True)
    judgment_costs = MoneyField(read_only=True)
    judgment_total = MoneyField(read_only=True, help_text=_("what the court ordered the borrower to pay, in all"))
    filed_on = serializers.DateField(read_only=True, allow_null=True)
    last_step_on = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("the day of the last step: no later step may be dated before it")
    )
    enforcement_from = serializers.SerializerMethodField(
        help_text=_(
            "the first day enforcement may be applied for: the day after both the appeal deadline and the "
            "performance date (none before a judgment)"
        )
    )
    opened_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    result = serializers.SerializerMethodField()
    allowed_steps = serializers.SerializerMethodField(
        help_text=_("what the requesting user may do now: POST /legal-actions/{id}/steps/{step}/")
    )
    collateral = CollateralSerializer(
        source="case.loan.collateral", many=True, read_only=True, help_text=_("the loan's collateral")
    )
    costs = LegalCostSerializer(many=True, read_only=True)
    tasks = LegalTaskSerializer(many=True, read_only=True)
    documents = LegalDocumentSerializer(many=True, read_only=True)
    preservations = PreservationOrderSerializer(many=True, read_only=True)
    disposals = AssetDisposalSerializer(many=True, read_only=True)
    recoveries = RecoverySerializer(many=True, read_only=True)
    history = serializers.SerializerMethodField(
        help_text=_("the action's audit entries, newest first (the latest 100)")
    )

    class Meta(LegalActionSerializer.Meta):
        fields = [
            *LegalActionSerializer.Meta.fields,
            *("feasibility", "filed_on", "last_step_on", "judgment_on"),
            *("judgment_principal", "judgment_interest", "judgment_fees", "judgment_penalty", "judgment_costs"),
            *("judgment_total", "appeal_deadline", "performance_due_on", "enforcement_from"),
            *("enforcement_deadline", "opened_by", "updated_at", "result", "allowed_steps", "collateral"),
            *("costs", "tasks", "documents", "preservations", "disposals", "recoveries", "history"),
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_enforcement_from(self, action):
        earliest = services.earliest_enforcement(action)
        return earliest.isoformat() if earliest else None

    @extend_schema_field(ResultSerializer)
    def get_result(self, action):
        return ResultSerializer(services.action_result(action)).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=STEP_NAMES)))
    def get_allowed_steps(self, action):
        if action.state in ActionState.closed() or not may_act(self.context):
            return []
        return [step for step in STEP_NAMES if can_proceed(getattr(action, step))]

    @extend_schema_field(HistoryEntrySerializer(many=True))
    def get_history(self, action):
        entries = action_history(action).order_by("-created_at", "-id")[: self.HISTORY_LIMIT]
        return HistoryEntrySerializer(entries, many=True).data


# --- Opening an action ------------------------------------------------------------------------------


class ActionOpenSerializer(serializers.Serializer):
    case = serializers.PrimaryKeyRelatedField(
        queryset=CollectionCase.objects.select_related("loan"),
        help_text=_("the case's id; it must have been referred to legal"),
        error_messages={"does_not_exist": _("No case you may see has the id {pk_value}.")},
    )
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    law_firm = serializers.PrimaryKeyRelatedField(
        queryset=LawFirm.objects.all(), required=False, allow_null=True, default=None
    )
    lawyer_fee = MoneyField(min_value=ZERO, help_text=_("the firm's expected fee, for the estimate"))
    recoverable = MoneyField(
        min_value=ZERO, help_text=_("what the known assets and collateral may realise, for the estimate")
    )
    preserve = serializers.BooleanField(
        default=True, help_text=_("whether property preservation is planned (its fee joins the estimate)")
    )
    override_reason = note(
        max_length=1000, help_text=_("a manager's reason to go ahead when the action is expected to lose money")
    )
    handled_by = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("the legal officer's user id; the opening legal officer if left out"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["case"].queryset = visible_cases(request.user, CollectionCase.objects.select_related("loan"))


# --- Steps ------------------------------------------------------------------------------------------


class StepSerializer(serializers.Serializer):
    on = day()
    note = note(max_length=1000, help_text=_("what happened; kept in the history"))
    document = serializers.FileField(
        required=False, help_text=_("a paper filed with the step: PDF, JPEG or PNG (multipart)")
    )
    document_kind = serializers.ChoiceField(
        choices=DocumentKind.choices, required=False, help_text=_("the document's kind; `other` if left out")
    )


class FileStepSerializer(StepSerializer):
    court = serializers.CharField(max_length=200)
    court_case_number = note(max_length=100, help_text=_("the court's number for the case, once given"))


class ScheduleHearingStepSerializer(StepSerializer):
    hearing_on = BusinessDateField(help_text=_("the hearing's day; not before the action was filed"))


def awarded(help_text, **kwargs):
    """An amount the judgment awards, by component; one it does not mention is zero."""
    kwargs.setdefault("required", False)
    if not kwargs["required"]:
        kwargs.setdefault("default", ZERO)
    return MoneyField(min_value=ZERO, help_text=help_text, **kwargs)


class RecordJudgmentStepSerializer(StepSerializer):
    """The judgment's days and what it orders the borrower to pay, by the claim's components. It is
    served no earlier than its hearing, recorded (`on`) no earlier than served, and due no earlier
    than served."""

    judgment_on = BusinessDateField(help_text=_("the day the judgment was served; not before the hearing"))
    performance_due_on = BusinessDateField(help_text=_("the day the borrower must pay by"))
    judgment_principal = awarded(_("principal awarded (zero if none)"), required=True)
    judgment_interest = awarded(_("interest awarded"))
    judgment_fees = awarded(_("fees awarded"))
    judgment_penalty = awarded(_("penalty interest awarded"))
    judgment_costs = awarded(_("court fees and other costs the judgment puts on the borrower"))


STEP_INPUTS = {
    "send_letter": StepSerializer,
    "file": FileStepSerializer,
    "schedule_hearing": ScheduleHearingStepSerializer,
    "record_judgment": RecordJudgmentStepSerializer,
}


def step_input(step):
    return STEP_INPUTS.get(step, StepSerializer)


# --- Costs, recoveries, tasks, documents ------------------------------------------------------------


class CostInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CostKind.choices)
    amount = MoneyField(min_value=FEN)
    incurred_on = day(help_text=_("today if left out"))
    charge_to_borrower = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "whether the borrower owes it, and the loan is charged with it at once; left out: yes for a court, "
            "preservation, appraisal or auction fee, no for a lawyer's fee or another cost (say true when the "
            "contract or the judgment puts it on the borrower)"
        ),
    )
    note = note()


class RecoveryInputSerializer(serializers.Serializer):
    amount = MoneyField(min_value=FEN)
    external_reference = serializers.CharField(
        max_length=100, help_text=_("the transfer's unique reference: posting it again changes nothing")
    )
    channel = serializers.ChoiceField(choices=PaymentChannel.choices, default=PaymentChannel.LEGAL_RECOVERY)
    on = day(help_text=_("the day the money arrived; today if left out"))


class TaskInputSerializer(serializers.Serializer):
    due_on = BusinessDateField()
    note = serializers.CharField(max_length=300, help_text=_("what is to be done"))


class TaskDoneSerializer(serializers.Serializer):
    on = day()


class DocumentInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(help_text=_("PDF, JPEG or PNG, size-limited"))
    note = note()


# --- Preservation -----------------------------------------------------------------------------------


class PreservationInputSerializer(serializers.Serializer):
    asset_kind = serializers.ChoiceField(choices=AssetKind.choices)
    description = serializers.CharField(max_length=300, help_text=_("account, plate or certificate number"))
    amount = MoneyField(min_value=FEN, help_text=_("the amount to preserve"))
    applied_on = day(help_text=_("today if left out"))
    collateral = serializers.PrimaryKeyRelatedField(
        queryset=Collateral.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("the loan's collateral item, when that is the asset"),
    )


class PreservationDecisionSerializer(serializers.Serializer):
    granted = serializers.BooleanField(help_text=_("true: the court granted it; false: refused"))
    on = day(help_text=_("the ruling's day; today if left out"))
    ruling_number = note(max_length=100, help_text=_("required when granted"))
    note = note(max_length=1000)


class PreservationLiftSerializer(serializers.Serializer):
    on = day()
    note = note(max_length=1000)


# --- Collateral disposal ----------------------------------------------------------------------------


class DisposalInputSerializer(serializers.Serializer):
    collateral = serializers.PrimaryKeyRelatedField(
        queryset=Collateral.objects.all(), help_text=_("the loan's collateral item to seize")
    )
    seized_on = day(help_text=_("today if left out"))
    location = note(max_length=200, help_text=_("where it is kept"))
    note = note(max_length=1000)


class DisposalStepSerializer(serializers.Serializer):
    on = day()
    note = note(max_length=1000)


class DisposalAppraiseSerializer(DisposalStepSerializer):
    value = MoneyField(min_value=FEN, help_text=_("the appraised value"))
    appraiser = serializers.CharField(max_length=200)
    fee = MoneyField(
        min_value=ZERO, required=False, allow_null=True, help_text=_("the appraisal's fee, booked as a cost")
    )


class ListForSaleSerializer(DisposalStepSerializer):
    method = serializers.ChoiceField(choices=DisposalMethod.choices)
    reserve_price = MoneyField(
        min_value=FEN,
        help_text=_(
            "a judicial auction starts at no less than 70 percent of the appraisal, "
            "80 percent of the last reserve on relisting"
        ),
    )


class DisposalSellSerializer(DisposalStepSerializer):
    price = MoneyField(min_value=FEN)
    buyer = serializers.CharField(max_length=200)


class DisposalDistributeSerializer(DisposalStepSerializer):
    external_reference = serializers.CharField(
        max_length=100, help_text=_("the reference of the payment to the loan: posting it again changes nothing")
    )


class SurplusPaidSerializer(serializers.Serializer):
    on = day()
    reference = serializers.CharField(max_length=100, help_text=_("the bank transfer's reference"))


class DisposalReleaseSerializer(DisposalStepSerializer):
    note = serializers.CharField(max_length=1000, help_text=_("why the asset is released"))


# --- The calendar -----------------------------------------------------------------------------------


class TaskCalendarQuerySerializer(serializers.Serializer):
    until = BusinessDateField(required=False, help_text=_("due by this day; 30 days from today if left out"))
    start = BusinessDateField(required=False, help_text=_("due from this day; overdue tasks included if left out"))
