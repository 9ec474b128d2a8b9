"""Exports built in the background: a list too long to stream within one request (the 16 million
escalations of a 50-account estate), written to a compressed CSV file by a worker, with its
progress, for the login that asked to download (`identities.exporting`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from identities.models.analysis import AnalysisRun


class Export(models.Model):
    class Kind(models.TextChoices):
        ESCALATIONS = "escalations", "Escalations"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The list's filters as its page takes them (escalations: account_id, method, status, query).
    filters = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The analysis whose rows it holds: a later analysis does not change a built file.
    analysis_run = models.ForeignKey(
        AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # When the build last wrote its progress (or started): a page says when it went quiet.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.kind}, {self.status})"

    @property
    def file_name(self) -> str:
        return f"iamviz-{self.kind}-{self.pk}.csv.gz"

    @property
    def active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.rows_written * 100 // self.rows_total) if self.rows_total else 0
