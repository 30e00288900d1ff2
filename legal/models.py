"""The legal route of a serious case: law firms, legal actions with their own state machine, and
what they cost. Every change goes through legal/services.py (lock, transition, log)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from collection.models import CollectionCase
from core.fields import NOTE_MAX_LENGTH, money_field
from core.models import TimeStampedModel
from core.money import ZERO

from .choices import (
    ActionKind,
    ActionState,
    AssetKind,
    CostKind,
    DisposalMethod,
    DisposalState,
    DocumentKind,
    PreservationStatus,
    TaskKind,
)

A = ActionState
D = DisposalState

# What a judgment awards, component by component (the claim's components).
JUDGMENT_COMPONENTS = ("judgment_principal", "judgment_interest", "judgment_fees", "judgment_penalty", "judgment_costs")


class LawFirm(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    fee_terms = models.TextField(
        _("fee terms"),
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        help_text=_("e.g. a fixed fee per letter, a share of recoveries."),
    )

    class Meta:
        verbose_name = _("law firm")
        verbose_name_plural = _("law firms")
        ordering = ["name"]

    def __str__(self):
        return self.name


class LegalAction(ConcurrentTransitionMixin, TimeStampedModel):
    """One legal action on a case in `legal`: a lawyer's letter, a lawsuit, arbitration or a payment
    order, from preparation to its end. The feasibility estimate made at referral is kept with it."""

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="legal_actions"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ActionKind.choices)
    state = FSMField(_("state"), max_length=24, choices=ActionState.choices, default=A.PREPARING, protected=True)
    law_firm = models.ForeignKey(LawFirm, verbose_name=_("law firm"), null=True, blank=True, on_delete=models.PROTECT)
    court = models.CharField(_("court"), max_length=200, blank=True)
    court_case_number = models.CharField(_("court case number"), max_length=100, blank=True)
    # The claim: what the loan owed the day the action was opened, interest and fees of periods still
    # to come left out (loans.claim.claim_as_of).
    claim_principal = money_field(_("claim: principal"))
    claim_interest = money_field(_("claim: interest"))
    claim_fees = money_field(_("claim: fees"))
    claim_penalty = money_field(_("claim: penalty"))
    claim_costs = money_field(_("claim: costs"))
    feasibility = models.JSONField(_("feasibility at referral"), default=dict)
    filed_on = models.DateField(_("filed on"), null=True, blank=True)
    last_step_on = models.DateField(
        _("day of the last step"), null=True, blank=True, help_text=_("No later step may be dated before it.")
    )
    hearing_on = models.DateField(_("hearing on"), null=True, blank=True)
    judgment_on = models.DateField(_("judgment served on"), null=True, blank=True)
    # What the court ordered the borrower to pay, by the same components as the claim.
    judgment_principal = money_field(_("judgment: principal"))
    judgment_interest = money_field(_("judgment: interest"))
    judgment_fees = money_field(_("judgment: fees"))
    judgment_penalty = money_field(_("judgment: penalty"))
    judgment_costs = money_field(
        _("judgment: costs"), help_text=_("Court and other costs the judgment puts on the borrower.")
    )
    appeal_deadline = models.DateField(_("appeal deadline"), null=True, blank=True)
    performance_due_on = models.DateField(_("judgment to be performed by"), null=True, blank=True)
    enforcement_deadline = models.DateField(
        _("apply for enforcement by"), null=True, blank=True, help_text=_("Two years from the performance date.")
    )
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    recoveries = models.ManyToManyField(
        "loans.Payment", verbose_name=_("recoveries"), blank=True, related_name="legal_actions"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("opened by"), on_delete=models.PROTECT, related_name="+"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("legal officer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="legal_actions",
    )

    class Meta:
        verbose_name = _("legal action")
        verbose_name_plural = _("legal actions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"], condition=~Q(state__in=A.closed()), name="one_open_action_per_kind"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def claim(self):
        return self.claim_principal + self.claim_interest + self.claim_fees + self.claim_penalty + self.claim_costs

    @property
    def judgment_total(self):
        return sum((getattr(self, name) for name in JUDGMENT_COMPONENTS), ZERO)

    # --- Transitions: thin; legal/services.py records the date, documents and who. -------------------

    @transition(field=state, source=A.PREPARING, target=A.LETTER_SENT)
    def send_letter(self):
        pass

    @transition(field=state, source=[A.PREPARING, A.LETTER_SENT], target=A.FILED)
    def file(self):
        pass

    @transition(field=state, source=[A.FILED], target=A.PRESERVATION_APPLIED)
    def apply_preservation(self):
        pass

    @transition(field=state, source=A.PRESERVATION_APPLIED, target=A.PRESERVATION_GRANTED)
    def grant_preservation(self):
        pass

    @transition(field=state, source=[A.FILED, A.PRESERVATION_APPLIED, A.PRESERVATION_GRANTED], target=A.HEARING)
    def schedule_hearing(self):
        pass

    @transition(field=state, source=A.HEARING, target=A.JUDGMENT)
    def record_judgment(self):
        pass

    @transition(field=state, source=A.JUDGMENT, target=A.ENFORCEMENT)
    def apply_enforcement(self):
        pass

    @transition(field=state, source=[A.LETTER_SENT, A.JUDGMENT, A.ENFORCEMENT], target=A.CLOSED_RECOVERED)
    def close_recovered(self):
        pass

    @transition(
        field=state,
        source=[A.LETTER_SENT, A.FILED, A.PRESERVATION_GRANTED, A.HEARING, A.JUDGMENT, A.ENFORCEMENT],
        target=A.CLOSED_SETTLED,
    )
    def close_settled(self):
        pass

    def no_sale_under_way(self):
        """Enforcement has not run out while a seized asset may still sell."""
        return not self.disposals.filter(state__in=D.under_way()).exists()

    @transition(field=state, source=A.ENFORCEMENT, target=A.CLOSED_IMPOSSIBLE, conditions=[no_sale_under_way])
    def close_impossible(self):
        pass

    @transition(field=state, source=[A.PREPARING, A.LETTER_SENT, A.FILED], target=A.WITHDRAWN)
    def withdraw(self):
        pass


class LegalCost(TimeStampedModel):
    """Money spent on an action (court fee, lawyer, preservation, appraisal, auction). The lender
    advances it; one the borrower owes is charged to the loan when booked (a cost component, which
    payments meet first), one the lender bears stays the lender's."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.PROTECT, related_name="costs"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CostKind.choices)
    amount = money_field(_("amount"))
    incurred_on = models.DateField(_("incurred on"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    charged_to_loan = models.BooleanField(
        _("charged to the loan"), default=False, help_text=_("The borrower owes it: it was added to the loan.")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("legal cost")
        verbose_name_plural = _("legal costs")
        ordering = ["incurred_on", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} ¥{self.amount}"


class LegalTask(TimeStampedModel):
    """A dated thing to do on an action (a hearing, an appeal or enforcement deadline, a preservation
    to renew). The services create and close them from the action's dates; the legal officer's
    worklist and calendar list the open ones by date."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.CASCADE, related_name="tasks"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=TaskKind.choices)
    due_on = models.DateField(_("due on"), db_index=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    done_on = models.DateField(_("done on"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("legal task")
        verbose_name_plural = _("legal tasks")
        ordering = ["due_on", "id"]
        constraints = [
            # One open task of each kind per action (a preservation task is per order: see `note`).
            models.UniqueConstraint(
                fields=["action", "kind", "note"], condition=Q(done_on__isnull=True), name="one_open_task_per_kind"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.due_on}"


class LegalDocument(TimeStampedModel):
    """A document of the action: generated (the lawyer's letter, the demand letter) or uploaded (court
    papers, appraisal reports). Stored with Django's storage API; type and size checked on upload."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices)
    file = models.FileField(_("file"), upload_to="legal/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    generated = models.BooleanField(_("generated by the system"), default=False)
    step = models.CharField(_("step"), max_length=24, blank=True, help_text=_("The step it was filed with."))
    note = models.CharField(_("note"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("legal document")
        verbose_name_plural = _("legal documents")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.original_name}"


class PreservationOrder(TimeStampedModel):
    """Property preservation (财产保全) asked of the court: a frozen account, a seized vehicle or
    property, on the loan's collateral or other assets found. A granted order lapses after the
    term the law sets for its kind unless renewed (legal/rules.py)."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.PROTECT, related_name="preservations"
    )
    collateral = models.ForeignKey(
        "loans.Collateral",
        verbose_name=_("collateral"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="preservations",
    )
    asset_kind = models.CharField(_("asset"), max_length=16, choices=AssetKind.choices)
    description = models.CharField(_("description"), max_length=300)
    amount = money_field(_("amount preserved"))
    status = models.CharField(
        _("status"), max_length=10, choices=PreservationStatus.choices, default=PreservationStatus.APPLIED
    )
    applied_on = models.DateField(_("applied on"))
    granted_on = models.DateField(_("granted on"), null=True, blank=True)
    ruling_number = models.CharField(_("ruling number"), max_length=100, blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    ended_on = models.DateField(_("refused or lifted on"), null=True, blank=True)

    class Meta:
        verbose_name = _("preservation order")
        verbose_name_plural = _("preservation orders")
        ordering = ["applied_on", "id"]

    def __str__(self):
        return f"{self.get_asset_kind_display()}: {self.description}"


class AssetDisposal(ConcurrentTransitionMixin, TimeStampedModel):
    """Turning a collateral item into money: seized, appraised, listed (judicial auction or negotiated
    sale; relisted lower after an auction fails), sold, and the proceeds distributed: costs first,
    then the loan (a payment), any surplus due back to the borrower. The collateral's status follows."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.PROTECT, related_name="disposals"
    )
    collateral = models.OneToOneField(
        "loans.Collateral", verbose_name=_("collateral"), on_delete=models.PROTECT, related_name="disposal"
    )
    state = FSMField(_("state"), max_length=12, choices=DisposalState.choices, default=D.SEIZED, protected=True)
    seized_on = models.DateField(_("seized on"))
    location = models.CharField(_("kept at"), max_length=200, blank=True)
    appraised_value = money_field(_("appraised value"))
    appraised_on = models.DateField(_("appraised on"), null=True, blank=True)
    appraiser = models.CharField(_("appraiser"), max_length=200, blank=True)
    method = models.CharField(_("method"), max_length=16, choices=DisposalMethod.choices, blank=True)
    reserve_price = money_field(_("reserve price"))
    listed_on = models.DateField(_("listed on"), null=True, blank=True)
    round = models.PositiveSmallIntegerField(_("auction round"), default=0)
    sold_on = models.DateField(_("sold on"), null=True, blank=True)
    sale_price = money_field(_("sale price"))
    buyer = models.CharField(_("buyer"), max_length=200, blank=True)
    distributed_on = models.DateField(_("distributed on"), null=True, blank=True)
    to_costs = money_field(_("paid to costs"))
    to_loan = money_field(_("paid to the loan"))
    surplus = money_field(_("surplus due to the borrower"))
    surplus_paid_on = models.DateField(_("surplus paid on"), null=True, blank=True)
    payment = models.OneToOneField(
        "loans.Payment",
        verbose_name=_("payment to the loan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disposal",
    )

    class Meta:
        verbose_name = _("asset disposal")
        verbose_name_plural = _("asset disposals")
        ordering = ["seized_on", "id"]

    def __str__(self):
        return f"{self.collateral} ({self.get_state_display()})"

    # --- Transitions: thin; legal/services.py checks the prices, moves the collateral and logs. -------

    @transition(field=state, source=D.SEIZED, target=D.APPRAISED)
    def appraise(self):
        pass

    @transition(field=state, source=[D.APPRAISED, D.UNSOLD], target=D.LISTED)
    def list_for_sale(self):
        pass

    @transition(field=state, source=D.LISTED, target=D.UNSOLD)
    def fail_sale(self):
        pass

    @transition(field=state, source=D.LISTED, target=D.SOLD)
    def sell(self):
        pass

    @transition(field=state, source=D.SOLD, target=D.DISTRIBUTED)
    def distribute(self):
        pass

    @transition(field=state, source=[D.SEIZED, D.APPRAISED, D.UNSOLD], target=D.RELEASED)
    def release(self):
        pass
