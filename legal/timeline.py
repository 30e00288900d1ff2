"""What each audit code of the legal route is called where a case's history is shown. The legal app
contributes these titles to the case timeline (collection cannot import legal; see LegalConfig.ready),
and the action's own page uses the same words."""

from django.utils.translation import gettext_lazy as _

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
