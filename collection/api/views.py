"""Cases, their transitions, contacts, promises and the approvals inbox, over the services.

Reading is scoped by collection.filters (an officer sees their own cases and their teams'); a case the
user may not see is a 404 to read. Acting on it is a 403, and so is every step the user's role does not
allow, which the services decide (NotPermitted). A step the case's state does not allow now, or taken
on a stale view of the case (the body's `version`), is a 409."""

from functools import partial

from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.response import Response

from core.api.pagination import KeysetPagination
from core.api.permissions import ModelPermissions, ViewPermissionToAct
from core.api.views import errors
from core.audit import log_pii_read
from core.permissions import UNMASK_PII

from .. import reminders, restructuring, services
from ..agreements import agreement_download
from ..choices import ApprovalAction, ApprovalStatus
from ..errors import ConcurrentChange, NotPermitted
from ..filters import ApprovalFilter, CaseListFilter, can_see_case, visibility_key, visible_approvals, visible_cases
from ..models import Approval, CollectionCase, ContactAttempt, PromiseToPay, Reminder, RestructuringPlan
from . import serializers as s
from . import worklist

ID = "[0-9]+"


CASES = CollectionCase.objects.select_related("loan__borrower", "loan__product", "officer", "team")


# The case list's filters, by name: the part of the query string a page's statement depends on.
CASE_LIST_FILTERS = frozenset(CaseListFilter.base_filters)


def with_case_page(queryset):
    """What the case page shows beyond the row: the requests waiting for a manager."""
    pending = Approval.objects.filter(status=ApprovalStatus.PENDING).select_related("requested_by", "decided_by")
    return queryset.prefetch_related(Prefetch("approvals", queryset=pending, to_attr="pending_approvals"))


def case_to_act_on(user, pk):
    """The case a POST acts on: a 404 when there is none, a 403 when it is not the user's to see.
    Whether the user may take this step is then the service's to say."""
    case = get_object_or_404(CASES, pk=pk)
    if not can_see_case(user, case):
        raise NotPermitted(_("Only the case's officer, the team lead or a manager may act on this case."))
    return case


def case_page(request, case):
    data = s.CaseDetailSerializer(with_case_page(CASES).get(pk=case.pk), context={"request": request}).data
    log_unmasked_case(request, data)
    return Response(data)


def log_unmasked_case(request, data):
    """A case read with its borrower's ID number and phone in full is logged, as the dashboard's unmask is."""
    if request.user.has_perm(UNMASK_PII):
        log_pii_read(
            actor=request.user,
            model=CollectionCase,
            targets=[(data["id"], f"#{data['id']}")],
            action="collection.case.pii_unmasked",
        )


# --- Transitions: name -> (input, service) ----------------------------------------------------------


def _request_approval(approval_action, *, actor, case, reason, **details):
    return services.approval_request(actor=actor, case=case, action=approval_action, reason=reason, details=details)


TRANSITIONS = {
    "classify": (s.ClassifySerializer, services.case_classify),
    "escalate": (s.EscalateSerializer, services.case_escalate),
    "grant_grace": (s.GrantGraceSerializer, services.case_grant_grace),
    "hold": (s.HoldSerializer, services.case_hold),
    "release": (s.ReleaseSerializer, services.case_release),
    "resolve": (s.ResolveSerializer, services.case_resolve),
    "request_deescalation": (s.ManagerApprovalSerializer, partial(_request_approval, ApprovalAction.DEESCALATE)),
    "request_legal_referral": (
        s.LegalReferralSerializer,
        partial(_request_approval, ApprovalAction.REFER_TO_LEGAL),
    ),
    "request_write_off": (s.ManagerApprovalSerializer, partial(_request_approval, ApprovalAction.WRITE_OFF)),
    "request_transfer": (s.ManagerApprovalSerializer, partial(_request_approval, ApprovalAction.TRANSFER)),
}
assert list(TRANSITIONS) == s.TRANSITION_NAMES  # the serializers list the same names

TRANSITION_SUMMARIES = {
    "classify": gettext_lazy("Classify an early-warning case minor or serious"),
    "escalate": gettext_lazy("Escalate a minor case to serious"),
    "grant_grace": gettext_lazy("Grant a case in early warning or minor a grace period"),
    "hold": gettext_lazy("Put the case on hold"),
    "release": gettext_lazy("Release the case from hold"),
    "resolve": gettext_lazy("Resolve the case"),
    "request_deescalation": gettext_lazy("Ask a manager to de-escalate the case to minor"),
    "request_legal_referral": gettext_lazy("Ask a manager to refer the case to legal action"),
    "request_write_off": gettext_lazy("Ask a manager to write the case off"),
    "request_transfer": gettext_lazy("Ask a manager to transfer the case (debt sale)"),
}


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The worklist: cases the user may see"),
        description=gettext_lazy(
            "Pages by cursor, in any `ordering` (the case id breaks ties): follow `next` (and `previous`) "
            "until it is null; each case comes once however deep the page. There is no total count, and "
            "`page` is refused: a cursor keeps its place when cases ahead of it come or go."
        ),
        responses={200: s.CaseSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary=gettext_lazy("The case page: loan, borrower, allowed steps, pending approvals, timeline"),
        responses={200: s.CaseDetailSerializer, **errors(401, 403, 404)},
    ),
)
class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Collection cases; each transition is a POST of its own (added below, one per name)."""

    queryset = CASES
    serializer_class = s.CaseSerializer
    filterset_class = CaseListFilter
    pagination_class = KeysetPagination
    lookup_value_regex = ID

    def get_queryset(self):
        if self.action == "list":  # the rows are read by worklist.case_rows: nothing to select_related
            return visible_cases(self.request.user)
        queryset = visible_cases(self.request.user, super().get_queryset())
        return with_case_page(queryset) if self.action == "retrieve" else queryset

    def get_serializer_class(self):
        return s.CaseDetailSerializer if self.action == "retrieve" else s.CaseSerializer

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        log_unmasked_case(request, response.data)
        return response

    def list(self, request, *args, **kwargs):
        """The cases the user may see, filtered; the highest priority first (then by id) unless
        `ordering` says otherwise."""
        # Read in one statement each, in CaseSerializer's shape, by cursor (no COUNT over the book).
        statement = self.page_statement()
        read = partial(worklist.case_rows, statement)
        return self.get_paginated_response(self.paginator.paginate(request, CollectionCase, statement.ordering, read))

    def page_statement(self):
        """The filtered cases as SQL, compiled once for the same filters asked by users who see the same
        cases (worklist.cached_statement): a request with filters seen before neither validates them
        again nor builds their query. Bad filters are a 400 and are never kept."""
        params = self.request.query_params
        filters = tuple(sorted((name, tuple(params.getlist(name))) for name in params if name in CASE_LIST_FILTERS))
        key = (visibility_key(self.request.user), filters)
        return worklist.cached_statement(
            key, lambda: worklist.page_statement(self.filter_queryset(self.get_queryset()))
        )

    def transition(self, request, pk, name):
        input_serializer, service = TRANSITIONS[name]
        case = case_to_act_on(request.user, pk)
        serializer = input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        arguments = dict(serializer.validated_data)
        # The services refuse a step on a stale view under the row lock; the approval requests do not
        # look at the version, so the client's is checked here for every step.
        if arguments.pop("version") != case.version:
            raise ConcurrentChange(
                _("Someone else changed this case first: it is now “%(state)s”. Nothing was done.")
                % {"state": case.get_state_display()}
            )
        service(actor=request.user, case=case, **arguments)
        return case_page(request, case)


def _transition_action(name, input_serializer):
    def run(self, request, pk=None):
        return self.transition(request, pk, name)

    run.__name__ = run.__qualname__ = f"transition_{name}"
    run = action(
        detail=True,
        methods=["post"],
        url_path=f"transitions/{name}",
        url_name=f"transition-{name}",
        permission_classes=[ViewPermissionToAct],
    )(run)
    return extend_schema(
        operation_id=f"cases_transition_{name}",
        summary=TRANSITION_SUMMARIES[name],
        request=input_serializer,
        responses={200: s.CaseDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )(run)


for _name, (_input, _service) in TRANSITIONS.items():
    setattr(CaseViewSet, f"transition_{_name}", _transition_action(_name, _input))


# --- Contacts and promises, per case ----------------------------------------------------------------

CASE_PK = OpenApiParameter("case_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description=gettext_lazy("case id"))


class CaseRecordViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Rows recorded on one case, listed for those who see the case and added through a service."""

    def get_queryset(self):
        return super().get_queryset().filter(case_id=self.kwargs["case_pk"])

    def list(self, request, case_pk):
        get_object_or_404(visible_cases(request.user), pk=case_pk)
        return super().list(request, case_pk)

    def create(self, request, case_pk):
        case = case_to_act_on(request.user, case_pk)
        serializer = self.get_serializer(data=request.data, context={**self.get_serializer_context(), "case": case})
        serializer.is_valid(raise_exception=True)
        record = self.record(actor=request.user, case=case, **serializer.validated_data)
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The case's contact attempts, newest first"),
        parameters=[CASE_PK],
        responses={200: s.ContactAttemptSerializer, **errors(400, 401, 403, 404)},
    ),
    create=extend_schema(
        summary=gettext_lazy("Log a contact attempt (quiet hours and third-party rules apply)"),
        parameters=[CASE_PK],
        responses={201: s.ContactAttemptSerializer, **errors(400, 401, 403, 404)},
    ),
)
class CaseContactViewSet(CaseRecordViewSet):
    queryset = ContactAttempt.objects.select_related("by")
    serializer_class = s.ContactAttemptSerializer

    def record(self, **arguments):
        return services.contact_log(**arguments)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The case's promises to pay"),
        parameters=[CASE_PK],
        responses={200: s.PromiseToPaySerializer, **errors(400, 401, 403, 404)},
    ),
    create=extend_schema(
        summary=gettext_lazy("Record a promise to pay (at most 30 days out)"),
        parameters=[CASE_PK],
        responses={201: s.PromiseToPaySerializer, **errors(400, 401, 403, 404, 409)},
    ),
)
class CasePromiseViewSet(CaseRecordViewSet):
    queryset = PromiseToPay.objects.select_related("recorded_by")
    serializer_class = s.PromiseToPaySerializer

    def record(self, **arguments):
        return services.promise_record(**arguments)


# --- Approvals --------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The approvals inbox: pending requests unless another status is asked for"),
        responses={200: s.ApprovalSerializer, **errors(400, 401, 403, 404)},  # 404: a page past the last
    ),
)
class ApprovalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Maker-checker requests on the cases the user may see; a manager other than the requester decides."""

    queryset = Approval.objects.select_related("requested_by", "decided_by")
    serializer_class = s.ApprovalSerializer
    filterset_class = ApprovalFilter
    lookup_value_regex = ID

    def get_queryset(self):
        return visible_approvals(self.request.user, super().get_queryset())

    @extend_schema(
        summary=gettext_lazy("Approve or reject a request (never your own)"),
        request=s.ApprovalDecisionSerializer,
        responses={200: s.ApprovalSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def decide(self, request, pk=None):
        # Found among the requests the user may see before the body is read: another officer's request
        # is a 404, not a 400 that says it exists.
        approval = get_object_or_404(visible_approvals(request.user), pk=pk)
        serializer = s.ApprovalDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        approval = services.approval_decide(actor=request.user, approval=approval, **serializer.validated_data)
        return Response(s.ApprovalSerializer(approval, context=self.get_serializer_context()).data)


# --- Restructuring plans ----------------------------------------------------------------------------

PLANS = RestructuringPlan.objects.select_related("proposed_by", "decided_by", "lender_signed_by")


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The case's restructuring plans, newest first"),
        parameters=[CASE_PK],
        responses={200: s.RestructuringPlanSerializer, **errors(400, 401, 403, 404)},
    ),
    create=extend_schema(
        summary=gettext_lazy("Propose new terms and submit them for a manager's approval"),
        parameters=[CASE_PK],
        request=s.PlanProposalSerializer,
        responses={201: s.RestructuringPlanSerializer, **errors(400, 401, 403, 404, 409)},
    ),
)
class CasePlanViewSet(CaseRecordViewSet):
    """A case's plans. Proposing checks the terms against the product's limits, computes the new
    schedule and submits it: the case moves to `restructuring` until a manager decides."""

    queryset = PLANS
    serializer_class = s.RestructuringPlanSerializer

    def create(self, request, case_pk):
        case = case_to_act_on(request.user, case_pk)
        serializer = s.PlanProposalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            plan = restructuring.plan_propose(actor=request.user, case=case, **serializer.validated_data)
            plan = restructuring.plan_submit(actor=request.user, plan=plan)
        return Response(self.get_serializer(PLANS.get(pk=plan.pk)).data, status=status.HTTP_201_CREATED)


def _plan_step(summary, request_serializer, ok=200):
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses={ok: s.RestructuringPlanSerializer, **errors(400, 401, 403, 404, 409)},
    )


@extend_schema_view(
    retrieve=extend_schema(
        summary=gettext_lazy("A restructuring plan"),
        responses={200: s.RestructuringPlanSerializer, **errors(401, 403, 404)},
    ),
)
class PlanViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One plan, on a case the user may see, and its steps: a manager other than the proposer approves or
    rejects; the approving manager records both signatures; a signed plan is activated."""

    queryset = PLANS
    serializer_class = s.RestructuringPlanSerializer
    lookup_value_regex = ID

    def get_queryset(self):
        return super().get_queryset().filter(case__in=visible_cases(self.request.user))

    def _done(self, plan):
        return Response(self.get_serializer(PLANS.get(pk=plan.pk)).data)

    @extend_schema(summary=gettext_lazy("The plan, with old and new terms and the new schedule"))
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @_plan_step(gettext_lazy("Approve a submitted plan (never your own)"), s.PlanDecisionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def approve(self, request, pk=None):
        serializer = s.PlanDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._done(
            restructuring.plan_approve(actor=request.user, plan=self.get_object(), **serializer.validated_data)
        )

    @_plan_step(gettext_lazy("Reject a submitted plan; the case returns to minor or serious"), s.PlanDecisionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def reject(self, request, pk=None):
        serializer = s.PlanDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._done(
            restructuring.plan_reject(actor=request.user, plan=self.get_object(), **serializer.validated_data)
        )

    @_plan_step(gettext_lazy("Record both signatures of the supplementary agreement"), s.PlanSignatureSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def sign(self, request, pk=None):
        plan = self.get_object()  # a plan the user may not see is a 404 before its body is read
        serializer = s.PlanSignatureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._done(restructuring.plan_sign(actor=request.user, plan=plan, **serializer.validated_data))

    @_plan_step(gettext_lazy("Put a signed plan in force: the new schedule replaces the unpaid one"), None)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def activate(self, request, pk=None):
        return self._done(restructuring.plan_activate(actor=request.user, plan=self.get_object()))

    @extend_schema(
        summary=gettext_lazy("The supplementary agreement, as a PDF in the borrower's language"),
        description=gettext_lazy(
            "It shows the borrower's full ID number: legal officers, managers and holders of "
            "`collection.unmask_pii` only (403 for others); every download is in the audit log."
        ),
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **errors(401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def agreement(self, request, pk=None):
        plan = self.get_object()
        response = HttpResponse(agreement_download(actor=request.user, plan=plan), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="agreement-{plan.pk}.pdf"'
        return response


# --- Reminder delivery receipts ---------------------------------------------------------------------


class ReceiptPermission(ModelPermissions):
    """A gateway posting receipts needs `collection.change_reminder`, nothing more."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class ReceiptView(GenericAPIView):
    """An SMS gateway reports a message delivered or failed. Sending the same receipt again changes
    nothing; a receipt for an unknown message id is a 404 (the gateway may retry later)."""

    queryset = Reminder.objects.all()
    permission_classes = [ReceiptPermission]
    serializer_class = s.ReceiptSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        summary=gettext_lazy("Report a reminder's delivery (SMS gateways)"),
        request=s.ReceiptSerializer,
        responses={200: s.ReminderStatusSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            row = reminders.receipt_apply(
                actor=request.user,
                provider_message_id=data["message_id"],
                delivered=data["status"] == "delivered",
                error=data["error"],
                at=data.get("at"),
            )
        except Reminder.DoesNotExist:
            raise Http404(_("No sent reminder has this message id.")) from None
        return Response(s.ReminderStatusSerializer(row).data)
