"""The legal route over the API: the legal worklist and the action page, opening an action, its steps
as POSTs, and its costs, recoveries, tasks, documents, preservation orders and collateral disposals,
all written through legal/services.py.

Reading needs `legal.view_legalaction`, opening an action `legal.add_legalaction`, everything else
written `legal.change_legalaction`; whether the user's role may take the step is the services' to say
(a legal officer or a manager; else a 403). Who sees which actions follows the cases: an action the
user may not see is a 404 to read and a 403 to act on. A step the state does not allow now is a 409."""

from datetime import timedelta

from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from collection.errors import NotPermitted
from collection.filters import can_see_case
from core.api.views import errors
from core.dates import business_today
from loans.api.views import IDEMPOTENCY_MISMATCH, created_or_repeated
from loans.models import Payment

from .. import services
from ..filters import LegalActionFilter
from ..models import AssetDisposal, LegalAction, LegalCost, LegalDocument, LegalTask, PreservationOrder
from ..selectors import tasks_due, visible_actions, worklist
from . import serializers as s

ID = "[0-9]+"
READ, OPEN, CHANGE = "legal.view_legalaction", "legal.add_legalaction", "legal.change_legalaction"


class LegalPermissions(BasePermission):
    """Reading needs `legal.view_legalaction`; opening an action `legal.add_legalaction`; any other
    write `legal.change_legalaction`. Anonymous callers are unauthenticated (401)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return user.has_perm(READ)
        return user.has_perm(OPEN if getattr(view, "action", None) == "create" else CHANGE)


def _check_sees(user, case):
    if not can_see_case(user, case):
        raise NotPermitted(_("Only those who may see the case may act on its legal actions."))


def action_to_act_on(user, pk) -> LegalAction:
    """The action a POST acts on: a 404 when there is none, a 403 when its case is not the user's to
    see. Whether the user may take this step is then the service's to say."""
    legal_action = get_object_or_404(LegalAction.objects.select_related("case__loan", "case__team"), pk=pk)
    _check_sees(user, legal_action.case)
    return legal_action


def part_to_act_on(queryset, user, pk):
    """A task, order or disposal a POST acts on, by the same rule as its action."""
    part = get_object_or_404(queryset.select_related("action__case__team"), pk=pk)
    _check_sees(user, part.action.case)
    return part


def with_action_page(queryset):
    """What the action page shows beyond the row, each in one query."""
    return queryset.prefetch_related(
        "case__loan__collateral",
        Prefetch("costs", queryset=LegalCost.objects.select_related("recorded_by")),
        Prefetch("tasks", queryset=LegalTask.objects.select_related("done_by")),
        Prefetch("documents", queryset=LegalDocument.objects.select_related("uploaded_by")),
        "preservations",
        "disposals",
        Prefetch("recoveries", queryset=Payment.objects.order_by("received_at", "id")),
    )


# --- Steps: name -> summary -------------------------------------------------------------------------

STEP_SUMMARIES = {
    "send_letter": gettext_lazy("Record the lawyer's letter sent"),
    "file": gettext_lazy("Record the action filed with the court (or the arbitration commission)"),
    "schedule_hearing": gettext_lazy("Record the hearing's day (a task falls due on it)"),
    "record_judgment": gettext_lazy("Record the judgment: the appeal, performance and enforcement deadlines follow"),
    "apply_enforcement": gettext_lazy("Record the application for enforcement"),
    "close_recovered": gettext_lazy("Close the action: recovered (the case resolves when nothing is overdue)"),
    "close_settled": gettext_lazy("Close the action: settled (the case resolves when nothing is overdue)"),
    "close_impossible": gettext_lazy("Close the action: enforcement found nothing (a write-off goes to a manager)"),
    "withdraw": gettext_lazy("Withdraw the action"),
}
assert list(STEP_SUMMARIES) == s.STEP_NAMES  # one summary per step the services know

ACT_ERRORS = errors(400, 401, 403, 404, 409)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The legal worklist: open actions by their next deadline, then closed ones"),
        responses={200: s.LegalActionSerializer, **errors(400, 401, 403, 404)},  # 404: a page past the last
    ),
    retrieve=extend_schema(
        summary=gettext_lazy("The action page: claim, estimate, dates, result, allowed steps, parts, history"),
        responses={200: s.LegalActionDetailSerializer, **errors(401, 403, 404)},
    ),
)
class LegalActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Legal actions on the cases the user may see; each step is a POST of its own (added below, one
    per name), and so is each part recorded on an action."""

    queryset = LegalAction.objects.all()
    serializer_class = s.LegalActionSerializer
    permission_classes = [LegalPermissions]
    filterset_class = LegalActionFilter
    lookup_value_regex = ID

    def get_queryset(self):
        queryset = worklist(self.request.user)
        return with_action_page(queryset) if self.action == "retrieve" else queryset

    def get_serializer_class(self):
        return s.LegalActionDetailSerializer if self.action == "retrieve" else s.LegalActionSerializer

    def action_page(self, legal_action, status_code=status.HTTP_200_OK):
        page = with_action_page(worklist(self.request.user)).get(pk=legal_action.pk)
        return Response(s.LegalActionDetailSerializer(page, context={"request": self.request}).data, status=status_code)

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        summary=gettext_lazy("Open a legal action on a case referred to legal"),
        description=gettext_lazy(
            "The claim is what the loan owes today (interest and fees of periods still to come left out); "
            "the feasibility estimate (court fee, preservation, lawyer) is kept with the action. One expected "
            "to cost more than it recovers needs a manager and `override_reason`. Only one action of each kind "
            "may be open on a case (else a 409)."
        ),
        request=s.ActionOpenSerializer,
        responses={201: s.LegalActionDetailSerializer, **ACT_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        arguments = self._input(s.ActionOpenSerializer)
        legal_action = services.action_open(actor=request.user, **arguments)
        return self.action_page(legal_action, status.HTTP_201_CREATED)

    def step(self, request, pk, name):
        legal_action = action_to_act_on(request.user, pk)
        arguments = self._input(s.step_input(name))
        arguments.setdefault("document", None)
        arguments.setdefault("document_kind", "")
        services.action_advance(actor=request.user, action=legal_action, step=name, **arguments)
        return self.action_page(legal_action)

    # --- Parts of an action ---

    def _record(self, pk, serializer_class, service, output, **extra):
        legal_action = action_to_act_on(self.request.user, pk)
        arguments = self._input(serializer_class)
        part = service(actor=self.request.user, action=legal_action, **arguments, **extra)
        return Response(output(part, context={"request": self.request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary=gettext_lazy("Book a cost of the action (court fee, lawyer, preservation, appraisal, auction)"),
        description=gettext_lazy(
            "A cost the borrower owes (`charge_to_borrower`) is charged to the loan at once: its next payment "
            "meets it first. A loan that is paid off or sold takes no cost (a 409 naming `charge_to_borrower`)."
        ),
        request=s.CostInputSerializer,
        responses={201: s.LegalCostSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def costs(self, request, pk=None):
        return self._record(pk, s.CostInputSerializer, services.cost_add, s.LegalCostSerializer)

    @extend_schema(
        summary=gettext_lazy("Post money the action recovered as a payment to the loan"),
        description=gettext_lazy(
            "Idempotent by `external_reference`: the same reference again answers 200 with the first "
            "payment and changes nothing; the same reference for other money is a 422."
        ),
        request=s.RecoveryInputSerializer,
        responses={
            **created_or_repeated(
                s.RecoverySerializer,
                gettext_lazy("Posted to the loan and noted as the action's recovery."),
                gettext_lazy("Posted before under this reference with the same money: that payment, unchanged."),
            ),
            **ACT_ERRORS,
            **IDEMPOTENCY_MISMATCH,
        },
    )
    @action(detail=True, methods=["post"])
    def recoveries(self, request, pk=None):
        legal_action = action_to_act_on(request.user, pk)
        arguments = self._input(s.RecoveryInputSerializer)
        payment, created = services.recovery_post(actor=request.user, action=legal_action, **arguments)
        return Response(
            s.RecoverySerializer(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        summary=gettext_lazy("Add a task of the officer's own to the action"),
        request=s.TaskInputSerializer,
        responses={201: s.LegalTaskSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def tasks(self, request, pk=None):
        return self._record(pk, s.TaskInputSerializer, services.task_add, s.LegalTaskSerializer)

    @extend_schema(
        summary=gettext_lazy("Upload a document of the action (PDF, JPEG or PNG)"),
        request={"multipart/form-data": s.DocumentInputSerializer},
        responses={201: s.LegalDocumentSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def documents(self, request, pk=None):
        return self._record(pk, s.DocumentInputSerializer, services.document_upload, s.LegalDocumentSerializer)

    @extend_schema(
        summary=gettext_lazy("Apply to the court to preserve an asset (a filed action moves on)"),
        request=s.PreservationInputSerializer,
        responses={201: s.PreservationOrderSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def preservations(self, request, pk=None):
        return self._record(
            pk, s.PreservationInputSerializer, services.preservation_apply, s.PreservationOrderSerializer
        )

    @extend_schema(
        summary=gettext_lazy("Seize a collateral item to sell it"),
        request=s.DisposalInputSerializer,
        responses={201: s.AssetDisposalSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def disposals(self, request, pk=None):
        return self._record(pk, s.DisposalInputSerializer, services.disposal_open, s.AssetDisposalSerializer)


def _step_action(name):
    def run(self, request, pk=None):
        return self.step(request, pk, name)

    run.__name__ = run.__qualname__ = f"step_{name}"
    run = action(
        detail=True,
        methods=["post"],
        url_path=f"steps/{name}",
        url_name=f"step-{name}",
        parser_classes=[JSONParser, MultiPartParser],
    )(run)
    return extend_schema(
        operation_id=f"legal_actions_step_{name}",
        summary=STEP_SUMMARIES[name],
        description=gettext_lazy(
            "`on` may not be a future day, nor a day before the step the action last took. The court's "
            "calendar is kept: a hearing not before the filing, a judgment served not before its hearing "
            "and recorded not before it was served, enforcement not before `enforcement_from`; a day too "
            "early is a 400 with the code `too_early` naming the field. A document may come with the step "
            "as multipart (`document`, `document_kind`)."
        ),
        request={"application/json": s.step_input(name), "multipart/form-data": s.step_input(name)},
        responses={200: s.LegalActionDetailSerializer, **ACT_ERRORS},
    )(run)


for _name in s.STEP_NAMES:
    setattr(LegalActionViewSet, f"step_{_name}", _step_action(_name))


# --- Tasks ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("The legal calendar: open tasks falling due, soonest first"),
        parameters=[s.TaskCalendarQuerySerializer],
        responses={200: s.LegalTaskSerializer, **errors(400, 401, 403, 404)},
    ),
)
class LegalTaskViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The open tasks on the actions the user may see, and marking one done."""

    queryset = LegalTask.objects.all()
    serializer_class = s.LegalTaskSerializer
    permission_classes = [LegalPermissions]
    filter_backends = []
    lookup_value_regex = ID

    def get_queryset(self):
        query = s.TaskCalendarQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        until = query.validated_data.get("until") or business_today() + timedelta(days=30)
        return tasks_due(self.request.user, until=until, start=query.validated_data.get("start"))

    @extend_schema(
        summary=gettext_lazy("Mark a task done"),
        request=s.TaskDoneSerializer,
        responses={200: s.LegalTaskSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        task = part_to_act_on(LegalTask.objects.all(), request.user, pk)
        serializer = s.TaskDoneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.task_done(actor=request.user, task=task, **serializer.validated_data)
        return Response(s.LegalTaskSerializer(task).data)


# --- Documents --------------------------------------------------------------------------------------


class LegalDocumentViewSet(viewsets.GenericViewSet):
    """A document's file, for those who may read the action."""

    queryset = LegalDocument.objects.all()
    serializer_class = s.LegalDocumentSerializer
    permission_classes = [LegalPermissions]
    filter_backends = []
    lookup_value_regex = ID

    def get_queryset(self):
        return super().get_queryset().filter(action__in=visible_actions(self.request.user).values("pk"))

    @extend_schema(
        summary=gettext_lazy("Download a document of a legal action"),
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            **errors(401, 403, 404),
        },
    )
    @action(detail=True, methods=["get"])
    def file(self, request, pk=None):
        document = self.get_object()
        try:
            stored = services.document_open(actor=request.user, document=document)
        except FileNotFoundError:
            raise Http404(_("The document's file is missing from storage.")) from None
        response = FileResponse(
            stored,
            as_attachment=True,
            filename=document.original_name,
            content_type=document.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- Preservation orders ----------------------------------------------------------------------------


@extend_schema_view(
    retrieve=extend_schema(
        summary=gettext_lazy("A preservation order"),
        responses={200: s.PreservationOrderSerializer, **errors(401, 403, 404)},
    ),
)
class PreservationViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Property preservation asked of the court: the court's ruling on it, and its lifting."""

    queryset = PreservationOrder.objects.all()
    serializer_class = s.PreservationOrderSerializer
    permission_classes = [LegalPermissions]
    filter_backends = []
    lookup_value_regex = ID

    def get_queryset(self):
        return super().get_queryset().filter(action__in=visible_actions(self.request.user).values("pk"))

    def _step(self, pk, serializer_class, service):
        order = part_to_act_on(PreservationOrder.objects.all(), self.request.user, pk)
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        order = service(actor=self.request.user, order=order, **serializer.validated_data)
        return Response(s.PreservationOrderSerializer(order).data)

    @extend_schema(
        summary=gettext_lazy("Record the court's ruling: granted (with the ruling's number) or refused"),
        request=s.PreservationDecisionSerializer,
        responses={200: s.PreservationOrderSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        return self._step(pk, s.PreservationDecisionSerializer, services.preservation_decide)

    @extend_schema(
        summary=gettext_lazy("Record a granted order lifted"),
        request=s.PreservationLiftSerializer,
        responses={200: s.PreservationOrderSerializer, **ACT_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        return self._step(pk, s.PreservationLiftSerializer, services.preservation_lift)


# --- Collateral disposals ---------------------------------------------------------------------------

DISPOSAL_STEPS = {
    # url path: (input, service, summary)
    "appraise": (s.DisposalAppraiseSerializer, services.disposal_appraise, gettext_lazy("Record the appraisal")),
    "list": (
        s.ListForSaleSerializer,
        services.disposal_list,
        gettext_lazy("List the asset for sale (judicial auction or negotiated sale)"),
    ),
    "unsold": (s.DisposalStepSerializer, services.disposal_unsold, gettext_lazy("Record a failed auction (流拍)")),
    "sell": (s.DisposalSellSerializer, services.disposal_sell, gettext_lazy("Record the sale")),
    "distribute": (
        s.DisposalDistributeSerializer,
        services.disposal_distribute,
        gettext_lazy("Distribute the proceeds: costs, then the loan (a payment), then any surplus"),
    ),
    "surplus-paid": (
        s.SurplusPaidSerializer,
        services.disposal_surplus_paid,
        gettext_lazy("Record the surplus paid back to the borrower"),
    ),
    "release": (s.DisposalReleaseSerializer, services.disposal_release, gettext_lazy("Release the asset unsold")),
}
assert list(DISPOSAL_STEPS) == s.DISPOSAL_STEP_NAMES


@extend_schema_view(
    retrieve=extend_schema(
        summary=gettext_lazy("A collateral disposal"),
        responses={200: s.AssetDisposalSerializer, **errors(401, 403, 404)},
    ),
)
class DisposalViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A seized collateral item on its way to money: appraised, listed, (unsold, relisted,) sold and
    the proceeds distributed; or released."""

    queryset = AssetDisposal.objects.all()
    serializer_class = s.AssetDisposalSerializer
    permission_classes = [LegalPermissions]
    filter_backends = []
    lookup_value_regex = ID

    def get_queryset(self):
        return super().get_queryset().filter(action__in=visible_actions(self.request.user).values("pk"))

    def step(self, request, pk, name):
        serializer_class, service, _summary = DISPOSAL_STEPS[name]
        disposal = part_to_act_on(AssetDisposal.objects.all(), request.user, pk)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        disposal = service(actor=request.user, disposal=disposal, **serializer.validated_data)
        disposal = AssetDisposal.objects.get(pk=disposal.pk)
        return Response(s.AssetDisposalSerializer(disposal, context={"request": request}).data)


def _disposal_action(name):
    serializer_class, _service, summary = DISPOSAL_STEPS[name]
    method_name = "step_" + name.replace("-", "_")

    def run(self, request, pk=None):
        return self.step(request, pk, name)

    run.__name__ = run.__qualname__ = method_name
    run = action(detail=True, methods=["post"], url_path=name, url_name=name)(run)
    return method_name, extend_schema(
        operation_id=f"disposals_{name.replace('-', '_')}",
        summary=summary,
        request=serializer_class,
        responses={
            200: s.AssetDisposalSerializer,
            **ACT_ERRORS,
            **(IDEMPOTENCY_MISMATCH if name == "distribute" else {}),
        },
    )(run)


for _name in s.DISPOSAL_STEP_NAMES:
    _method_name, _method = _disposal_action(_name)
    setattr(DisposalViewSet, _method_name, _method)
