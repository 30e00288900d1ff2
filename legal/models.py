"""The legal route of a serious case: law firms, legal actions with their own state machine, and
what they cost. Every change goes through legal/services.py (lock, transition, log)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from collection.models import CollectionCase
from core.fields import money_field
from core.models import TimeStampedModel

from .choices import ActionKind, ActionState, CostKind

A = ActionState


class LawFirm(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    fee_terms = models.TextField(
        _("fee terms"), blank=True, help_text=_("e.g. a fixed fee per letter, a share of recoveries.")
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
    claim_principal = money_field(_("claim: principal"))
    claim_interest = money_field(_("claim: interest"))
    claim_penalty = money_field(_("claim: penalty"))
    claim_costs = money_field(_("claim: costs"))
    feasibility = models.JSONField(_("feasibility at referral"), default=dict)
    hearing_on = models.DateField(_("hearing on"), null=True, blank=True)
    judgment_on = models.DateField(_("judgment on"), null=True, blank=True)
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
        return self.claim_principal + self.claim_interest + self.claim_penalty + self.claim_costs

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

    @transition(field=state, source=A.ENFORCEMENT, target=A.CLOSED_IMPOSSIBLE)
    def close_impossible(self):
        pass

    @transition(field=state, source=[A.PREPARING, A.LETTER_SENT, A.FILED], target=A.WITHDRAWN)
    def withdraw(self):
        pass


class LegalCost(TimeStampedModel):
    """Money spent on an action (court fee, lawyer, preservation, appraisal, auction)."""

    action = models.ForeignKey(
        LegalAction, verbose_name=_("legal action"), on_delete=models.PROTECT, related_name="costs"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CostKind.choices)
    amount = money_field(_("amount"))
    incurred_on = models.DateField(_("incurred on"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("legal cost")
        verbose_name_plural = _("legal costs")
        ordering = ["incurred_on", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} ¥{self.amount}"
