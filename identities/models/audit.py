"""The audit log: one row per mutation or sensitive read (settings, schedules, syncs, triage,
bundle downloads, logins and failed logins). Written only by `identities.audit.record_audit`.

`AuditEvent` also declares the role permissions (`identities.roles`): Django attaches every
permission to a model.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from identities.roles import ROLE_PERMISSIONS


class AuditEvent(models.Model):
    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept when the user is deleted, and for failed logins (no user).
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-pk")
        permissions = [ROLE_PERMISSIONS[role] for role in ROLE_PERMISSIONS]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.target}"
