"""The estate as tables: accounts, the organisation, IAM principals and policies, sync runs.

Only `ingest` writes estate rows; only `analysis` writes edges and findings. Principals are keyed
by AWS's unique id (AIDA…/AROA…/AGPA…): a user deleted and recreated under the same name is a
different row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse


class Account(models.Model):
    account_id = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200, blank=True)
    alias = models.CharField(max_length=200, blank=True)
    ou_path = models.CharField(max_length=1000, blank=True, help_text="Root/OU/… as names")
    parent_id = models.CharField(max_length=100, blank=True, help_text="Organizations parent id")
    is_management = models.BooleanField(default=False)
    in_organization = models.BooleanField(default=False)
    last_sync_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_sha256 = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="digest of the bundle section last applied; equal content is not re-applied",
    )

    class Meta:
        ordering = ["name", "account_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_id__regex=r"^[0-9]{12}$"), name="account_id_12_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.account_id})"

    def get_absolute_url(self) -> str:
        return reverse("identities:account-detail", args=[self.account_id])

    @property
    def display_name(self) -> str:
        return self.name or self.alias or self.account_id


class OrgNode(models.Model):
    """A root or organisational unit of AWS Organizations."""

    class Kind(models.TextChoices):
        ROOT = "root", "Root"
        OU = "ou", "Organizational unit"

    node_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    name = models.CharField(max_length=200)
    parent_id = models.CharField(max_length=100, blank=True)
    path = models.CharField(max_length=1000)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["root", "ou"]), name="orgnode_kind"),
        ]

    def __str__(self) -> str:
        return self.path


class OrgPolicy(models.Model):
    """A service or resource control policy and the roots, OUs and accounts it is attached to."""

    class Type(models.TextChoices):
        SCP = "SERVICE_CONTROL_POLICY", "SCP"
        RCP = "RESOURCE_CONTROL_POLICY", "RCP"

    policy_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=32, choices=Type.choices)
    document = models.JSONField()
    targets = models.JSONField(default=list, help_text="ids of roots, OUs and accounts")
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["type", "name"]
        verbose_name_plural = "org policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]),
                name="orgpolicy_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.name}"


class ManagedPolicy(models.Model):
    """A managed policy as one account sees it (AWS-managed ones appear once per account)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="managed_policies")
    arn = models.CharField(max_length=2048)
    policy_id = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    is_aws_managed = models.BooleanField(default=False)
    default_version_id = models.CharField(max_length=20, blank=True)
    document = models.JSONField(null=True, help_text="the default version's document")
    description = models.TextField(blank=True)
    attachment_count = models.IntegerField(default=0)
    boundary_usage_count = models.IntegerField(default=0)
    is_attachable = models.BooleanField(default=True)
    create_date = models.DateTimeField(null=True)
    update_date = models.DateTimeField(null=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "managed policies"
        constraints = [
            models.UniqueConstraint(fields=["account", "arn"], name="managedpolicy_account_arn"),
        ]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["arn"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("identities:policy-detail", args=[self.account.account_id, self.arn])


class PolicyVersion(models.Model):
    policy = models.ForeignKey(ManagedPolicy, on_delete=models.CASCADE, related_name="versions")
    version_id = models.CharField(max_length=20)
    is_default = models.BooleanField(default=False)
    document = models.JSONField()
    create_date = models.DateTimeField(null=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["-is_default", "version_id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version_id"], name="policyversion_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.version_id}"


class Principal(models.Model):
    """Fields shared by IAM users, groups and roles."""

    unique_id = models.CharField(max_length=128)
    arn = models.CharField(max_length=2048)
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    create_date = models.DateTimeField(null=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IamGroup(Principal):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="groups")

    class Meta(Principal.Meta):
        constraints = [
            models.UniqueConstraint(fields=["account", "unique_id"], name="iamgroup_unique_id"),
            models.UniqueConstraint(fields=["account", "name"], name="iamgroup_name"),
        ]
        indexes = [models.Index(fields=["arn"])]

    def get_absolute_url(self) -> str:
        return reverse("identities:group-detail", args=[self.account.account_id, self.name])


class IamUser(Principal):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="users")
    tags = models.JSONField(default=dict)
    boundary_arn = models.CharField(max_length=2048, blank=True)
    # From the credential report; null when no report was imported.
    password_enabled = models.BooleanField(null=True)
    password_last_used = models.DateTimeField(null=True)
    password_last_changed = models.DateTimeField(null=True)
    mfa_active = models.BooleanField(null=True)
    groups = models.ManyToManyField(IamGroup, through="GroupMembership", related_name="members")

    class Meta(Principal.Meta):
        constraints = [
            models.UniqueConstraint(fields=["account", "unique_id"], name="iamuser_unique_id"),
            models.UniqueConstraint(fields=["account", "name"], name="iamuser_name"),
        ]
        indexes = [models.Index(fields=["arn"])]

    def get_absolute_url(self) -> str:
        return reverse("identities:user-detail", args=[self.account.account_id, self.name])


class IamRole(Principal):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="roles")
    tags = models.JSONField(default=dict)
    boundary_arn = models.CharField(max_length=2048, blank=True)
    trust_policy = models.JSONField()
    description = models.TextField(blank=True)
    max_session_duration = models.IntegerField(null=True)
    last_used_date = models.DateTimeField(null=True)
    last_used_region = models.CharField(max_length=32, blank=True)

    class Meta(Principal.Meta):
        constraints = [
            models.UniqueConstraint(fields=["account", "unique_id"], name="iamrole_unique_id"),
            models.UniqueConstraint(fields=["account", "name"], name="iamrole_name"),
        ]
        indexes = [models.Index(fields=["arn"])]

    def get_absolute_url(self) -> str:
        return reverse("identities:role-detail", args=[self.account.account_id, self.name])

    @property
    def is_service_linked(self) -> bool:
        return self.path.startswith("/aws-service-role/")


class GroupMembership(models.Model):
    user = models.ForeignKey(IamUser, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(IamGroup, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="groupmembership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


def _exactly_one_owner(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=(
            Q(user__isnull=False, group__isnull=True, role__isnull=True)
            | Q(user__isnull=True, group__isnull=False, role__isnull=True)
            | Q(user__isnull=True, group__isnull=True, role__isnull=False)
        ),
        name=f"{prefix}_exactly_one_owner",
    )


class PolicyAttachment(models.Model):
    """A managed policy attached to exactly one user, group or role."""

    policy = models.ForeignKey(ManagedPolicy, on_delete=models.CASCADE, related_name="attachments")
    user = models.ForeignKey(
        IamUser, null=True, on_delete=models.CASCADE, related_name="attachments"
    )
    group = models.ForeignKey(
        IamGroup, null=True, on_delete=models.CASCADE, related_name="attachments"
    )
    role = models.ForeignKey(
        IamRole, null=True, on_delete=models.CASCADE, related_name="attachments"
    )

    class Meta:
        constraints = [
            _exactly_one_owner("policyattachment"),
            *(
                models.UniqueConstraint(
                    fields=["policy", owner],
                    condition=Q(**{f"{owner}__isnull": False}),
                    name=f"attachment_unique_{owner}",
                )
                for owner in ("user", "group", "role")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} on {self.user or self.group or self.role}"


class InlinePolicy(models.Model):
    """A policy embedded in exactly one user, group or role."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="inline_policies")
    name = models.CharField(max_length=128)
    document = models.JSONField()
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    user = models.ForeignKey(
        IamUser, null=True, on_delete=models.CASCADE, related_name="inline_policies"
    )
    group = models.ForeignKey(
        IamGroup, null=True, on_delete=models.CASCADE, related_name="inline_policies"
    )
    role = models.ForeignKey(
        IamRole, null=True, on_delete=models.CASCADE, related_name="inline_policies"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "inline policies"
        constraints = [_exactly_one_owner("inlinepolicy")]

    def __str__(self) -> str:
        return self.name


class InstanceProfile(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="instance_profiles")
    unique_id = models.CharField(max_length=128)
    arn = models.CharField(max_length=2048)
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    roles = models.ManyToManyField(IamRole, related_name="instance_profiles")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "unique_id"], name="instanceprofile_unique_id"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IdentityProvider(models.Model):
    class Kind(models.TextChoices):
        SAML = "saml", "SAML"
        OIDC = "oidc", "OIDC"

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="identity_providers"
    )
    arn = models.CharField(max_length=2048)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    name = models.CharField(max_length=512)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "arn"], name="identityprovider_arn"),
            models.CheckConstraint(condition=Q(kind__in=["saml", "oidc"]), name="idp_kind"),
        ]

    def __str__(self) -> str:
        return self.arn


class AccessKey(models.Model):
    """An access key slot from the credential report (the report names slots, not key ids)."""

    user = models.ForeignKey(IamUser, on_delete=models.CASCADE, related_name="access_keys")
    slot = models.PositiveSmallIntegerField()
    active = models.BooleanField()
    last_rotated = models.DateTimeField(null=True)
    last_used_date = models.DateTimeField(null=True)
    last_used_region = models.CharField(max_length=32, blank=True)
    last_used_service = models.CharField(max_length=64, blank=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["slot"]
        constraints = [
            models.UniqueConstraint(fields=["user", "slot"], name="accesskey_slot"),
            models.CheckConstraint(condition=Q(slot__in=[1, 2]), name="accesskey_slot_1_or_2"),
        ]

    def __str__(self) -> str:
        return f"{self.user} key {self.slot}"


class SyncRun(models.Model):
    """One import of a bundle or one sync from AWS, with what it changed."""

    class Source(models.TextChoices):
        IMPORT = "import", "Import"
        AWS = "aws", "AWS sync"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

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
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="the organisation run an account run belongs to",
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

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=["import", "aws"]), name="syncrun_source"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "succeeded", "failed"]),
                name="syncrun_status",
            ),
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
        indexes = [models.Index(fields=["target_account_id", "id"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("identities:syncrun-detail", args=[self.pk])

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


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
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["added", "removed", "changed"]), name="change_action"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.key}"


# --- the access analysis: written only by identities.analysis ---------------------------------
#
# These rows are derived: every analysis replaces all of them in one transaction, from primary
# keys it has just read. The large tables therefore skip database-level foreign-key constraints
# (`db_constraint=False`; Django still cascades deletes): checking a few hundred thousand of
# them at commit took ~10 s of a 50-account analysis.


class AnalysisRun(models.Model):
    """One run of the access analysis over the whole estate.

    The rows of the analysis tables always belong to the newest succeeded run: a run replaces
    them in one transaction, and a failed run leaves them as they were (and records its error).
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    sync_run = models.ForeignKey(
        SyncRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analysis_runs",
        help_text="the newest sync run when the analysis started",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
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
            models.CheckConstraint(
                condition=Q(status__in=["running", "succeeded", "failed"]),
                name="analysisrun_status",
            ),
        ]

    def __str__(self) -> str:
        return f"Analysis #{self.pk} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


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
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["user", "role"]), name="accessgroup_kind"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def source(self) -> str:
        return f"group:{self.key}"


class AccessGroupMember(models.Model):
    group = models.ForeignKey(
        AccessGroup, on_delete=models.CASCADE, related_name="members", db_constraint=False
    )
    user = models.OneToOneField(
        IamUser,
        null=True,
        on_delete=models.CASCADE,
        related_name="access_group_member",
        db_constraint=False,
    )
    role = models.OneToOneField(
        IamRole,
        null=True,
        on_delete=models.CASCADE,
        related_name="access_group_member",
        db_constraint=False,
    )
    arn = models.CharField(max_length=2048)

    class Meta:
        constraints = [_user_or_role("accessgroupmember")]

    def __str__(self) -> str:
        return f"{self.arn} in {self.group_id}"


class AccessEdge(models.Model):
    """A principal that can assume a role (or a named candidate that cannot, and why).

    ``source`` is the principal as the command line prints it: a user or role ARN,
    ``arn:aws:iam::ID:root`` for an account outside the synced set, ``service:NAME``,
    ``federated:PROVIDER``, ``*`` for anyone, or ``group:KEY`` for an access group.
    """

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
    source_user = models.ForeignKey(
        IamUser,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_edges",
        db_constraint=False,
    )
    source_role = models.ForeignKey(
        IamRole,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_edges_out",
        db_constraint=False,
    )
    source_group = models.ForeignKey(
        AccessGroup,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="edges",
        db_constraint=False,
    )
    # Indexed by the (target, outcome) index below.
    target = models.ForeignKey(
        IamRole,
        on_delete=models.CASCADE,
        related_name="access_edges_in",
        db_constraint=False,
        db_index=False,
    )
    action = models.CharField(
        max_length=64, help_text="sts:AssumeRole, …WithSAML, …WithWebIdentity"
    )
    via_pass_role = models.BooleanField(
        default=False, help_text="a service, which gets the role when a principal passes it"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    condition_keys = models.JSONField(default=list, help_text="sorted; empty when unconditional")
    granted_by = models.JSONField(default=list, help_text="trust and identity statements")
    denied_layer = models.CharField(max_length=16, blank=True, help_text="for refused candidates")
    reasons = models.JSONField(default=list, help_text="why a candidate is refused")
    notes = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["target", "outcome"], name="accessedge_target_outcome")]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["allow", "conditional", "denied"]),
                name="accessedge_outcome",
            ),
            models.CheckConstraint(
                condition=Q(
                    source_kind__in=[
                        "user",
                        "role",
                        "group",
                        "account",
                        "external",
                        "service",
                        "federated",
                        "anyone",
                    ]
                ),
                name="accessedge_source_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_id} ({self.outcome})"

    @property
    def possible(self) -> bool:
        return self.outcome != self.Outcome.DENIED


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
            models.CheckConstraint(
                condition=Q(basis__in=["full", "escalation"]), name="administrator_basis"
            ),
        ]

    def __str__(self) -> str:
        return self.arn


class AdminPath(models.Model):
    """A principal that can become an administrator by assuming roles: its nearest one."""

    source = models.CharField(max_length=2048)
    source_kind = models.CharField(max_length=10, choices=AccessEdge.SourceKind.choices)
    source_user = models.ForeignKey(
        IamUser,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="admin_paths",
        db_constraint=False,
    )
    source_role = models.ForeignKey(
        IamRole,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="admin_paths",
        db_constraint=False,
    )
    administrator = models.ForeignKey(
        Administrator, on_delete=models.CASCADE, related_name="reached_by", db_constraint=False
    )
    hops = models.PositiveSmallIntegerField()
    path = models.JSONField(help_text="ARNs from the principal to the administrator")
    condition_keys = models.JSONField(default=list, help_text="of every hop, sorted")

    class Meta:
        ordering = ["hops", "source"]

    def __str__(self) -> str:
        return f"{self.source} -> {self.administrator_id} in {self.hops}"


class Finding(models.Model):
    """Something a reviewer should look at, with a human explanation."""

    class Severity(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

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
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
        db_constraint=False,
    )
    principal_arn = models.CharField(max_length=2048)
    user = models.ForeignKey(
        IamUser,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
        db_constraint=False,
    )
    role = models.ForeignKey(
        IamRole,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
        db_constraint=False,
    )
    title = models.CharField(max_length=1000)
    detail = models.TextField()
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["kind", "principal_arn", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__in=["high", "medium", "low"]), name="finding_severity"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "public_role",
                        "root_trust_without_external_id",
                        "admin_without_mfa",
                        "stale_access_key",
                        "stale_password",
                    ]
                ),
                name="finding_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.title
