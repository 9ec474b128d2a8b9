# The escalation edges and groups (issue 10).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0008_sync_faults'),
    ]

    operations = [
        migrations.CreateModel(
            name='EscalationGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=40, unique=True)),
                ('kind', models.CharField(choices=[('user', 'User'), ('role', 'Role')], max_length=4)),
                ('label', models.CharField(max_length=2000)),
                ('member_count', models.IntegerField(default=0)),
                ('account', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='escalation_groups', to='identities.account')),
            ],
            options={
                'ordering': ['account', 'kind', 'label'],
            },
        ),
        migrations.CreateModel(
            name='EscalationGroupMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('arn', models.CharField(db_index=True, max_length=2048)),
                ('group', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='identities.escalationgroup')),
                ('role', models.OneToOneField(db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='escalation_group_member', to='identities.iamrole')),
                ('user', models.OneToOneField(db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='escalation_group_member', to='identities.iamuser')),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('role__isnull', True), ('user__isnull', False)), models.Q(('role__isnull', False), ('user__isnull', True)), _connector='OR'), name='escalationgroupmember_user_or_role')],
            },
        ),
        migrations.CreateModel(
            name='EscalationEdge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(help_text='a user or role ARN, or group:KEY', max_length=2048)),
                ('source_kind', models.CharField(max_length=5)),
                ('method', models.CharField(help_text='the catalogue id', max_length=80)),
                ('status', models.CharField(choices=[('proven', 'Proven from IAM data'), ('potential', 'Potential: needs a resource IAM data does not show')], max_length=9)),
                ('targets', models.JSONField(default=list, help_text='ARNs; empty when it acts on itself')),
                ('condition_keys', models.JSONField(default=list, help_text='sorted; empty when unconditional')),
                ('granted_by', models.JSONField(default=list, help_text='identity statements')),
                ('account', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='escalations', to='identities.account')),
                ('source_group', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='edges', to='identities.escalationgroup')),
                ('source_role', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='escalations_out', to='identities.iamrole')),
                ('source_user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='escalations_out', to='identities.iamuser')),
            ],
            options={
                'ordering': ['source', 'method'],
                'indexes': [models.Index(fields=['source', 'method'], name='escalationedge_source'), models.Index(fields=['method'], name='escalationedge_method')],
                'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['proven', 'potential'])), name='escalationedge_status'), models.CheckConstraint(condition=models.Q(('source_kind__in', ['user', 'role', 'group'])), name='escalationedge_source_kind')],
            },
        ),
    ]
