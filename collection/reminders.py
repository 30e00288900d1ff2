"""Reminders: the planner writes the outbox, the dispatcher sends it exactly once.

Planning (part of the daily run, per loan id range) inserts one Reminder row per due strategy step
with `INSERT ... SELECT ... ON CONFLICT (idempotency_key) DO NOTHING`, so planning the same day again
creates nothing new.

Dispatching (a Celery beat task every minute, spread over workers): a worker claims a batch of due
rows with `SELECT ... FOR UPDATE SKIP LOCKED` and leases them: scheduled -> sending, with the
worker's id and a lease expiry. For each row it reads the facts afresh, asks the contact rules, and
sends, defers (quiet hours) or suppresses it; each outcome is one small transaction with its audit
entry. A worker killed mid-batch leaves its rows `sending`; once the lease expires another worker
reclaims them and sends them again with the same idempotency key, which an idempotent provider (the
HTTP gateway) answers without delivering twice. A provider that cannot deduplicate (SMTP, the
console) is never sent a reclaimed row: the row fails with "delivery unknown" for a person to check,
so nothing is sent twice and nothing is lost."""

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import BigIntegerField, CharField, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from borrowers.choices import Channel, Relation
from core.audit import build_entry
from core.dates import business_today
from core.models import ActivityLog
from loans import delinquency
from loans.choices import InstallmentStatus, LoanStatus
from loans.models import Installment, Loan

from . import rules, sms, templating
from .choices import Recipient, ReminderChannel, ReminderStatus, StepAnchor
from .models import CollectionCase, Reminder, StrategyStep

log = logging.getLogger(__name__)

R = ReminderStatus
UNPAID = [InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]


# --- Planning ---------------------------------------------------------------------------------------

COLUMNS = [
    "idempotency_key",
    "loan_id",
    "case_id",
    "step_id",
    "template_id",
    "channel",
    "recipient",
    "contact_point_id",
    "address",
    "planned_for",
    "due_at",
    "status",
    "attempts",
    "claimed_by",
    "claim_token",
    "subject",
    "body",
    "provider_message_id",
    "suppression_code",
    "last_error",
    "created_at",
    "updated_at",
]


EMPTY_TEXT_COLUMNS = [
    "claimed_by",
    "claim_token",
    "subject",
    "body",
    "provider_message_id",
    "suppression_code",
    "last_error",
]


def reminders_plan(*, as_of: date, first_id: int | None = None, last_id: int | None = None) -> int:
    """Write the reminders due on `as_of` for loans in the id range (all when no range). Returns
    how many rows were new."""
    loans = Q()
    if first_id is not None:
        loans &= Q(loan_id__gte=first_id, loan_id__lte=last_id)
    created = 0
    steps = StrategyStep.objects.filter(is_active=True, strategy__is_active=True).select_related("strategy", "template")
    for step in steps:
        for source in _sources(step, as_of, loans):
            created += _insert(source)
    return created


def _sources(step, as_of, loans):
    """The querysets whose rows are this step's reminders on `as_of`, one column per COLUMNS entry."""
    kind = step.strategy.product_kind
    if step.is_pre_due:
        # "Due soon": an unpaid instalment falls due on as_of + |offset| and nothing is overdue yet.
        due_soon = _unpaid_instalments_of_the_step(step, as_of, loans)
        return [_borrower_rows(due_soon, step, as_of, loan="loan", case=None)]
    sources = []
    if step.anchor == StepAnchor.DUE_DATE:
        when = Q(loan__days_past_due=step.offset_days)
        if step.grace_template_id:
            sources.append(_within_grace_rows(step, as_of, loans))
    else:
        when = Q(opened_on=as_of - timedelta(days=step.offset_days))
    cases = CollectionCase.objects.filter(loans, when, state__in=step.case_states, loan__product__kind=kind)
    if step.template_id and step.template.recipient == Recipient.THIRD_PARTY:
        return [*sources, _third_party_rows(cases.filter(unreachable=True), step, as_of)]
    return [*sources, _borrower_rows(cases, step, as_of, loan="loan", case="id")]


def _unpaid_instalments_of_the_step(step, as_of, loans):
    """The unpaid instalments due `offset` days before `as_of` on loans of the step's product kind
    with nothing overdue (still active: before the due date, or within its grace days)."""
    return Installment.objects.filter(
        loans,
        due_date=as_of - timedelta(days=step.offset_days),
        status__in=UNPAID,
        loan__status=LoanStatus.ACTIVE,
        loan__days_past_due=0,
        loan__product__kind=step.strategy.product_kind,
    )


def _within_grace_rows(step, as_of, loans):
    """An instalment that fell due `offset` days ago and is still within its product's grace days is
    not overdue (paying now is paying on time): on the day of an overdue step its borrower gets the
    step's payment-due template instead, with no case."""
    base = _unpaid_instalments_of_the_step(step, as_of, loans).filter(loan__product__grace_days__gte=step.offset_days)
    return _borrower_rows(base, step, as_of, loan="loan", case=None, template_id=step.grace_template_id)


def _key(*parts):
    """Concat of literal strings and id columns (F expressions cast to text)."""
    return Concat(*[part if isinstance(part, Value) else Cast(part, CharField()) for part in parts])


def _common(step, as_of):
    now = timezone.now()
    due_at = datetime.combine(as_of, step.send_at, tzinfo=timezone.get_current_timezone())
    return {
        "r_step_id": Value(step.pk),
        "r_template_id": Value(step.template_id) if step.template_id else _null_id(),
        "r_channel": Value(step.channel),
        "r_planned_for": Value(as_of),
        "r_due_at": Value(due_at),
        "r_status": Value(R.SCHEDULED),
        "r_attempts": Value(0),
        **{f"r_{name}": Value("") for name in EMPTY_TEXT_COLUMNS},
        "r_created_at": Value(now),
        "r_updated_at": Value(now),
    }


def _null_id():
    # Typed, so PostgreSQL does not read a bare NULL in the sub-select as text.
    return Cast(Value(None), BigIntegerField())


def _address_of(channel, prefix):
    if channel == ReminderChannel.SMS:
        return F(f"{prefix}phone")
    if channel == ReminderChannel.EMAIL:
        return F(f"{prefix}email")
    return Value("")


def _borrower_rows(queryset, step, as_of, *, loan, case, template_id=None):
    owner = Value("C") if case else Value("L")
    common = _common(step, as_of)
    if template_id is not None:
        common["r_template_id"] = Value(template_id)
    rows = queryset.annotate(
        r_idempotency_key=_key(owner, F(case or loan + "_id"), Value(f"-S{step.pk}-{step.channel}-P0-{as_of}")),
        r_loan_id=F(f"{loan}_id"),
        r_case_id=F(case) if case else _null_id(),
        r_recipient=Value(Recipient.BORROWER),
        r_contact_point_id=_null_id(),
        r_address=_address_of(step.channel, f"{loan}__borrower__"),
        **common,
    )
    if step.channel != ReminderChannel.CALL_TASK:
        rows = rows.exclude(r_address="")
    return rows


def _third_party_rows(cases, step, as_of):
    """One row per usable third-party contact point of each case's borrower (only cases whose
    borrower is unreachable: that is the only time a third party may be contacted)."""
    channel = Channel.MOBILE if step.channel == ReminderChannel.SMS else Channel.EMAIL
    points = "loan__borrower__contact_points"
    return (
        # One filter() call, so every condition applies to the same contact point.
        cases.filter(
            **{
                f"{points}__channel": channel,
                f"{points}__refused_contact": False,
                f"{points}__invalid_since__isnull": True,
                f"{points}__relation__in": Relation.third_parties(),
            }
        ).annotate(
            r_idempotency_key=_key(
                Value("C"), F("id"), Value(f"-S{step.pk}-{step.channel}-P"), F(f"{points}__id"), Value(f"-{as_of}")
            ),
            r_loan_id=F("loan_id"),
            r_case_id=F("id"),
            r_recipient=Value(Recipient.THIRD_PARTY),
            r_contact_point_id=F(f"{points}__id"),
            r_address=F(f"{points}__value"),
            **_common(step, as_of),
        )
    )


def _insert(queryset) -> int:
    """INSERT ... SELECT the queryset's r_* columns, skipping rows whose key exists. Raw SQL around the
    ORM's SELECT (its values stay parameters): the ORM inserts only rows it holds in Python, and a day's
    reminders for a whole book would all have to come through this process to be written back."""
    select, params = queryset.order_by().values(*[f"r_{name}" for name in COLUMNS]).query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in COLUMNS)
    picks = ", ".join(f"src.{quote('r_' + name)}" for name in COLUMNS)
    statement = (
        f"INSERT INTO {quote(Reminder._meta.db_table)} ({columns}) SELECT {picks} FROM ({select}) src "
        "ON CONFLICT (idempotency_key) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)


# --- Dispatching ------------------------------------------------------------------------------------


@dataclass
class DispatchSummary:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0
    codes: dict = field(default_factory=dict)

    def add(self, other):
        for name in ("claimed", "sent", "deferred", "suppressed", "retried", "failed", "reclaimed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.codes.items():
            self.codes[code] = self.codes.get(code, 0) + count


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def due_count(now=None) -> int:
    return Reminder.objects.filter(_due(now or timezone.now())).count()


def _due(now):
    return Q(status=R.SCHEDULED, due_at__lte=now) | Q(status=R.SENDING, lease_until__lt=now)


def reminders_dispatch(*, worker: str | None = None, limit: int | None = None, budget_seconds: float = 50):
    """Claim and send batches until nothing is due or the time budget is spent (a beat task runs
    every minute, so it stops before the next one starts)."""
    worker = worker or worker_name()
    summary = DispatchSummary()
    started = time.monotonic()
    while time.monotonic() - started < budget_seconds:
        batch = reminders_dispatch_batch(worker=worker, limit=limit)
        summary.add(batch)
        if not batch.claimed:
            break
    return summary


def reminders_dispatch_batch(*, worker: str, limit: int | None = None) -> DispatchSummary:
    summary = DispatchSummary()
    token, reclaimed = _claim(worker, limit or settings.REMINDER_BATCH_SIZE)
    next_due = (
        Installment.objects.filter(loan_id=OuterRef("loan_id"), status__in=UNPAID)
        .order_by("due_date")
        .annotate(remaining=REMAINING)
    )
    rows = list(
        Reminder.objects.filter(claim_token=token, status=R.SENDING)
        .select_related("loan__borrower", "loan__product", "case__loan", "step", "template", "contact_point")
        .annotate(
            next_amount_due=Subquery(next_due.values("remaining")[:1]),
            next_installment=Subquery(next_due.values("id")[:1]),
            next_penalty_stored=Subquery(next_due.values("penalty_accrued")[:1]),
        )
        .order_by("due_at", "id")
    )
    summary.claimed, summary.reclaimed = len(rows), len(reclaimed)
    if not rows:
        return summary
    _with_current_penalty(rows)
    context = _BatchContext(rows)
    writer = _Writer(token)
    lease_ends = timezone.now() + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    for row in rows:
        lease_ends = _renew_lease_if_short(token, lease_ends)
        try:
            outcome = _process(row, writer, context, reclaimed=row.pk in reclaimed)
        except Exception as error:  # one bad row (a template that no longer renders) must not stop the batch
            log.exception("reminder %s could not be processed", row.pk)
            outcome = writer.finish(row, status=R.FAILED, last_error=f"could not be prepared: {error!r}"[:500])
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        if outcome == "suppressed":
            summary.codes[row.suppression_code] = summary.codes.get(row.suppression_code, 0) + 1
    writer.flush()
    return summary


def _claim(worker, limit):
    """Lease up to `limit` due rows to this worker; returns the claim token and the ids reclaimed
    from a worker whose lease expired."""
    token = uuid.uuid4().hex
    now = timezone.now()
    lease = now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    with transaction.atomic():
        # Two simple queries rather than one with OR, so each walks its index in order: expired
        # leases first (few, and the oldest work), then the scheduled rows due soonest.
        locked = Reminder.objects.select_for_update(skip_locked=True).order_by("due_at", "id")
        expired = list(locked.filter(status=R.SENDING, lease_until__lt=now).values_list("id", flat=True)[:limit])
        due = list(
            locked.filter(status=R.SCHEDULED, due_at__lte=now).values_list("id", flat=True)[: limit - len(expired)]
        )
        ids, reclaimed = expired + due, set(expired)
        # Locked above, and FOR UPDATE re-checks the filters on a row changed meanwhile: still due.
        Reminder.objects.filter(pk__in=ids).update(
            status=R.SENDING, lease_until=lease, claimed_by=worker, claim_token=token, updated_at=now
        )
    return token, reclaimed


def _renew_lease_if_short(token, lease_ends):
    """A slow gateway must not let the lease run out under a batch still being worked."""
    now = timezone.now()
    if lease_ends - now > timedelta(seconds=settings.REMINDER_LEASE_SECONDS / 2):
        return lease_ends
    lease_ends = now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    Reminder.objects.filter(claim_token=token, status=R.SENDING).update(lease_until=lease_ends)
    return lease_ends


def _with_current_penalty(rows):
    """An overdue instalment's stored penalty is as of its loan's last payment; the amount due a
    reminder quotes counts the penalty as of today."""
    overdue = [row for row in rows if row.next_installment and row.loan.overdue_since]
    current = delinquency.penalties(business_today(), {row.loan_id for row in overdue})
    for row in overdue:
        if row.next_installment in current:
            row.next_amount_due += current[row.next_installment] - row.next_penalty_stored


# What is left to pay on an instalment (its penalty as stored).
REMAINING = (
    F("principal_due")
    + F("interest_due")
    + F("fee_due")
    + F("cost_due")
    + F("penalty_accrued")
    - F("principal_paid")
    - F("interest_paid")
    - F("fee_paid")
    - F("cost_paid")
    - F("penalty_paid")
)


def _due_soon_date(row):
    return row.planned_for - timedelta(days=row.step.offset_days)


class _BatchContext:
    """What the rules need beyond the row itself, read for the whole batch at once: how many
    reminders each borrower already had today per channel, and which due-soon instalments are still
    unpaid."""

    def __init__(self, rows):
        self.backends = {}
        # Messages to the borrower already sent on their own calendar day (the cap is theirs): read
        # from a day before the lender's midnight, counted per row against the borrower's midnight.
        since = timezone.now() - timedelta(days=2)
        borrowers = {row.loan.borrower_id for row in rows}
        self.sent = {}
        their_loans = Loan.objects.filter(borrower_id__in=borrowers).values("id")
        for borrower_id, channel, sent_at in Reminder.objects.filter(
            loan_id__in=their_loans,
            status__in=[R.SENT, R.DELIVERED],
            recipient=Recipient.BORROWER,
            sent_at__gte=since,
        ).values_list("loan__borrower_id", "channel", "sent_at"):
            self.sent.setdefault((borrower_id, channel), []).append(sent_at)
        pre_due = [row for row in rows if row.case_id is None and row.step is not None]
        self.unpaid = {}
        if pre_due:
            unpaid = Installment.objects.filter(
                loan_id__in={row.loan_id for row in pre_due},
                due_date__in={_due_soon_date(row) for row in pre_due},
                status__in=UNPAID,
            ).annotate(remaining=REMAINING)
            self.unpaid = {
                (loan, due): left for loan, due, left in unpaid.values_list("loan_id", "due_date", "remaining")
            }

    def still_owed(self, row):
        if row.loan.status in LoanStatus.closed():
            return False
        if row.case_id is None and row.step is not None:
            # Paid early, the money waits as credit until the due date: it counts as paid.
            remaining = self.unpaid.get((row.loan_id, _due_soon_date(row)), 0)
            return remaining > row.loan.credit_balance
        return row.loan.overdue_amount > 0

    def backend(self, channel):
        """One backend object per channel for the whole batch (the HTTP one keeps its connection)."""
        if channel not in self.backends:
            self.backends[channel] = sms.get_backend() if channel == ReminderChannel.SMS else _EmailBackend()
        return self.backends[channel]

    def sent_today(self, row, local_now) -> int:
        """Messages on the row's channel the borrower already had since their own midnight."""
        if row.recipient != Recipient.BORROWER:
            return 0  # a third party's message is not the borrower's contact
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        return sum(1 for sent_at in self.sent.get((row.loan.borrower_id, row.channel), []) if sent_at >= midnight)

    def count_sent(self, row):
        if row.recipient == Recipient.BORROWER:
            self.sent.setdefault((row.loan.borrower_id, row.channel), []).append(timezone.now())


def reminder_facts(row, context, now=None) -> rules.ReminderFacts:
    borrower = row.loan.borrower
    point = row.contact_point
    local_now = timezone.localtime(now or timezone.now(), rules.zone(borrower.time_zone))
    return rules.ReminderFacts(
        channel=row.channel,
        local_now=local_now,
        recipient=row.recipient,
        has_address=bool(row.address) or row.channel == ReminderChannel.CALL_TASK,
        agreed_to_quiet_hours=borrower.agreed_to_quiet_hours_contact,
        do_not_contact=borrower.do_not_contact,
        do_not_contact_until=borrower.do_not_contact_until,
        sms_opt_out=borrower.sms_opt_out,
        email_opt_out=borrower.email_opt_out,
        call_opt_out=borrower.call_opt_out,
        deceased=borrower.is_deceased,
        bankrupt=borrower.is_bankrupt,
        case_state=row.case.state if row.case_id else None,
        step_states=tuple(row.step.case_states) if row.step_id and row.case_id else (),
        hold_reason=row.case.hold_reason if row.case_id else "",
        borrower_unreachable=bool(row.case_id and row.case.unreachable),
        recipient_refused=bool(point and (point.refused_contact or point.invalid_since)),
        still_owed=context.still_owed(row),
        sent_today=context.sent_today(row, local_now),
    )


def _process(row, writer, context, *, reclaimed) -> str:
    verdict = rules.reminder_verdict(reminder_facts(row, context))
    if verdict.action == "suppress":
        return writer.finish(row, status=R.SUPPRESSED, suppression_code=verdict.code, last_error=verdict.message)
    if verdict.action == "defer":
        return writer.release(row, "deferred", due_at=verdict.send_from, last_error=verdict.message)
    if row.channel == ReminderChannel.CALL_TASK:
        return writer.call_task(row)
    message = _compose(row)
    backend = context.backend(row.channel)
    if reclaimed and not backend.idempotent:
        return writer.finish(
            row,
            status=R.FAILED,
            last_error="interrupted mid-send: delivery unknown; not resent because the provider cannot "
            "recognise a repeat. Check the provider's log before sending again.",
            subject=message.subject,
            body=message.body,
        )
    try:
        provider_id = _send(backend, row, message)
    except sms.SendError as error:
        return _failed_attempt(row, writer, error, message)
    context.count_sent(row)
    outcome = writer.finish(
        row,
        status=R.SENT,
        provider_message_id=provider_id,
        sent_at=timezone.now(),
        subject=message.subject,
        body=message.body,
    )
    if not backend.idempotent:
        # Recorded at once: the provider could not recognise a repeat if this worker died now.
        writer.flush()
    return outcome


def _compose(row) -> templating.Message:
    loan, borrower = row.loan, row.loan.borrower
    if row.recipient == Recipient.THIRD_PARTY:
        variables = {"contact_name": row.contact_point.contact_name, "borrower_name": borrower.name}
    else:
        variables = templating.borrower_variables(
            name=borrower.name,
            amount_overdue=loan.overdue_amount,
            amount_due=row.next_amount_due or 0,
            due_date=_due_date(row),
            days_past_due=loan.days_past_due,
            loan_reference=loan.external_id,
        )
    return templating.compose(row.template, language=borrower.language, variables=variables)


def _due_date(row):
    """The due date reminded of: the oldest unpaid one when overdue, else the one falling due."""
    if row.loan.overdue_since:
        return row.loan.overdue_since - timedelta(days=1)  # overdue since the day after it fell due
    if row.step is not None and row.case_id is None and row.step.anchor == StepAnchor.DUE_DATE:
        return _due_soon_date(row)  # due soon, or due and still within the grace days
    return None


class _EmailBackend:
    """Django's configured email backend behind the SMS backends' interface. SMTP cannot recognise
    a repeat, so a reclaimed email is never resent."""

    idempotent = False

    def send(self, row, message):
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.address],
            headers={"Message-ID": f"<{row.idempotency_key}@huishou>", "X-Idempotency-Key": row.idempotency_key},
            connection=get_connection(fail_silently=False),
        )
        try:
            email.send()
        except (OSError, TimeoutError) as error:  # smtplib's errors are OSErrors
            raise sms.TransientError(f"mail server: {error}") from None
        return f"<{row.idempotency_key}@huishou>"


def _send(backend, row, message):
    if row.channel == ReminderChannel.SMS:
        return backend.send(sms.Sms(to=row.address, text=message.body, idempotency_key=row.idempotency_key))
    return backend.send(row, message)


def _failed_attempt(row, writer, error, message):
    attempts = row.attempts + 1
    if not error.transient or attempts >= settings.REMINDER_MAX_ATTEMPTS:
        return writer.finish(
            row, status=R.FAILED, attempts=attempts, last_error=str(error), subject=message.subject, body=message.body
        )
    backoff = settings.REMINDER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    due_at = timezone.now() + timedelta(seconds=backoff)
    return writer.release(row, "retried", due_at=due_at, attempts=attempts, last_error=str(error))


AUDIT_ACTIONS = {
    R.SENT: "collection.reminder.sent",
    R.SUPPRESSED: "collection.reminder.suppressed",
    R.FAILED: "collection.reminder.failed",
}
OUTCOMES = {R.SENT: "sent", R.SUPPRESSED: "suppressed", R.FAILED: "failed"}


class _Writer:
    """Records outcomes in groups: one transaction (one commit) for up to FLUSH_EVERY rows instead of
    one per row, which is where the time went. Safe because until a row is recorded it stays
    `sending` under this worker's lease: if the worker dies first, the row is reclaimed and sent
    again with the same key, which an idempotent provider drops. A send through a provider that
    cannot deduplicate is flushed at once (see _process). Each write is guarded by the claim token:
    a row whose lease was lost to another worker is that worker's to record, and gets no entry here."""

    FLUSH_EVERY = 50

    def __init__(self, token):
        self.token = token
        self.pending = []  # (row, changes, audit status or None, case to bring forward or None)

    def finish(self, row, *, status, **changes) -> str:
        self._add(row, {"status": status, "lease_until": None, **changes}, status)
        return OUTCOMES[status]

    def release(self, row, outcome, **changes) -> str:
        """Back to `scheduled` (deferred or to be retried), out of this worker's hands."""
        self._add(row, {"status": R.SCHEDULED, "lease_until": None, "claimed_by": "", "claim_token": "", **changes})
        return outcome

    def call_task(self, row) -> str:
        """A call task puts the case at the top of the officer's worklist now: next action due."""
        now = timezone.now()
        changes = {"status": R.SENT, "lease_until": None, "sent_at": now, "body": str(row.step or "")}
        self._add(row, changes, R.SENT, bring_forward=row.case_id)
        return "sent"

    def _add(self, row, changes, audit=None, bring_forward=None):
        for name, value in changes.items():
            setattr(row, name, value)
        self.pending.append((row, changes, audit, bring_forward))
        if len(self.pending) >= self.FLUSH_EVERY:
            self.flush()

    def flush(self):
        if not self.pending:
            return
        now = timezone.now()
        entries = []
        with transaction.atomic():
            for row, changes, audit, case_id in self.pending:
                updated = Reminder.objects.filter(pk=row.pk, claim_token=self.token, status=R.SENDING).update(
                    updated_at=now, **changes
                )
                if not updated:
                    continue
                if case_id:
                    CollectionCase.objects.filter(pk=case_id).filter(
                        Q(next_action_at__isnull=True) | Q(next_action_at__gt=changes["sent_at"])
                    ).update(next_action_at=changes["sent_at"], updated_at=now)
                if audit:
                    entries.append(
                        build_entry(
                            actor="system",
                            action=AUDIT_ACTIONS[audit],
                            target=row.case if row.case_id else row.loan,
                            reason=changes.get("last_error", "") if audit != R.SENT else "",
                            data=_audit_data(row),
                        )
                    )
            ActivityLog.objects.bulk_create(entries)
        self.pending = []


def _audit_data(row):
    data = {"reminder": row.pk, "channel": row.channel, "recipient": row.recipient, "step": str(row.step or "")}
    if row.suppression_code:
        data["rule"] = row.suppression_code
    if row.provider_message_id:
        data["provider_message_id"] = row.provider_message_id
    return data


# --- Delivery receipts ------------------------------------------------------------------------------


def receipt_apply(*, actor, provider_message_id: str, delivered: bool, error: str = "", at=None) -> Reminder:
    """A provider reports a message delivered or failed. Repeating the same receipt changes nothing;
    a receipt never moves a row backwards (delivered stays delivered)."""
    at = at or timezone.now()
    with transaction.atomic():
        # The latest row with the id: provider ids are unique per provider, and SMS and email come
        # from different ones.
        row = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("case__loan", "loan")
            .filter(provider_message_id=provider_message_id, status__in=[R.SENT, R.DELIVERED, R.FAILED])
            .order_by("-id")
            .first()
        )
        if row is None:
            raise Reminder.DoesNotExist(provider_message_id)
        target = R.DELIVERED if delivered else R.FAILED
        if row.status != R.SENT:
            return row
        row.status = target
        if delivered:
            row.delivered_at = at
        else:
            row.last_error = error or "the provider reported the message undelivered"
        row.save(update_fields=["status", "delivered_at", "last_error", "updated_at"])
        build_entry(
            actor=actor,
            action=f"collection.reminder.{'delivered' if delivered else 'undelivered'}",
            target=row.case if row.case_id else row.loan,
            reason=row.last_error if not delivered else "",
            data={"reminder": row.pk, "provider_message_id": provider_message_id},
        ).save()
    return row
