"""Create the default reminder templates and strategies (collection/default_strategies.py)."""

from django.db import migrations

from collection.default_strategies import create_defaults, remove_defaults


def create(apps, schema_editor):
    models = [apps.get_model("collection", name) for name in ("ReminderTemplate", "CollectionStrategy", "StrategyStep")]
    create_defaults(*models)


def remove(apps, schema_editor):
    models = [apps.get_model("collection", name) for name in ("ReminderTemplate", "CollectionStrategy")]
    remove_defaults(*models)


class Migration(migrations.Migration):
    dependencies = [("collection", "0003_reminders")]

    operations = [migrations.RunPython(create, remove)]
