"""Shared primitives: timestamps and the append-only audit log."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import ActorKind


class TimeStampedModel(models.Model):
    """Adds when a row was created and last changed."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    """An audit entry was about to be changed or deleted."""


class ActivityLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The activity log is append-only.")

    def delete(self):
        raise AppendOnlyError("The activity log is append-only.")


class ActivityLog(models.Model):
    """Who did what, to which object, when, with the data before and after. Append-only: the model
    refuses updates and deletes, and so does the database (a trigger), so a record can prove
    afterwards who did what and why. Tamper-evident: the database chains the entries, each `hash`
    a SHA-256 over its content and the previous entry's hash (core/audit_chain.py)."""

    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    target_type = models.ForeignKey(
        ContentType, verbose_name=_("target type"), null=True, blank=True, on_delete=models.PROTECT
    )
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=255, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    before = models.JSONField(_("before"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), null=True, blank=True, encoder=DjangoJSONEncoder)
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    # The chain, set by the database's sealing function once the entry is committed: the entry's place,
    # the hash of the one before and its own (null until sealed, within a minute).
    seq = models.BigIntegerField(_("place in the chain"), null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True, editable=False)
    hash = models.CharField(_("hash"), max_length=64, blank=True, editable=False)

    objects = ActivityLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("activity log entry")
        verbose_name_plural = _("activity log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-created_at"]),
            # What the sealer looks for each minute: the few entries not chained yet.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="activitylog_unsealed_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("The activity log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The activity log is append-only.")


class AuditVerification(models.Model):
    """One walk of the activity log's chain (manage.py audit_verify, nightly by beat): how many entries
    it checked and the first whose hash does not match what it holds, if any."""

    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)
    entries = models.BigIntegerField(_("entries checked"))
    unsealed = models.BigIntegerField(_("entries not yet sealed"), default=0)
    first_broken = models.ForeignKey(
        ActivityLog,
        verbose_name=_("first broken entry"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("audit log verification")
        verbose_name_plural = _("audit log verifications")
        ordering = ["-checked_at", "-id"]

    def __str__(self):
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'intact' if self.intact else 'BROKEN'}"

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None
