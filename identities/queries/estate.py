"""The estate pages' read side: list filters and sorts, detail-page contexts, search, and the
page of any ARN. Nothing here writes.

Counts are correlated subqueries rather than `Count()` over joins: several `Count()`s over
different relations in one query multiply each other's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import (
    Count,
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

from identities import models
from identities.queries.paging import RowsInOrder, estate_version, kept, ordered_ids
from identities.queries.shared_cache import warmer
from identities.queries.trust import account_named_by, assumed_role_of, role_trust_context

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=Model)

PAGE_SIZE = 50
SUGGESTION_LIMIT = 5
SEARCH_LIMIT = 25


# --- shared building blocks -----------------------------------------------------------------


def count_of(model: type[Model], fk: str, **filters: Any) -> Coalesce:
    """A correlated `COUNT(*)` of `model` rows whose `fk` points at the outer row."""
    counted = (
        model._default_manager.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _search(q: str) -> Q:
    """Name or ARN contains the text (case-insensitive), or the AWS unique id equals it."""
    return Q(name__icontains=q) | Q(arn__icontains=q) | Q(unique_id=q)


def _order(queryset: QuerySet[_M], filters: dict[str, Any], sorts: dict[str, str]) -> QuerySet[_M]:
    """Order by the whitelisted column the `sort` filter names (`-key` descends, default the
    name); nulls last; stable for pagination."""
    sort = filters.get("sort") or "name"
    key = sort.removeprefix("-")
    field = sorts.get(key, next(iter(sorts.values())))
    # Text sorts case-insensitively, the same on SQLite and PostgreSQL.
    column = Lower(field) if field in _TEXT_SORTS else F(field)
    expression = column.desc(nulls_last=True) if sort.startswith("-") else column.asc()
    return queryset.order_by(expression, "account__account_id", Lower("name"), "pk")


_TEXT_SORTS = {"name", "account__name"}


def _common_filters(
    queryset: QuerySet[_M], filters: dict[str, Any], search: Callable[[str], Q] = _search
) -> QuerySet[_M]:
    if q := (filters.get("q") or "").strip():
        queryset = queryset.filter(search(q))
    if account := filters.get("account"):
        queryset = queryset.filter(account__account_id=account)
    if path := filters.get("path"):
        queryset = queryset.filter(path__startswith=path)
    return queryset


def account_choices() -> list[tuple[str, str]]:
    """(account id, label) pairs for the account select of the list filters."""
    return [
        (account_id, f"{name or alias or account_id} ({account_id})")
        for account_id, name, alias in models.Account.objects.order_by(
            "name", "account_id"
        ).values_list("account_id", "name", "alias")
    ]


# --- dashboard and accounts -----------------------------------------------------------------


# The counts of each account the dashboard shows, in this order.
ACCOUNT_COUNTS = (
    "user_count",
    "group_count",
    "role_count",
    "customer_policy_count",
    "aws_policy_count",
)


def accounts_with_counts() -> list[models.Account]:
    """Every account with its principal and policy counts (`ACCOUNT_COUNTS`, counted once per
    estate version: `paging.kept`) and its last sync run (read at each call: a run's status
    changes after it applied)."""
    counts = _account_counts()
    accounts = list(
        models.Account.objects.select_related("last_sync_run")
        .defer("last_sync_run__bundle_gzip")
        .order_by("name", "account_id")
    )
    for account in accounts:
        found = counts.get(account.pk, (0,) * len(ACCOUNT_COUNTS))
        for name, value in zip(ACCOUNT_COUNTS, found, strict=True):
            setattr(account, name, value)
    return accounts


def _account_counts() -> dict[int, tuple[int, ...]]:
    """Each account's `ACCOUNT_COUNTS` by primary key, counted once per estate version for
    every process (`paging.kept`, shared)."""
    return kept("estate:account-counts", estate_version(), _count_by_account, shared=True)


def _count_by_account() -> dict[int, tuple[int, ...]]:
    rows = models.Account.objects.annotate(
        user_count=count_of(models.IamUser, "account"),
        group_count=count_of(models.IamGroup, "account"),
        role_count=count_of(models.IamRole, "account"),
        customer_policy_count=count_of(models.ManagedPolicy, "account", is_aws_managed=False),
        aws_policy_count=count_of(models.ManagedPolicy, "account", is_aws_managed=True),
    ).values_list("pk", *ACCOUNT_COUNTS)
    return {pk: tuple(counts) for pk, *counts in rows}


def estate_totals() -> dict[str, int]:
    """Row counts of the whole estate for the dashboard header: the sums of the counts of
    `accounts_with_counts` (every principal and policy is an account's)."""
    counts = _account_counts()
    totals = [sum(column) for column in zip(*counts.values(), strict=True)]
    users, groups, roles, customer_policies, _ = totals or [0] * len(ACCOUNT_COUNTS)
    return {
        "accounts": len(counts),
        "users": users,
        "groups": groups,
        "roles": roles,
        "policies": customer_policies,
    }


def org_ancestors(account: models.Account) -> list[models.OrgNode]:
    """The roots and OUs above an account, root first (the org tree is small: one query)."""
    nodes = {node.node_id: node for node in models.OrgNode.objects.all()}
    chain = []
    node_id = account.parent_id
    while node_id in nodes and nodes[node_id] not in chain:
        chain.append(nodes[node_id])
        node_id = nodes[node_id].parent_id
    return list(reversed(chain))


def org_policies_for(
    account: models.Account, ancestors: list[models.OrgNode]
) -> list[tuple[models.OrgPolicy, str]]:
    """SCPs/RCPs that reach the account, each with where it is attached (account, OU or root).

    An SCP attached to a root or OU applies to every account below it:
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
    """
    where = {node.node_id: node.path for node in ancestors}
    where[account.account_id] = "this account"
    found = []
    for policy in models.OrgPolicy.objects.all():
        for target in policy.targets:
            if target in where:
                found.append((policy, where[target]))
    return found


def account_detail_context(account: models.Account) -> dict[str, Any]:
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
        "identity_providers": list(models.IdentityProvider.objects.filter(account=account)),
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


def filter_users(filters: dict[str, Any]) -> QuerySet[models.IamUser]:
    """Users matching the list filters: q, account, path, mfa, password, keys, sort."""
    queryset = _principals(
        models.IamUser, filters, "password_enabled", "password_last_used", "mfa_active"
    ).annotate(
        group_count=count_of(models.GroupMembership, "user"),
        active_key_count=count_of(models.AccessKey, "user", active=True),
        attached_count=count_of(models.PolicyAttachment, "user"),
        inline_count=count_of(models.InlinePolicy, "user"),
    )
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
    return _order(queryset, filters, USER_SORTS)


def filter_groups(filters: dict[str, Any]) -> QuerySet[models.IamGroup]:
    """Groups matching the list filters: q, account, path, sort."""
    queryset = _principals(models.IamGroup, filters).annotate(
        member_count=count_of(models.GroupMembership, "group"),
        attached_count=count_of(models.PolicyAttachment, "group"),
        inline_count=count_of(models.InlinePolicy, "group"),
    )
    return _order(queryset, filters, GROUP_SORTS)


def filter_roles(filters: dict[str, Any]) -> QuerySet[models.IamRole]:
    """Roles matching the list filters: q, account, path, service_linked, sort."""
    queryset = _principals(
        models.IamRole, filters, "description", "last_used_date", "last_used_region"
    ).annotate(
        attached_count=count_of(models.PolicyAttachment, "role"),
        inline_count=count_of(models.InlinePolicy, "role"),
    )
    if filters.get("service_linked") == "only":
        queryset = queryset.filter(path__startswith="/aws-service-role/")
    elif filters.get("service_linked") == "hide":
        queryset = queryset.exclude(path__startswith="/aws-service-role/")
    return _order(queryset, filters, ROLE_SORTS)


def filter_policies(filters: dict[str, Any]) -> QuerySet[models.ManagedPolicy]:
    """Managed policies matching the list filters: q, account, path, scope, usage, sort.

    `scope` is `aws` (AWS managed), `customer` (customer managed) or empty for all.
    """
    queryset = (
        models.ManagedPolicy.objects.select_related("account")
        .defer("document", "description")
        .annotate(
            live_attachment_count=count_of(models.PolicyAttachment, "policy"),
            version_count=count_of(models.PolicyVersion, "policy"),
        )
    )
    queryset = _common_filters(
        queryset, filters, lambda q: Q(name__icontains=q) | Q(arn__icontains=q) | Q(policy_id=q)
    )
    if filters.get("scope") == "aws":
        queryset = queryset.filter(is_aws_managed=True)
    elif filters.get("scope") == "customer":
        queryset = queryset.filter(is_aws_managed=False)
    if filters.get("usage") == "attached":
        queryset = queryset.filter(live_attachment_count__gt=0)
    elif filters.get("usage") == "unattached":
        queryset = queryset.filter(live_attachment_count=0, boundary_usage_count=0)
    return _order(queryset, filters, POLICY_SORTS)


def list_rows(
    noun: str, filters: dict[str, Any], queryset: QuerySet[_M]
) -> RowsInOrder[_M] | QuerySet[_M]:
    """The rows of an estate list (``queryset``, from its ``filter_*``) as its pages read them:
    in the order kept for this version of the estate and these filters for every process
    (`paging.ordered_ids`), so that a page costs its own rows, not a sort of the whole table.
    A search is read as it comes (each text would keep an order of its own)."""
    if filters.get("q"):
        return queryset
    shown = ",".join(f"{name}={value}" for name, value in sorted(filters.items()) if name != "page")
    name = f"estate:{noun}:{shown}"
    return RowsInOrder(ordered_ids(name, estate_version(), queryset), queryset)


# The estate lists by noun (as their pages name them), with the function of their rows.
LISTS: dict[str, Callable[[dict[str, Any]], QuerySet[Any]]] = {
    "users": filter_users,
    "groups": filter_groups,
    "roles": filter_roles,
    "policies": filter_policies,
}


@warmer("list-orders")
def warm_list_orders() -> None:
    """The order of each estate list and of the findings without filters, and the dashboard's
    per-account counts, kept for every process (`paging`) when an analysis finishes: no web
    process sorts a whole table on its first page."""
    from identities.queries.findings import findings_page_rows  # it reads the estate's models

    for noun, rows in LISTS.items():
        list_rows(noun, {}, rows({}))
    findings_page_rows()
    _account_counts()


def _principals(model: type[_M], filters: dict[str, Any], *columns: str) -> QuerySet[_M]:
    """The users, groups or roles of a list, with the filters every list has."""
    queryset = model._default_manager.select_related("account").only(
        *_principal_columns(), *columns
    )
    return _common_filters(queryset, filters)


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


def policy_for_arn(account: models.Account, arn: str) -> models.ManagedPolicy | None:
    """The managed policy with this ARN as the account sees it (for boundaries), or None."""
    if not arn:
        return None
    return (
        models.ManagedPolicy.objects.filter(account=account, arn=arn)
        .select_related("account")
        .first()
    )


def user_detail_context(user: models.IamUser) -> dict[str, Any]:
    """Groups, direct and group-inherited policies, boundary, keys and tags of one user.

    A user's effective identity policies are its own plus those of every group it is in:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html
    """
    in_user_groups = Q(group__memberships__user=user)
    return {
        "user": user,
        "groups": list(
            models.IamGroup.objects.filter(memberships__user=user)
            .select_related("account")
            .annotate(member_count=count_of(models.GroupMembership, "group"))
            .order_by("name")
        ),
        "attachments": list(
            models.PolicyAttachment.objects.filter(Q(user=user) | in_user_groups)
            .select_related("policy__account", "group__account")
            .defer("policy__document")
            .order_by(F("group__name").asc(nulls_first=True), "policy__name")
        ),
        "inline_policies": list(
            models.InlinePolicy.objects.filter(Q(user=user) | in_user_groups)
            .select_related("group__account")
            .order_by(F("group__name").asc(nulls_first=True), "name")
        ),
        "boundary": policy_for_arn(user.account, user.boundary_arn),
        "access_keys": list(user.access_keys.all()),
        "has_credential_report": user.mfa_active is not None or user.password_enabled is not None,
    }


def group_detail_context(group: models.IamGroup) -> dict[str, Any]:
    return {
        "group": group,
        "members": list(
            models.IamUser.objects.filter(memberships__group=group)
            .select_related("account")
            .order_by("name")
        ),
        **_own_policies(group=group),
    }


def role_detail_context(role: models.IamRole) -> dict[str, Any]:
    return {
        "role": role,
        **role_trust_context(role),
        **_own_policies(role=role),
        "boundary": policy_for_arn(role.account, role.boundary_arn),
        "instance_profiles": list(
            models.InstanceProfile.objects.filter(roles=role).order_by("name")
        ),
    }


def _own_policies(**owner: models.IamGroup | models.IamRole) -> dict[str, Any]:
    """The managed policies attached to one group or role (``group=`` or ``role=``), and its
    inline policies."""
    return {
        "attachments": list(
            models.PolicyAttachment.objects.filter(**owner)
            .select_related("policy__account")
            .defer("policy__document")
            .order_by("policy__name")
        ),
        "inline_policies": list(models.InlinePolicy.objects.filter(**owner).order_by("name")),
    }


def policy_detail_context(policy: models.ManagedPolicy, version_id: str = "") -> dict[str, Any]:
    """Versions, the shown version, and everything the policy is attached to in its account."""
    versions = list(policy.versions.order_by("-is_default", "-create_date", "version_id"))
    shown = next((v for v in versions if v.version_id == version_id), None)
    attachments = list(
        models.PolicyAttachment.objects.filter(policy=policy).select_related(
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
        "boundary_users": list(
            models.IamUser.objects.filter(boundary_of).select_related("account")
        ),
        "boundary_roles": list(
            models.IamRole.objects.filter(boundary_of).select_related("account")
        ),
        "other_accounts": list(
            models.ManagedPolicy.objects.filter(arn=policy.arn, is_aws_managed=True)
            .exclude(pk=policy.pk)
            .select_related("account")
            .only("arn", "account__account_id", "account__name", "account__alias")
            .order_by("account__name")
        ),
    }


def _by_name(principal: models.IamUser | models.IamGroup | models.IamRole) -> str:
    return principal.name


# --- search and ARNs ------------------------------------------------------------------------


def search_estate(q: str, limit: int = SEARCH_LIMIT) -> dict[str, Any]:
    """Accounts, users, groups, roles and policies matching `q`, `limit` of each plus totals."""
    q = q.strip()
    if not q:
        return {"q": q, "groups": [], "total": 0}
    account_match = Q(account_id__startswith=q) | Q(name__icontains=q) | Q(alias__icontains=q)
    sections = [
        ("Accounts", models.Account.objects.filter(account_match).order_by("name", "account_id")),
        (
            "Users",
            models.IamUser.objects.filter(_search(q)).select_related("account").order_by("name"),
        ),
        (
            "Groups",
            models.IamGroup.objects.filter(_search(q)).select_related("account").order_by("name"),
        ),
        (
            "Roles",
            models.IamRole.objects.filter(_search(q)).select_related("account").order_by("name"),
        ),
        (
            "Policies",
            models.ManagedPolicy.objects.filter(
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


def is_user_or_role(arn: str) -> bool:
    """Whether ``arn`` is a user or role of the estate."""
    return (
        models.IamUser.objects.filter(arn=arn).exists()
        or models.IamRole.objects.filter(arn=arn).exists()
    )


def synced_account_ids() -> list[str]:
    """The ids of the accounts in the estate."""
    return list(models.Account.objects.values_list("account_id", flat=True))


def resolve_arn(arn: str) -> str | None:
    """The estate page of any known ARN (user, group, role, policy, instance profile, account
    root, assumed-role session), or None."""
    arn = arn.strip()
    for model in (models.IamUser, models.IamRole, models.IamGroup):
        if obj := model.objects.filter(arn=arn).select_related("account").first():
            return obj.get_absolute_url()
    policy = (
        models.ManagedPolicy.objects.filter(arn=arn)
        .select_related("account")
        .order_by("account__name", "account__account_id")
        .first()
    )
    if policy:
        return policy.get_absolute_url()
    if profile := models.InstanceProfile.objects.filter(arn=arn).first():
        role = profile.roles.select_related("account").first()
        return role.get_absolute_url() if role else None
    if session := assumed_role_of(arn):
        account_id, name = session
        role = (
            models.IamRole.objects.filter(account__account_id=account_id, name=name)
            .select_related("account")
            .first()
        )
        return role.get_absolute_url() if role else None
    account_id = account_named_by(arn)
    if account_id and models.Account.objects.filter(account_id=account_id).exists():
        return reverse("identities:account-detail", args=[account_id])
    return None
