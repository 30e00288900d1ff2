"""The activity log, read-only, for auditors and managers (`core.view_activitylog`); and the schema of
the one error shape (core/api/errors.py), for every app's OpenAPI annotations."""

from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from core.models import ActivityLog

# --- The error shape, for the OpenAPI schema ----------------------------------------------------------


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("A stable code: invalid, not_found, permission_denied, conflict, …"))
    message = serializers.CharField(help_text=_("What went wrong, in the user's language."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Field name -> messages, when particular inputs are at fault."),
    )


class ErrorResponseSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def error_response(description):
    return OpenApiResponse(ErrorResponseSerializer, description=description)


ERROR_RESPONSES = {
    400: error_response(_("The input is not valid; `fields` says which and why.")),
    401: error_response(_("No credentials, or wrong ones.")),
    403: error_response(_("The user's role or permissions do not allow this.")),
    404: error_response(_("No such object, or not one the user may see.")),
    409: error_response(_("Not allowed in the object's current state, or someone else changed it first.")),
}


def errors(*status_codes):
    """The error responses an operation may give, for extend_schema(responses=...)."""
    return {code: ERROR_RESPONSES[code] for code in status_codes}


# --- The activity log ---------------------------------------------------------------------------------


class ActivityLogFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(label=_("action (exact)"))
    action__startswith = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", label=_("action prefix, e.g. collection.case.")
    )
    actor_kind = django_filters.ChoiceFilter(choices=ActivityLog._meta.get_field("actor_kind").choices)
    target_type = django_filters.CharFilter(
        method="filter_target_type", max_length=201, label=_("target type: app_label.model")
    )
    target_id = django_filters.CharFilter(max_length=64, label=_("target id"))
    date_after = django_filters.DateFilter(method="filter_date_after", label=_("from this business day on"))
    date_before = django_filters.DateFilter(method="filter_date_before", label=_("up to this business day, included"))

    class Meta:
        model = ActivityLog
        fields = []

    # Business days are the lender's (the current time zone); the bounds stay on the indexed timestamp.
    def filter_date_after(self, queryset, name, value):
        start = _start_of(value)
        return queryset if start is None else queryset.filter(created_at__gte=start)

    def filter_date_before(self, queryset, name, value):
        end = _start_of(value + timedelta(days=1)) if value < date.max else None
        return queryset if end is None else queryset.filter(created_at__lt=end)

    def filter_target_type(self, queryset, name, value):
        app_label, _dot, model = value.lower().partition(".")
        return queryset.filter(target_type__app_label=app_label, target_type__model=model)


def _start_of(day):
    """The first moment of a business day, or None when it lies beyond what a timestamp can hold (no
    entry is older or newer than that, so there is no bound to set)."""
    try:
        return timezone.make_aware(datetime.combine(day, time.min)).astimezone(UTC)
    except OverflowError:
        return None


class ActivityLogSerializer(serializers.ModelSerializer):
    target_type = serializers.SerializerMethodField(help_text=_("app_label.model"))

    class Meta:
        model = ActivityLog
        fields = [
            "id",
            "created_at",
            "actor_kind",
            "actor",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "reason",
            "before",
            "after",
            "data",
        ]

    def get_target_type(self, entry) -> str | None:
        content_type = entry.target_type
        return f"{content_type.app_label}.{content_type.model}" if content_type else None


@extend_schema_view(
    list=extend_schema(
        summary=_("The activity log, newest first"),
        responses={200: ActivityLogSerializer, **errors(400, 401, 403, 404)},  # 404: a page past the last
    ),
    retrieve=extend_schema(
        summary=_("One activity log entry"), responses={200: ActivityLogSerializer, **errors(401, 403, 404)}
    ),
)
class ActivityLogViewSet(viewsets.ReadOnlyModelViewSet):
    """Who did what, to which object, when: read-only, for those who hold `core.view_activitylog`."""

    queryset = ActivityLog.objects.select_related("target_type").order_by("-created_at", "-id")
    serializer_class = ActivityLogSerializer
    filterset_class = ActivityLogFilter
    lookup_value_regex = "[0-9]+"
