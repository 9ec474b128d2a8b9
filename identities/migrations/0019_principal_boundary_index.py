"""An index on the permissions boundary of users and roles: the identity view looks for the
principals a policy bounds at every hop from a policy, which read every user and role."""

from __future__ import annotations

from django.db import migrations

TABLES = ("identities_iamuser", "identities_iamrole")


class Migration(migrations.Migration):
    dependencies = [("identities", "0018_access_change_escalations")]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX {table}_boundary_arn ON {table} (boundary_arn)",
            reverse_sql=f"DROP INDEX {table}_boundary_arn",
        )
        for table in TABLES
    ]
