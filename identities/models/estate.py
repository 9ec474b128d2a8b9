"""The estate: accounts, the organisation, IAM principals, policies and their relations.

Only `ingest` writes these rows. Principals are keyed by AWS's unique id (AIDA…/AROA…/AGPA…):
a user deleted and recreated under the same name is a different row.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.urls import reverse

from identities.models.checks import one_of, optional_link, unique


class Account(models.Model):
    account_id = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200, blank=True)
    alias = models.CharField(max_length=200, blank=True)
    ou_path = models.CharField(max_length=1000, blank=True, help_text="Root/OU/… as names")
    parent_id = models.CharField(max_length=100, blank=True, help_text="Organizations parent id")
    is_management = models.BooleanField(default=False)
    in_organization = models.BooleanField(default=False)
    organization_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="the organisation's id (o-…) while the account is a member; empty otherwise",
    )
    last_sync_run = optional_link("SyncRun", "+", models.SET_NULL)
    credential_report_run = optional_link(
        "SyncRun",
        "+",
        models.SET_NULL,
        help_text="the run whose credential report the users' password, MFA and key facts are "
        "from; an earlier run than last_sync_run when the latest report could not be had",
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
        constraints = [one_of("kind", ["root", "ou"], "orgnode_kind")]

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
            one_of("type", ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"], "orgpolicy_type")
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
        constraints = [unique("account", "arn", name="managedpolicy_account_arn")]
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
        constraints = [unique("policy", "version_id", name="policyversion_unique")]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.version_id}"


class Principal(models.Model):
    """Fields and constraints shared by IAM users, groups and roles (each adds its `account`)."""

    unique_id = models.CharField(max_length=128)
    arn = models.CharField(max_length=2048)
    name = models.CharField(max_length=128)
    path = models.CharField(max_length=512, default="/")
    create_date = models.DateTimeField(null=True)
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["name"]
        constraints = [
            unique("account", "unique_id", name="%(class)s_unique_id"),
            unique("account", "name", name="%(class)s_name"),
        ]
        indexes = [models.Index(fields=["arn"])]

    def __str__(self) -> str:
        return self.name


class IamGroup(Principal):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="groups")

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

    def get_absolute_url(self) -> str:
        return reverse("identities:role-detail", args=[self.account.account_id, self.name])

    @property
    def is_service_linked(self) -> bool:
        return self.path.startswith("/aws-service-role/")


class GroupMembership(models.Model):
    user = models.ForeignKey(IamUser, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(IamGroup, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [unique("user", "group", name="groupmembership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


def _owner(model: type[Principal], related_name: str) -> models.ForeignKey[Any, Any]:
    """The user, group or role a row belongs to, when it is that one (`_exactly_one_owner`)."""
    return models.ForeignKey(model, null=True, on_delete=models.CASCADE, related_name=related_name)


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
    user = _owner(IamUser, "attachments")
    group = _owner(IamGroup, "attachments")
    role = _owner(IamRole, "attachments")

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
    user = _owner(IamUser, "inline_policies")
    group = _owner(IamGroup, "inline_policies")
    role = _owner(IamRole, "inline_policies")

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
            unique("account", "arn", name="identityprovider_arn"),
            one_of("kind", ["saml", "oidc"], "idp_kind"),
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
            unique("user", "slot", name="accesskey_slot"),
            one_of("slot", [1, 2], "accesskey_slot_1_or_2"),
        ]

    def __str__(self) -> str:
        return f"{self.user} key {self.slot}"
