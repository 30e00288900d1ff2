"""Which cases a user may see, and the filters over them: one FilterSet serves the API and the dashboard.

Visibility: an officer sees the cases assigned to them and those of the teams they lead, and the
borrowers, loans and payments of those cases only; everyone else who holds the view permissions
(managers, auditors, legal officers, API clients given them) sees the whole book. Model permissions
decide whether a user reads cases, loans or borrowers at all; these functions decide which ones."""

import copy

import django_filters
from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from core import roles
from core.auth import role_names
from core.filters import MAX_INTEGER, IntegerFilter
from loans.choices import AgingBucket

from .choices import ApprovalAction, ApprovalStatus, CaseState, Severity
from .models import Approval, CollectionCase, Team

# Roles that see every case even when the same user is also an officer.
WHOLE_BOOK_ROLES = {roles.MANAGER, roles.AUDITOR, roles.LEGAL_OFFICER}


def _led_teams(user):
    """The ids of the teams the user leads, read once per request (the role names come from the cache,
    core/auth.py)."""
    if not hasattr(user, "_collection_led_teams"):
        user._collection_led_teams = tuple(Team.objects.filter(lead=user).order_by("pk").values_list("pk", flat=True))
    return user._collection_led_teams


def sees_own_cases_only(user) -> bool:
    """An officer who holds no role that reads the whole book (whose led teams are then read too, so
    that what the user may see is known from here on)."""
    if user.is_superuser:
        return False
    names = role_names(user)
    own = roles.OFFICER in names and not names & WHOLE_BOOK_ROLES
    if own:
        _led_teams(user)
    return own


def _own_cases(user, prefix=""):
    # The teams are read first, not as a subquery: `officer = X OR team IN (1, 2)` is two index lookups,
    # while `OR team IN (SELECT ...)` can only be checked row by row, and PostgreSQL, taking it to match
    # half the book, walked the priority index end to end for an officer with few cases (1.5 s at 1M).
    own = Q(**{f"{prefix}officer": user})
    teams = _led_teams(user)
    return own | Q(**{f"{prefix}team__in": teams}) if teams else own


def visible_cases(user, queryset=None):
    """The cases `user` may see, as a queryset (`queryset` narrows it further when given)."""
    queryset = CollectionCase.objects.all() if queryset is None else queryset
    return queryset.filter(_own_cases(user)) if sees_own_cases_only(user) else queryset


def visibility_key(user):
    """What visible_cases(user) depends on: the user and the teams they lead for an officer who sees their
    own cases and their teams', None for everyone who sees the whole book (who so share the API's
    compiled statements)."""
    return (user.pk, _led_teams(user)) if sees_own_cases_only(user) else None


def visible_loans(user, queryset):
    """The loans of the cases `user` may see (an officer's own), or `queryset` whole for everyone else."""
    return queryset.filter(pk__in=visible_cases(user).values("loan_id")) if sees_own_cases_only(user) else queryset


def visible_borrowers(user, queryset):
    """The borrowers of the cases `user` may see, or `queryset` whole for everyone else."""
    if not sees_own_cases_only(user):
        return queryset
    return queryset.filter(pk__in=visible_cases(user).values("loan__borrower_id"))


def visible_payments(user, queryset):
    """The payments on the loans of the cases `user` may see, or `queryset` whole for everyone else."""
    if not sees_own_cases_only(user):
        return queryset
    return queryset.filter(loan_id__in=visible_cases(user).values("loan_id"))


def visible_approvals(user, queryset=None):
    """The approval requests on the cases `user` may see."""
    queryset = Approval.objects.all() if queryset is None else queryset
    return queryset.filter(_own_cases(user, prefix="case__")) if sees_own_cases_only(user) else queryset


def can_see_case(user, case) -> bool:
    """The same rule as visible_cases, for one case already read (with its team)."""
    if not sees_own_cases_only(user):
        return True
    return case.officer_id == user.pk or (case.team_id is not None and case.team.lead_id == user.pk)


def id_filter(field_name, label):
    return IntegerFilter(field_name=field_name, min_value=1, max_value=MAX_INTEGER, label=label)


def days_filter(lookup_expr, label):
    return IntegerFilter(
        field_name="loan__days_past_due", lookup_expr=lookup_expr, min_value=0, max_value=MAX_INTEGER, label=label
    )


def amount_filter(lookup_expr, label):
    return django_filters.NumberFilter(
        field_name="loan__overdue_amount", lookup_expr=lookup_expr, max_digits=16, decimal_places=2, label=label
    )


class StableOrderingFilter(django_filters.OrderingFilter):
    """Any ordering the client asks for, with the id as the last key so pages never overlap."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value and not {"id", "-id"} & set(value):
            qs = qs.order_by(*qs.query.order_by, "id")
        return qs


class CaseFilter(django_filters.FilterSet):
    """Worklist and queue filters. Days past due and the overdue amount are the loan's (the daily run
    keeps them current), so the filters read them there."""

    # distinct=False: neither filter crosses a to-many relation, and DISTINCT would defeat the
    # (state, priority) index and slow every worklist page.
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, distinct=False, label=_("state"))
    severity = django_filters.ChoiceFilter(
        choices=[(Severity.MINOR, Severity.MINOR.label), (Severity.SERIOUS, Severity.SERIOUS.label)],
        label=_("severity"),
    )
    officer = id_filter("officer_id", _("officer (user id)"))
    unassigned = django_filters.BooleanFilter(field_name="officer", lookup_expr="isnull", label=_("unassigned"))
    team = id_filter("team_id", _("team (id)"))
    product = django_filters.CharFilter(field_name="loan__product__code", max_length=40, label=_("product code"))
    aging_bucket = django_filters.MultipleChoiceFilter(
        field_name="loan__aging_bucket", choices=AgingBucket.choices, distinct=False, label=_("aging bucket")
    )
    dpd_min = days_filter("gte", _("days past due, at least"))
    dpd_max = days_filter("lte", _("days past due, at most"))
    overdue_amount_min = amount_filter("gte", _("overdue amount, at least"))
    overdue_amount_max = amount_filter("lte", _("overdue amount, at most"))
    ordering = StableOrderingFilter(
        fields=(
            ("priority_score", "priority_score"),
            ("loan__days_past_due", "days_past_due"),
            ("loan__overdue_amount", "overdue_amount"),
            ("opened_on", "opened_on"),
            ("id", "id"),
        ),
        label=_("ordering (default: -priority_score)"),
    )

    class Meta:
        model = CollectionCase
        fields = []


class SharedFieldsForm(forms.Form):
    """A form over fields made once and shared by every instance (`shared_fields`), which only cleans
    with them and never changes them: Django copies a form's fields for each instance otherwise."""

    shared_fields = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = self.shared_fields


class SharedFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters and form class are made once per class and shared by every instance.

    django-filter deep-copies every filter and builds a new form class (whose instances copy every
    field again) for each FilterSet made, so that an instance may change its filters. That copying
    was most of the API case list's filtering time. Filters shared this way get no `parent`: they may
    not use `method=` or a queryset that depends on the request (a FilterSet whose instances change
    their filters, like the dashboard's WorklistFilter, must not be one of these)."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = self._meta.model._default_manager.all() if queryset is None else queryset
        self.request = request
        self.form_prefix = prefix
        self.filters, self._form_class = self._shared()

    @classmethod
    def _shared(cls):
        if "_shared_parts" not in cls.__dict__:  # each subclass makes its own
            # Copied once, so that the filters' fields cached here never reach the classes that share
            # the declared filters (a subclass of CaseFilter copies them per instance and edits them).
            filters = copy.deepcopy(cls.base_filters)
            for name, filter_ in filters.items():
                if filter_.method is not None:
                    raise TypeError(f"{cls.__name__}.{name}: a shared filter cannot use method=")
                filter_.model = cls._meta.model
            fields = {name: filter_.field for name, filter_ in filters.items()}
            form_class = type(f"{cls.__name__}Form", (SharedFieldsForm,), {"shared_fields": fields})
            cls._shared_parts = (filters, form_class)
        return cls._shared_parts

    def get_form_class(self):
        return self._form_class


class CaseListFilter(SharedFilterSet, CaseFilter):
    """CaseFilter for the API's case list: the same filters, made once (see SharedFilterSet)."""


class ApprovalFilter(django_filters.FilterSet):
    """The approvals inbox: pending requests unless another status is asked for."""

    status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices, label=_("status (default: pending)"))
    action = django_filters.ChoiceFilter(choices=ApprovalAction.choices, label=_("action"))
    case = id_filter("case_id", _("case (id)"))

    class Meta:
        model = Approval
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("status"):
            data = data.copy()
            data["status"] = ApprovalStatus.PENDING
        super().__init__(data, *args, **kwargs)
