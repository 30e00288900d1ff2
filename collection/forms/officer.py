"""Forms of the officer's pages: the worklist's filters and bulk reassignment, and every form on the
case page. They check types and shapes only; the rules (quiet hours, grace at most 60 days, a reason
to override the classification rules) are the services', whose refusals the views show on the field
they name."""

from datetime import timedelta
from decimal import Decimal

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import ContactPoint
from core.dates import business_today
from core.forms import AmountField
from loans.models import LoanProduct

from .. import rules, selectors, services
from ..choices import (
    CaseState,
    ContactChannel,
    ContactOutcome,
    Direction,
    HoldReason,
    Party,
    ResolutionReason,
    Severity,
)
from ..filters import CaseFilter
from ..templatetags.dashboard_nav import person

# --- People -------------------------------------------------------------------------------------------


def person_label(user):
    """李明 · officer: the name officers know each other by, and the login that tells namesakes apart."""
    name = person(user)
    return name if name == user.get_username() else f"{name} · {user.get_username()}"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return person_label(user)


class PersonChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = PersonChoiceField


# --- The worklist's filters -------------------------------------------------------------------------


class WorklistFilter(CaseFilter):
    """CaseFilter (shared with the API, same parameters) plus what only the page offers: the search
    box, "a promise falls due today", and drop-downs of officers and products instead of raw ids.

    With no state chosen the list shows the open cases (`default_states`): a worklist is about the
    work left, and the closed cases stay one click away."""

    q = django_filters.CharFilter(method="filter_search", max_length=100, label=_("Search"))
    promise_due_today = django_filters.BooleanFilter(
        method="filter_promise_due_today", widget=forms.CheckboxInput, label=_("Promise due today")
    )
    officer = PersonChoiceFilter(field_name="officer", queryset=selectors.officers_for_assignment(), label=_("Officer"))
    product = django_filters.ModelChoiceFilter(
        field_name="loan__product",
        to_field_name="code",
        queryset=LoanProduct.objects.order_by("name"),
        label=_("Product"),
    )

    # Rendered as drop-downs or check lists on the page; any other CaseFilter parameter in the URL (a
    # manager's queue links carry `team`, say) is kept as a hidden field so filtering again keeps it.
    SHOWN = ("q", "state", "severity", "aging_bucket", "product", "officer", "promise_due_today")

    # The drop-downs' first option says what choosing nothing means (and names the field for screen readers).
    EMPTY_LABELS = {
        "severity": _("All severities"),
        "product": _("All products"),
        "officer": _("All officers"),
    }

    def __init__(self, *args, default_states=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_states = default_states or CaseState.open_states()
        for name, label in self.EMPTY_LABELS.items():
            self.filters[name].extra.update(empty_label=label, widget=forms.Select(attrs={"aria-label": label}))

    def filter_search(self, queryset, name, value):
        return selectors.search_cases(queryset, value)

    def filter_promise_due_today(self, queryset, name, value):
        return selectors.promise_due_on(queryset, business_today()) if value else queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("state"):
            queryset = queryset.filter(state__in=self.default_states)
        return queryset

    def hidden_params(self):
        """(name, value) of the parameters given but not shown as a field of the filter bar."""
        return [
            (name, value)
            for name in self.form.fields
            if name not in self.SHOWN and name != "ordering"
            for value in self._values(name)
            if value
        ]

    def _values(self, name):
        # django-filter keeps an empty query string as a plain dict.
        return self.data.getlist(name) if hasattr(self.data, "getlist") else []


class IdListField(forms.Field):
    """Ids ticked in a table (`<input type="checkbox" name=... value=id>`): a sorted list of integers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        try:
            return sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Tick cases from the list."), code="invalid") from None

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(_("Tick the cases to reassign."), code="required")


class ReassignForm(forms.Form):
    """A manager hands the ticked cases to one officer."""

    case_ids = IdListField(label=_("Cases"))
    officer = PersonChoiceField(
        label=_("Reassign to"), queryset=selectors.officers_for_assignment(), empty_label=_("Choose an officer")
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


# --- The case page ----------------------------------------------------------------------------------


class CaseForm(forms.Form):
    """A form about one case. Each has its own `prefix`, so the forms side by side on the case page
    never share an element id or a field name."""

    def __init__(self, *args, case, **kwargs):
        self.case = case
        super().__init__(*args, **kwargs)


class TransitionForm(CaseForm):
    """A step of the case's workflow, carrying the case's version as the page showed it: a step taken
    on a stale page is refused rather than applied to a case that has moved on."""

    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, case, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("version", case.version)
        super().__init__(*args, case=case, **kwargs)

    def arguments(self):
        """The service's keyword arguments (everything but the version)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}


def _note(label, required=True, rows=2, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class ClassifyForm(TransitionForm):
    """Minor or serious. The form shows what the rules say and why: choosing otherwise needs a reason
    (the service insists)."""

    prefix = "classify"
    severity = forms.ChoiceField(
        label=_("Severity"),
        required=False,
        choices=[
            ("", _("As the rules say")),
            (Severity.MINOR, Severity.MINOR.label),
            (Severity.SERIOUS, Severity.SERIOUS.label),
        ],
    )
    override_reason = _note(_("Reason to override the rules"), required=False)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.verdict = rules.classify(services.case_facts(case))

    @property
    def verdict_label(self):
        return Severity(self.verdict.severity).label


class EscalateForm(TransitionForm):
    prefix = "escalate"
    reason = _note(_("Reason"))


class GrantGraceForm(TransitionForm):
    prefix = "grant_grace"
    until = forms.DateField(label=_("Grace until"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = _note(_("Reason"))


class HoldForm(TransitionForm):
    prefix = "hold"
    reason = forms.ChoiceField(label=_("Why"), choices=HoldReason.choices)
    note = _note(_("Note"))


class ReleaseForm(TransitionForm):
    prefix = "release"
    note = _note(_("How was it settled?"))


class ResolveForm(TransitionForm):
    prefix = "resolve"
    reason = forms.ChoiceField(label=_("Resolution"), choices=ResolutionReason.choices)
    note = _note(_("Note"), required=False)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        allowed = rules.resolution_reasons(case.state)  # the service checks the same table
        self.fields["reason"].choices = [
            (value, label) for value, label in ResolutionReason.choices if value in allowed
        ]


class ApprovalRequestForm(TransitionForm):
    """A step a manager must approve: the request says why."""

    reason = _note(_("Reason"))


class DeescalateRequestForm(ApprovalRequestForm):
    prefix = "deescalate"


class WriteOffRequestForm(ApprovalRequestForm):
    prefix = "write_off"


class TransferRequestForm(ApprovalRequestForm):
    prefix = "transfer"


class LegalReferralRequestForm(ApprovalRequestForm):
    prefix = "refer_to_legal"
    feasibility_note = _note(
        _("Feasibility"), rows=3, help_text=_("Expected recovery against the cost of legal action.")
    )


class ContactPointChoiceField(forms.ModelChoiceField):
    """The borrower's contact points, third parties marked, phones shown as the page shows them."""

    def __init__(self, *args, unmasked=False, **kwargs):
        self.unmasked = unmasked
        super().__init__(*args, **kwargs)

    def label_from_instance(self, point):
        parts = [point.get_relation_display(), point.get_channel_display(), selectors.shown_value(point, self.unmasked)]
        if point.contact_name:
            parts.append(point.contact_name)
        return " · ".join(str(part) for part in parts)


class ContactForm(CaseForm):
    """Log a contact attempt. When it happened defaults to now, in the lender's time zone."""

    prefix = "contact"
    layout = "grid"
    channel = forms.ChoiceField(label=_("Channel"), choices=ContactChannel.choices)
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.OUTBOUND)
    party = forms.ChoiceField(label=_("Party"), choices=Party.choices, initial=Party.BORROWER)
    contact_point = ContactPointChoiceField(
        label=_("Contact point"), queryset=ContactPoint.objects.none(), required=False, empty_label=_("Not recorded")
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ContactOutcome.choices)
    attempted_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Now if left empty."),
    )
    note = _note(_("Note"), required=False)
    recording_reference = forms.CharField(label=_("Recording reference"), max_length=200, required=False)

    def __init__(self, *args, case, unmasked=False, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "attempted_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, case=case, **kwargs)
        field = self.fields["contact_point"]
        field.queryset = ContactPoint.objects.filter(borrower_id=case.loan.borrower_id)
        field.unmasked = unmasked

    def clean_attempted_at(self):
        # A few minutes' slack for clocks; a contact logged ahead of time is a mistake, not a plan.
        value = self.cleaned_data["attempted_at"]
        if value and value > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError(_("A contact cannot be logged in the future."))
        return value


class PromiseForm(CaseForm):
    prefix = "promise"
    amount = AmountField(label=_("Amount (¥)"), min_value=Decimal("0.01"), max_digits=14)
    promised_for = forms.DateField(label=_("Promised for"), widget=forms.DateInput(attrs={"type": "date"}))
    note = _note(_("Note"), required=False)
