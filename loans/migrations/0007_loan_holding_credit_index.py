"""The daily run asks each chunk whether any loan holds credit: a partial index over those few loans
answers without reading the chunk's loans."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0006_overdue_instalment_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="loan",
            index=models.Index(
                condition=models.Q(("credit_balance__gt", 0)), fields=["id"], name="loan_holding_credit_idx"
            ),
        ),
    ]
