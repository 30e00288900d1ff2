"""One request waiting per case, made on a recorded case version. Cases that had several requests
waiting keep the oldest; the others are cancelled, and the audit log says so."""

from django.conf import settings
from django.db import migrations, models

CANCELLED_NOTE = "Cancelled: another request on this case was waiting first (one request per case)."


def keep_one_pending_request_per_case(apps, schema_editor):
    Approval = apps.get_model("collection", "Approval")
    ActivityLog = apps.get_model("core", "ActivityLog")
    ContentType = apps.get_model("contenttypes", "ContentType")
    pending = Approval.objects.filter(status="pending").order_by("case_id", "created_at", "id")
    seen, extra = set(), []
    for approval in pending.only("id", "case_id", "action"):
        if approval.case_id in seen:
            extra.append(approval)
        seen.add(approval.case_id)
    if extra:
        Approval.objects.filter(pk__in=[a.pk for a in extra]).update(status="cancelled", decision_note=CANCELLED_NOTE)
        case_type, _ = ContentType.objects.get_or_create(app_label="collection", model="collectioncase")
        ActivityLog.objects.bulk_create(
            ActivityLog(
                actor_kind="system",
                actor_label="system",
                action="collection.approval.cancelled",
                target_type=case_type,
                target_id=str(a.case_id),
                target_repr=f"case {a.case_id}",
                reason=CANCELLED_NOTE,
                data={"approval": a.pk, "action": a.action},
            )
            for a in extra
        )
    schema_editor.execute(
        "UPDATE collection_approval a SET case_version = c.version FROM collection_collectioncase c "
        "WHERE a.case_id = c.id AND a.status = 'pending'"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("collection", "0011_portfolio_snapshots"),
        ("core", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="approval", name="one_pending_approval_per_action"),
        migrations.AddField(
            model_name="approval",
            name="case_version",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="case version"),
        ),
        migrations.RunPython(keep_one_pending_request_per_case, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="approval",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")), fields=("case",), name="one_pending_approval_per_case"
            ),
        ),
    ]
