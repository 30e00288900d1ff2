"""Borrowers over the API: a few declarative lines over DRF's generic views; the services write."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from collection.filters import visible_borrowers
from core.api.views import errors
from core.audit import log_pii_read
from core.permissions import UNMASK_PII

from ..filters import BorrowerFilterSet
from ..models import Borrower
from ..services import borrower_create, contact_point_create
from .serializers import (
    BorrowerCreateSerializer,
    BorrowerDetailSerializer,
    BorrowerSerializer,
    ContactPointCreateSerializer,
    ContactPointSerializer,
)


class CanAddContactPoint(BasePermission):
    """The contact-points route writes a ContactPoint, not a Borrower: it needs that permission."""

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.has_perm("borrowers.add_contactpoint")


@extend_schema_view(
    list=extend_schema(summary=_("List borrowers"), responses={200: BorrowerSerializer, **errors(400, 401, 403, 404)}),
    retrieve=extend_schema(
        summary=_("A borrower with contact points"),
        responses={200: BorrowerDetailSerializer, **errors(401, 403, 404)},
    ),
)
class BorrowerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People and enterprises that owe; an officer sees the borrowers of their own cases. ID numbers
    and phones are masked unless the client holds collection.unmask_pii."""

    queryset = Borrower.objects.order_by("id")
    lookup_value_regex = r"[^/]+"  # anything but a slash reaches the view and gets its JSON 404
    serializer_class = BorrowerSerializer
    filterset_class = BorrowerFilterSet

    def get_queryset(self):
        queryset = visible_borrowers(self.request.user, super().get_queryset())
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("contact_points")
        return queryset

    def get_serializer_class(self):
        return BorrowerDetailSerializer if self.action == "retrieve" else BorrowerSerializer

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        self._log_unmasked(response.data.get("results", []))
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        self._log_unmasked([response.data])
        return response

    def _log_unmasked(self, rows):
        if rows and self.request.user.has_perm(UNMASK_PII):
            log_pii_read(
                actor=self.request.user,
                model=Borrower,
                targets=[(row["id"], row["name"]) for row in rows],
                action="borrowers.borrower.pii_read",
            )

    @extend_schema(
        summary=_("Register a borrower"),
        request=BorrowerCreateSerializer,
        responses={201: BorrowerDetailSerializer, **errors(400, 401, 403)},
    )
    def create(self, request, *args, **kwargs):
        serializer = BorrowerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        borrower = borrower_create(actor=request.user, **serializer.validated_data)
        borrower = Borrower.objects.prefetch_related("contact_points").get(pk=borrower.pk)
        return Response(self._detail(borrower), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary=_("Add a contact point"),
        request=ContactPointCreateSerializer,
        responses={201: ContactPointSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="contact-points", permission_classes=[CanAddContactPoint])
    def contact_points(self, request, pk=None):
        borrower = self.get_object()
        serializer = ContactPointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        point = contact_point_create(actor=request.user, borrower=borrower, **serializer.validated_data)
        return Response(
            ContactPointSerializer(point, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    def _detail(self, borrower):
        return BorrowerDetailSerializer(borrower, context=self.get_serializer_context()).data
