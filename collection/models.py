"""Collection cases and what happens on them: contacts, promises to pay, approvals.

A case's state changes only through the services in collection/services.py, which lock the row, call
the thin django-fsm transition below, save, and write the audit log. `protected=True` means nothing
can assign the state directly; `ConcurrentTransitionMixin` makes a save fail when another request
changed the state since this one read it."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from borrowers.choices import Language
from core.fields import NOTE_MAX_LENGTH, money_field
from core.models import TimeStampedModel
from loans.choices import ProductKind
from loans.models import Loan, LoanProduct

from .choices import (
    ApprovalAction,
    ApprovalStatus,
    CaseState,
    ContactChannel,
    ContactOutcome,
    Direction,
    HoldReason,
    Party,
    PlanState,
    PromiseStatus,
    Recipient,
    ReminderChannel,
    ReminderStatus,
    ResolutionReason,
    Severity,
    SignatureMethod,
    StepAnchor,
)

S = CaseState
OPEN = [s.value for s in CaseState.open_states()]
WORKABLE = [S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.RESTRUCTURING, S.MONITORING, S.LEGAL]


class Team(TimeStampedModel):
    """Officers who work the cases of some products; new cases are spread over its members."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    products = models.ManyToManyField(
        LoanProduct, verbose_name=_("products served"), related_name="collection_teams", blank=True
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("officers"), related_name="collection_teams", blank=True
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_collection_teams",
    )

    class Meta:
        verbose_name = _("collection team")
        verbose_name_plural = _("collection teams")
        ordering = ["name"]

    def __str__(self):
        return self.name


class CollectionCase(ConcurrentTransitionMixin, TimeStampedModel):
    """The collection of one loan's overdue, from the first overdue day to resolution, write-off or
    transfer. At most one open case per loan (a partial unique constraint)."""

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="collection_cases")
    state = FSMField(_("state"), max_length=16, choices=CaseState.choices, default=S.EARLY_WARNING, protected=True)
    # Bumped by every transition: a step taken on a stale view of the case (even one whose state
    # looks the same, say after a grace period was granted) is refused as a conflict.
    version = models.PositiveIntegerField(_("version"), default=0)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, blank=True, default="")
    classification_reasons = models.JSONField(_("classification reasons"), default=list, blank=True)
    classified_by_officer = models.BooleanField(_("classified by an officer"), default=False)
    override_reason = models.TextField(_("override reason"), blank=True, max_length=NOTE_MAX_LENGTH)
    classified_at = models.DateTimeField(_("classified at"), null=True, blank=True)

    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("officer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collection_cases",
    )
    priority_score = models.PositiveIntegerField(_("priority"), default=0)

    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    resolution_reason = models.CharField(
        _("resolution"), max_length=16, choices=ResolutionReason.choices, blank=True, default=""
    )
    days_past_due_at_open = models.PositiveIntegerField(_("days past due at opening"), default=0)
    overdue_amount_at_open = money_field(_("overdue amount at opening"))

    next_action_at = models.DateTimeField(_("next action at"), null=True, blank=True)
    grace_until = models.DateField(_("grace until"), null=True, blank=True)
    hold_reason = models.CharField(_("hold reason"), max_length=16, choices=HoldReason.choices, blank=True, default="")
    held_from_state = models.CharField(_("state before hold"), max_length=16, choices=CaseState.choices, blank=True)

    # What the contacts have shown; the classification rules read these.
    last_contact_at = models.DateTimeField(_("last contact at"), null=True, blank=True)
    last_reached_at = models.DateTimeField(_("borrower last reached at"), null=True, blank=True)
    unreachable = models.BooleanField(_("unreachable"), default=False)
    refused_to_pay = models.BooleanField(_("refused to pay"), default=False)
    hardship_documented = models.BooleanField(_("hardship documented"), default=False)
    suspected_evasion = models.BooleanField(_("suspected evasion"), default=False)
    collateral_at_risk = models.BooleanField(_("collateral at risk"), default=False)
    broken_promises = models.PositiveSmallIntegerField(_("broken promises"), default=0)
    kept_promises = models.PositiveSmallIntegerField(_("kept promises"), default=0)

    class Meta:
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        ordering = ["-priority_score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan"], condition=Q(state__in=OPEN), name="one_open_case_per_loan"),
        ]
        indexes = [
            models.Index(fields=["officer", "state", "-priority_score"]),
            # The case list pages by cursor over (-priority_score, id), filtered by state or not: these
            # let PostgreSQL seek to a page's first case and read on in order (and the worklists too).
            models.Index(fields=["state", "-priority_score", "id"], name="case_list_state_idx"),
            models.Index(fields=["-priority_score", "id"], name="case_list_idx"),
        ]
        permissions = [
            ("manage_cases", _("Can de-escalate, reassign, write off and transfer cases")),
            ("unmask_pii", _("Can see ID numbers and phone numbers unmasked")),
        ]

    def __str__(self):
        return self.label(self.pk, self.loan.external_id if self.loan_id else "")

    @staticmethod
    def label(pk, loan_external_id):
        """How a case is named (its audit entries' label): its id and its loan's."""
        return f"#{pk} {loan_external_id}".strip()

    @property
    def is_open(self):
        return self.state in OPEN

    # "Now" is the loan's: the daily run keeps it there, so the case does not copy it every day.
    @property
    def days_past_due(self):
        return self.loan.days_past_due

    @property
    def overdue_amount(self):
        return self.loan.overdue_amount

    # --- Transitions: guards and field changes only; collection/services.py does the rest. ----------

    @transition(field=state, source=S.EARLY_WARNING, target=RETURN_VALUE(S.MINOR, S.SERIOUS))
    def classify(self, severity):
        self.severity = severity
        return severity

    @transition(field=state, source=S.MINOR, target=S.SERIOUS)
    def escalate(self):
        self.severity = Severity.SERIOUS

    @transition(field=state, source=S.SERIOUS, target=S.MINOR)
    def deescalate(self):
        self.severity = Severity.MINOR

    # A lender may grant grace at the first overdue instalment, before classifying: the case stays
    # where it is (classification and escalation wait for the grace period to end).
    @transition(field=state, source=[S.EARLY_WARNING, S.MINOR], target=None)
    def grant_grace(self, until):
        self.grace_until = until

    @transition(field=state, source=[S.MINOR, S.SERIOUS], target=S.RESTRUCTURING)
    def propose_plan(self):
        pass

    @transition(field=state, source=S.RESTRUCTURING, target=RETURN_VALUE(S.MINOR, S.SERIOUS))
    def reject_plan(self):
        return self.severity or S.MINOR

    @transition(field=state, source=S.RESTRUCTURING, target=S.MONITORING)
    def activate_plan(self):
        pass

    @transition(field=state, source=S.MONITORING, target=S.SERIOUS)
    def default_plan(self):
        self.severity = Severity.SERIOUS

    @transition(field=state, source=S.SERIOUS, target=S.LEGAL)
    def refer_to_legal(self):
        pass

    @transition(field=state, source=[S.EARLY_WARNING, S.MINOR, S.SERIOUS, S.MONITORING, S.LEGAL], target=S.RESOLVED)
    def resolve(self, reason, on):
        self.resolution_reason, self.closed_on = reason, on

    @transition(field=state, source=[S.SERIOUS, S.LEGAL], target=S.WRITTEN_OFF)
    def write_off(self, on):
        self.closed_on = on

    @transition(field=state, source=OPEN, target=S.TRANSFERRED)
    def transfer(self, on):
        self.closed_on = on

    @transition(field=state, source=WORKABLE, target=S.ON_HOLD)
    def hold(self, reason):
        self.held_from_state, self.hold_reason = self.state, reason

    @transition(field=state, source=S.ON_HOLD, target=RETURN_VALUE(*WORKABLE))
    def release(self):
        back, self.held_from_state, self.hold_reason = self.held_from_state, "", ""
        return back


class ContactAttempt(TimeStampedModel):
    """One attempt to reach someone about a case, by whom, how, and what came of it."""

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="contact_attempts"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    party = models.CharField(_("party"), max_length=16, choices=Party.choices, default=Party.BORROWER)
    contact_point = models.ForeignKey(
        "borrowers.ContactPoint", verbose_name=_("contact point"), null=True, blank=True, on_delete=models.SET_NULL
    )
    attempted_at = models.DateTimeField(_("attempted at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=ContactOutcome.choices)
    note = models.TextField(_("note"), blank=True, max_length=NOTE_MAX_LENGTH)
    recording_reference = models.CharField(_("recording reference"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["case", "-attempted_at"])]

    def __str__(self):
        when = timezone.localtime(self.attempted_at)
        return f"{self.get_channel_display()} {when:%Y-%m-%d %H:%M} {self.get_outcome_display()}"


class PromiseToPay(TimeStampedModel):
    """The borrower's promise to pay an amount by a date; the daily run judges it from payments."""

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="promises")
    amount = money_field(_("amount"))
    promised_for = models.DateField(_("promised for"))
    status = models.CharField(_("status"), max_length=16, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    paid_amount = money_field(_("paid by the date"))
    judged_on = models.DateField(_("judged on"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True, max_length=NOTE_MAX_LENGTH)

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["-promised_for", "-id"]
        indexes = [models.Index(fields=["status", "promised_for"])]

    def __str__(self):
        return f"¥{self.amount} @ {self.promised_for}"


class Approval(TimeStampedModel):
    """Maker-checker: an action one person asks for and a manager (never the same person) decides.
    A case has at most one request waiting, made on the case as it stood then (`case_version`): any
    move of the case cancels it, since what was asked may no longer fit."""

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="approvals")
    action = models.CharField(_("action"), max_length=16, choices=ApprovalAction.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"), max_length=NOTE_MAX_LENGTH)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # The case's version the request was made on (null: made before versions were recorded).
    case_version = models.PositiveIntegerField(_("case version"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True, max_length=NOTE_MAX_LENGTH)

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="pending"), name="one_pending_approval_per_case"
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} #{self.case_id} ({self.get_status_display()})"


# --- Reminders: strategies say what to send when; Reminder rows are the outbox ---------------------


class ReminderTemplate(TimeStampedModel):
    """The text of one kind of reminder in both languages; the borrower's language picks one. The
    lender's name and the opt-out line are added to every message by collection/templating.py, so no
    template can leave them out. A template that does not render is refused when saved."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=16, choices=ReminderChannel.messages())
    recipient = models.CharField(
        _("recipient"),
        max_length=16,
        choices=Recipient.choices,
        default=Recipient.BORROWER,
        help_text=_("A third-party text may name the borrower but never the amount or the overdue."),
    )
    subject_zh_hans = models.CharField(_("subject (Chinese)"), max_length=200, blank=True)
    body_zh_hans = models.TextField(_("text (Chinese)"), max_length=NOTE_MAX_LENGTH)
    subject_en = models.CharField(_("subject (English)"), max_length=200, blank=True)
    body_en = models.TextField(_("text (English)"), max_length=NOTE_MAX_LENGTH)

    class Meta:
        verbose_name = _("reminder template")
        verbose_name_plural = _("reminder templates")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def clean(self):
        from .templating import template_errors

        errors = template_errors(self)
        if errors:
            raise ValidationError(errors)

    def text_for(self, language):
        """(subject, body) in the language, Chinese when the language is not English."""
        if language == Language.EN:
            return self.subject_en, self.body_en
        return self.subject_zh_hans, self.body_zh_hans


class CollectionStrategy(TimeStampedModel):
    """The reminder cadence for one product kind: its ordered steps say when to send what."""

    name = models.CharField(_("name"), max_length=120)
    product_kind = models.CharField(_("product kind"), max_length=24, choices=ProductKind.choices, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("collection strategy")
        verbose_name_plural = _("collection strategies")
        ordering = ["product_kind"]

    def __str__(self):
        return self.name


class StrategyStep(models.Model):
    """One step: on the day `offset_days` after the anchor, send the template on the channel (or
    give the officer a call task), while the case is in one of `case_states`. A step anchored on the
    due date at or before day 0 is a "due soon" reminder for a loan with no overdue yet."""

    strategy = models.ForeignKey(
        CollectionStrategy, verbose_name=_("strategy"), on_delete=models.CASCADE, related_name="steps"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    anchor = models.CharField(_("counted from"), max_length=16, choices=StepAnchor.choices, default=StepAnchor.DUE_DATE)
    offset_days = models.SmallIntegerField(
        _("days after"), help_text=_("Negative: before the due date (D-3 is -3). Positive: days past due.")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ReminderChannel.choices)
    template = models.ForeignKey(
        ReminderTemplate, verbose_name=_("template"), null=True, blank=True, on_delete=models.PROTECT
    )
    grace_template = models.ForeignKey(
        ReminderTemplate,
        verbose_name=_("template within the grace days"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "Sent instead on this day while the instalment is still within the product's grace days: paying "
            "then is paying on time, so the borrower gets a payment-due reminder, not an overdue one."
        ),
    )
    case_states = models.JSONField(
        _("case states"),
        default=list,
        blank=True,
        help_text=_("The step applies while the case is in one of these states; it stops when the case leaves them."),
    )
    send_at = models.TimeField(
        _("send at"),
        default="09:00",
        help_text=_("The lender's time; a borrower in quiet hours then gets it at 08:00 their time."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("strategy step")
        verbose_name_plural = _("strategy steps")
        ordering = ["strategy", "order", "offset_days", "id"]

    def __str__(self):
        sign = "+" if self.offset_days >= 0 else ""
        return f"D{sign}{self.offset_days} {self.get_channel_display()}"

    @property
    def is_pre_due(self):
        return self.anchor == StepAnchor.DUE_DATE and self.offset_days <= 0

    def clean(self):
        errors = {}
        if self.channel == ReminderChannel.CALL_TASK:
            if self.template_id:
                errors["template"] = _("A call task has no message template.")
        elif not self.template_id:
            errors["template"] = _("Choose the message to send.")
        elif self.template.channel != self.channel:
            errors["template"] = _("The template is written for another channel.")
        if self.anchor == StepAnchor.CASE_OPENED and self.offset_days < 0:
            errors["offset_days"] = _("A case cannot be reminded of before it opens.")
        unknown = set(self.case_states or []) - set(CaseState.values)
        if unknown:
            errors["case_states"] = _("Unknown states: %(states)s") % {"states": ", ".join(sorted(unknown))}
        if not self.is_pre_due and not self.case_states:
            errors["case_states"] = _("Say in which case states the step applies.")
        if errors:
            raise ValidationError(errors)


class Reminder(TimeStampedModel):
    """The outbox: one message (or call task) to send, planned by the daily run and sent by the
    dispatcher exactly once. scheduled -> sending (leased by a worker) -> sent -> delivered, or
    suppressed by a contact rule, or failed after the last retry. The idempotency key (case or loan,
    step, recipient, date) makes planning the same day twice create nothing new, and goes to the
    provider so a send retried after a worker died is not delivered twice."""

    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="reminders")
    case = models.ForeignKey(
        CollectionCase,
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reminders",
    )
    step = models.ForeignKey(StrategyStep, verbose_name=_("step"), null=True, blank=True, on_delete=models.SET_NULL)
    template = models.ForeignKey(
        ReminderTemplate, verbose_name=_("template"), null=True, blank=True, on_delete=models.PROTECT
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ReminderChannel.choices)
    recipient = models.CharField(_("recipient"), max_length=16, choices=Recipient.choices, default=Recipient.BORROWER)
    contact_point = models.ForeignKey(
        "borrowers.ContactPoint", verbose_name=_("contact point"), null=True, blank=True, on_delete=models.SET_NULL
    )
    address = models.CharField(_("address"), max_length=300, blank=True, help_text=_("Phone number or email."))
    planned_for = models.DateField(_("planned for"))
    due_at = models.DateTimeField(_("send from"))

    status = models.CharField(
        _("status"), max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    claimed_by = models.CharField(_("worker"), max_length=100, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, db_index=True, editable=False)

    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text sent"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=100, blank=True, db_index=True)
    suppression_code = models.CharField(_("suppressed by rule"), max_length=32, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-due_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["case", "-due_at"]),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.planned_for} ({self.get_status_display()})"


# --- Restructuring plans -----------------------------------------------------------------------------


class RestructuringPlan(ConcurrentTransitionMixin, TimeStampedModel):
    """New terms for a loan in minor (or serious) overdue: an extension, a lower rate, the arrears
    in instalments, a penalty waiver, or a mix. An officer proposes, a manager other than the proposer
    approves (maker-checker), both parties sign the supplementary agreement, and only then does the
    plan replace the unpaid schedule (collection/restructuring.py does all of it)."""

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="restructuring_plans"
    )
    state = FSMField(_("state"), max_length=12, choices=PlanState.choices, default=PlanState.DRAFT, protected=True)
    kinds = models.JSONField(_("kinds"), default=list)
    extension_months = models.PositiveSmallIntegerField(_("extension (months)"), default=0)
    new_annual_rate = models.DecimalField(
        _("new annual rate"), max_digits=8, decimal_places=6, null=True, blank=True, help_text=_("Empty: unchanged.")
    )
    arrears_instalments = models.PositiveSmallIntegerField(_("arrears split over instalments"), default=0)
    penalty_waiver = money_field(_("penalty waived"))
    first_due_date = models.DateField(_("first new due date"))
    # What the borrower owed and would pay before, and the new schedule, as shown when proposed.
    position = models.JSONField(_("position when proposed"), default=dict)
    old_terms = models.JSONField(_("old terms"), default=dict)
    new_terms = models.JSONField(_("new terms"), default=dict)
    new_schedule = models.JSONField(_("new schedule"), default=list)
    reason = models.TextField(_("reason"), max_length=NOTE_MAX_LENGTH)

    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("proposed by"), on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True, max_length=NOTE_MAX_LENGTH)

    # The supplementary agreement: both parties sign; only a signed plan is activated.
    borrower_signed_on = models.DateField(_("borrower signed on"), null=True, blank=True)
    borrower_sign_method = models.CharField(
        _("signed by"), max_length=16, choices=SignatureMethod.choices, blank=True, default=""
    )
    borrower_sign_reference = models.CharField(
        _("signature evidence"),
        max_length=200,
        blank=True,
        help_text=_("The scan's file, or the code's confirmation id."),
    )
    borrower_scan = models.FileField(_("signed scan"), upload_to="agreements/%Y/%m/", blank=True)
    lender_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed for the lender by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    lender_signed_at = models.DateTimeField(_("lender signed at"), null=True, blank=True)
    activated_on = models.DateField(_("activated on"), null=True, blank=True)
    observation_until = models.DateField(_("observation until"), null=True, blank=True)
    class_floor = models.PositiveSmallIntegerField(
        _("regulatory class floor"),
        null=True,
        blank=True,
        help_text=_("The class the loan keeps at least while under observation; lifted when the plan completes."),
    )

    class Meta:
        verbose_name = _("restructuring plan")
        verbose_name_plural = _("restructuring plans")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(state__in=PlanState.live()), name="one_live_plan_per_case"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_state_display()}"

    @transition(field=state, source=PlanState.DRAFT, target=PlanState.SUBMITTED)
    def submit(self):
        pass

    @transition(field=state, source=PlanState.SUBMITTED, target=PlanState.APPROVED)
    def approve(self, by, at, note):
        self.decided_by, self.decided_at, self.decision_note = by, at, note

    @transition(field=state, source=PlanState.SUBMITTED, target=PlanState.REJECTED)
    def reject(self, by, at, note):
        self.decided_by, self.decided_at, self.decision_note = by, at, note

    @transition(field=state, source=PlanState.APPROVED, target=PlanState.SIGNED)
    def sign(self):
        pass

    @transition(field=state, source=PlanState.SIGNED, target=PlanState.ACTIVE)
    def activate(self, on, observation_until):
        self.activated_on, self.observation_until = on, observation_until

    # The daily run ends plans in bulk (collection/daily.py `_plan_outcomes`, one UPDATE per outcome
    # with these same source and target states); these are the moves it makes.
    @transition(field=state, source=PlanState.ACTIVE, target=PlanState.COMPLETED)
    def complete(self):
        pass

    @transition(field=state, source=PlanState.ACTIVE, target=PlanState.DEFAULTED)
    def default(self):
        pass


# --- Portfolio snapshots: what the KPI page reads ------------------------------------------------------


class SnapshotSource(models.TextChoices):
    RUN = "run", _("daily run")
    LEDGER = "ledger", _("rebuilt from the ledger")


def snapshot_sum(verbose_name):
    """A sum over the book: two more digits than one loan's amount."""
    return money_field(verbose_name, max_digits=18)


class PortfolioSnapshot(models.Model):
    """The book on one business date, as the daily run left it (collection/snapshots.py writes it after
    the run; a run of the same date again replaces it). Its rows hold the loans grouped; its flows hold
    the months' cases, promises and recoveries as known that day. Month ends before the first run are
    rebuilt from the ledger (`source` says which), with only what the ledger keeps."""

    as_of = models.DateField(_("business date"), unique=True)
    source = models.CharField(_("source"), max_length=8, choices=SnapshotSource.choices, default=SnapshotSource.RUN)
    written_at = models.DateTimeField(_("written at"), default=timezone.now)
    cases_by_state = models.JSONField(_("cases by state"), default=dict, blank=True)

    class Meta:
        verbose_name = _("portfolio snapshot")
        verbose_name_plural = _("portfolio snapshots")
        ordering = ["-as_of"]

    def __str__(self):
        return str(self.as_of)


class PortfolioSnapshotRow(models.Model):
    """Loans on the book that share product, aging bucket, bucket at the previous month end, class,
    stage, team and case state; with their count and amounts."""

    snapshot = models.ForeignKey(PortfolioSnapshot, on_delete=models.CASCADE, related_name="rows")
    product = models.ForeignKey(LoanProduct, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    aging_bucket = models.CharField(_("aging bucket"), max_length=2)
    # The bucket at the previous month end, for roll rates; blank when the loan was not on the book
    # then, or when that month end has no snapshot.
    previous_bucket = models.CharField(_("bucket at the previous month end"), max_length=2, blank=True)
    regulatory_class = models.PositiveSmallIntegerField(_("regulatory class"), null=True)  # null: rebuilt
    ifrs9_stage = models.PositiveSmallIntegerField(_("IFRS 9 stage"), null=True)  # null: rebuilt
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, on_delete=models.SET_NULL, related_name="+")
    case_state = models.CharField(_("case state"), max_length=16, blank=True)  # blank: no open case
    loans = models.PositiveIntegerField(_("loans"))
    principal_outstanding = snapshot_sum(_("principal outstanding"))
    # With penalty, as the daily run set it; rows rebuilt from the ledger hold contractual arrears only.
    overdue_amount = snapshot_sum(_("overdue amount"))
    exposure = snapshot_sum(_("exposure"))

    class Meta:
        verbose_name = _("portfolio snapshot row")
        verbose_name_plural = _("portfolio snapshot rows")

    def __str__(self):
        return f"{self.snapshot_id} {self.aging_bucket}: {self.loans}"


class PortfolioFlow(models.Model):
    """One month's flows by product and team, as known on the snapshot's date: cases opened in the
    month and how many of them have since been cured, promises falling due in it by outcome, and the
    money recovered in it on loans with a case open."""

    snapshot = models.ForeignKey(PortfolioSnapshot, on_delete=models.CASCADE, related_name="flows")
    month = models.DateField(_("month"))
    product = models.ForeignKey(LoanProduct, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, on_delete=models.SET_NULL, related_name="+")
    cases_opened = models.PositiveIntegerField(_("cases opened"), default=0)
    cases_cured = models.PositiveIntegerField(_("cases cured"), default=0)
    promises_kept = models.PositiveIntegerField(_("promises kept"), default=0)
    promises_partially_kept = models.PositiveIntegerField(_("promises partially kept"), default=0)
    promises_broken = models.PositiveIntegerField(_("promises broken"), default=0)
    recovered = snapshot_sum(_("recovered"))

    class Meta:
        verbose_name = _("portfolio flow")
        verbose_name_plural = _("portfolio flows")

    def __str__(self):
        return f"{self.snapshot_id} {self.month:%Y-%m}"


class MonthEndBucket(models.Model):
    """A loan's aging bucket at a month end, kept for the loans in arrears then (a loan on the book and
    not listed was current). The next month's snapshots read it for roll rates."""

    pk = models.CompositePrimaryKey("as_of", "loan_id")
    as_of = models.DateField(_("month end"))
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="+")
    bucket = models.CharField(_("aging bucket"), max_length=2)

    class Meta:
        verbose_name = _("month-end bucket")
        verbose_name_plural = _("month-end buckets")

    def __str__(self):
        return f"{self.as_of} {self.loan_id}: {self.bucket}"
