"""Sync runs, their change sets, and the sync configuration (settings, accounts to sync)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.urls import reverse

from identities.models.checks import one_of, optional_link
from identities.models.estate import Account


class RunStatus(models.TextChoices):
    """Where a sync run or an analysis run is."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


def run_status_check(prefix: str) -> models.CheckConstraint:
    """The database refuses a status `RunStatus` does not name."""
    return one_of("status", RunStatus.values, f"{prefix}_status")


class Timed:
    """The duration of a run that has finished."""

    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class SyncRun(Timed, models.Model):
    """One import of a bundle or one sync from AWS, with what it changed."""

    class Source(models.TextChoices):
        IMPORT = "import", "Import"
        AWS = "aws", "AWS sync"

    Status = RunStatus

    source = models.CharField(max_length=8, choices=Source.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    label = models.CharField(max_length=500, blank=True, help_text="file name or account")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs"
    )
    account_ids = models.JSONField(default=list, help_text="accounts the run covered")
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    counts = models.JSONField(default=dict, help_text="entities in the bundle, by kind")
    change_counts = models.JSONField(default=dict, help_text="{kind: {added, removed, changed}}")
    error = models.TextField(blank=True)
    aws_calls = models.IntegerField(default=0)
    aws_retries = models.IntegerField(default=0)
    parent = optional_link(
        "self", "children", help_text="the organisation run an account run belongs to"
    )
    phase = models.CharField(max_length=100, blank=True, help_text="what a running sync is doing")
    heartbeat_at = models.DateTimeField(null=True, help_text="last sign of life of its worker")
    task_id = models.CharField(max_length=255, blank=True)
    target_account_id = models.CharField(
        max_length=12, blank=True, help_text="the account an AWS account run syncs"
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="what a successful run could not read"
    )
    bundle_gzip = models.BinaryField(null=True, editable=False)
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    bundle_bytes = models.BigIntegerField(default=0)
    bundle_of = optional_link(
        "self",
        "bundle_copies",
        models.SET_NULL,
        help_text="the run whose archive holds this run's identical bundle",
    )
    bundle_pruned_at = models.DateTimeField(
        null=True, blank=True, help_text="when the retention removed the archived bundle"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            one_of("source", ["import", "aws"], "syncrun_source"),
            run_status_check("syncrun"),
            # The database refuses a second pending/running AWS sync of the same account (or a
            # second organisation run), whatever the broker: two clicks make one sync.
            models.UniqueConstraint(
                fields=["target_account_id"],
                condition=Q(source="aws", status__in=["pending", "running"])
                & ~Q(target_account_id=""),
                name="syncrun_one_active_per_account",
            ),
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(source="aws", status__in=["pending", "running"], target_account_id=""),
                name="syncrun_one_active_organization",
            ),
        ]
        indexes = [
            models.Index(fields=["target_account_id", "id"]),
            models.Index(fields=["bundle_sha256"], name="syncrun_bundle_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("identities:syncrun-detail", args=[self.pk])


class SyncSettings(models.Model):
    """How iamviz reaches AWS: one row. Credentials never live here; the management account is
    reached through boto3's standard credential chain (environment, profile, instance/task role).
    """

    discover_accounts = models.BooleanField(
        default=True, help_text="list member accounts through AWS Organizations"
    )
    profile_name = models.CharField(
        max_length=200, blank=True, help_text="AWS profile for the management account (optional)"
    )
    region = models.CharField(max_length=32, default="us-east-1", help_text="for STS endpoints")
    role_name = models.CharField(
        max_length=200,
        default="iamviz-readonly",
        help_text="read-only role assumed in each member account (name or ARN pattern)",
    )
    external_id = models.CharField(max_length=1224, blank=True)

    class Meta:
        verbose_name_plural = "sync settings"

    def __str__(self) -> str:
        return "AWS sync settings"


class AccountSyncConfig(models.Model):
    """An account to sync, listed by hand or discovered, with its own role if it differs."""

    account_id = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200, blank=True)
    role_name_or_arn = models.CharField(
        max_length=2048, blank=True, help_text="blank: the role name of the sync settings"
    )
    external_id = models.CharField(max_length=1224, blank=True)
    enabled = models.BooleanField(default=True)
    discovered = models.BooleanField(default=False, help_text="found through Organizations")

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_id__regex=r"^[0-9]{12}$"),
                name="syncconfig_account_id_12_digits",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.account_id


class Change(models.Model):
    """One entry of a sync run's change set against the state before it."""

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        REMOVED = "removed", "Removed"
        CHANGED = "changed", "Changed"

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="changes")
    account_id = models.CharField(max_length=12, blank=True)
    kind = models.CharField(max_length=32, help_text="user, role, membership, trust_policy, …")
    action = models.CharField(max_length=8, choices=Action.choices)
    key = models.CharField(max_length=2048, help_text="ARN or relation the change is about")
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["sync_run", "kind"])]
        constraints = [one_of("action", ["added", "removed", "changed"], "change_action")]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.key}"


# --- the access analysis: written only by identities.analysis ---------------------------------
#
# These rows are derived: every analysis replaces all of them in one transaction, from primary
# keys it has just read. The large tables therefore skip database-level foreign-key constraints
# (`db_constraint=False`; Django still cascades deletes): checking a few hundred thousand of
# them at commit took ~10 s of a 50-account analysis.
