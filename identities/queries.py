"""Read side of the estate: the querysets, annotations and small pure helpers behind the pages
and CSV exports. Nothing here writes.

Counts are correlated subqueries rather than `Count()` over joins: several `Count()`s over
different relations in one query multiply each other's rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse

from identities.models import (
    AccessKey,
    Account,
    Change,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    IdentityProvider,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    OrgNode,
    OrgPolicy,
    PolicyAttachment,
    PolicyVersion,
    SyncRun,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
SUGGESTION_LIMIT = 5
SEARCH_LIMIT = 25


# --- shared building blocks -----------------------------------------------------------------


def _count_of(model: type[Model], fk: str, **filters: Any) -> Coalesce:
    """A correlated `COUNT(*)` of `model` rows whose `fk` points at the outer row."""
    counted = (
        model.objects.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _search(q: str) -> Q:
    """Name or ARN contains the text (case-insensitive), or the AWS unique id equals it."""
    return Q(name__icontains=q) | Q(arn__icontains=q) | Q(unique_id=q)


def _order(queryset: QuerySet, sort: str, sorts: dict[str, str]) -> QuerySet:
    """Order by a whitelisted column (`-key` descends); nulls last; stable for pagination."""
    key = sort.removeprefix("-")
    field = sorts.get(key, next(iter(sorts.values())))
    # Text sorts case-insensitively, the same on SQLite and PostgreSQL.
    column = Lower(field) if field in _TEXT_SORTS else F(field)
    expression = column.desc(nulls_last=True) if sort.startswith("-") else column.asc()
    return queryset.order_by(expression, "account__account_id", Lower("name"), "pk")


_TEXT_SORTS = {"name", "account__name"}


def _common_filters(queryset: QuerySet, filters: dict[str, Any]) -> QuerySet:
    if q := (filters.get("q") or "").strip():
        queryset = queryset.filter(_search(q))
    if account := filters.get("account"):
        queryset = queryset.filter(account__account_id=account)
    if path := filters.get("path"):
        queryset = queryset.filter(path__startswith=path)
    return queryset


def account_choices() -> list[tuple[str, str]]:
    """(account id, label) pairs for the account select of the list filters."""
    return [
        (account_id, f"{name or alias or account_id} ({account_id})")
        for account_id, name, alias in Account.objects.order_by("name", "account_id").values_list(
            "account_id", "name", "alias"
        )
    ]


# --- dashboard and accounts -----------------------------------------------------------------


def accounts_with_counts() -> QuerySet[Account]:
    """Every account with its principal and policy counts and its last sync run."""
    return (
        Account.objects.select_related("last_sync_run")
        .defer("last_sync_run__bundle_gzip")
        .annotate(
            user_count=_count_of(IamUser, "account"),
            group_count=_count_of(IamGroup, "account"),
            role_count=_count_of(IamRole, "account"),
            customer_policy_count=_count_of(ManagedPolicy, "account", is_aws_managed=False),
            aws_policy_count=_count_of(ManagedPolicy, "account", is_aws_managed=True),
        )
        .order_by("name", "account_id")
    )


def sync_runs() -> QuerySet[SyncRun]:
    """Sync runs newest first, without loading archived bundles."""
    return (
        SyncRun.objects.defer("bundle_gzip")
        .select_related("account")
        .annotate(
            has_bundle=ExpressionWrapper(Q(bundle_gzip__isnull=False), output_field=BooleanField()),
            change_total=_count_of(Change, "sync_run"),
        )
        .order_by(F("started_at").desc(nulls_last=True), "-pk")
    )


def estate_totals() -> dict[str, int]:
    """Row counts of the whole estate for the dashboard header, one query per table."""
    return {
        "accounts": Account.objects.count(),
        "users": IamUser.objects.count(),
        "groups": IamGroup.objects.count(),
        "roles": IamRole.objects.count(),
        "policies": ManagedPolicy.objects.filter(is_aws_managed=False).count(),
    }


def org_ancestors(account: Account) -> list[OrgNode]:
    """The roots and OUs above an account, root first (the org tree is small: one query)."""
    nodes = {node.node_id: node for node in OrgNode.objects.all()}
    chain = []
    node_id = account.parent_id
    while node_id in nodes and nodes[node_id] not in chain:
        chain.append(nodes[node_id])
        node_id = nodes[node_id].parent_id
    return list(reversed(chain))


def org_policies_for(account: Account, ancestors: list[OrgNode]) -> list[tuple[OrgPolicy, str]]:
    """SCPs/RCPs that reach the account, each with where it is attached (account, OU or root).

    An SCP attached to a root or OU applies to every account below it:
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
    """
    where = {node.node_id: node.path for node in ancestors}
    where[account.account_id] = "this account"
    found = []
    for policy in OrgPolicy.objects.all():
        for target in policy.targets:
            if target in where:
                found.append((policy, where[target]))
    return found


def account_detail_context(account: Account) -> dict[str, Any]:
    ancestors = org_ancestors(account)
    return {
        "account": account,
        "counts": {
            "users": account.users.count(),
            "groups": account.groups.count(),
            "roles": account.roles.count(),
            "customer_policies": account.managed_policies.filter(is_aws_managed=False).count(),
            "aws_policies": account.managed_policies.filter(is_aws_managed=True).count(),
            "inline_policies": account.inline_policies.count(),
        },
        "ancestors": ancestors,
        "org_policies": org_policies_for(account, ancestors),
        "identity_providers": list(IdentityProvider.objects.filter(account=account)),
        "runs": list(
            sync_runs().filter(Q(account=account) | Q(account_ids__icontains=account.account_id))[
                :10
            ]
        ),
        "password_without_mfa": list(
            account.users.filter(mfa_active=False, password_enabled=True).order_by("name")[:50]
        ),
    }


# --- lists ----------------------------------------------------------------------------------

USER_SORTS = {
    "name": "name",
    "account": "account__name",
    "created": "create_date",
    "password_last_used": "password_last_used",
    "groups": "group_count",
    "keys": "active_key_count",
}
GROUP_SORTS = {
    "name": "name",
    "account": "account__name",
    "created": "create_date",
    "members": "member_count",
    "policies": "attached_count",
}
ROLE_SORTS = {
    "name": "name",
    "account": "account__name",
    "created": "create_date",
    "last_used": "last_used_date",
    "policies": "attached_count",
}
POLICY_SORTS = {
    "name": "name",
    "account": "account__name",
    "attachments": "live_attachment_count",
    "updated": "update_date",
    "created": "create_date",
}


def filter_users(filters: dict[str, Any]) -> QuerySet[IamUser]:
    """Users matching the list filters: q, account, path, mfa, password, keys, sort."""
    queryset = (
        IamUser.objects.select_related("account")
        .only(*_principal_columns(), "password_enabled", "password_last_used", "mfa_active")
        .annotate(
            group_count=_count_of(GroupMembership, "user"),
            active_key_count=_count_of(AccessKey, "user", active=True),
            attached_count=_count_of(PolicyAttachment, "user"),
            inline_count=_count_of(InlinePolicy, "user"),
        )
    )
    queryset = _common_filters(queryset, filters)
    tri_state = {"yes": True, "no": False, "unknown": None}
    for field, name in (("mfa_active", "mfa"), ("password_enabled", "password")):
        if (choice := filters.get(name)) in tri_state:
            value = tri_state[choice]
            queryset = queryset.filter(
                **({f"{field}__isnull": True} if value is None else {field: value})
            )
    if filters.get("keys") == "yes":
        queryset = queryset.filter(active_key_count__gt=0)
    elif filters.get("keys") == "no":
        queryset = queryset.filter(active_key_count=0)
    return _order(queryset, filters.get("sort") or "name", USER_SORTS)


def filter_groups(filters: dict[str, Any]) -> QuerySet[IamGroup]:
    """Groups matching the list filters: q, account, path, sort."""
    queryset = (
        IamGroup.objects.select_related("account")
        .only(*_principal_columns())
        .annotate(
            member_count=_count_of(GroupMembership, "group"),
            attached_count=_count_of(PolicyAttachment, "group"),
            inline_count=_count_of(InlinePolicy, "group"),
        )
    )
    queryset = _common_filters(queryset, filters)
    return _order(queryset, filters.get("sort") or "name", GROUP_SORTS)


def filter_roles(filters: dict[str, Any]) -> QuerySet[IamRole]:
    """Roles matching the list filters: q, account, path, service_linked, sort."""
    queryset = (
        IamRole.objects.select_related("account")
        .only(*_principal_columns(), "description", "last_used_date", "last_used_region")
        .annotate(
            attached_count=_count_of(PolicyAttachment, "role"),
            inline_count=_count_of(InlinePolicy, "role"),
        )
    )
    queryset = _common_filters(queryset, filters)
    if filters.get("service_linked") == "only":
        queryset = queryset.filter(path__startswith="/aws-service-role/")
    elif filters.get("service_linked") == "hide":
        queryset = queryset.exclude(path__startswith="/aws-service-role/")
    return _order(queryset, filters.get("sort") or "name", ROLE_SORTS)


def filter_policies(filters: dict[str, Any]) -> QuerySet[ManagedPolicy]:
    """Managed policies matching the list filters: q, account, path, scope, usage, sort.

    `scope` is `aws` (AWS managed), `customer` (customer managed) or empty for all.
    """
    queryset = (
        ManagedPolicy.objects.select_related("account")
        .defer("document", "description")
        .annotate(
            live_attachment_count=_count_of(PolicyAttachment, "policy"),
            version_count=_count_of(PolicyVersion, "policy"),
        )
    )
    if q := (filters.get("q") or "").strip():
        queryset = queryset.filter(Q(name__icontains=q) | Q(arn__icontains=q) | Q(policy_id=q))
    if account := filters.get("account"):
        queryset = queryset.filter(account__account_id=account)
    if path := filters.get("path"):
        queryset = queryset.filter(path__startswith=path)
    if filters.get("scope") == "aws":
        queryset = queryset.filter(is_aws_managed=True)
    elif filters.get("scope") == "customer":
        queryset = queryset.filter(is_aws_managed=False)
    if filters.get("usage") == "attached":
        queryset = queryset.filter(live_attachment_count__gt=0)
    elif filters.get("usage") == "unattached":
        queryset = queryset.filter(live_attachment_count=0, boundary_usage_count=0)
    return _order(queryset, filters.get("sort") or "name", POLICY_SORTS)


def _principal_columns() -> tuple[str, ...]:
    return (
        "unique_id",
        "arn",
        "name",
        "path",
        "create_date",
        "account__account_id",
        "account__name",
        "account__alias",
    )


# --- detail pages ---------------------------------------------------------------------------


def policy_for_arn(account: Account, arn: str) -> ManagedPolicy | None:
    """The managed policy with this ARN as the account sees it (for boundaries), or None."""
    if not arn:
        return None
    return ManagedPolicy.objects.filter(account=account, arn=arn).select_related("account").first()


def user_detail_context(user: IamUser) -> dict[str, Any]:
    """Groups, direct and group-inherited policies, boundary, keys and tags of one user.

    A user's effective identity policies are its own plus those of every group it is in:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html
    """
    in_user_groups = Q(group__memberships__user=user)
    return {
        "user": user,
        "groups": list(
            IamGroup.objects.filter(memberships__user=user)
            .select_related("account")
            .annotate(member_count=_count_of(GroupMembership, "group"))
            .order_by("name")
        ),
        "attachments": list(
            PolicyAttachment.objects.filter(Q(user=user) | in_user_groups)
            .select_related("policy__account", "group__account")
            .defer("policy__document")
            .order_by(F("group__name").asc(nulls_first=True), "policy__name")
        ),
        "inline_policies": list(
            InlinePolicy.objects.filter(Q(user=user) | in_user_groups)
            .select_related("group__account")
            .order_by(F("group__name").asc(nulls_first=True), "name")
        ),
        "boundary": policy_for_arn(user.account, user.boundary_arn),
        "access_keys": list(user.access_keys.all()),
        "has_credential_report": user.mfa_active is not None or user.password_enabled is not None,
    }


def group_detail_context(group: IamGroup) -> dict[str, Any]:
    return {
        "group": group,
        "members": list(
            IamUser.objects.filter(memberships__group=group)
            .select_related("account")
            .order_by("name")
        ),
        "attachments": list(
            PolicyAttachment.objects.filter(group=group)
            .select_related("policy__account")
            .defer("policy__document")
            .order_by("policy__name")
        ),
        "inline_policies": list(InlinePolicy.objects.filter(group=group).order_by("name")),
    }


def role_detail_context(role: IamRole) -> dict[str, Any]:
    return {
        "role": role,
        "principals": resolve_trust_principals(extract_trust_principals(role.trust_policy)),
        "attachments": list(
            PolicyAttachment.objects.filter(role=role)
            .select_related("policy__account")
            .defer("policy__document")
            .order_by("policy__name")
        ),
        "inline_policies": list(InlinePolicy.objects.filter(role=role).order_by("name")),
        "boundary": policy_for_arn(role.account, role.boundary_arn),
        "instance_profiles": list(InstanceProfile.objects.filter(roles=role).order_by("name")),
    }


def policy_detail_context(policy: ManagedPolicy, version_id: str = "") -> dict[str, Any]:
    """Versions, the shown version, and everything the policy is attached to in its account."""
    versions = list(policy.versions.order_by("-is_default", "-create_date", "version_id"))
    shown = next((v for v in versions if v.version_id == version_id), None)
    attachments = list(
        PolicyAttachment.objects.filter(policy=policy).select_related(
            "user__account", "group__account", "role__account"
        )
    )
    boundary_of = Q(account=policy.account, boundary_arn=policy.arn)
    return {
        "policy": policy,
        "versions": versions,
        "version": shown,
        "attached_users": sorted((a.user for a in attachments if a.user), key=_by_name),
        "attached_groups": sorted((a.group for a in attachments if a.group), key=_by_name),
        "attached_roles": sorted((a.role for a in attachments if a.role), key=_by_name),
        "boundary_users": list(IamUser.objects.filter(boundary_of).select_related("account")),
        "boundary_roles": list(IamRole.objects.filter(boundary_of).select_related("account")),
        "other_accounts": list(
            ManagedPolicy.objects.filter(arn=policy.arn, is_aws_managed=True)
            .exclude(pk=policy.pk)
            .select_related("account")
            .only("arn", "account__account_id", "account__name", "account__alias")
            .order_by("account__name")
        ),
    }


def _by_name(principal: IamUser | IamGroup | IamRole) -> str:
    return principal.name


def changes_for(run: SyncRun, *, kind: str = "", action: str = "") -> QuerySet[Change]:
    """The change set of a run, optionally narrowed to one kind and/or action."""
    queryset = run.changes.order_by("kind", "action", "key", "pk")
    if kind:
        queryset = queryset.filter(kind=kind)
    if action:
        queryset = queryset.filter(action=action)
    return queryset


# --- trust policies -------------------------------------------------------------------------

_IAM_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<resource>.+)$")
_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$"
)
_UNIQUE_ID = re.compile(r"^A(?:IDA|ROA)[A-Z0-9]{8,}$")


@dataclass(frozen=True)
class TrustPrincipal:
    """One principal named in one statement of a role's trust policy.

    `kind` is the Principal key (`AWS`, `Service`, `Federated`, `CanonicalUser`) or `*` for the
    bare wildcard; `category` says what an `AWS` value denotes (`account`, `user`, `role`,
    `assumed-role`, `anyone`, `unique-id`, `other`); `negated` marks `NotPrincipal`.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    """

    statement: int
    sid: str
    effect: str
    negated: bool
    kind: str
    value: str
    category: str
    account_id: str
    actions: tuple[str, ...]
    not_action: bool
    conditions: tuple[str, ...]


def extract_trust_principals(document: Any) -> list[TrustPrincipal]:
    """Every principal a trust policy names, in document order (a pure function).

    `Principal`/`NotPrincipal` is `"*"` or a map of `AWS`/`Service`/`Federated`/`CanonicalUser`
    to a string or list; `{"AWS": "*"}` means anyone, like `"*"`; a bare 12-digit account id
    means that account's root (the whole account):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
    """
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    found: list[TrustPrincipal] = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        not_action = "NotAction" in statement
        actions = tuple(_as_list(statement.get("NotAction" if not_action else "Action")))
        conditions = tuple(
            f"{operator} {key}"
            for operator, block in (statement.get("Condition") or {}).items()
            if isinstance(block, dict)
            for key in block
        )
        for element, negated in (("Principal", False), ("NotPrincipal", True)):
            if element not in statement:
                continue
            principal = statement[element]
            pairs = (
                [("*", "*")]
                if principal == "*"
                else [
                    (kind, value)
                    for kind, values in (principal.items() if isinstance(principal, dict) else [])
                    for value in _as_list(values)
                ]
            )
            for kind, value in pairs:
                category, account_id = _classify(kind, value)
                found.append(
                    TrustPrincipal(
                        statement=index,
                        sid=str(statement.get("Sid") or ""),
                        effect=str(statement.get("Effect") or ""),
                        negated=negated,
                        kind=kind,
                        value=value,
                        category=category,
                        account_id=account_id,
                        actions=actions,
                        not_action=not_action,
                        conditions=conditions,
                    )
                )
    return found


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _classify(kind: str, value: str) -> tuple[str, str]:
    if kind == "*" or (kind == "AWS" and value == "*"):
        return "anyone", ""
    if kind == "Service":
        return "service", ""
    if kind == "Federated":
        match = _IAM_ARN.match(value)
        return ("provider", match["account"]) if match else ("web-identity", "")
    if kind == "CanonicalUser":
        return "canonical-user", ""
    if re.fullmatch(r"\d{12}", value):
        return "account", value
    if match := _ASSUMED_ROLE.match(value):
        return "assumed-role", match["account"]
    if match := _IAM_ARN.match(value):
        resource = match["resource"]
        if resource == "root":
            return "account", match["account"]
        for prefix in ("user", "role"):
            if resource.startswith(f"{prefix}/"):
                return prefix, match["account"]
        return "other", match["account"]
    if _UNIQUE_ID.match(value):
        return "unique-id", ""
    return "other", ""


@dataclass(frozen=True)
class ResolvedPrincipal:
    """A trust principal with its page in the estate (`url` empty when it is not in it)."""

    principal: TrustPrincipal
    url: str
    label: str


def resolve_trust_principals(principals: list[TrustPrincipal]) -> list[ResolvedPrincipal]:
    """Link each principal to its estate page: users and roles by ARN (an assumed-role session
    by its role's account and name, a unique id by id), account roots to the account page,
    providers to nothing yet. A fixed number of queries whatever the count."""
    arns = {p.value for p in principals if p.category in {"user", "role"}}
    unique_ids = {p.value for p in principals if p.category == "unique-id"}
    sessions = {
        (m["account"], m["role"])
        for p in principals
        if p.category == "assumed-role" and (m := _ASSUMED_ROLE.match(p.value))
    }
    account_ids = {p.account_id for p in principals if p.category == "account"}

    urls: dict[str, tuple[str, str]] = {}
    if arns or unique_ids:
        for model in (IamUser, IamRole):
            for obj in (
                model.objects.filter(Q(arn__in=arns) | Q(unique_id__in=unique_ids))
                .only("arn", "unique_id", "name", "account__account_id")
                .select_related("account")
            ):
                urls[obj.arn] = urls[obj.unique_id] = (obj.get_absolute_url(), obj.name)
    if sessions:
        by_name = Q(pk__in=[])
        for account_id, name in sessions:
            by_name |= Q(account__account_id=account_id, name=name)
        for role in (
            IamRole.objects.filter(by_name)
            .only("name", "account__account_id")
            .select_related("account")
        ):
            urls[f"session:{role.account.account_id}:{role.name}"] = (
                role.get_absolute_url(),
                role.name,
            )
    if account_ids:
        for account in Account.objects.filter(account_id__in=account_ids):
            urls[f"account:{account.account_id}"] = (
                account.get_absolute_url(),
                account.display_name,
            )

    resolved = []
    for principal in principals:
        key = principal.value
        if principal.category == "account":
            key = f"account:{principal.account_id}"
        elif principal.category == "assumed-role" and (m := _ASSUMED_ROLE.match(principal.value)):
            key = f"session:{m['account']}:{m['role']}"
        url, label = urls.get(key, ("", ""))
        resolved.append(ResolvedPrincipal(principal, url, label))
    return resolved


# --- search and ARNs ------------------------------------------------------------------------


def search_estate(q: str, limit: int = SEARCH_LIMIT) -> dict[str, Any]:
    """Accounts, users, groups, roles and policies matching `q`, `limit` of each plus totals."""
    q = q.strip()
    if not q:
        return {"q": q, "groups": [], "total": 0}
    account_match = Q(account_id__startswith=q) | Q(name__icontains=q) | Q(alias__icontains=q)
    sections = [
        ("Accounts", Account.objects.filter(account_match).order_by("name", "account_id")),
        ("Users", IamUser.objects.filter(_search(q)).select_related("account").order_by("name")),
        ("Groups", IamGroup.objects.filter(_search(q)).select_related("account").order_by("name")),
        ("Roles", IamRole.objects.filter(_search(q)).select_related("account").order_by("name")),
        (
            "Policies",
            ManagedPolicy.objects.filter(
                Q(name__icontains=q) | Q(arn__icontains=q) | Q(policy_id=q)
            )
            .select_related("account")
            .defer("document", "description")
            .order_by("name", "account__name"),
        ),
    ]
    groups = []
    total = 0
    for title, queryset in sections:
        rows = list(queryset[: limit + 1])
        groups.append({"title": title, "rows": rows[:limit], "more": len(rows) > limit})
        total += len(rows[:limit])
    return {"q": q, "groups": [g for g in groups if g["rows"]], "total": total}


def resolve_arn(arn: str) -> str | None:
    """The estate page of any known ARN (user, group, role, policy, instance profile, account
    root, assumed-role session), or None."""
    arn = arn.strip()
    for model in (IamUser, IamRole, IamGroup):
        if obj := model.objects.filter(arn=arn).select_related("account").first():
            return obj.get_absolute_url()
    policy = (
        ManagedPolicy.objects.filter(arn=arn)
        .select_related("account")
        .order_by("account__name", "account__account_id")
        .first()
    )
    if policy:
        return policy.get_absolute_url()
    if profile := InstanceProfile.objects.filter(arn=arn).first():
        role = profile.roles.select_related("account").first()
        return role.get_absolute_url() if role else None
    if match := _ASSUMED_ROLE.match(arn):
        role = (
            IamRole.objects.filter(account__account_id=match["account"], name=match["role"])
            .select_related("account")
            .first()
        )
        return role.get_absolute_url() if role else None
    root = _IAM_ARN.match(arn)
    if (
        root
        and root["resource"] == "root"
        and Account.objects.filter(account_id=root["account"]).exists()
    ):
        return reverse("identities:account-detail", args=[root["account"]])
    if re.fullmatch(r"\d{12}", arn) and Account.objects.filter(account_id=arn).exists():
        return reverse("identities:account-detail", args=[arn])
    return None


# --- CSV exports ----------------------------------------------------------------------------


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def _tri(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def user_csv_rows(users: Iterable[IamUser]) -> Iterator[list[str]]:
    yield [
        "account_id",
        "name",
        "arn",
        "unique_id",
        "path",
        "created",
        "groups",
        "attached_policies",
        "inline_policies",
        "mfa_active",
        "password_enabled",
        "password_last_used",
        "active_keys",
    ]
    for user in users:
        yield [
            user.account.account_id,
            user.name,
            user.arn,
            user.unique_id,
            user.path,
            _iso(user.create_date),
            str(user.group_count),
            str(user.attached_count),
            str(user.inline_count),
            _tri(user.mfa_active),
            _tri(user.password_enabled),
            _iso(user.password_last_used),
            str(user.active_key_count),
        ]


def group_csv_rows(groups: Iterable[IamGroup]) -> Iterator[list[str]]:
    yield ["account_id", "name", "arn", "unique_id", "path", "created", "members",
           "attached_policies", "inline_policies"]  # fmt: skip
    for group in groups:
        yield [
            group.account.account_id,
            group.name,
            group.arn,
            group.unique_id,
            group.path,
            _iso(group.create_date),
            str(group.member_count),
            str(group.attached_count),
            str(group.inline_count),
        ]


def role_csv_rows(roles: Iterable[IamRole]) -> Iterator[list[str]]:
    yield ["account_id", "name", "arn", "unique_id", "path", "created", "last_used",
           "last_used_region", "attached_policies", "inline_policies", "description"]  # fmt: skip
    for role in roles:
        yield [
            role.account.account_id,
            role.name,
            role.arn,
            role.unique_id,
            role.path,
            _iso(role.create_date),
            _iso(role.last_used_date),
            role.last_used_region,
            str(role.attached_count),
            str(role.inline_count),
            role.description,
        ]


def policy_csv_rows(policies: Iterable[ManagedPolicy]) -> Iterator[list[str]]:
    yield ["account_id", "name", "arn", "policy_id", "path", "aws_managed",
           "default_version", "versions", "attachments", "boundary_uses", "created",
           "updated"]  # fmt: skip
    for policy in policies:
        yield [
            policy.account.account_id,
            policy.name,
            policy.arn,
            policy.policy_id,
            policy.path,
            _tri(policy.is_aws_managed),
            policy.default_version_id,
            str(policy.version_count),
            str(policy.live_attachment_count),
            str(policy.boundary_usage_count),
            _iso(policy.create_date),
            _iso(policy.update_date),
        ]
