"""Forms of the manager's pages: deciding an approval request, narrowing the queue overview, choosing
a KPI export, and setting a loan's regulatory class from the case page."""

import hashlib

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loans.choices import RegulatoryClass

from .. import selectors
from ..models import Team
from ..templatetags.dashboard_nav import person


class ApprovalDecisionForm(forms.Form):
    """Approve or reject one request; the button pressed gives the decision. The rules (a rejection
    needs a note, never one's own request) are the service's: the view shows what it refuses."""

    APPROVE, REJECT = "approve", "reject"

    decision = forms.ChoiceField(choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))], widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Decision note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Required to reject; optional to approve")}),
    )

    def __init__(self, *args, approval_id=None, **kwargs):
        # One form per request on the page: ids must not collide.
        kwargs.setdefault("auto_id", f"id_%s_{approval_id}" if approval_id else "id_%s")
        super().__init__(*args, **kwargs)

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == self.APPROVE


class OfficerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return person(user)


class QueueFilterForm(forms.Form):
    """Narrow the queue overview to one officer's or one team's open cases."""

    officer = OfficerChoiceField(
        label=_("Officer"), queryset=selectors.officers_for_assignment(), required=False, empty_label=_("All officers")
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False, empty_label=_("All teams")
    )


class KpiExportForm(forms.Form):
    """Which of a snapshot's tables to download, and of which business date (none: the latest)."""

    kind = forms.ChoiceField(
        label=_("Table"), choices=[("book", _("The book by bucket, class and state")), ("flows", _("Monthly flows"))]
    )
    date = forms.DateField(label=_("Business date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


def class_judgment(loan) -> str:
    """The loan's manual class and its reason as a short token: what a page showed of them."""
    shown = f"{loan.manual_regulatory_class or ''}|{loan.manual_class_reason}"
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


class LoanClassForm(forms.Form):
    """A manager's judgment of the loan's regulatory class with a written reason, or none ("by days
    past due only"). The rules (a reason, one of the five classes, an open loan) are the service's.

    `shown` carries the judgment as the page showed it, as a case step carries the case's version: a
    form sent twice, or after another manager set the class, is refused rather than applied again."""

    prefix = "loan_class"

    regulatory_class = forms.TypedChoiceField(
        label=pgettext_lazy("loan classification", "Class"),
        choices=[("", _("By days past due only")), *RegulatoryClass.choices],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Never better than the days-past-due floor; substandard or worse is IFRS 9 stage 3."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why the loan is classed so.")},
    )
    shown = forms.CharField(max_length=16, widget=forms.HiddenInput)

    def __init__(self, *args, loan, **kwargs):
        self.loan = loan
        kwargs.setdefault("initial", {}).update(
            regulatory_class=loan.manual_regulatory_class, shown=class_judgment(loan)
        )
        super().__init__(*args, **kwargs)

    def is_stale(self) -> bool:
        """The loan's class or its reason changed since the page was shown."""
        return self.cleaned_data["shown"] != class_judgment(self.loan)

    def arguments(self):
        """The service's keyword arguments."""
        return {"regulatory_class": self.cleaned_data["regulatory_class"], "reason": self.cleaned_data["reason"]}
