"""Forms of the legal officer's pages: the worklist's filters, opening an action on a case, and every
form on the action page (its steps, tasks, costs, recoveries, documents, preservation orders and the
sale of collateral). They check types and shapes only; the rules (feasibility, what a step needs,
the lowest reserve price, what may be uploaded) are legal.services', whose refusals the views show
on the field they name (`field_map` renames a service's field to the form's where they differ)."""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from collection.forms.officer import PersonChoiceField, PersonChoiceFilter
from core import roles
from core.dates import business_today
from core.forms import AmountField
from loans.choices import CollateralStatus, PaymentChannel

from . import rules, services
from .choices import ActionKind, AssetKind, CostKind, DisposalMethod, DocumentKind
from .filters import LegalActionFilter
from .models import LawFirm

DAY_FORMAT = "%Y-%m-%d"


def legal_staff():
    """The people who may handle an action: active legal officers and managers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.LEGAL_OFFICER, roles.MANAGER])
        .distinct()
        .order_by("username")
    )


# --- Fields -------------------------------------------------------------------------------------------


def day_field(label, *, required=True, today=True, help_text=""):
    """A date picked in the browser's calendar; `today` makes today the initial value."""
    return forms.DateField(
        label=label,
        required=required,
        initial=business_today if today else None,
        widget=forms.DateInput(attrs={"type": "date"}, format=DAY_FORMAT),
        help_text=help_text,
    )


def money_field(label, *, required=True, allow_zero=False, help_text=""):
    return AmountField(
        label=label,
        required=required,
        min_value=Decimal("0") if allow_zero else Decimal("0.01"),
        help_text=help_text,
    )


def text_field(label, *, required=True, max_length=200):
    return forms.CharField(label=label, required=required, max_length=max_length)


def note_field(label=None, *, required=False, rows=2, max_length=300):
    return forms.CharField(
        label=label or _("Note"),
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def choice_field(label, choices, *, required=True, blank=None):
    choices = list(choices)
    if blank is not None:
        choices = [("", blank), *choices]
    return forms.ChoiceField(label=label, choices=choices, required=required)


# --- The worklist's filters -----------------------------------------------------------------------------


class LegalWorklistFilter(LegalActionFilter):
    """LegalActionFilter (shared with the API, same parameters) with what the page needs: the legal
    officers by name instead of every user, a calendar for the deadline, labelled drop-downs."""

    handled_by = PersonChoiceFilter(
        field_name="handled_by", queryset=legal_staff(), label=_("Legal officer"), empty_label=_("All legal officers")
    )
    SHOWN = ("state", "kind", "open", "handled_by", "law_firm", "due_by")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {"kind": _("All kinds"), "law_firm": _("All law firms")}
        for name, label in labels.items():
            self.filters[name].extra.update(empty_label=label, widget=forms.Select(attrs={"aria-label": label}))
        self.filters["open"].extra.update(
            widget=forms.Select(
                choices=[("", _("Open and closed")), ("true", _("Open")), ("false", _("Closed"))],
                attrs={"aria-label": _("open")},
            )
        )
        self.filters["due_by"].extra.update(
            widget=forms.DateInput(attrs={"type": "date", "aria-label": _("next deadline by")}, format=DAY_FORMAT)
        )

    def hidden_params(self):
        """(name, value) of the parameters given but not shown in the filter bar (`case` from a link)."""
        getlist = getattr(self.data, "getlist", None)
        if getlist is None:
            return []
        return [
            (name, value) for name in self.form.fields if name not in self.SHOWN for value in getlist(name) if value
        ]


# --- Base ---------------------------------------------------------------------------------------------


class LegalForm(forms.Form):
    """A form about one action (and, for some, one of its tasks, orders or disposals: `item`). Each
    has its own prefix (with the item's id), so the forms side by side never share an id or a name."""

    field_map: dict = {}  # the service's field name -> this form's, where they differ

    def __init__(self, *args, action, item=None, **kwargs):
        self.action = action
        self.item = item
        kwargs.setdefault("prefix", self.name_prefix())
        super().__init__(*args, **kwargs)

    def name_prefix(self):
        return None

    def arguments(self) -> dict:
        """The service's keyword arguments (beyond the actor and the object)."""
        return dict(self.cleaned_data)

    def error_field(self, name):
        name = self.field_map.get(name, name)
        return name if name in self.fields else None


# --- Opening an action ----------------------------------------------------------------------------------


class OpenActionForm(forms.Form):
    """What action_open needs. The claim is the loan's debt; the estimate is computed and kept."""

    field_map: dict = {}

    kind = choice_field(_("Kind"), ActionKind.choices)
    law_firm = forms.ModelChoiceField(
        label=_("Law firm"), queryset=LawFirm.objects.all(), required=False, empty_label=_("None yet")
    )
    lawyer_fee = money_field(_("Lawyer's fee (¥)"), allow_zero=True)
    recoverable = money_field(
        _("Recoverable (¥)"),
        allow_zero=True,
        help_text=_("What the collateral and the assets known may realise."),
    )
    preserve = forms.BooleanField(
        label=_("Ask for property preservation"), required=False, initial=True, widget=forms.CheckboxInput
    )
    override_reason = note_field(_("Reason to go ahead anyway"), max_length=1000)
    handled_by = PersonChoiceField(
        label=_("Legal officer"),
        queryset=legal_staff(),
        required=False,
        empty_label="—",
        help_text=_("Empty: you, if you are a legal officer."),
    )

    def __init__(self, *args, case, **kwargs):
        self.case = case
        super().__init__(*args, **kwargs)
        self.fields["override_reason"].help_text = _(
            "Needed when the estimate expects the action to cost more than it recovers (a manager decides)."
        )

    def arguments(self):
        return dict(self.cleaned_data)

    def error_field(self, name):
        return name if name in self.fields else None


# --- Steps of the action -------------------------------------------------------------------------------

STEP_DOCUMENTS = {
    "send_letter": DocumentKind.LAWYERS_LETTER,
    "file": DocumentKind.COMPLAINT,
    "schedule_hearing": DocumentKind.OTHER,
    "record_judgment": DocumentKind.JUDGMENT,
    "apply_enforcement": DocumentKind.ENFORCEMENT,
}


class StepForm(LegalForm):
    """A step of the action (services.STEPS): its day, a note, an optional document filed with it,
    and the step's own fields (declared by the subclasses)."""

    step = ""
    on = day_field(_("Day of the step"))
    note = note_field()
    document = forms.FileField(label=_("Document"), required=False, help_text=_("PDF, JPEG or PNG."))
    document_kind = choice_field(_("Kind of document"), DocumentKind.choices, required=False, blank="—")

    def name_prefix(self):
        return self.step

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in services.REQUIRED.get(self.step, ()):
            self.fields[name].required = True
        self.fields["document_kind"].initial = STEP_DOCUMENTS.get(self.step, DocumentKind.OTHER)
        if self.step == "apply_enforcement" and (earliest := services.earliest_enforcement(self.action)):
            self.fields["on"].help_text = _(
                "From %(day)s: the day after the appeal deadline and the performance date have both passed."
            ) % {"day": earliest.isoformat()}
        # The step's own fields first, then the common ones.
        own = [name for name in self.fields if name in services.STEPS[self.step]]
        self.order_fields(own)

    def arguments(self):
        data = dict(self.cleaned_data)
        if data.get("document") is None:
            data.pop("document", None)
            data.pop("document_kind", None)
        return data


def step_form(name, **fields):
    """The form of one step: StepForm with the step's fields."""
    attrs = {"step": name, "__module__": __name__, **fields}
    return type(f"{name.title().replace('_', '')}StepForm", (StepForm,), attrs)


STEP_FORMS = {
    "send_letter": step_form("send_letter"),
    "file": step_form(
        "file",
        court=text_field(_("Court"), required=False),
        court_case_number=text_field(_("Court case number"), required=False, max_length=100),
    ),
    "schedule_hearing": step_form("schedule_hearing", hearing_on=day_field(_("Hearing on"), today=False)),
    "record_judgment": step_form(
        "record_judgment",
        judgment_on=day_field(_("Judgment served on"), today=False),
        performance_due_on=day_field(_("To be performed by"), today=False),
        judgment_principal=money_field(_("Principal awarded (¥)"), allow_zero=True),
        judgment_interest=money_field(_("Interest awarded (¥)"), required=False, allow_zero=True),
        judgment_fees=money_field(_("Fees awarded (¥)"), required=False, allow_zero=True),
        judgment_penalty=money_field(_("Penalty interest awarded (¥)"), required=False, allow_zero=True),
        judgment_costs=money_field(
            _("Costs awarded (¥)"),
            required=False,
            allow_zero=True,
            help_text=_("Court fees and other costs the judgment puts on the borrower."),
        ),
    ),
    "apply_enforcement": step_form("apply_enforcement"),
    "close_recovered": step_form("close_recovered"),
    "close_settled": step_form("close_settled"),
    "close_impossible": step_form("close_impossible"),
    "withdraw": step_form("withdraw"),
}


class LetterForm(LegalForm):
    """Generate the lawyer's letter or the demand letter as a PDF kept with the action."""

    kind = choice_field(
        _("Letter"),
        [
            (DocumentKind.LAWYERS_LETTER, DocumentKind.LAWYERS_LETTER.label),
            (DocumentKind.DEMAND_LETTER, DocumentKind.DEMAND_LETTER.label),
        ],
    )
    on = day_field(_("Dated"))

    def name_prefix(self):
        return "letter"


# --- Tasks, costs, recoveries, documents -------------------------------------------------------------


class TaskAddForm(LegalForm):
    due_on = day_field(_("Due on"), today=False)
    note = text_field(_("What is to be done"), max_length=300)

    def name_prefix(self):
        return "task_add"


class TaskDoneForm(LegalForm):
    """Ticking a task off; the day defaults to today (the worklist's button sends none)."""

    on = day_field(_("Done on"), required=False)

    def name_prefix(self):
        return f"task_done-{self.item.pk}"

    def arguments(self):
        return {"on": self.cleaned_data.get("on") or business_today()}


class CostForm(LegalForm):
    """A cost of the action. Whether the borrower owes it (and the loan is charged with it) follows its
    kind unless the officer says otherwise."""

    BY_KIND, YES, NO = "", "true", "false"

    kind = choice_field(_("Kind"), CostKind.choices)
    amount = money_field(_("Amount (¥)"))
    incurred_on = day_field(_("Incurred on"))
    charge_to_borrower = forms.NullBooleanField(
        label=_("Charge to the borrower"),
        required=False,
        widget=forms.Select(
            choices=[
                (BY_KIND, _("By its kind: court, preservation, appraisal and auction fees")),
                (YES, _("Yes: the contract or the judgment puts it on the borrower")),
                (NO, _("No: the lender bears it")),
            ]
        ),
        help_text=_("A cost charged to the loan is owed at once, and the next payment meets it first."),
    )
    note = text_field(_("Note"), required=False, max_length=300)

    def name_prefix(self):
        return "cost_add"


class RecoveryForm(LegalForm):
    """Money recovered through the action, posted to the loan as a payment (idempotent by reference)."""

    field_map = {"received_at": "on"}

    amount = money_field(_("Amount (¥)"))
    external_reference = text_field(_("Reference"), max_length=100)
    channel = choice_field(_("Channel"), PaymentChannel.choices)
    on = day_field(_("Received on"))

    def name_prefix(self):
        return "recovery_post"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].initial = PaymentChannel.LEGAL_RECOVERY


class DocumentForm(LegalForm):
    field_map = {"file": "document", "kind": "document_kind"}  # the service's names for these fields
    document_kind = choice_field(_("Kind"), DocumentKind.choices)
    document = forms.FileField(label=_("File"), help_text=_("PDF, JPEG or PNG."))
    note = text_field(_("Note"), required=False, max_length=300)

    def name_prefix(self):
        return "document_upload"

    def arguments(self):
        data = self.cleaned_data
        return {"kind": data["document_kind"], "file": data["document"], "note": data["note"]}


# --- Collateral choices -----------------------------------------------------------------------------


class CollateralChoiceMixin:
    """A choice among the loan's collateral read once for the page (`collateral`, a list), so the
    forms add no query of their own."""

    def collateral_choices(self, items, *, blank=None):
        self.collateral_by_id = {str(item.pk): item for item in items}
        choices = [(str(item.pk), f"{item} {item.identifier}".strip()) for item in items]
        field = self.fields["collateral"]
        field.choices = [("", blank), *choices] if blank is not None else choices

    def clean_collateral(self):
        value = self.cleaned_data.get("collateral")
        return self.collateral_by_id.get(value) if value else None


# --- Preservation -------------------------------------------------------------------------------------


class PreservationApplyForm(CollateralChoiceMixin, LegalForm):
    asset_kind = choice_field(_("Asset"), AssetKind.choices)
    description = text_field(_("Description"), max_length=300)
    amount = money_field(_("Amount preserved (¥)"))
    applied_on = day_field(_("Applied on"))
    collateral = forms.ChoiceField(label=_("Collateral"), required=False)

    def name_prefix(self):
        return "preservation_apply"

    def __init__(self, *args, collateral=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.collateral_choices(collateral, blank=_("Not the loan's collateral"))


class PreservationDecideForm(LegalForm):
    GRANTED, REFUSED = "granted", "refused"

    decision = forms.ChoiceField(
        label=_("The court"),
        choices=[(GRANTED, _("granted it")), (REFUSED, _("refused it"))],
        widget=forms.RadioSelect,
        initial=GRANTED,
    )
    on = day_field(_("Ruled on"))
    ruling_number = text_field(_("Ruling number"), required=False, max_length=100)
    note = text_field(_("Note"), required=False, max_length=300)

    def name_prefix(self):
        return f"preservation_decide-{self.item.pk}"

    def arguments(self):
        data = dict(self.cleaned_data)
        data["granted"] = data.pop("decision") == self.GRANTED
        return data


class PreservationLiftForm(LegalForm):
    on = day_field(_("Lifted on"))
    note = text_field(_("Note"), required=False, max_length=300)

    def name_prefix(self):
        return f"preservation_lift-{self.item.pk}"


# --- Disposal of collateral ------------------------------------------------------------------------------


class DisposalOpenForm(CollateralChoiceMixin, LegalForm):
    """Seize one of the loan's collateral items not yet being disposed of."""

    collateral = forms.ChoiceField(label=_("Collateral"))
    seized_on = day_field(_("Seized on"))
    location = text_field(_("Kept at"), required=False)
    note = text_field(_("Note"), required=False, max_length=300)

    def name_prefix(self):
        return "disposal_open"

    def __init__(self, *args, collateral=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.collateral_choices(seizable(collateral))


def seizable(collateral):
    """The collateral items that may still be seized: not sold, released or already in a disposal."""
    closed = (CollateralStatus.SOLD, CollateralStatus.RELEASED)
    return [item for item in collateral if item.status not in closed and not getattr(item, "has_disposal", False)]


class DisposalForm(LegalForm):
    step = ""

    def name_prefix(self):
        return f"disposal_{self.step}-{self.item.pk}"


class AppraiseForm(DisposalForm):
    step = "appraise"
    value = money_field(_("Appraised value (¥)"))
    on = day_field(_("Appraised on"))
    appraiser = text_field(_("Appraiser"))
    fee = money_field(_("Appraisal fee (¥)"), required=False, allow_zero=True)
    note = text_field(_("Note"), required=False, max_length=300)


class ListForm(DisposalForm):
    """Offer the asset for sale; a judicial auction starts no lower than the floor the rules set,
    shown as the help text and the initial reserve."""

    step = "list"
    method = choice_field(_("Method"), DisposalMethod.choices)
    reserve_price = money_field(_("Reserve price (¥)"))
    on = day_field(_("Listed on"))
    note = text_field(_("Note"), required=False, max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lowest = lowest_reserve(self.item)
        self.fields["reserve_price"].initial = self.lowest
        self.fields["reserve_price"].help_text = _("A judicial auction starts at no less than ¥%(lowest)s.") % {
            "lowest": f"{self.lowest:,.2f}"
        }


def lowest_reserve(disposal):
    previous = disposal.reserve_price if disposal.round else None
    return rules.lowest_reserve(appraised_value=disposal.appraised_value, previous_reserve=previous)


class UnsoldForm(DisposalForm):
    step = "unsold"
    on = day_field(_("Auction failed on"))
    note = text_field(_("Note"), required=False, max_length=300)


class SellForm(DisposalForm):
    step = "sell"
    price = money_field(_("Price (¥)"))
    on = day_field(_("Sold on"))
    buyer = text_field(_("Buyer"))
    note = text_field(_("Note"), required=False, max_length=300)


class DistributeForm(DisposalForm):
    step = "distribute"
    external_reference = text_field(_("Payment reference"), max_length=100)
    on = day_field(_("Proceeds received on"))
    note = text_field(_("Note"), required=False, max_length=300)


class SurplusPaidForm(DisposalForm):
    step = "surplus_paid"
    reference = text_field(_("Transfer reference"), max_length=100)
    on = day_field(_("Paid on"))


class ReleaseForm(DisposalForm):
    step = "release"
    on = day_field(_("Released on"))
    note = text_field(_("Why"), max_length=300)
