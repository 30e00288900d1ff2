"""Payments' external references become unique per idempotency scope (an API client's own, or the
shared one of people and imports); payments an API client posted so far move into its scope.
Reversing a payment and settling a loan early get permissions of their own."""

from django.db import migrations, models

SCOPE_API_CLIENTS_PAYMENTS = """
UPDATE loans_payment p SET idempotency_scope = 'client:' || p.posted_by_id
FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
WHERE ug.user_id = p.posted_by_id AND g.name = 'api-client'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0008_costs_cost_cap_penalty_basis"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="loan",
            options={
                "ordering": ["-disbursed_on", "-id"],
                "permissions": [("settle_loan", "Can settle loans early")],
                "verbose_name": "loan",
                "verbose_name_plural": "loans",
            },
        ),
        migrations.AlterModelOptions(
            name="payment",
            options={
                "ordering": ["-received_at", "-id"],
                "permissions": [("reverse_payment", "Can reverse payments")],
                "verbose_name": "payment",
                "verbose_name_plural": "payments",
            },
        ),
        migrations.AddField(
            model_name="payment",
            name="idempotency_scope",
            field=models.CharField(
                blank=True,
                default="",
                db_default="",
                editable=False,
                help_text="Whose references this one is unique among: an API client's own, or blank for people and imports.",
                max_length=40,
                verbose_name="idempotency scope",
            ),
        ),
        migrations.RunSQL(SCOPE_API_CLIENTS_PAYMENTS, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                fields=("external_reference", "idempotency_scope"), name="payment_reference_unique"
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="external_reference",
            field=models.CharField(max_length=100, verbose_name="external reference"),
        ),
    ]
