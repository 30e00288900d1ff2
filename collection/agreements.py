"""The supplementary agreement of a restructuring plan, as a PDF in the borrower's language (Chinese,
or English for a borrower who reads English), for those who may see the borrower's full ID number.
reportlab's built-in STSong-Light CID font renders Chinese with no font file; the English text uses
it too so one font covers names and amounts."""

from io import BytesIO

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from borrowers.choices import Language
from core.audit import log_action
from core.permissions import may_see_full_id
from core.templatetags.huishou import yuan

from .choices import PlanKind
from .errors import NotPermitted

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, alignment=1, spaceAfter=4 * mm)
HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=16, spaceBefore=3 * mm, spaceAfter=1 * mm)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14)
GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)


def agreement_language(plan) -> str:
    return Language.EN if plan.case.loan.borrower.language == Language.EN else Language.ZH_HANS


def agreement_download(*, actor, plan) -> bytes:
    """The agreement for someone to print or send. It carries the borrower's full ID number, so it
    follows the rule of every such document (core.permissions.may_see_full_id), and each download is
    in the audit log."""
    if not may_see_full_id(actor):
        raise NotPermitted(_("The agreement shows the borrower's full ID number: you may not download it."))
    content = agreement_pdf(plan)
    log_action(
        actor=actor,
        action="collection.plan.agreement_downloaded",
        target=plan.case,
        data={"plan": plan.pk, "borrower": plan.case.loan.borrower_id},
    )
    return content


def agreement_pdf(plan) -> bytes:
    """The agreement for the plan: parties, loan, old and new terms, the new schedule, the waived
    amount and both signature blocks."""
    with translation.override(agreement_language(plan)):
        buffer = BytesIO()
        document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, title=_title())
        document.build(_story(plan))
        return buffer.getvalue()


def _title():
    return _("Supplementary agreement to the loan contract")


def _story(plan):
    loan, borrower = plan.case.loan, plan.case.loan.borrower
    separator = ", " if translation.get_language() == Language.EN else "、"
    kinds = separator.join(str(PlanKind(kind).label) for kind in plan.kinds if kind in PlanKind.values)
    old, new = plan.old_terms, plan.new_terms
    story = [
        Paragraph(_title(), TITLE),
        Paragraph(_("Agreement no. %(number)s") % {"number": f"HS-RP-{plan.pk:06d}"}, BODY),
        Paragraph(_("1. Parties"), HEADING),
        Paragraph(_("Lender: %(lender)s") % {"lender": settings.LENDER_NAME}, BODY),
        Paragraph(_("Borrower: %(name)s, ID number %(id)s") % {"name": borrower.name, "id": borrower.id_number}, BODY),
        Paragraph(_("2. The loan"), HEADING),
        Paragraph(
            _("Loan %(loan)s of %(principal)s, disbursed on %(date)s; principal outstanding %(outstanding)s.")
            % {
                "loan": loan.external_id,
                "principal": yuan(loan.principal),
                "date": loan.disbursed_on.isoformat(),
                "outstanding": yuan(plan.position.get("principal")),
            },
            BODY,
        ),
        Paragraph(_("3. What changes: %(kinds)s") % {"kinds": kinds}, HEADING),
        Table(
            [
                ["", _("Before"), _("After")],
                [_("Instalments"), old["instalments"], new["instalments"]],
                [_("Total payable"), yuan(old["total_payable"]), yuan(new["total_payable"])],
                [_("First instalment"), yuan(old["first_amount"]), yuan(new["first_amount"])],
                [_("Regular instalment"), yuan(old["regular_amount"]), yuan(new["regular_amount"])],
                [_("Last due date"), old["end_date"] or "", new["end_date"] or ""],
            ],
            colWidths=[55 * mm, 55 * mm, 55 * mm],
            style=GRID,
        ),
        Spacer(1, 2 * mm),
        Paragraph(_("Penalty interest waived: %(amount)s") % {"amount": yuan(plan.penalty_waiver)}, BODY),
        Paragraph(_("4. The new repayment schedule"), HEADING),
        Table(
            [[_("No."), _("Due date"), _("Principal"), _("Interest"), _("Fees"), _("Total")]]
            + [
                [
                    line["seq"],
                    line["due_date"],
                    yuan(line["principal"]),
                    yuan(line["interest"]),
                    yuan(line["fee"]),
                    yuan(line["total"]),
                ]
                for line in plan.new_schedule
            ],
            repeatRows=1,
            style=GRID,
        ),
        Paragraph(_("5. Other terms"), HEADING),
        Paragraph(
            _(
                "All other terms of the loan contract remain in force. If an instalment of the new schedule "
                "is not paid when due, the lender may end this agreement and claim what is owed under the "
                "loan contract."
            ),
            BODY,
        ),
        Spacer(1, 10 * mm),
        _signatures(plan),
    ]
    return story


def _signatures(plan):
    signer = plan.decided_by
    return Table(
        [
            [_("Borrower (signature)"), _("Lender (seal and authorised signatory)")],
            ["", settings.LENDER_NAME],
            ["", signer.get_full_name() or signer.get_username() if signer else ""],
            [_("Date:"), _("Date:")],
        ],
        colWidths=[85 * mm, 85 * mm],
        rowHeights=[8 * mm, 14 * mm, 8 * mm, 8 * mm],
        style=TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9.5), ("VALIGN", (0, 0), (-1, -1), "TOP")]),
    )
