"""Reads behind the dashboard: the worklist and its counts, everything the case page shows, and the
case's timeline. Each is a fixed number of queries whatever the portfolio or the case's history
(select_related, prefetches and annotations, never a query per row).

Which cases a user sees is collection.filters' rule (visible_cases); nothing here widens it."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Right
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from borrowers.api.serializers import PHONE_CHANNELS, mask_phone
from borrowers.models import SHOWN_DIGITS, Borrower
from borrowers.validators import phone_search_term
from core import roles
from core.audit import log_action
from core.dates import business_today
from core.models import ActivityLog
from core.permissions import UNMASK_PII, is_manager
from core.templatetags.huishou import yuan
from loans import delinquency
from loans.models import Loan

from . import book_figures, rules, services
from .choices import ApprovalAction, ApprovalStatus, CaseState, PromiseStatus, ReminderStatus, Severity
from .filters import visibility_key, visible_cases
from .models import CollectionCase, PromiseToPay
from .rules import SUPPRESSION_MESSAGES

UNMASK_PERMISSION = UNMASK_PII


def user_is_manager(user) -> bool:
    """core.permissions.is_manager, asked once per request (a page asks in the view and the nav)."""
    if not hasattr(user, "_dashboard_is_manager"):
        user._dashboard_is_manager = is_manager(user)
    return user._dashboard_is_manager


# --- The worklist -----------------------------------------------------------------------------------


def _pending_promises():
    return PromiseToPay.objects.filter(case=OuterRef("pk"), status=PromiseStatus.PENDING)


def worklist(user) -> QuerySet:
    """The cases `user` may see, with what a worklist row shows: the borrower, the loan and its
    product, the officer, and the nearest pending promise's date (`next_promise_due`)."""
    nearest = _pending_promises().order_by("promised_for").values("promised_for")[:1]
    queryset = CollectionCase.objects.select_related("loan__borrower", "loan__product", "officer").annotate(
        next_promise_due=Subquery(nearest)
    )
    return visible_cases(user, queryset).order_by("-priority_score", "next_action_at", "id")


def worklist_counts(user, *, today: date) -> dict:
    """The user's open book at a glance, in one aggregate query: open cases, promises falling due
    today, the total overdue amount, and the open cases in each state (`by_state`, every open state).
    Over the whole book (a manager's) it is kept a minute (collection.book_figures)."""
    if visibility_key(user) is None:
        return book_counts(today=today)
    return _open_book_counts(visible_cases(user, CollectionCase.objects.all()), today)


def book_counts(*, today: date, refresh: bool = False) -> dict:
    """worklist_counts over the whole book, from the cache (collection.book_figures)."""
    return book_figures.cached(
        f"worklist-counts:{today}", lambda: _open_book_counts(CollectionCase.objects, today), refresh=refresh
    )


def _open_book_counts(cases, today):
    due_today = Exists(_pending_promises().filter(promised_for=today))
    open_states = CaseState.open_states()
    row = (
        cases.filter(state__in=open_states)
        .annotate(promise_due_today=due_today)
        .aggregate(
            open_cases=Count("pk"),
            promises_due_today=Count("pk", filter=Q(promise_due_today=True)),
            overdue_amount=Sum("loan__overdue_amount"),
            **{f"state_{state.value}": Count("pk", filter=Q(state=state)) for state in open_states},
        )
    )
    return {
        "open_cases": row["open_cases"],
        "promises_due_today": row["promises_due_today"],
        "overdue_amount": row["overdue_amount"] or 0,
        "by_state": [(state, row[f"state_{state.value}"]) for state in open_states],
    }


def promise_due_on(queryset, day: date) -> QuerySet:
    """Cases with a pending promise falling due on `day`."""
    return queryset.filter(Exists(_pending_promises().filter(promised_for=day)))


SEARCH_LOANS = 5_000  # loans a search passes on as a list; a broader one stays a subquery


def search_cases(queryset, text: str) -> QuerySet:
    """The worklist's search box: the start of the borrower's name or of the loan's external id; digits
    match the last four of the borrower's phone or ID number (what the masked value shows, 尾号) or the
    whole number. Never a longer ending: trying endings digit by digit would unmask the number.

    Every branch is answered by an index (prefix indexes on name and external id, expression indexes
    on the last four), and the cases are found through the loans they name, so a search of a
    million-loan book reads the few rows that match rather than every borrower."""
    text = text.strip()
    if not text:
        return queryset
    borrowers = Q(name__startswith=text)
    if text.rstrip("xX").isdigit():
        if len(text) <= SHOWN_DIGITS:
            borrowers |= Q(phone_end=text) | Q(id_number_end=text.upper())
        if len(text) == 11 and (phone := phone_search_term(text)):  # a whole mobile number
            borrowers |= Q(phone=phone)
        if len(text) == 18:
            borrowers |= Q(id_number=text.upper())
    matching_borrowers = (
        Borrower.objects.annotate(
            phone_end=Right("phone", SHOWN_DIGITS), id_number_end=Right("id_number", SHOWN_DIGITS)
        )
        .filter(borrowers)
        .values("id")
    )
    # A UNION, not an OR: each side is answered by its own index.
    loans = (
        Loan.objects.filter(borrower_id__in=matching_borrowers)
        .values_list("id", flat=True)
        .order_by()
        .union(
            Loan.objects.filter(Q(external_id__startswith=text) | Q(external_id__startswith=text.upper()))
            .values_list("id", flat=True)
            .order_by()
        )
    )
    # The loans, then their cases, read first as lists: the planner then knows how few there are and
    # fetches the page's cases by their keys. Left to guess how many a subquery holds, it read every
    # open case, or walked the whole priority order looking for the few that match.
    found = list(loans[: SEARCH_LOANS + 1])
    if len(found) > SEARCH_LOANS:
        return queryset.filter(loan_id__in=loans)
    cases = list(queryset.order_by().filter(loan_id__in=found).values_list("pk", flat=True))
    return queryset.filter(pk__in=cases)


# --- The case page ----------------------------------------------------------------------------------

CASE_PAGE_ROWS = 100  # payments and timeline entries shown, newest first


def case_for_user(user, pk) -> CollectionCase:
    """The case if `user` may see it, with its loan, borrower, product, officer and team; else a 404
    (an officer does not learn that someone else's case exists)."""
    queryset = CollectionCase.objects.select_related("loan__borrower", "loan__product", "officer", "team")
    return get_object_or_404(visible_cases(user, queryset), pk=pk)


@dataclass(frozen=True)
class ContactPointRow:
    """A contact point as the page shows it: the value masked unless the reader may see it."""

    point: object
    value: str

    @property
    def is_third_party(self):
        return self.point.is_third_party


@dataclass
class CasePage:
    """Everything the case page shows besides the forms."""

    case: CollectionCase
    may_work: bool
    allowed: list[str]
    verdict: rules.Classification
    unmasked: bool
    may_unmask: bool
    id_number: str
    phone: str
    contact_points: list[ContactPointRow]
    installments: list
    payments: list
    collateral: list
    pending_approvals: list
    timeline: list = field(default_factory=list)

    @property
    def verdict_label(self):
        return Severity(self.verdict.severity).label


def case_page(user, case, *, unmasked: bool = False) -> CasePage:
    """What the case page shows `user`. `unmasked` shows the ID number and phones whole; the caller
    asks for it only through unmask_pii below, which checks the permission and logs the look."""
    loan, borrower = case.loan, case.loan.borrower
    may_unmask = user.has_perm(UNMASK_PERMISSION)
    unmasked = unmasked and may_unmask
    may_work = services.may_work(user, case)
    return CasePage(
        case=case,
        may_work=may_work,
        allowed=services.allowed_transitions(case, user) if may_work else [],
        verdict=rules.classify(services.case_facts(case)),
        unmasked=unmasked,
        may_unmask=may_unmask,
        id_number=borrower.id_number if unmasked else borrower.masked_id_number,
        phone=borrower.phone if unmasked else borrower.masked_phone,
        contact_points=[
            ContactPointRow(point, shown_value(point, unmasked)) for point in borrower.contact_points.all()
        ],
        installments=delinquency.with_penalty(loan.installments.order_by("schedule_version", "seq"), business_today()),
        payments=list(loan.payments.order_by("-received_at", "-id")[:CASE_PAGE_ROWS]),
        collateral=list(loan.collateral.all()),
        pending_approvals=list(
            case.approvals.filter(status=ApprovalStatus.PENDING).select_related("requested_by").order_by("created_at")
        ),
        timeline=case_timeline(case),
    )


def shown_value(point, unmasked: bool) -> str:
    """A contact point's value as the page shows it: phone numbers masked unless `unmasked`."""
    return point.value if unmasked or point.channel not in PHONE_CHANNELS else mask_phone(point.value)


def unmask_pii(user, case) -> bool:
    """Record that `user` looked at the case's borrower's ID number and phones unmasked (a read, but
    one the audit log must show). False, and nothing logged, without the permission."""
    if not user.has_perm(UNMASK_PERMISSION):
        return False
    log_action(actor=user, action="collection.case.pii_unmasked", target=case, data={"borrower": case.loan.borrower_id})
    return True


# --- The timeline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's history. `kind` picks the icon and colour (transition, contact, promise,
    approval, flag, assignment, activity); `title` is one line, `detail` the free text (a reason or
    note); `facts` are (label, value) pairs shown small."""

    kind: str
    when: datetime
    who: str
    title: str
    detail: str = ""
    facts: tuple = ()


SYSTEM = _("system")  # the actor of automatic steps, in the reader's language

# Audit codes whose rows the timeline reads directly (their own source below has more to say).
SHOWN_FROM_OWN_ROWS = [
    "collection.contact.logged",
    "collection.promise.recorded",
    "collection.reminder.sent",
    "collection.reminder.suppressed",
    "collection.reminder.failed",
    "collection.reminder.delivered",
    "collection.reminder.undelivered",
]

# audit code -> (kind, title). A code not listed still shows, with its code as the title.
ACTIVITY_TITLES = {
    "collection.case.opened": ("transition", _("Case opened")),
    "collection.case.classified": ("transition", _("Classified")),
    "collection.case.escalated": ("transition", _("Escalated")),
    "collection.case.deescalated": ("transition", _("De-escalated")),
    "collection.case.grace_granted": ("transition", _("Grace period granted")),
    "collection.case.plan_proposed": ("transition", _("Restructuring plan proposed")),
    "collection.case.plan_rejected": ("transition", _("Restructuring plan rejected")),
    "collection.case.plan_activated": ("transition", _("Restructuring plan activated")),
    "collection.case.plan_defaulted": ("transition", _("Restructuring plan defaulted")),
    "collection.case.referred_to_legal": ("transition", _("Referred to legal action")),
    "collection.case.resolved": ("transition", _("Resolved")),
    "collection.case.written_off": ("transition", _("Written off")),
    "collection.case.transferred": ("transition", _("Transferred")),
    "collection.case.held": ("transition", _("Put on hold")),
    "collection.case.released": ("transition", _("Released from hold")),
    "collection.case.flagged": ("flag", _("Risk flags recorded")),
    "collection.case.reassigned": ("assignment", _("Reassigned")),
    "collection.case.pii_unmasked": ("activity", _("ID number and phones viewed unmasked")),
    "collection.approval.requested": ("approval", _("Approval requested")),
    "collection.approval.approved": ("approval", _("Approval granted")),
    "collection.approval.rejected": ("approval", _("Approval rejected")),
    "collection.plan.proposed": ("approval", _("Restructuring plan proposed")),
    "collection.plan.submitted": ("approval", _("Restructuring plan submitted for approval")),
    "collection.plan.approved": ("approval", _("Restructuring plan approved")),
    "collection.plan.rejected": ("approval", _("Restructuring plan rejected")),
    "collection.plan.signed": ("approval", _("Supplementary agreement signed")),
    "collection.plan.activated": ("transition", _("New schedule in force")),
    "collection.plan.observation_restarted": ("approval", _("Observation period started again after a late payment")),
    "collection.promise.kept": ("promise", _("Promise kept")),
    "collection.promise.partially_kept": ("promise", _("Promise partially kept")),
    "collection.promise.broken": ("promise", _("Promise broken")),
    # What happened to the case's loan (the loan's own audit entries; see _loan_entries).
    "loans.loan.class_set": ("flag", _("Loan class set by a manager")),
    "loans.payment.reversed": ("activity", _("Payment reversed")),
    "loans.payment.reallocated": ("activity", _("Later payments allocated again")),
    "loans.cost.charged": ("activity", _("Legal cost charged to the loan")),
    "loans.loan.rescheduled": ("activity", _("Schedule replaced")),
    "loans.penalty.waived": ("activity", _("Penalty waived")),
    "loans.loan.settled_early": ("activity", _("Settled early")),
}
# The loan's audit entries the case's timeline shows: the ones that change what the borrower owes
# or how the loan is classed (payments posted are on the case page's own list).
LOAN_EVENTS_ON_THE_CASE = [code for code in ACTIVITY_TITLES if code.startswith("loans.")]

# Why an automatic or approved move happened (the `rule` the services and the daily run log).
RULE_LABELS = {
    "system": _("system"),
    "officer": _("officer's decision"),
    "officer_override": _("officer overrode the rules"),
    "classification_rules": _("classification rules"),
    "escalation_rules": _("escalation rules"),
    "nothing_overdue": _("nothing overdue"),
    "first_overdue_day": _("first overdue day"),
    "approved": _("manager's approval"),
    "missed_plan_payment": _("an instalment of the plan was missed"),
    "plan_completed": _("the plan was paid or its observation period ended"),
}


def _state_label(value):
    return CaseState(value).label if value in CaseState.values else value


def _activity_entry(entry) -> TimelineEntry:
    kind, title = ACTIVITY_TITLES.get(entry.action, ("activity", entry.action))
    before, after, data = entry.before or {}, entry.after or {}, entry.data or {}
    facts = []
    if "state" in before and "state" in after and before["state"] != after["state"]:
        facts.append((_("state"), f"{_state_label(before['state'])} → {_state_label(after['state'])}"))
    if data.get("rule"):
        facts.append((_("rule"), RULE_LABELS.get(data["rule"], data["rule"])))
    reasons = [
        str(rules.REASON_MESSAGES.get(reason.get("code"), reason.get("message", "")))
        for reason in data.get("reasons", [])
        if isinstance(reason, dict)
    ]
    if reasons:
        facts.append((_("reasons"), "; ".join(reasons)))
    if kind == "approval" and data.get("action") in ApprovalAction.values:
        facts.append((_("action"), ApprovalAction(data["action"]).label))
    return TimelineEntry(
        kind=kind,
        when=entry.created_at,
        who=str(SYSTEM) if entry.actor_label == "system" else entry.actor_label,
        title=str(title),
        detail=entry.reason,
        facts=tuple(facts),
    )


def _activity_entries(case, limit):
    return [
        _activity_entry(entry)
        for entry in ActivityLog.objects.filter(
            target_type=ContentType.objects.get_for_model(CollectionCase), target_id=str(case.pk)
        )
        .exclude(action__in=SHOWN_FROM_OWN_ROWS)
        .order_by("-created_at", "-id")[:limit]
    ]


def _loan_entries(case, limit):
    return [
        _activity_entry(entry)
        for entry in ActivityLog.objects.filter(
            target_type=ContentType.objects.get_for_model(Loan),
            target_id=str(case.loan_id),
            action__in=LOAN_EVENTS_ON_THE_CASE,
        ).order_by("-created_at", "-id")[:limit]
    ]


def _contact_entries(case, limit):
    attempts = case.contact_attempts.select_related("by", "contact_point").order_by("-attempted_at", "-id")[:limit]
    return [
        TimelineEntry(
            kind="contact",
            when=attempt.attempted_at,
            who=attempt.by.get_username() if attempt.by else str(SYSTEM),
            title=f"{attempt.get_channel_display()} · {attempt.get_outcome_display()}",
            detail=attempt.note,
            facts=((_("party"), attempt.get_party_display()), (_("direction"), attempt.get_direction_display())),
        )
        for attempt in attempts
    ]


def _promise_entries(case, limit):
    promises = case.promises.select_related("recorded_by").order_by("-created_at", "-id")[:limit]
    return [
        TimelineEntry(
            kind="promise",
            when=promise.created_at,
            who=promise.recorded_by.get_username() if promise.recorded_by else str(SYSTEM),
            title=str(_("Promise to pay recorded")),
            detail=promise.note,
            facts=(
                (_("amount"), yuan(promise.amount)),
                (_("promised for"), promise.promised_for.isoformat()),
                (_("status"), promise.get_status_display()),
            ),
        )
        for promise in promises
    ]


def _reminder_entries(case, limit):
    """Reminders planned, sent, delivered, suppressed (with the rule) or failed (with the error).
    The address is shown by its last four characters: the timeline is not where PII is unmasked."""
    rows = case.reminders.select_related("step", "contact_point").order_by("-due_at", "-id")[:limit]
    entries = []
    for row in rows:
        facts = [(_("status"), row.get_status_display()), (_("recipient"), row.get_recipient_display())]
        if row.step_id:
            facts.append((_("step"), str(row.step)))
        if row.address:
            facts.append((_("to"), "…" + row.address[-4:]))
        if row.suppression_code:
            facts.append((_("rule"), str(SUPPRESSION_MESSAGES.get(row.suppression_code, row.suppression_code))))
        elif row.status in (ReminderStatus.FAILED, ReminderStatus.SCHEDULED) and row.last_error:
            facts.append((_("last error"), row.last_error))
        entries.append(
            TimelineEntry(
                kind="reminder",
                when=row.sent_at or (row.updated_at if row.status != ReminderStatus.SCHEDULED else row.due_at),
                who=str(SYSTEM),
                title=str(_("%(channel)s reminder") % {"channel": row.get_channel_display()}),
                detail=row.body if row.status in (ReminderStatus.SENT, ReminderStatus.DELIVERED) else "",
                facts=tuple(facts),
            )
        )
    return entries


# Each source reads one kind of row (one query) and turns it into entries; a new kind of history
# (legal actions) is one more function here.
TIMELINE_SOURCES = [_activity_entries, _loan_entries, _contact_entries, _promise_entries, _reminder_entries]


def case_timeline(case, limit: int = CASE_PAGE_ROWS) -> list[TimelineEntry]:
    """The case's history, newest first: audit entries (transitions with who, why and the rule,
    flags, approvals, assignments), contact attempts and promises; the latest `limit`."""
    entries = [entry for source in TIMELINE_SOURCES for entry in source(case, limit)]
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries[:limit]


def officers_for_assignment():
    """Whom a manager may hand cases to: active officers and managers (the service checks again)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.OFFICER, roles.MANAGER])
        .distinct()
        .order_by("username")
    )
