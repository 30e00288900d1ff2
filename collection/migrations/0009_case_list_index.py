"""The case list pages by cursor over (-priority_score, id): an index on (state, -priority_score, id)
serves the list filtered by state (it replaces the one on (state, -priority_score), which it covers),
and one on (-priority_score, id) the whole book. PostgreSQL seeks to a page's first case and reads on
in order, whatever the page's depth."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('collection', '0008_plan_class_floor'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='collectioncase',
            name='collection__state_ecf4ca_idx',
        ),
        migrations.AddIndex(
            model_name='collectioncase',
            index=models.Index(fields=['state', '-priority_score', 'id'], name='case_list_state_idx'),
        ),
        migrations.AddIndex(
            model_name='collectioncase',
            index=models.Index(fields=['-priority_score', 'id'], name='case_list_idx'),
        ),
    ]
