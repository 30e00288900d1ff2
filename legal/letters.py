"""The letters a legal action sends the borrower, as PDFs generated from the case: the lawyer's letter
(律师函), written by the law firm on the lender's behalf, and the lender's own shorter demand letter
(催收函). Both give what is owed as at the letter's date, broken down from the loan's balances, and a
deadline to pay; they speak the borrower's language (Chinese, or English for a borrower who reads
English). The page layout and the CID font are the restructuring agreement's (collection/agreements.py).

`letter_generate` stores a letter as one of the action's documents. Generating a letter is not sending
it: the officer records the sending as the action's `send_letter` step."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

from borrowers.choices import BorrowerKind, Channel, Language, Relation
from collection.agreements import BODY, FONT, GRID, HEADING, TITLE
from core.dates import business_today
from core.errors import ApplicationError
from core.templatetags.huishou import yuan
from core.uploads import atomic_with_files
from loans.claim import claim_as_of

from . import services
from .choices import DocumentKind
from .models import LegalDocument

# Days the letter gives the borrower to pay, counted from its date. Not a statutory period: long
# enough for a letter sent by post (EMS takes two or three days) to arrive and leave the borrower
# time to pay or call, short enough that the action is not held up. The lawyer's letter, the last
# word before proceedings, gives the customary week; the lender's own demand a little less.
LAWYERS_LETTER_PERIOD = timedelta(days=7)
DEMAND_LETTER_PERIOD = timedelta(days=5)

CHINESE_NUMERALS = "一二三四五六七八九十"
TEXT = ParagraphStyle("letter", parent=BODY, spaceAfter=1.5 * mm)
RIGHT = ParagraphStyle("right", parent=BODY, alignment=2)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8.5, leading=12)


@dataclass(frozen=True)
class Figures:
    """What the loan owes as at `as_of` (the day its balances were last brought up to date, normally
    the letter's date): its claim on that day (loans.claim.claim_as_of), so interest and fees of
    periods still to come, not owed yet, are never demanded; and what of it is overdue."""

    as_of: date
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    fees: Decimal
    costs: Decimal
    overdue: Decimal
    days_past_due: int

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty + self.fees + self.costs


def letter_figures(loan, *, on: date) -> Figures:
    as_of = loan.balances_as_of or on
    claim = claim_as_of(loan, as_of)
    return Figures(
        as_of=as_of,
        principal=claim.principal,
        interest=claim.interest,
        penalty=claim.penalty,
        fees=claim.fees,
        costs=claim.costs,
        overdue=loan.overdue_amount,
        days_past_due=loan.days_past_due,
    )


def letter_language(action, language=None) -> str:
    """The language asked for, else the borrower's: English for a borrower who reads English,
    Chinese for everyone else."""
    if language in Language.values:
        return language
    return Language.EN if action.case.loan.borrower.language == Language.EN else Language.ZH_HANS


def borrower_address(borrower) -> str:
    """Where the letter goes: the borrower's own postal address among the contact points (verified
    first, then the newest) while it is not known to be invalid, else the address on the borrower."""
    point = (
        borrower.contact_points.filter(channel=Channel.ADDRESS, relation=Relation.SELF, invalid_since__isnull=True)
        .order_by("-is_verified", "-id")
        .values_list("value", flat=True)
        .first()
    )
    return point or borrower.address


def lawyers_letter_pdf(action, *, on: date, language=None) -> bytes:
    """The law firm's letter to the borrower: the loan, what is owed, the legal basis, a deadline
    (`on` + LAWYERS_LETTER_PERIOD), what follows if it passes, how to pay, and the firm's signature."""
    if action.law_firm_id is None:
        raise ApplicationError(_("Choose the law firm that writes the lawyer's letter."), field="law_firm")
    return _render(action, on=on, language=language, title=_lawyers_title, story=_lawyers_story, prefix="LL")


def demand_letter_pdf(action, *, on: date, language=None) -> bytes:
    """The lender's own demand: the loan, what is owed, a deadline (`on` + DEMAND_LETTER_PERIOD), what
    follows if it passes and the hotline, over the lender's seal."""
    return _render(action, on=on, language=language, title=_demand_title, story=_demand_story, prefix="DL")


LETTERS = {
    DocumentKind.LAWYERS_LETTER: (lawyers_letter_pdf, "lawyers-letter"),
    DocumentKind.DEMAND_LETTER: (demand_letter_pdf, "demand-letter"),
}


def letter_generate(*, actor, action, kind: str, on: date | None = None) -> LegalDocument:
    """Write the lawyer's letter or the demand letter for the action as at `on` (today by default)
    and store it as one of the action's documents (generated, logged as `legal.document.added`).
    Legal staff only, on an action not yet closed; a lawyer's letter needs the action's law firm.
    Each call stores a new document, even twice on one day: letters are re-sent, and each copy
    sent is kept. Generating does not send: the officer records that with the `send_letter` step."""
    services._check_legal_role(actor)
    if kind not in LETTERS:
        raise ApplicationError(_("Choose the lawyer's letter or the demand letter."), field="kind")
    on = on or business_today()
    if on > business_today():
        raise ApplicationError(_("A letter cannot be dated in the future."), field="on")
    render, slug = LETTERS[kind]
    with atomic_with_files():
        locked = services._lock(action)
        services._check_open(locked)
        pdf = render(locked, on=on)
        upload = ContentFile(pdf, name=f"{slug}-{locked.pk}-{on.isoformat()}.pdf")
        return services._document_store(actor, locked, kind=kind, file=upload, generated=True)


# --- Rendering -----------------------------------------------------------------------------------------


def _render(action, *, on, language, title, story, prefix) -> bytes:
    loan = action.case.loan
    if loan.overdue_amount <= 0:
        raise ApplicationError(_("Nothing is overdue on the loan: there is nothing to demand."), code="conflict")
    with translation.override(letter_language(action, language)):
        reference = _("Ref. %(number)s") % {"number": f"HS-{prefix}-{action.pk:06d}-{on:%Y%m%d}"}
        page = _("Page %(number)s")

        def footer(canvas, document):
            canvas.saveState()
            canvas.setFont(FONT, 8)
            canvas.drawString(document.leftMargin, 10 * mm, reference)
            canvas.drawRightString(A4[0] - document.rightMargin, 10 * mm, page % {"number": document.page})
            canvas.restoreState()

        buffer = BytesIO()
        document = SimpleDocTemplate(
            buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, title=title()
        )
        document.build(
            [
                Paragraph(escape(title()), TITLE),
                _para(reference, RIGHT),
                *story(action, on, letter_figures(loan, on=on)),
            ],
            onFirstPage=footer,
            onLaterPages=footer,
        )
        return buffer.getvalue()


def _lawyers_title():
    return _("Lawyer's letter")


def _demand_title():
    return _("Demand letter")


def _english():
    return translation.get_language() == Language.EN


def _day(value: date) -> str:
    return dateformat.format(value, "j F Y") if _english() else f"{value.year}年{value.month}月{value.day}日"


def _sentences(*parts):
    """Sentences run on: spaced in English, not in Chinese."""
    return (" " if _english() else "").join(parts)


def _heading(number, text):
    prefix = f"{number}. " if _english() else f"{CHINESE_NUMERALS[number - 1]}、"
    return _para(prefix + text, HEADING)


def _item(number, text):
    prefix = f"({number}) " if _english() else f"（{CHINESE_NUMERALS[number - 1]}）"
    return _para(prefix + text)


def _para(text, style=TEXT):
    """A paragraph of plain text: names and addresses are data, never reportlab markup. Chinese wraps
    between any two characters but keeps closing punctuation off the start of a line."""
    return Paragraph(escape(str(text)), style if _english() else _chinese(style))


@cache
def _chinese(style):
    return ParagraphStyle(f"{style.name}-cjk", parent=style, wordWrap="CJK")


def _addressee(borrower):
    if borrower.kind == BorrowerKind.ENTERPRISE:
        identifier = _("Unified social credit code: %(id)s")
    else:
        identifier = _("ID number: %(id)s")
    lines = [_("To: %(name)s") % {"name": borrower.name}, identifier % {"id": borrower.id_number}]
    address = borrower_address(borrower)
    if address:
        lines.append(_("Address: %(address)s") % {"address": address})
    return [_para(line, BODY) for line in lines]


def _overdue_sentence(figures):
    return ngettext(
        "As at %(date)s the loan is %(days)s day overdue.",
        "As at %(date)s the loan is %(days)s days overdue.",
        figures.days_past_due,
    ) % {"date": _day(figures.as_of), "days": figures.days_past_due}


def _figures_table(figures):
    return Table(
        [
            [_("Item"), _("Amount")],
            [_("Principal"), yuan(figures.principal)],
            [_("Interest"), yuan(figures.interest)],
            [_("Penalty interest"), yuan(figures.penalty)],
            [_("Fees"), yuan(figures.fees)],
            *([[_("Costs of recovery"), yuan(figures.costs)]] if figures.costs else []),
            [_("Total"), yuan(figures.total)],
            [_("Of which overdue"), yuan(figures.overdue)],
        ],
        colWidths=[80 * mm, 50 * mm],
        hAlign="LEFT",
        style=GRID,
    )


def _how_to_pay(loan, *, ours: bool):
    """The lender's repayment account (settings.LENDER_REPAYMENT_ACCOUNT, when set) and hotline."""
    lines = []
    account = getattr(settings, "LENDER_REPAYMENT_ACCOUNT", "")
    if account:
        template = (
            _("Pay into our account %(account)s, quoting loan %(loan)s.")
            if ours
            else _("Pay into our client's account %(account)s, quoting loan %(loan)s.")
        )
        lines.append(template % {"account": account, "loan": loan.external_id})
    hotline = getattr(settings, "LENDER_HOTLINE", "")
    if hotline:
        template = (
            _("To pay or to discuss repayment, call our hotline %(hotline)s.")
            if ours
            else _("To pay or to discuss repayment, call our client's hotline %(hotline)s.")
        )
        lines.append(template % {"hotline": hotline})
    return [_para(line) for line in lines]


def _lawyers_story(action, on, figures):
    loan, borrower, firm = action.case.loan, action.case.loan.borrower, action.law_firm
    lender = settings.LENDER_NAME
    deadline = on + LAWYERS_LETTER_PERIOD
    consequences = [
        _(
            "bring proceedings in the competent people's court (or apply for arbitration or a payment order) "
            "to recover all that is owed under the loan contract, %(total)s as at %(date)s, with overdue "
            "interest until it is paid;"
        )
        % {"total": yuan(figures.total), "date": _day(figures.as_of)},
        _("apply to the court to preserve your property (freezing your accounts, seizing your assets);"),
        _(
            "claim from you the court fees, preservation fees, lawyer's fees and other costs of recovery, "
            "as the law and the loan contract allow;"
        ),
    ]
    if borrower.credit_reporting_consent:
        consequences.append(
            _(
                "report the overdue loan to the financial credit information database, which may affect your "
                "future borrowing. This letter is the advance notice that Article 15 of the Regulation on the "
                "Administration of the Credit Reporting Industry requires."
            )
        )
    story = [
        *_addressee(borrower),
        Spacer(1, 3 * mm),
        _para(
            _(
                "%(firm)s has been instructed by %(lender)s ('our client') about the loan you owe our client, "
                "and on our client's behalf gives you this formal notice."
            )
            % {"firm": firm.name, "lender": lender}
        ),
        _heading(1, _("The loan")),
        _para(
            _("Under loan contract %(loan)s our client lent you %(principal)s, paid out on %(date)s.")
            % {"loan": loan.external_id, "principal": yuan(loan.principal), "date": _day(loan.disbursed_on)}
        ),
        _para(_sentences(_("You have not repaid as agreed."), _overdue_sentence(figures))),
        _heading(2, _("What you owe as at %(date)s") % {"date": _day(figures.as_of)}),
        _figures_table(figures),
        _heading(3, _("The legal basis")),
        _para(
            _(
                "Under Article 577 of the Civil Code of the People's Republic of China, a party who fails to "
                "perform a contractual obligation, or whose performance does not conform to the agreement, "
                "bears liability for breach of contract, such as continuing to perform, taking remedial "
                "measures or compensating for losses."
            )
        ),
        _para(
            _(
                "Under Article 676 of the Civil Code, a borrower who fails to repay a loan within the agreed "
                "period shall pay overdue interest as agreed or under the relevant state regulations."
            )
        ),
        _para(_("Your failure to repay is a breach of the loan contract.")),
        _heading(4, _("Our demand")),
        _para(
            ngettext(
                "Please pay the overdue amount of %(overdue)s to our client by %(deadline)s (within %(days)s "
                "day of this letter).",
                "Please pay the overdue amount of %(overdue)s to our client by %(deadline)s (within %(days)s "
                "days of this letter).",
                LAWYERS_LETTER_PERIOD.days,
            )
            % {"overdue": yuan(figures.overdue), "deadline": _day(deadline), "days": LAWYERS_LETTER_PERIOD.days}
        ),
        *_how_to_pay(loan, ours=False),
        _heading(5, _("If you do not pay")),
        _para(_("If you do not pay by the deadline, our client has instructed us to:")),
        *(_item(number, text) for number, text in enumerate(consequences, start=1)),
        Spacer(1, 2 * mm),
        _para(
            _(
                "If you have already paid, please disregard this letter. If you dispute the amount, contact us "
                "or our client before the deadline with your evidence."
            )
        ),
    ]
    contact = [
        _("Lawyer: %(name)s") % {"name": firm.contact_name} if firm.contact_name else "",
        _("Telephone: %(phone)s") % {"phone": firm.phone} if firm.phone else "",
        _("Email: %(email)s") % {"email": firm.email} if firm.email else "",
        _("Copy to: %(lender)s") % {"lender": lender},
    ]
    # The closing, the signature and the firm's contacts stay together on one page.
    story.append(
        KeepTogether(
            [
                _para(_("Yours faithfully.")),
                Spacer(1, 8 * mm),
                _para(_("%(name)s (seal)") % {"name": firm.name}, RIGHT),
                _para(_("Lawyer (signature): %(name)s") % {"name": firm.contact_name}, RIGHT),
                _para(_day(on), RIGHT),
                Spacer(1, 6 * mm),
                *(_para(line, SMALL) for line in contact if line),
            ]
        )
    )
    return story


def _demand_story(action, on, figures):
    loan, borrower = action.case.loan, action.case.loan.borrower
    lender = settings.LENDER_NAME
    deadline = on + DEMAND_LETTER_PERIOD
    story = [
        *_addressee(borrower),
        Spacer(1, 3 * mm),
        _para(_("Dear %(name)s,") % {"name": borrower.name}),
        _para(
            _sentences(
                _("On %(date)s we lent you %(principal)s under loan contract %(loan)s.")
                % {"loan": loan.external_id, "principal": yuan(loan.principal), "date": _day(loan.disbursed_on)},
                _overdue_sentence(figures),
                _("As at %(date)s you owe:") % {"date": _day(figures.as_of)},
            )
        ),
        Spacer(1, 2 * mm),
        _figures_table(figures),
        Spacer(1, 2 * mm),
        _para(
            ngettext(
                "Please pay the overdue amount of %(overdue)s by %(deadline)s (within %(days)s day of this letter).",
                "Please pay the overdue amount of %(overdue)s by %(deadline)s (within %(days)s days of this letter).",
                DEMAND_LETTER_PERIOD.days,
            )
            % {"overdue": yuan(figures.overdue), "deadline": _day(deadline), "days": DEMAND_LETTER_PERIOD.days}
        ),
        *_how_to_pay(loan, ours=True),
        _para(
            _(
                "If you do not pay by then, we may instruct lawyers or go to court to recover all that is owed "
                "under the loan contract, with the costs of recovery as the law and the loan contract allow."
            )
        ),
    ]
    if borrower.credit_reporting_consent:
        story.append(
            _para(
                _(
                    "We will also report the overdue loan to the financial credit information database, which "
                    "may affect your future borrowing; this letter is the advance notice that Article 15 of the "
                    "Regulation on the Administration of the Credit Reporting Industry requires."
                )
            )
        )
    story += [
        _para(
            _(
                "If you have already paid, please disregard this letter. If you dispute the amount or cannot pay "
                "because of hardship, call us before the deadline."
            )
        ),
        KeepTogether(
            [Spacer(1, 10 * mm), _para(_("%(name)s (seal)") % {"name": lender}, RIGHT), _para(_day(on), RIGHT)]
        ),
    ]
    return story
