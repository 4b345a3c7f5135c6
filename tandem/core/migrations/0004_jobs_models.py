"""The job runner's two models move from the notifications app to core, which owns the
runner (``core.jobs``). State only: the tables keep their names (``db_table``), no row moves."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_datakey_epoch'),
        # The tables were created there; core takes them over afterwards.
        ('notifications', '0002_peer_support_deliveries'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PeriodicRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('next_run_at', models.DateTimeField()),
                        ('last_started_at', models.DateTimeField(blank=True, null=True)),
                        ('last_finished_at', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.CharField(blank=True, max_length=120)),
                    ],
                    options={'db_table': 'notifications_periodicrun'},
                ),
                migrations.CreateModel(
                    name='WorkerHeartbeat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('worker_id', models.CharField(max_length=64, unique=True)),
                        ('pid', models.PositiveIntegerField(default=0)),
                        ('started_at', models.DateTimeField()),
                        ('seen_at', models.DateTimeField(db_index=True)),
                    ],
                    options={'db_table': 'notifications_workerheartbeat'},
                ),
            ],
            database_operations=[],
        ),
    ]
