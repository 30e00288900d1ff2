"""Products, loans and payments over the API: declarative views over DRF's generic ones; the
services write and decide. Posting the same loan or payment again answers 200 with the first
result; the same key for different content is a 422."""

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.views import error_response, errors

from ..filters import LoanFilterSet, PaymentFilterSet
from ..models import Loan, LoanProduct, Payment, PaymentAllocation
from ..services import loan_create, payment_post, payment_reverse
from .serializers import (
    LoanCreateSerializer,
    LoanDetailSerializer,
    LoanProductSerializer,
    LoanSerializer,
    PaymentCreateSerializer,
    PaymentDetailSerializer,
    PaymentReverseSerializer,
    PaymentSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=_("The payment's external reference when the body gives none (at most 100 characters)."),
)

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
    """Loans booked by core banking, newest first."""

    queryset = Loan.objects.select_related("product").order_by("-id")
    lookup_value_regex = r"[^/]+"
    serializer_class = LoanSerializer
    filterset_class = LoanFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("installments")
        return queryset

    def get_serializer_class(self):
        return LoanSerializer if self.action == "list" else LoanDetailSerializer

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
    """Money received for loans, and reversals of it (negative entries), newest first."""

    queryset = Payment.objects.select_related("loan", "reversal").order_by("-id")
    lookup_value_regex = r"[^/]+"
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet

    def get_queryset(self):
        queryset = super().get_queryset()
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
            "reference for other money is a 422. `loan` is the loan's external id; `amount` a decimal string."
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
            "with the same reversal."
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
    @action(detail=True, methods=["post"])
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
