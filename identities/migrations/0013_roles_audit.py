"""The audit log table, and the four role groups (issue 14, items 11 and 12).

Existing logins keep what they could do: staff who are not superusers become operators (they
changed settings and started syncs), every other active non-superuser becomes a viewer.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from identities.roles import ROLE_PERMISSIONS, ensure_roles


def create_roles(apps: Any, schema_editor: Any) -> None:
    ensure_roles(apps)
    group_model = apps.get_model("auth", "Group")
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    operator = group_model.objects.get(name="operator")
    viewer = group_model.objects.get(name="viewer")
    for user in user_model.objects.filter(is_superuser=False, is_active=True, groups=None):
        user.groups.add(operator if user.is_staff else viewer)


class Migration(migrations.Migration):
    dependencies = [
        ("identities", "0012_role_classes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_index=True)),
                ("username", models.CharField(blank=True, max_length=150)),
                ("action", models.CharField(db_index=True, max_length=64)),
                ("target", models.CharField(blank=True, max_length=500)),
                ("details", models.JSONField(blank=True, default=dict)),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ("-at", "-pk"),
                "permissions": [ROLE_PERMISSIONS[role] for role in ROLE_PERMISSIONS],
            },
        ),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
