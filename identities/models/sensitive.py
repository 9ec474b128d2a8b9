"""Sensitive targets: roles staff mark as sensitive (production deploy, break-glass, data access),
which every reach question treats like administrators.

`SensitiveTarget` rows are the staff's rules (written by the page); `SensitiveRole` and
`SensitivePath` are analysis results (only `analysis` writes them): the roles the rules matched
at the analysis and, for every principal that can reach one, its nearest and the chain.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from identities.models.analysis import ReachPathFields
from identities.models.checks import one_of, unique
from identities.models.estate import IamRole, IamUser


class SensitiveTarget(models.Model):
    """A rule marking roles sensitive: one role by ARN, role names by a shell-style glob
    (``*break-glass*``), or roles by a tag (``env=prod``; the value may be a glob)."""

    class Kind(models.TextChoices):
        ARN = "arn", "Role ARN"
        NAME_GLOB = "name_glob", "Role name pattern"
        TAG = "tag", "Tag (KEY=VALUE)"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=2048)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            one_of("kind", ["arn", "name_glob", "tag"], "sensitivetarget_kind"),
            unique("kind", "value", name="sensitivetarget_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class SensitiveRole(models.Model):
    """A role the rules marked sensitive at the current analysis, with the rules (as text)."""

    role = models.OneToOneField(
        IamRole, on_delete=models.CASCADE, related_name="sensitive", db_constraint=False
    )
    arn = models.CharField(max_length=2048)
    rules = models.JSONField(default=list, help_text="'KIND VALUE: REASON' of each rule")

    class Meta:
        ordering = ["arn"]

    def __str__(self) -> str:
        return self.arn


class SensitivePath(ReachPathFields):
    """A principal that can reach a sensitive role by assuming roles or escalating: its
    nearest one (``target``) and the chain, as `AdminPath` is for administrators."""

    source_user = models.ForeignKey(
        IamUser, null=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    source_role = models.ForeignKey(
        IamRole, null=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    target = models.ForeignKey(
        SensitiveRole, on_delete=models.CASCADE, related_name="reached_by", db_constraint=False
    )
    path = models.JSONField(help_text="ARNs from the principal to the sensitive role")

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_id} in {self.hops}"
