"""Forms of the restructuring plan on the case page: the terms an officer proposes, and a manager's
decision, the signatures and the activation. Like the other case page forms they check types and
shapes only; the product's limits, maker-checker and the plan's states are
collection.restructuring's, whose refusals the views show on the field they name."""

from decimal import Decimal
from functools import cached_property

from django import forms
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

from core.dates import business_today
from core.money import to_fen

from ..choices import SignatureMethod
from ..restructuring import plan_position
from .officer import TransitionForm, _note

PERCENT = Decimal("100")
SCAN_EXTENSIONS = ["pdf", "jpg", "jpeg", "png"]


class ProposePlanForm(TransitionForm):
    """New terms for the loan. The rate is entered in percent (4.5 for 4.5% a year), as officers
    speak of it; the service takes a fraction. What the loan owes now and the product's limits are
    shown beside the form (`position`, `limits`) so the officer proposes within them."""

    prefix = "propose_plan"
    layout = "grid"
    aside_template = "collection/_plan_position.html"

    extension_months = forms.IntegerField(
        label=_("Extension (months)"), min_value=0, max_value=120, initial=0, required=False
    )
    new_annual_rate = forms.DecimalField(
        label=_("New annual rate (%)"),
        min_value=Decimal("0"),
        max_value=PERCENT,
        max_digits=7,
        decimal_places=4,
        required=False,
        help_text=_("In percent: 4.5 means 4.5% a year. Empty: the rate stays."),
    )
    arrears_instalments = forms.IntegerField(
        label=_("Split the arrears over (instalments)"),
        min_value=0,
        max_value=36,
        initial=0,
        required=False,
        help_text=_("0 or 1: all on the first new instalment."),
    )
    penalty_waiver = forms.DecimalField(
        label=_("Penalty waived (¥)"),
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        initial=0,
        required=False,
    )
    first_due_date = forms.DateField(
        label=_("First new due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: the next due date of the current schedule."),
    )
    reason = _note(_("Why the borrower needs new terms"), rows=3)

    @cached_property
    def position(self):
        """What the loan owes today (loans.restructuring.Position), read when the form is shown."""
        position, _remaining = plan_position(self.case.loan, business_today())
        return position

    @cached_property
    def limits(self):
        return self.case.loan.product.restructuring_limits

    @property
    def lowest_rate(self):
        """The lowest rate the product allows on this loan, as a fraction."""
        return max(self.case.loan.annual_rate - self.limits.max_rate_cut, Decimal("0"))

    @property
    def max_waiver(self):
        """The most penalty the product lets this plan waive, in yuan (the service rounds the same way)."""
        return to_fen(self.position.penalty * self.limits.max_waiver_share)

    def arguments(self):
        data = self.cleaned_data
        rate = data["new_annual_rate"]
        return {
            "reason": data["reason"],
            "extension_months": data["extension_months"] or 0,
            "new_annual_rate": None if rate is None else rate / PERCENT,
            "arrears_instalments": data["arrears_instalments"] or 0,
            "penalty_waiver": data["penalty_waiver"] if data["penalty_waiver"] is not None else Decimal("0"),
            "first_due_date": data["first_due_date"],
        }


# --- Steps on a plan ----------------------------------------------------------------------------------


class PlanForm(forms.Form):
    """A step on one plan. Each has its own prefix, so the plan's forms never share an element id."""

    def __init__(self, *args, plan, **kwargs):
        self.plan = plan
        super().__init__(*args, **kwargs)

    def arguments(self):
        return dict(self.cleaned_data)


class ApprovePlanForm(PlanForm):
    prefix = "plan_approve"
    note = _note(_("Note"), required=False)


class RejectPlanForm(PlanForm):
    prefix = "plan_reject"
    note = _note(_("Why is the plan rejected?"), required=False)  # required: the service says so


class SignPlanForm(PlanForm):
    """Both signatures of the supplementary agreement: the borrower's, on paper (the scan uploaded) or
    confirmed with a one-time code (its confirmation id); the lender's is the signing manager's."""

    prefix = "plan_sign"
    borrower_signed_on = forms.DateField(label=_("Borrower signed on"), widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(label=_("How the borrower signed"), choices=SignatureMethod.choices)
    reference = forms.CharField(
        label=_("Confirmation id of the one-time code"),
        max_length=200,
        required=False,
        help_text=_("For a one-time code."),
    )
    scan = forms.FileField(
        label=_("Scan of the signed agreement"),
        required=False,
        validators=[FileExtensionValidator(SCAN_EXTENSIONS)],
        help_text=_("For a paper signature: PDF, JPG or PNG."),
    )

    def __init__(self, *args, plan, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("borrower_signed_on", business_today())
        super().__init__(*args, plan=plan, **kwargs)


class ActivatePlanForm(PlanForm):
    prefix = "plan_activate"
