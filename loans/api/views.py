"""Products, loans and payments over the API: declarative views over DRF's generic ones; the
services write and decide. Posting the same loan or payment again answers 200 with the first
result; the same key for different content is a 422. Setting a loan's class sets a value: the same
again changes nothing."""

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from collection.filters import visible_loans, visible_payments
from core.api.pagination import KeysetPagination
from core.api.permissions import ViewPermissionToAct
from core.api.views import error_response, errors
from core.dates import business_today
from core.errors import ApplicationError

from ..filters import LoanFilterSet, PaymentFilterSet
from ..models import Loan, LoanProduct, Payment, PaymentAllocation
from ..services import loan_create, loan_set_class, payment_by_reference, payment_post, payment_reverse
from ..settlement import loan_settle_early, payoff_quote
from .serializers import (
    LoanClassSerializer,
    LoanCreateSerializer,
    LoanDetailSerializer,
    LoanProductSerializer,
    LoanSerializer,
    PaymentCreateSerializer,
    PaymentDetailSerializer,
    PaymentReverseSerializer,
    PaymentSerializer,
    PayoffQuoteSerializer,
    SettleSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=_("The payment's external reference when the body gives none (at most 100 characters)."),
)


class HoldsPermissions(permissions.BasePermission):
    """The user holds every one of `perms`: the action's own permission, and the reading of what
    it acts on (a client acts only on what it may see)."""

    perms: tuple[str, ...] = ()

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms))


class CanSettle(HoldsPermissions):
    """Settling a loan early: the quote it pays is the loan's balance, so the loan must be visible."""

    perms = ("loans.settle_loan", "loans.view_loan")


class CanReverse(HoldsPermissions):
    """Reversing a payment takes money back off a loan: its own permission, and the payment visible."""

    perms = ("loans.reverse_payment", "loans.view_payment")


IDEMPOTENCY_MISMATCH = {
    422: error_response(_("This key was used before with different content; nothing was written.")),
}


def created_or_repeated(serializer, created, repeated):
    """201 the first time, 200 with the same body on a repeat."""
    return {
        201: OpenApiResponse(serializer, description=created),
        200: OpenApiResponse(serializer, description=repeated),
    }


@extend_schema_view(
    list=extend_schema(
        summary=_("List loan products"), responses={200: LoanProductSerializer, **errors(400, 401, 403, 404)}
    ),
    retrieve=extend_schema(
        summary=_("A loan product, by code"), responses={200: LoanProductSerializer, **errors(401, 403, 404)}
    ),
)
class LoanProductViewSet(viewsets.ReadOnlyModelViewSet):
    """The terms loans are sold under, looked up by code (the key the loan body names them by)."""

    queryset = LoanProduct.objects.order_by("code")
    serializer_class = LoanProductSerializer
    lookup_field = "code"
    lookup_value_regex = r"[^/]+"  # anything but a slash reaches the view and gets its JSON 404
    filterset_fields = ["kind", "is_active"]


@extend_schema_view(
    list=extend_schema(summary=_("List loans"), responses={200: LoanSerializer, **errors(400, 401, 403, 404)}),
    retrieve=extend_schema(
        summary=_("A loan with its schedule and balances"),
        responses={200: LoanDetailSerializer, **errors(401, 403, 404)},
    ),
)
class LoanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Loans booked by core banking, newest first; an officer sees the loans of their own cases."""

    queryset = Loan.objects.select_related("product").order_by("-id")
    lookup_value_regex = r"[^/]+"
    # Paged by cursor: the list grows with the book, and a total would count a million rows a page.
    pagination_class = KeysetPagination
    serializer_class = LoanSerializer
    filterset_class = LoanFilterSet

    def get_queryset(self):
        queryset = visible_loans(self.request.user, super().get_queryset())
        if self.action != "list":
            queryset = queryset.prefetch_related("installments")
        return queryset

    def get_serializer_class(self):
        return LoanSerializer if self.action == "list" else LoanDetailSerializer

    def get_permissions(self):
        if self.action == "settle":
            return [CanSettle()]
        return super().get_permissions()

    @extend_schema(
        summary=_("Early settlement quote"),
        description=_(
            "What paying the loan off today takes: what is due (penalty included), the principal not yet "
            "due, and the running period's interest for the days it has run. 409 for a closed loan."
        ),
        responses={200: PayoffQuoteSerializer, **errors(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["get"], url_path="payoff-quote")
    def payoff_quote(self, request, pk=None):
        loan = self.get_object()
        if loan.is_closed:
            raise ApplicationError(
                _("The loan is %(status)s: there is nothing to settle.") % {"status": loan.get_status_display()},
                code="loan_closed",
            )
        quote = payoff_quote(loan)
        return Response(PayoffQuoteSerializer(quote).data)  # the fields read the Quote, properties included

    @extend_schema(
        summary=_("Settle the loan early"),
        description=_(
            "Pays the loan off today with at least the quote's `to_pay` (the rest of the schedule is "
            "superseded). Idempotent by `external_reference` (within the client's own references): the same "
            "again answers 200 with the first payment. Needs `loans.settle_loan` and `loans.view_loan`."
        ),
        request=SettleSerializer,
        responses={
            **created_or_repeated(
                PaymentDetailSerializer,
                _("Settled: the payment that paid the loan off."),
                _("Settled before under this reference: that payment, unchanged."),
            ),
            **errors(400, 401, 403, 404, 409),
            **IDEMPOTENCY_MISMATCH,
        },
    )
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        loan = self.get_object()
        serializer = SettleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        repeated = payment_by_reference(request.user, serializer.validated_data["external_reference"]) is not None
        payment = loan_settle_early(actor=request.user, loan=loan, **serializer.validated_data)
        payments = PaymentViewSet.queryset.prefetch_related(
            Prefetch("allocations", queryset=PaymentAllocation.objects.select_related("installment"))
        )
        return Response(
            PaymentDetailSerializer(payments.get(pk=payment.pk), context=self.get_serializer_context()).data,
            status=status.HTTP_200_OK if repeated else status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary=_("Set the loan's regulatory class (managers)"),
        description=_(
            "A manager's judgment of the five-category class, with a written reason; null withdraws it. "
            "The effective `regulatory_class` is never better than the days-past-due floor, and "
            "substandard or worse puts the loan in IFRS 9 stage 3. Safe to repeat: the same class and "
            "reason again change nothing and log nothing. 403 for anyone but a manager, 409 for a closed "
            "loan."
        ),
        request=LoanClassSerializer,
        responses={
            200: OpenApiResponse(LoanDetailSerializer, description=_("The loan, its class and stage as they now are.")),
            **errors(400, 401, 403, 404, 409),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[ViewPermissionToAct])
    def classify(self, request, pk=None):
        loan = self.get_object()
        serializer = LoanClassSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        loan_set_class(actor=request.user, loan=loan, on=business_today(), **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=loan.pk)).data)

    @extend_schema(
        summary=_("Book a disbursed loan"),
        description=_(
            "Idempotent by `external_id`: booking the same loan again answers 200 with the first result; "
            "the same external id with other terms is a 422. `product` is the product's code."
        ),
        request=LoanCreateSerializer,
        responses={
            **created_or_repeated(
                LoanDetailSerializer,
                _("Booked, with its schedule."),
                _("Booked before under this external id with the same terms: that loan, unchanged."),
            ),
            **errors(400, 401, 403),
            **IDEMPOTENCY_MISMATCH,
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = LoanCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        loan, created = loan_create(actor=request.user, **serializer.validated_data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=loan.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    list=extend_schema(summary=_("List payments"), responses={200: PaymentSerializer, **errors(400, 401, 403, 404)}),
    retrieve=extend_schema(
        summary=_("A payment with its allocation lines"),
        responses={200: PaymentDetailSerializer, **errors(401, 403, 404)},
    ),
)
class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Money received for loans, and reversals of it (negative entries), newest first; an officer sees
    the payments on the loans of their own cases."""

    queryset = Payment.objects.select_related("loan", "reversal").order_by("-id")
    lookup_value_regex = r"[^/]+"
    pagination_class = KeysetPagination  # several payments a loan: the longest list of all
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet

    def get_queryset(self):
        queryset = visible_payments(self.request.user, super().get_queryset())
        if self.action != "list":
            lines = PaymentAllocation.objects.select_related("installment")
            queryset = queryset.prefetch_related(Prefetch("allocations", queryset=lines))
        return queryset

    def get_serializer_class(self):
        return PaymentSerializer if self.action == "list" else PaymentDetailSerializer

    @extend_schema(
        summary=_("Post a payment"),
        description=_(
            "Idempotent by `external_reference`, or by the `Idempotency-Key` header when the body has none: "
            "the same reference again answers 200 with the first payment and changes nothing; the same "
            "reference for other money is a 422. References are the client's own: another client's never "
            "matches. `loan` is the loan's external id; `amount` a decimal string."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=PaymentCreateSerializer,
        responses={
            **created_or_repeated(
                PaymentDetailSerializer,
                _("Posted and allocated."),
                _("Posted before under this reference with the same money: that payment, unchanged."),
            ),
            **errors(400, 401, 403, 409),
            **IDEMPOTENCY_MISMATCH,
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = PaymentCreateSerializer(
            data=request.data, context={"idempotency_key": request.headers.get("Idempotency-Key")}
        )
        serializer.is_valid(raise_exception=True)
        payment, created = payment_post(actor=request.user, **serializer.validated_data)
        return self._answer(payment, created)

    @extend_schema(
        summary=_("Reverse a payment"),
        description=_(
            "Adds a negative entry that takes back what the payment paid. Reversing it again answers 200 "
            "with the same reversal. Needs `loans.reverse_payment` and `loans.view_payment`."
        ),
        request=PaymentReverseSerializer,
        responses={
            **created_or_repeated(
                PaymentDetailSerializer,
                _("The reversal."),
                _("Reversed before: that reversal, unchanged."),
            ),
            **errors(400, 401, 403, 404),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CanReverse])
    def reverse(self, request, pk=None):
        payment = self.get_object()
        serializer = PaymentReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reversal, created = payment_reverse(actor=request.user, payment=payment, **serializer.validated_data)
        return self._answer(reversal, created)

    def _answer(self, payment, created):
        return Response(
            self.get_serializer(self.get_queryset().get(pk=payment.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
