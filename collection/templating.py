"""Reminder texts. A template is rendered in the borrower's language by Django's template language
with a closed set of variables; the lender's name and the opt-out line are added here to every
message, so no template can leave them out. `template_errors` is what the admin shows when a template
does not render: it is refused, not saved."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from borrowers.choices import Language
from core.templatetags.huishou import yuan

from .choices import Recipient, ReminderChannel

# A stand-alone engine: no loaders (so no {% include %} of files), no tag libraries to load, no
# autoescaping (SMS and plain-text mail are not HTML), and a marker for variables that do not exist.
_UNKNOWN = "\x00unknown:%s\x00"
ENGINE = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, string_if_invalid=_UNKNOWN, autoescape=False)

# What a template may use. Third parties may learn who is sought and how to call back, never the
# amount or that anything is overdue (DESIGN section 6).
VARIABLES = {
    Recipient.BORROWER: {
        "name": gettext_lazy("the borrower's name"),
        "amount_overdue": gettext_lazy("the overdue amount, e.g. ¥1,234.56"),
        "amount_due": gettext_lazy("the next instalment's amount"),
        "due_date": gettext_lazy("the due date of the oldest unpaid instalment"),
        "days_past_due": gettext_lazy("days past due"),
        "loan_reference": gettext_lazy("the loan's reference (last 6 characters)"),
        "lender_name": gettext_lazy("the lender's name"),
        "how_to_pay": gettext_lazy("how to pay"),
        "hotline": gettext_lazy("the lender's phone number"),
        "opt_out": gettext_lazy("the opt-out line"),
    },
    Recipient.THIRD_PARTY: {
        "contact_name": gettext_lazy("the third party's name"),
        "borrower_name": gettext_lazy("the borrower's name"),
        "lender_name": gettext_lazy("the lender's name"),
        "hotline": gettext_lazy("the lender's phone number"),
        "opt_out": gettext_lazy("the opt-out line"),
    },
}

SAMPLE = {
    "name": "张三",
    "amount_overdue": "¥1,234.56",
    "amount_due": "¥1,000.00",
    "due_date": "2026-01-05",
    "days_past_due": 3,
    "loan_reference": "000123",
    "contact_name": "李四",
    "borrower_name": "张三",
}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def lender_context(language: str, channel: str) -> dict:
    """The variables every message shares, in the borrower's language."""
    with translation.override(language):
        return {
            "lender_name": settings.LENDER_NAME,
            "hotline": settings.LENDER_HOTLINE,
            "how_to_pay": _("Pay in the app, or by bank transfer to the account named in your contract."),
            "opt_out": opt_out_line(channel),
        }


def opt_out_line(channel: str) -> str:
    if channel == ReminderChannel.SMS:
        return _("Reply TD to unsubscribe.")
    return _("To stop these emails, reply UNSUBSCRIBE or call %(hotline)s.") % {"hotline": settings.LENDER_HOTLINE}


def borrower_variables(
    *,
    name,
    amount_overdue: Decimal,
    amount_due: Decimal,
    due_date: date | None,
    days_past_due: int,
    loan_reference: str,
) -> dict:
    return {
        "name": name,
        "amount_overdue": yuan(amount_overdue),
        "amount_due": yuan(amount_due),
        "due_date": due_date.isoformat() if due_date else "",
        "days_past_due": days_past_due,
        "loan_reference": loan_reference[-6:],
    }


def compose(template, *, language: str, variables: dict) -> Message:
    """The message as sent: the template rendered in the language, signed with the lender's name,
    with the opt-out line. Raises ValueError naming an unknown variable."""
    language = Language.EN if language == Language.EN else Language.ZH_HANS
    context = {**variables, **lender_context(language, template.channel)}
    subject_text, body_text = template.text_for(language)
    subject, body = _render(subject_text, context), _render(body_text, context)
    lender, opt_out = context["lender_name"], context["opt_out"]
    if template.channel == ReminderChannel.SMS:
        # Chinese SMS carry the sender's signature in 【】 at the start, as the carriers require.
        if not body.startswith(f"【{lender}】"):
            body = f"【{lender}】{body}"
        if opt_out not in body:
            body = f"{body} {opt_out}"
        return Message("", body)
    footer = [lender, context["hotline"]]
    if opt_out not in body:
        footer.append(opt_out)
    return Message(subject or lender, body.rstrip() + "\n\n--\n" + "\n".join(footer) + "\n")


def _render(text: str, context: dict) -> str:
    rendered = ENGINE.from_string(text).render(Context(context, autoescape=False))
    if "\x00unknown:" in rendered:
        name = rendered.split("\x00unknown:", 1)[1].split("\x00", 1)[0]
        raise ValueError(name)
    return rendered.strip()


def template_errors(template) -> dict[str, list[str]]:
    """Render each of the template's texts with sample values; the errors by field, empty when all
    render. An unknown variable, a syntax error, an include, a missing subject are errors."""
    allowed = VARIABLES.get(template.recipient, VARIABLES[Recipient.BORROWER])
    errors = {}
    for language in (Language.ZH_HANS, Language.EN):
        suffix = language.replace("-", "_")
        context = {name: SAMPLE.get(name, "x") for name in allowed}
        context.update(lender_context(language, template.channel))
        for part in ("subject", "body"):
            field = f"{part}_{suffix}"
            text = getattr(template, field) or ""
            if part == "subject" and template.channel == ReminderChannel.EMAIL and not text.strip():
                errors[field] = [_("An email needs a subject.")]
                continue
            message = _render_error(text, context, allowed)
            if message:
                errors[field] = [message]
    return errors


def _render_error(text, context, allowed) -> str:
    try:
        _render(text, context)
    except ValueError as unknown:
        return _("Unknown variable “%(name)s”. This text may use: %(known)s.") % {
            "name": unknown.args[0],
            "known": ", ".join(sorted(allowed)),
        }
    except (TemplateSyntaxError, TemplateDoesNotExist) as error:
        return _("The text does not render: %(error)s") % {"error": error}
    return ""
