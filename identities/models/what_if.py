"""Saved what-if proposals: a named set of changes, shared by permalink and run again after the
next sync (`identities.analysis.what_if` evaluates them); and what-ifs answered by a worker
(`identities.what_if_jobs`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from identities.models.analysis import AnalysisRun


class WhatIfProposal(models.Model):
    """``changes``: the proposal as the command line gives it, one ``[option, [arguments]]``
    per change, the document (a JSON object) in place of FILE. ``result``: the last answer's
    summary (counts and the first items of each list), computed against ``computed_run``."""

    name = models.CharField(max_length=200)
    changes = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()
    result = models.JSONField(default=dict, blank=True)
    computed_run = models.ForeignKey(
        AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"What-if {self.name}"


class WhatIfJob(models.Model):
    """A proposal the editor asked a worker to answer (a whole-estate fallback outlasts a web
    request): ``changes`` as `WhatIfProposal` keeps them, ``result`` the answer's summary."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Evaluating"
        DONE = "done", "Answered"
        FAILED = "failed", "Failed"

    changes = models.JSONField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # A saved proposal's ("Save", "Run again"): its result is stored there once answered.
    proposal = models.ForeignKey(
        WhatIfProposal, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"What-if job #{self.pk} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}
