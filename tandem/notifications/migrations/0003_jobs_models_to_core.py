"""``PeriodicRun`` and ``WorkerHeartbeat`` now belong to core (``core.0004_jobs_models``).
State only: their tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0002_peer_support_deliveries'),
        ('core', '0004_jobs_models'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='PeriodicRun'),
                migrations.DeleteModel(name='WorkerHeartbeat'),
            ],
            database_operations=[],
        ),
    ]
