"""The daily run finds a range's overdue instalments in the index (loan, due date) over unpaid rows,
instead of reading every unpaid instalment of the range; the loan's own index goes (the unique
(loan, schedule version, seq) index serves lookups by loan)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0005_daily_run_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="installment",
            name="installment_unpaid_loan_idx",
        ),
        migrations.AlterField(
            model_name="installment",
            name="loan",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="installments",
                to="loans.loan",
                verbose_name="loan",
            ),
        ),
        migrations.AddIndex(
            model_name="installment",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "partially_paid"])),
                fields=["loan", "due_date"],
                name="installment_unpaid_due_idx",
            ),
        ),
    ]
