"""Analysis results: the run, access groups and edges, administrators, findings.

Only `analysis` writes these rows; pages read them through `queries`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import Q

from identities.models.checks import one_of, optional_link
from identities.models.estate import Account, IamRole, IamUser
from identities.models.runs import RunStatus, SyncRun, Timed, run_status_check

_M = TypeVar("_M", bound=models.Model)


# Analysis rows are replaced in bulk, so their links to the estate carry no database constraint.
def _optional_link(
    to: type[_M], related_name: str, on_delete: Any = models.CASCADE
) -> models.ForeignKey[_M | None, _M | None]:
    return optional_link(to, related_name, on_delete, db_constraint=False)


def _member_link(to: type[_M], related_name: str) -> models.OneToOneField[_M | None, _M | None]:
    return models.OneToOneField(
        to, null=True, on_delete=models.CASCADE, related_name=related_name, db_constraint=False
    )


class AnalysisRun(Timed, models.Model):
    """One run of the access analysis over the whole estate.

    The rows of the analysis tables always belong to the newest succeeded run: a run replaces
    them in one transaction, and a failed run leaves them as they were (and records its error).
    """

    Status = RunStatus

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    sync_run = optional_link(
        SyncRun,
        "analysis_runs",
        models.SET_NULL,
        help_text="the newest sync run when the analysis started",
    )
    started_at = models.DateTimeField(help_text="when it started (pending: when requested)")
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True, help_text="last sign of life of its worker")
    counts = models.JSONField(default=dict)
    timings = models.JSONField(default=dict, help_text="seconds per stage")
    notes = models.JSONField(default=list, help_text="what the analysis could not decide")
    error = models.TextField(blank=True)
    graph = models.BinaryField(
        null=True, editable=False, help_text="the direct edges as a compact graph (reach queries)"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            run_status_check("analysisrun"),
            # Single flight: every request while one waits is covered by the one waiting.
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="pending"),
                name="analysisrun_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Analysis #{self.pk} {self.status}"


class PrincipalKind(models.TextChoices):
    USER = "user", "User"
    ROLE = "role", "Role"


def _user_or_role(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=(
            Q(user__isnull=False, role__isnull=True) | Q(user__isnull=True, role__isnull=False)
        ),
        name=f"{prefix}_user_or_role",
    )


class AccessGroup(models.Model):
    """Principals of one account the analysis treats alike: same kind, same identity statements
    about sts:AssumeRole (other than ones naming a role by exact ARN), same permissions boundary,
    same SCPs. An access edge from a group holds for each member, unless the member has an edge
    of its own for that role."""

    key = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="access_groups")
    kind = models.CharField(max_length=4, choices=PrincipalKind.choices)
    label = models.CharField(max_length=2000)
    policies = models.JSONField(default=list, help_text="the policies that define it")
    member_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["account", "kind", "label"]
        constraints = [one_of("kind", ["user", "role"], "accessgroup_kind")]

    def __str__(self) -> str:
        return self.label

    @property
    def source(self) -> str:
        return f"group:{self.key}"


class AccessGroupMember(models.Model):
    group = models.ForeignKey(
        AccessGroup, on_delete=models.CASCADE, related_name="members", db_constraint=False
    )
    user = _member_link(IamUser, "access_group_member")
    role = _member_link(IamRole, "access_group_member")
    arn = models.CharField(max_length=2048)

    class Meta:
        constraints = [_user_or_role("accessgroupmember")]

    def __str__(self) -> str:
        return f"{self.arn} in {self.group_id}"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class EdgeFields(models.Model):
    """The columns of an access edge, shared by the stored rows and the view readers use."""

    class SourceKind(models.TextChoices):
        USER = "user", "User"
        ROLE = "role", "Role"
        GROUP = "group", "Access group"
        ACCOUNT = "account", "Account outside the synced set"
        EXTERNAL = "external", "Principal outside the synced set"
        SERVICE = "service", "AWS service"
        FEDERATED = "federated", "Federated (SAML/OIDC)"
        ANYONE = "anyone", "Anyone"

    class Outcome(models.TextChoices):
        ALLOW = "allow", "Allowed"
        CONDITIONAL = "conditional", "Allowed under conditions"
        DENIED = "denied", "Refused"

    source = models.CharField(max_length=2048)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    action = models.CharField(
        max_length=64, help_text="sts:AssumeRole, …WithSAML, …WithWebIdentity"
    )
    via_pass_role = models.BooleanField(
        default=False, help_text="a service, which gets the role when a principal passes it"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    condition_keys = models.JSONField(default=list, help_text="sorted; empty when unconditional")
    condition_values = models.JSONField(
        default=dict,
        help_text="condition key -> what the deciding statements require of it, in words "
        "(``MFA = true``); empty when unconditional",
    )
    granted_by = models.JSONField(default=list, help_text="trust and identity statements")
    denied_layer = models.CharField(max_length=16, blank=True, help_text="for refused candidates")
    reasons = models.JSONField(default=list, help_text="why a candidate is refused")
    notes = models.JSONField(default=list)

    class Meta:
        abstract = True

    @property
    def possible(self) -> bool:
        return self.outcome != self.Outcome.DENIED


class AccessEdge(EdgeFields):
    """A principal that can assume a role (or a named candidate that cannot, and why).

    ``source`` is the principal as the command line prints it: a user or role ARN,
    ``arn:aws:iam::ID:root`` for an account outside the synced set, ``service:NAME``,
    ``federated:PROVIDER``, ``*`` for anyone, or ``group:KEY`` for an access group.

    Read-only: a database view (migration 0012) over the `StoredAccessEdge` rows and the
    grants of role classes (`RoleClassGrant`) written out for each member role
    (`RoleClassMember`), the trust policy's label put into their ``granted_by``. A role
    trusting ``*`` gets an edge from nearly every access group of the estate; stored once per
    class, they are a few thousand rows instead of a million. A column added to `EdgeFields`
    must be added to the view as well (tests/analysis/test_store.py checks).
    """

    # DO_NOTHING: a view has no rows to delete; the stored rows cascade.
    source_user = _optional_link(IamUser, "access_edges", on_delete=models.DO_NOTHING)
    source_role = _optional_link(IamRole, "access_edges_out", on_delete=models.DO_NOTHING)
    source_group = _optional_link(AccessGroup, "edges", on_delete=models.DO_NOTHING)
    target = models.ForeignKey(
        IamRole,
        on_delete=models.DO_NOTHING,
        related_name="access_edges_in",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        managed = False
        db_table = "identities_accessedge"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_id} ({self.outcome})"


class StoredAccessEdge(EdgeFields):
    """An access edge as stored one by one (all but the grants of role classes)."""

    source_user = _optional_link(IamUser, "+")
    source_role = _optional_link(IamRole, "+")
    source_group = _optional_link(AccessGroup, "+")
    # Indexed by the (target, outcome) index below.
    target = models.ForeignKey(
        IamRole, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        db_table = "identities_accessedgerow"
        indexes = [models.Index(fields=["target", "outcome"], name="accessedge_target_outcome")]
        constraints = [
            one_of("outcome", ["allow", "conditional", "denied"], "accessedge_outcome"),
            one_of(
                "source_kind",
                ["user", "role", "group", "account", "external", "service", "federated", "anyone"],
                "accessedge_source_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_id} ({self.outcome})"


class RoleClassGrant(EdgeFields):
    """An access group's edge to every role of a role class (see `AccessEdge`); trust
    statement references in ``granted_by`` name the policy "{trust policy}"."""

    role_class = models.IntegerField(db_index=True)
    source_group = models.ForeignKey(
        AccessGroup, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    def __str__(self) -> str:
        return f"{self.source} -> class {self.role_class} ({self.outcome})"


class RoleClassMember(models.Model):
    """A role of a role class, with its trust policy's label (JSON-escaped, as the view puts
    it into ``granted_by``)."""

    role_class = models.IntegerField(db_index=True)
    role = models.ForeignKey(
        IamRole, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    trust_label = models.TextField()

    def __str__(self) -> str:
        return f"role {self.role_id} in class {self.role_class}"


class Administrator(models.Model):
    """A principal whose effective permissions allow everything, or enough IAM to get that."""

    class Basis(models.TextChoices):
        FULL = "full", "Full access"
        ESCALATION = "escalation", "Can grant itself full access"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="administrators")
    user = models.OneToOneField(
        IamUser, null=True, blank=True, on_delete=models.CASCADE, related_name="administrator"
    )
    role = models.OneToOneField(
        IamRole, null=True, blank=True, on_delete=models.CASCADE, related_name="administrator"
    )
    arn = models.CharField(max_length=2048)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    condition_keys = models.JSONField(default=list)
    statements = models.JSONField(default=list, help_text="the statements that make it one")
    reason = models.TextField()
    via_arn = models.CharField(
        max_length=2048, blank=True, help_text="the administrator it can take over, if any"
    )

    class Meta:
        ordering = ["arn"]
        constraints = [
            _user_or_role("administrator"),
            one_of("basis", ["full", "escalation"], "administrator_basis"),
        ]

    def __str__(self) -> str:
        return self.arn


class ReachPathFields(models.Model):
    """A principal's chain to its nearest target: the columns `AdminPath` and
    `identities.models.sensitive.SensitivePath` share."""

    source = models.CharField(max_length=2048)
    source_kind = models.CharField(max_length=10, choices=AccessEdge.SourceKind.choices)
    hops = models.PositiveSmallIntegerField()
    condition_keys = models.JSONField(default=list, help_text="of every hop, sorted")

    class Meta:
        abstract = True
        ordering = ["hops", "source"]


class AdminPath(ReachPathFields):
    """A principal that can become an administrator by assuming roles: its nearest one."""

    source_user = _optional_link(IamUser, "admin_paths")
    source_role = _optional_link(IamRole, "admin_paths")
    administrator = models.ForeignKey(
        Administrator, on_delete=models.CASCADE, related_name="reached_by", db_constraint=False
    )
    path = models.JSONField(help_text="ARNs from the principal to the administrator")

    def __str__(self) -> str:
        return f"{self.source} -> {self.administrator_id} in {self.hops}"


class Finding(models.Model):
    """Something a reviewer should look at, with a human explanation."""

    Severity = Severity

    class Kind(models.TextChoices):
        PUBLIC_ROLE = "public_role", "Role anyone can assume"
        ROOT_TRUST_WITHOUT_EXTERNAL_ID = (
            "root_trust_without_external_id",
            "Cross-account trust of an account root without ExternalId",
        )
        ADMIN_WITHOUT_MFA = "admin_without_mfa", "Administrator user without MFA"
        STALE_ACCESS_KEY = "stale_access_key", "Access key unused for over 90 days"
        STALE_PASSWORD = "stale_password", "Console password unused for over 90 days"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    severity = models.CharField(max_length=6, choices=Severity.choices)
    account = _optional_link(Account, "findings")
    principal_arn = models.CharField(max_length=2048)
    user = _optional_link(IamUser, "findings")
    role = _optional_link(IamRole, "findings")
    title = models.CharField(max_length=1000)
    detail = models.TextField()
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["kind", "principal_arn", "id"]
        constraints = [
            one_of("severity", ["high", "medium", "low"], "finding_severity"),
            one_of(
                "kind",
                [
                    "public_role",
                    "root_trust_without_external_id",
                    "admin_without_mfa",
                    "stale_access_key",
                    "stale_password",
                ],
                "finding_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class EscalationGroup(models.Model):
    """Principals of one account every escalation question treats alike (same kind, statements
    about the catalogue's actions, boundary, IAM groups, customer-managed policies). An
    escalation edge from a group holds for each member, except on the member itself."""

    key = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="escalation_groups", db_constraint=False
    )
    kind = models.CharField(max_length=4, choices=PrincipalKind.choices)
    label = models.CharField(max_length=2000)
    member_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["account", "kind", "label"]

    def __str__(self) -> str:
        return self.label


class EscalationGroupMember(models.Model):
    group = models.ForeignKey(
        EscalationGroup, on_delete=models.CASCADE, related_name="members", db_constraint=False
    )
    user = _member_link(IamUser, "escalation_group_member")
    role = _member_link(IamRole, "escalation_group_member")
    arn = models.CharField(max_length=2048, db_index=True)

    class Meta:
        constraints = [_user_or_role("escalationgroupmember")]

    def __str__(self) -> str:
        return f"{self.arn} in {self.group_id}"


class EscalationEdge(models.Model):
    """Principals that can become others (or grant themselves anything) by one escalation
    method of the catalogue (`identities.analysis.escalation_methods`), with the statements
    that let them.

    The source is one user or role, or an escalation group (each member). ``targets`` are the
    ARNs it acts on or becomes (users, roles, groups or policies), empty when the method acts
    on the source itself; a member of a group is never its own target. One row holds every
    target with the same conditions and granting statements, so a group with CreateAccessKey
    on ``*`` is one row, not one per user.
    """

    class Status(models.TextChoices):
        PROVEN = "proven", "Proven from IAM data"
        POTENTIAL = "potential", "Potential: needs a resource IAM data does not show"

    source = models.CharField(max_length=2048, help_text="a user or role ARN, or group:KEY")
    source_kind = models.CharField(max_length=5)
    source_user = _optional_link(IamUser, "escalations_out")
    source_role = _optional_link(IamRole, "escalations_out")
    source_group = _optional_link(EscalationGroup, "edges")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="escalations", db_constraint=False
    )
    method = models.CharField(max_length=80, help_text="the catalogue id")
    status = models.CharField(max_length=9, choices=Status.choices)
    targets = models.JSONField(default=list, help_text="ARNs; empty when it acts on itself")
    condition_keys = models.JSONField(default=list, help_text="sorted; empty when unconditional")
    granted_by = models.JSONField(default=list, help_text="identity statements")

    class Meta:
        ordering = ["source", "method"]
        indexes = [
            models.Index(fields=["source", "method"], name="escalationedge_source"),
            models.Index(fields=["method"], name="escalationedge_method"),
        ]
        constraints = [
            one_of("status", ["proven", "potential"], "escalationedge_status"),
            one_of("source_kind", ["user", "role", "group"], "escalationedge_source_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.method} ({len(self.targets)} targets)"
