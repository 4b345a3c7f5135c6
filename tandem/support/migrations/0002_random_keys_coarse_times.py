"""Requests, offers and usage records get random keys, hour-coarse times and a shuffled
physical order; exact routing moments move out of the clear.

Integer keys cannot be changed in place on every engine, so each table is rebuilt: the new
table is created beside the old one, the rows are copied in a random order under fresh
UUIDs (offers follow their request), the old table is dropped and the new one takes its
name. Exact moments of open requests (step started, accepted, first contact) are not
carried over in the clear: the routing falls back to the hour the request came in until
its next step, and new requests keep these moments sealed under their own key.
"""

import secrets
import uuid

import django.db.models.deletion
import tandem.core.fields
import tandem.support.models
from django.conf import settings
from django.db import migrations, models


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0) if moment is not None else None


def copy_rows(apps, schema_editor):
    old_request = apps.get_model("support", "SupportRequest")
    new_request = apps.get_model("support", "SupportRequestNew")
    old_offer = apps.get_model("support", "RequestOffer")
    new_offer = apps.get_model("support", "RequestOfferNew")
    old_usage = apps.get_model("support", "UsageRecord")
    new_usage = apps.get_model("support", "UsageRecordNew")
    shuffle = secrets.SystemRandom().shuffle

    requests = list(old_request.objects.all())
    shuffle(requests)
    keys = {}
    for row in requests:
        keys[row.pk] = uuid.uuid4()
        new_request.objects.create(
            id=keys[row.pk], agency_id=row.agency_id, reference=row.reference,
            idempotency_key=row.idempotency_key, channel=row.channel, urgency=row.urgency,
            contact_method=row.contact_method, best_time=row.best_time, topic=row.topic,
            chosen_supporter_id=row.chosen_supporter_id, incident_id=row.incident_id,
            data_key_id=row.data_key_id,
            # Ciphertext is copied as it is: it stays sealed under the same key and label.
            requester=row.requester, preferences=row.preferences, referrer=row.referrer,
            timing=None, status=row.status, step=row.step, created_at=_hour(row.created_at),
            accepted_by_id=row.accepted_by_id, onset_notice_given=row.onset_notice_given,
            finished_on=row.closed_at.date() if row.closed_at else None, ledger=[],
            usage=None,
        )
    offers = list(old_offer.objects.all())
    shuffle(offers)
    new_offer.objects.bulk_create(
        new_offer(id=uuid.uuid4(), request_id=keys[o.request_id], user_id=o.user_id,
                  step=o.step, offered_at=_hour(o.offered_at), active=o.active,
                  recused_reason=o.recused_reason)
        for o in offers if o.request_id in keys
    )
    records = list(old_usage.objects.all())
    shuffle(records)
    columns = [f.attname for f in old_usage._meta.concrete_fields if f.name != "id"]

    def copied(record):
        values = {name: getattr(record, name) for name in columns}
        values["started_at"] = _hour(values["started_at"])
        values["closed_at"] = _hour(values["closed_at"])
        return new_usage(id=uuid.uuid4(), **values)

    for index in range(0, len(records), 1000):
        new_usage.objects.bulk_create(copied(r) for r in records[index:index + 1000])

class Migration(migrations.Migration):

    dependencies = [
        ('agencies', '0002_roster_upload'),
        ('core', '0002_feedtoken'),
        ('support', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name='supportrequest', name='support_sup_agency__c43f55_idx'),
        migrations.RemoveConstraint(model_name='supportrequest',
                                    name='support_request_submitted_once'),
        migrations.RemoveIndex(model_name='requestoffer', name='support_req_user_id_2b3bcc_idx'),
        migrations.RemoveIndex(model_name='usagerecord', name='support_usa_agency__e98717_idx'),
        migrations.CreateModel(
            name='SupportRequestNew',
            fields=[
                ('data_key', tandem.core.fields.EnvelopeKeyField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.datakey')),
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('reference', models.CharField(default=tandem.support.models._reference, max_length=12, unique=True)),
                ('idempotency_key', models.CharField(max_length=64)),
                ('channel', models.CharField(choices=[('self_request', 'Member asks directly'), ('supervisor_via_coordinator', 'Supervisor activation through the coordinator'), ('proactive_referral', 'Confidential referral by a colleague'), ('critical_incident', 'Critical incident or traumatic event'), ('dispatch', 'Through dispatch / communications'), ('other_agency', 'Request from another agency')], max_length=32)),
                ('urgency', models.CharField(choices=[('now', 'Now'), ('today', 'Today'), ('this_week', 'This week')], max_length=16)),
                ('contact_method', models.CharField(choices=[('phone', 'Phone call'), ('text', 'Text message'), ('email', 'E-mail'), ('in_person', 'In person')], max_length=16)),
                ('best_time', models.CharField(choices=[('any', 'Any time'), ('morning', 'Morning'), ('afternoon', 'Afternoon'), ('evening', 'Evening'), ('night', 'Night')], default='any', max_length=16)),
                ('topic', models.CharField(blank=True, choices=[('critical_incident', 'After a critical incident'), ('work_stress', 'Work stress'), ('family', 'Family or relationship'), ('grief', 'Grief and loss'), ('substance_use', 'Alcohol or substance use'), ('health', 'Health'), ('finances', 'Finances'), ('other', 'Something else')], max_length=32)),
                ('requester', tandem.core.fields.EncryptedJSONField(blank=True)),
                ('preferences', tandem.core.fields.EncryptedJSONField(blank=True)),
                ('referrer', tandem.core.fields.EncryptedJSONField(blank=True)),
                ('timing', tandem.core.fields.EncryptedJSONField(blank=True)),
                ('status', models.CharField(choices=[('routing', 'Looking for a supporter'), ('accepted', 'A supporter accepted'), ('in_contact', 'In contact'), ('closed', 'Closed'), ('expired', 'Closed by expiry'), ('withdrawn', 'Withdrawn')], default='routing', max_length=16)),
                ('step', models.PositiveSmallIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=tandem.support.models._this_hour)),
                ('onset_notice_given', models.BooleanField(default=False)),
                ('finished_on', models.DateField(blank=True, null=True)),
                ('ledger', models.JSONField(blank=True, default=list)),
                ('usage', models.JSONField(blank=True, null=True)),
                ('accepted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='support.supporterprofile')),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='agencies.agency')),
                ('chosen_supporter', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='support.supporterprofile')),
                ('incident', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='support.criticalincident')),
            ],
            options={
                'ordering': ['created_at'],
                'indexes': [models.Index(fields=['agency', 'status'], name='psp_request_agency_status')],
                'constraints': [models.UniqueConstraint(fields=('agency', 'idempotency_key'), name='support_request_submitted_once')],
            },
        ),
        migrations.CreateModel(
            name='RequestOfferNew',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('step', models.PositiveSmallIntegerField()),
                ('offered_at', models.DateTimeField(default=tandem.support.models._this_hour)),
                ('active', models.BooleanField(default=True)),
                ('recused_reason', models.CharField(blank=True, choices=[('dual_role', 'Dual role (supervisor, family, close friend, witness, investigator)'), ('conflict_of_interest', 'Conflict of interest'), ('other', 'Other reason')], max_length=32)),
                ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='offers', to='support.supportrequestnew')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['offered_at'],
                'indexes': [models.Index(fields=['user', 'active'], name='psp_offer_user_active')],
            },
        ),
        migrations.CreateModel(
            name='UsageRecordNew',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(choices=[('closed', 'Closed'), ('expired', 'Closed by expiry')], max_length=16)),
                ('channel', models.CharField(blank=True, choices=[('self_request', 'Member asks directly'), ('supervisor_via_coordinator', 'Supervisor activation through the coordinator'), ('proactive_referral', 'Confidential referral by a colleague'), ('critical_incident', 'Critical incident or traumatic event'), ('dispatch', 'Through dispatch / communications'), ('other_agency', 'Request from another agency')], max_length=32)),
                ('urgency', models.CharField(blank=True, choices=[('now', 'Now'), ('today', 'Today'), ('this_week', 'This week')], max_length=16)),
                ('topic', models.CharField(blank=True, choices=[('critical_incident', 'After a critical incident'), ('work_stress', 'Work stress'), ('family', 'Family or relationship'), ('grief', 'Grief and loss'), ('substance_use', 'Alcohol or substance use'), ('health', 'Health'), ('finances', 'Finances'), ('other', 'Something else')], max_length=32)),
                ('incident_type', models.CharField(blank=True, choices=[('deadly_force', 'Use of deadly force'), ('assault_on_member', 'Assault on a member'), ('injury_illness_death', 'Injury, illness or death (member or family)'), ('death_notification', "Assisting a family with a member's death"), ('child_case', 'Crimes against children or a child death'), ('traumatic_call', 'Other traumatic call'), ('substance_use', 'Substance use'), ('personal', 'Marital, relationship, health, financial or other personal'), ('work_stress', 'Work stress'), ('other', 'Other')], max_length=32)),
                ('intervention_type', models.CharField(blank=True, choices=[('one_on_one', 'One-on-one'), ('phone', 'By phone'), ('group', 'Group (line-up or wellness debrief)'), ('critical_incident', 'Critical incident response'), ('referral_only', 'Information and referral only')], max_length=32)),
                ('member_category', models.CharField(blank=True, choices=[('sworn', 'Sworn'), ('civilian', 'Civilian'), ('volunteer', 'Volunteer'), ('family', 'Family member'), ('retiree', 'Retiree'), ('other_agency', 'Other agency')], max_length=16)),
                ('gender', models.CharField(blank=True, choices=[('female', 'Female'), ('male', 'Male'), ('non_binary', 'Non-binary'), ('not_said', 'Prefer not to say')], max_length=16)),
                ('duration_bucket', models.CharField(blank=True, choices=[('under_15', 'Under 15 minutes'), ('15_60', '15 to 60 minutes'), ('60_120', '1 to 2 hours'), ('over_120', 'More than 2 hours')], max_length=16)),
                ('services', models.JSONField(blank=True, default=list)),
                ('referral_types', models.JSONField(blank=True, default=list)),
                ('follow_up', models.BooleanField(blank=True, null=True)),
                ('seconds_to_ack', models.PositiveIntegerField(blank=True, null=True)),
                ('seconds_to_contact', models.PositiveIntegerField(blank=True, null=True)),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='agencies.agency')),
                ('supporter', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='support.supporterprofile')),
            ],
            options={
                'ordering': ['-closed_at'],
                'indexes': [models.Index(fields=['agency', 'closed_at'], name='psp_usage_agency_closed')],
            },
        ),
        migrations.RunPython(copy_rows, migrations.RunPython.noop),
        migrations.DeleteModel(name='RequestOffer'),
        migrations.DeleteModel(name='SupportRequest'),
        migrations.DeleteModel(name='UsageRecord'),
        migrations.RenameModel(old_name='SupportRequestNew', new_name='SupportRequest'),
        migrations.RenameModel(old_name='RequestOfferNew', new_name='RequestOffer'),
        migrations.RenameModel(old_name='UsageRecordNew', new_name='UsageRecord'),
    ]
