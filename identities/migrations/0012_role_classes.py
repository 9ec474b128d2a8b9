"""Role classes: the group edges of roles trusting "*" stored once per class.

The access edge table becomes ``identities_accessedgerow`` (model StoredAccessEdge), and
``identities_accessedge`` a view over it and the role class grants written out for each member
role (see identities.models.AccessEdge).
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

# The view's columns, in the order of both halves; a column added to EdgeFields goes here too.
PLAIN = (
    "source", "source_kind", "action", "via_pass_role", "outcome", "condition_keys",
    "condition_values", "denied_layer", "reasons", "notes",
)  # fmt: skip
MARK = "{trust policy}"


def view_sql(vendor: str) -> str:
    plain = ", ".join(PLAIN)
    grant_plain = ", ".join(f"g.{column}" for column in PLAIN)
    if vendor == "postgresql":
        granted = f"replace(g.granted_by::text, '{MARK}', m.trust_label)::jsonb"
        null = "NULL::bigint"
    else:
        granted = f"replace(g.granted_by, '{MARK}', m.trust_label)"
        null = "NULL"
    return (
        "CREATE VIEW identities_accessedge AS "
        f"SELECT id, {plain}, granted_by, source_user_id, source_role_id, source_group_id, "
        "target_id FROM identities_accessedgerow "
        "UNION ALL "
        # Ids of written-out grants are negative: unique, and never those of stored rows.
        f"SELECT -(g.id * 4294967296 + m.id), {grant_plain}, {granted}, {null}, {null}, "
        "g.source_group_id, m.role_id "
        "FROM identities_roleclassgrant g "
        "JOIN identities_roleclassmember m ON m.role_class = g.role_class"
    )


def create_view(apps, schema_editor):
    schema_editor.execute(view_sql(schema_editor.connection.vendor))


def drop_view(apps, schema_editor):
    schema_editor.execute("DROP VIEW identities_accessedge")


class Migration(migrations.Migration):
    dependencies = [
        ("identities", "0011_edge_conditions"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoleClassGrant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(max_length=2048)),
                (
                    "source_kind",
                    models.CharField(
                        choices=[
                            ("user", "User"),
                            ("role", "Role"),
                            ("group", "Access group"),
                            ("account", "Account outside the synced set"),
                            ("external", "Principal outside the synced set"),
                            ("service", "AWS service"),
                            ("federated", "Federated (SAML/OIDC)"),
                            ("anyone", "Anyone"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        help_text="sts:AssumeRole, …WithSAML, …WithWebIdentity", max_length=64
                    ),
                ),
                (
                    "via_pass_role",
                    models.BooleanField(
                        default=False,
                        help_text="a service, which gets the role when a principal passes it",
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("allow", "Allowed"),
                            ("conditional", "Allowed under conditions"),
                            ("denied", "Refused"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "condition_keys",
                    models.JSONField(default=list, help_text="sorted; empty when unconditional"),
                ),
                (
                    "condition_values",
                    models.JSONField(
                        default=dict,
                        help_text="condition key -> what the deciding statements require of it, in words (``MFA = true``); empty when unconditional",
                    ),
                ),
                (
                    "granted_by",
                    models.JSONField(default=list, help_text="trust and identity statements"),
                ),
                (
                    "denied_layer",
                    models.CharField(blank=True, help_text="for refused candidates", max_length=16),
                ),
                ("reasons", models.JSONField(default=list, help_text="why a candidate is refused")),
                ("notes", models.JSONField(default=list)),
                ("role_class", models.IntegerField(db_index=True)),
                (
                    "source_group",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="identities.accessgroup",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="RoleClassMember",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("role_class", models.IntegerField(db_index=True)),
                ("trust_label", models.TextField()),
                (
                    "role",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="identities.iamrole",
                    ),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE identities_accessedge RENAME TO identities_accessedgerow",
                    "ALTER TABLE identities_accessedgerow RENAME TO identities_accessedge",
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="accessedge", name="accessedge_target_outcome"),
                migrations.RemoveConstraint(model_name="accessedge", name="accessedge_outcome"),
                migrations.RemoveConstraint(model_name="accessedge", name="accessedge_source_kind"),
                migrations.AlterModelOptions(name="accessedge", options={"managed": False}),
                migrations.AlterModelTable(name="accessedge", table="identities_accessedge"),
                migrations.CreateModel(
                    name="StoredAccessEdge",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("source", models.CharField(max_length=2048)),
                        (
                            "source_kind",
                            models.CharField(
                                choices=[
                                    ("user", "User"),
                                    ("role", "Role"),
                                    ("group", "Access group"),
                                    ("account", "Account outside the synced set"),
                                    ("external", "Principal outside the synced set"),
                                    ("service", "AWS service"),
                                    ("federated", "Federated (SAML/OIDC)"),
                                    ("anyone", "Anyone"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                help_text="sts:AssumeRole, …WithSAML, …WithWebIdentity",
                                max_length=64,
                            ),
                        ),
                        (
                            "via_pass_role",
                            models.BooleanField(
                                default=False,
                                help_text="a service, which gets the role when a principal passes it",
                            ),
                        ),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("allow", "Allowed"),
                                    ("conditional", "Allowed under conditions"),
                                    ("denied", "Refused"),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "condition_keys",
                            models.JSONField(
                                default=list, help_text="sorted; empty when unconditional"
                            ),
                        ),
                        (
                            "condition_values",
                            models.JSONField(
                                default=dict,
                                help_text="condition key -> what the deciding statements require of it, in words (``MFA = true``); empty when unconditional",
                            ),
                        ),
                        (
                            "granted_by",
                            models.JSONField(
                                default=list, help_text="trust and identity statements"
                            ),
                        ),
                        (
                            "denied_layer",
                            models.CharField(
                                blank=True, help_text="for refused candidates", max_length=16
                            ),
                        ),
                        (
                            "reasons",
                            models.JSONField(default=list, help_text="why a candidate is refused"),
                        ),
                        ("notes", models.JSONField(default=list)),
                        (
                            "source_group",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="identities.accessgroup",
                            ),
                        ),
                        (
                            "source_role",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="identities.iamrole",
                            ),
                        ),
                        (
                            "source_user",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="identities.iamuser",
                            ),
                        ),
                        (
                            "target",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="identities.iamrole",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "identities_accessedgerow",
                        "indexes": [
                            models.Index(
                                fields=["target", "outcome"], name="accessedge_target_outcome"
                            )
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("outcome__in", ["allow", "conditional", "denied"])
                                ),
                                name="accessedge_outcome",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "source_kind__in",
                                        [
                                            "user",
                                            "role",
                                            "group",
                                            "account",
                                            "external",
                                            "service",
                                            "federated",
                                            "anyone",
                                        ],
                                    )
                                ),
                                name="accessedge_source_kind",
                            ),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(create_view, drop_view),
    ]
