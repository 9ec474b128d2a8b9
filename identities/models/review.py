"""The daily review: access history between analyses, finding triage, edge review, notifications.

`AccessDiff`/`AccessChange`/`AccessState` are written only by `identities.analysis.history`, in
the transaction that stores an analysis' results. The triage tables (`TrackedFinding`,
`FindingEvent`, `SuppressionRule`, `EdgeReview`) are written by `identities.triage`, the
notification tables by `identities.notify`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from identities.models.analysis import AnalysisRun, Severity
from identities.models.checks import one_of, unique

SEVERITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2}


class AccessDiff(models.Model):
    """What one analysis changed against the previous succeeded one.

    A baseline (the first analysis, or the first after the history was lost) records no rows:
    everything would be "added". Any two runs compare by composing the diffs between them.
    """

    run = models.OneToOneField(AnalysisRun, on_delete=models.CASCADE, related_name="diff")
    previous = models.ForeignKey(
        AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="next_diffs"
    )
    baseline = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    counts = models.JSONField(default=dict, help_text="{category: rows}")
    sync_runs = models.JSONField(
        default=list, help_text="ids of the sync runs between the two analyses (the causes)"
    )

    class Meta:
        ordering = ["-run_id"]

    def __str__(self) -> str:
        return f"Changes of analysis #{self.run_id}"


class AccessChange(models.Model):
    """One difference: an access edge, an administrator, a path to one, or a finding."""

    class Category(models.TextChoices):
        EDGE_ADDED = "edge_added", "Edge added"
        EDGE_REMOVED = "edge_removed", "Edge removed"
        EDGE_CHANGED = "edge_changed", "Edge conditions changed"
        ADMIN_ADDED = "admin_added", "New administrator"
        ADMIN_REMOVED = "admin_removed", "No longer an administrator"
        REACH_ADDED = "reach_added", "New path to an administrator"
        REACH_REMOVED = "reach_removed", "Path to an administrator gone"
        SENSITIVE_ADDED = "sensitive_added", "New path to a sensitive role"
        SENSITIVE_REMOVED = "sensitive_removed", "Path to a sensitive role gone"
        FINDING_NEW = "finding_new", "New finding"
        FINDING_RESOLVED = "finding_resolved", "Finding resolved"
        ESCALATION_ADDED = "escalation_added", "New escalation"
        ESCALATION_REMOVED = "escalation_removed", "Escalation gone"

    diff = models.ForeignKey(AccessDiff, on_delete=models.CASCADE, related_name="changes")
    category = models.CharField(max_length=20, choices=Category.choices)
    source = models.CharField(max_length=2048, help_text="edge source, principal, finding key")
    target = models.CharField(max_length=2048, blank=True, help_text="edge target role")
    action = models.CharField(max_length=64, blank=True)
    account_id = models.CharField(max_length=12, blank=True)
    severity = models.CharField(max_length=6, choices=Severity.choices)
    detail = models.JSONField(default=dict, help_text="before/after and what explains it")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["diff", "category"], name="accesschange_diff_category")]
        constraints = [one_of("severity", ["high", "medium", "low"], "accesschange_severity")]

    def __str__(self) -> str:
        return f"{self.category} {self.source} {self.target}".strip()


class AccessState(models.Model):
    """The compact state of the newest analysis (compressed), the "before" of the next diff.

    Only the newest is kept: estate rows removed by a sync take their analysis rows with them,
    so the previous picture cannot be read back from the analysis tables.
    """

    run = models.OneToOneField(AnalysisRun, on_delete=models.CASCADE, related_name="state")
    blob = models.BinaryField()

    def __str__(self) -> str:
        return f"State of analysis #{self.run_id}"


class TriageStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    SUPPRESSED = "suppressed", "Suppressed"
    RESOLVED = "resolved", "Resolved"


class SuppressionRule(models.Model):
    """A decision for findings or new edges that match, now and in future analyses.

    Empty fields match anything; ``principal`` and ``source`` are shell-style patterns
    (``arn:aws:iam::123456789012:*``). For a finding, ``principal`` is its principal and
    ``source`` the account it trusts, if any; for an edge, ``principal`` is the role and
    ``source`` who can assume it. ``condition_key`` must be among the edge's condition keys.
    """

    class AppliesTo(models.TextChoices):
        FINDING = "finding", "Findings"
        EDGE = "edge", "Access edges"

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        SUPPRESSED = "suppressed", "Suppressed"
        EXPECTED = "expected", "Expected"

    applies_to = models.CharField(max_length=8, choices=AppliesTo.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    finding_kind = models.CharField(max_length=40, blank=True)
    principal = models.CharField(max_length=2048, blank=True)
    source = models.CharField(max_length=2048, blank=True)
    account_id = models.CharField(max_length=12, blank=True)
    condition_key = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            one_of("applies_to", ["finding", "edge"], "suppressionrule_applies_to"),
            models.CheckConstraint(
                condition=Q(applies_to="finding", decision__in=["accepted", "suppressed"])
                | Q(applies_to="edge", decision="expected"),
                name="suppressionrule_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: {self.reason[:60]}"


class TrackedFinding(models.Model):
    """A finding across analyses, by a stable key, with its triage state.

    The analysis replaces its `Finding` rows every run; this row keeps the decision a reviewer
    took and the trail of every transition.
    """

    key = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=6, choices=Severity.choices)
    account_id = models.CharField(max_length=12, blank=True)
    principal_arn = models.CharField(max_length=2048)
    title = models.CharField(max_length=1000)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict)
    material = models.CharField(max_length=40, help_text="digest of what makes it this finding")
    content = models.CharField(max_length=40, help_text="digest of everything it shows")
    status = models.CharField(max_length=10, choices=TriageStatus.choices)
    reason = models.TextField(blank=True)
    until = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rule = models.ForeignKey(
        SuppressionRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(
        help_text="the last analysis that changed it; one not resolved is in every analysis"
    )
    last_run = models.ForeignKey(
        AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["status", "kind", "principal_arn"]
        indexes = [models.Index(fields=["status", "severity"], name="trackedfinding_status")]
        constraints = [
            one_of(
                "status", ["open", "accepted", "suppressed", "resolved"], "trackedfinding_status"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("identities:finding-detail", args=[self.key])


class FindingEvent(models.Model):
    """One transition of a tracked finding: who (nobody for the analysis), why, until when."""

    finding = models.ForeignKey(TrackedFinding, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, choices=TriageStatus.choices)
    note = models.TextField(blank=True)
    until = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class EdgeReview(models.Model):
    """A reviewer's verdict on an access edge: expected, with the reason."""

    source = models.CharField(max_length=2048)
    target = models.CharField(max_length=2048)
    reason = models.TextField()
    conditions = models.JSONField(default=list, help_text="the edge's condition keys when reviewed")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField()

    class Meta:
        ordering = ["source", "target"]
        constraints = [unique("source", "target", name="edgereview_one_per_edge")]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}: expected"


class NotificationSettings(models.Model):
    """One row: whether to notify, and the lowest severity that does."""

    enabled = models.BooleanField(default=True)
    min_severity = models.CharField(max_length=6, choices=Severity.choices, default="high")

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notify at {self.min_severity} and above"


class NotificationDestination(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (Slack-compatible JSON)"
        EMAIL = "email", "Email"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2048, blank=True)
    email = models.EmailField(blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="webhook", url__gt="") | Q(kind="email", email__gt=""),
                name="notificationdestination_address",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NotificationDelivery(models.Model):
    """One message for one analysis to one destination, and how its delivery went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    destination = models.ForeignKey(
        NotificationDestination, on_delete=models.CASCADE, related_name="deliveries"
    )
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    message = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [unique("destination", "run", name="delivery_once_per_run")]

    def __str__(self) -> str:
        return f"{self.destination} #{self.run_id}: {self.status}"
