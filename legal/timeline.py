"""What each audit code of the legal route is called where a case's history is shown. The legal app
contributes these titles to the case timeline (collection cannot import legal; see LegalConfig.ready),
and the action's own page uses the same words."""

from django.utils.translation import gettext_lazy as _

from .choices import ActionKind, ActionState, AssetKind, CostKind, DisposalMethod, DisposalState, DocumentKind, TaskKind

# audit code -> (timeline kind, title)
ACTIVITY_TITLES = {
    "legal.action.opened": ("transition", _("Legal action opened")),
    "legal.action.send_letter": ("transition", _("Lawyer's letter sent")),
    "legal.action.file": ("transition", _("Filed with the court")),
    "legal.action.schedule_hearing": ("transition", _("Hearing scheduled")),
    "legal.action.record_judgment": ("transition", _("Judgment recorded")),
    "legal.action.apply_enforcement": ("transition", _("Enforcement applied for")),
    "legal.action.close_recovered": ("transition", _("Legal action closed: recovered")),
    "legal.action.close_settled": ("transition", _("Legal action closed: settled")),
    "legal.action.close_impossible": ("transition", _("Legal action closed: enforcement impossible")),
    "legal.action.withdraw": ("transition", _("Legal action withdrawn")),
    "legal.action.recovered": ("activity", _("Recovery posted to the loan")),
    "legal.cost.added": ("activity", _("Legal cost recorded")),
    "legal.document.added": ("activity", _("Document added")),
    "legal.document.opened": ("activity", _("Document opened")),
    "legal.task.added": ("activity", _("Task added")),
    "legal.task.done": ("activity", _("Task done")),
    "legal.preservation.applied": ("transition", _("Property preservation applied for")),
    "legal.preservation.granted": ("transition", _("Property preservation granted")),
    "legal.preservation.refused": ("activity", _("Property preservation refused")),
    "legal.preservation.lifted": ("activity", _("Property preservation lifted")),
    "legal.disposal.seized": ("transition", _("Collateral seized")),
    "legal.disposal.appraise": ("activity", _("Collateral appraised")),
    "legal.disposal.list_for_sale": ("activity", _("Collateral listed for sale")),
    "legal.disposal.fail_sale": ("activity", _("Sale failed: no bidder")),
    "legal.disposal.sell": ("transition", _("Collateral sold")),
    "legal.disposal.distributed": ("transition", _("Sale proceeds distributed")),
    "legal.disposal.surplus_paid": ("activity", _("Surplus paid back to the borrower")),
    "legal.disposal.release": ("activity", _("Collateral released")),
}


def title_of(code: str) -> str:
    return str(ACTIVITY_TITLES.get(code, (None, code))[1])


# The names in an entry's data, as a reader sees them; ids of rows the page shows anyway are left out.
FACT_LABELS = {
    "state": _("state"),
    "on": _("on"),
    "kind": _("kind"),
    "amount": _("amount"),
    "court": _("court"),
    "court_case_number": _("court case number"),
    "hearing_on": _("hearing on"),
    "judgment_on": _("judgment served on"),
    "performance_due_on": _("judgment to be performed by"),
    "judgment_amount": _("judgment amount"),  # judgments recorded as one sum
    "judgment_principal": _("judgment: principal"),
    "judgment_interest": _("judgment: interest"),
    "judgment_fees": _("judgment: fees"),
    "judgment_penalty": _("judgment: penalty"),
    "judgment_costs": _("judgment: costs"),
    "charged_to_loan": _("charged to the loan"),
    "asset_kind": _("asset"),
    "ruling_number": _("ruling number"),
    "value": _("appraised value"),
    "appraiser": _("appraiser"),
    "method": _("method"),
    "reserve_price": _("reserve price"),
    "price": _("sale price"),
    "buyer": _("buyer"),
    "proceeds": _("proceeds"),
    "to_costs": _("paid to costs"),
    "to_loan": _("paid to the loan"),
    "surplus": _("surplus due to the borrower"),
    "reference": _("reference"),
    "name": _("file name"),
    "due_on": _("due on"),
    "feasibility": _("feasibility at referral"),
    "claim": _("claim"),
    "principal": _("principal"),
    "interest": _("interest"),
    "fees": _("fees"),
    "penalty": _("penalty"),
    "total": _("total"),
    "recoverable": _("recoverable"),
    "court_fee": _("court fee"),
    "preservation_fee": _("preservation fee"),
    "lawyer_fee": _("lawyer's fee"),
    "other_costs": _("other costs"),
    "costs": _("costs"),
    "expected_recovery": _("expected recovery"),
    "expected_net": _("expected net"),
    "override_reason": _("override reason"),
}
HIDDEN_FACTS = {
    *("action", "disposal", "order", "payment", "task", "document", "collateral", "cost", "sha256", "generated"),
}
VALUE_CHOICES = {
    "state": (ActionState, DisposalState),
    "kind": (ActionKind, CostKind, DocumentKind, TaskKind),
    "asset_kind": (AssetKind,),
    "method": (DisposalMethod,),
}


def fact(name, value):
    """(label, value) of one item of an entry's data, choice values by their labels; None to leave out."""
    if name in HIDDEN_FACTS or value in (None, "", {}, []):
        return None
    if isinstance(value, bool):
        return FACT_LABELS.get(name, name), _("yes") if value else _("no")
    for choices in VALUE_CHOICES.get(name, ()):
        if value in choices.values:
            value = choices(value).label
            break
    return FACT_LABELS.get(name, name), value
