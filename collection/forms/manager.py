"""Forms of the manager's pages: deciding an approval request, narrowing the queue overview."""

from django import forms
from django.utils.translation import gettext_lazy as _

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
