"""The filters over legal actions: one FilterSet serves the API and the dashboard."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from core.filters import MAX_INTEGER, IntegerFilter

from .choices import ActionKind, ActionState
from .models import LawFirm, LegalAction, LegalTask


class LegalActionFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(label=_("state"), choices=ActionState.choices)
    kind = django_filters.ChoiceFilter(label=_("kind"), choices=ActionKind.choices)
    open = django_filters.BooleanFilter(label=_("open"), method="filter_open")
    handled_by = django_filters.ModelChoiceFilter(
        label=_("legal officer"), queryset=get_user_model().objects.filter(is_active=True)
    )
    law_firm = django_filters.ModelChoiceFilter(label=_("law firm"), queryset=LawFirm.objects.all())
    case = IntegerFilter(label=_("case"), field_name="case_id", min_value=1, max_value=MAX_INTEGER)
    due_by = django_filters.DateFilter(
        label=_("next deadline by"), method="filter_due_by", help_text=_("Actions with an open task due by this day.")
    )

    class Meta:
        model = LegalAction
        fields = ["state", "kind", "open", "handled_by", "law_firm", "case", "due_by"]

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        closed = Q(state__in=ActionState.closed())
        return queryset.exclude(closed) if value else queryset.filter(closed)

    def filter_due_by(self, queryset, name, value):
        due = LegalTask.objects.filter(action=OuterRef("pk"), done_on__isnull=True, due_on__lte=value)
        return queryset.filter(Exists(due))
