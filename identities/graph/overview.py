"""The folded pictures of an estate past the threshold, counted by the database (GROUP BY),
never one row per edge: per account, its users, groups, roles and policies as one node each
(identity view); users and roles of each account as one node each, outside parties kept
(access view)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from identities import models
from identities.graph.build import (
    COLLECT_LIMIT,
    MEMBER_LIMIT,
    OUTSIDE_KINDS,
    PRINCIPAL_KINDS,
    SOURCE_CATEGORY,
    Builder,
    Scope,
    outside_node,
)
from identities.graph.escalations import add_escalation_counts
from identities.queries.access import escalation_hops, run_cached
from identities.queries.escalations import count_escalations_by_account
from identities.queries.graph_edges import (
    EdgeFilter,
    EdgeSelection,
    count_edge_ends,
    count_edges,
    count_edges_by_account,
    groups_with_edges,
)
from identities.queries.shared_cache import shared_for_run, warmer


def load_identity_overview(builder: Builder) -> None:
    """The identity view of an estate past the threshold: per account, its users, groups,
    roles, customer-managed and inline policies as one node each (AWS-managed policies as one
    node), the memberships and attachments between them counted by the database."""
    scope = builder.scope
    account_of = dict(models.Account.objects.values_list("pk", "account_id"))

    def node(of: str, account: str) -> str | None:
        if of == "policy-aws":
            if scope.hide_aws_managed:
                return None
            account = ""
        elif not scope.keeps_account(account):
            return None
        node_id = f"agg:{of}:{account}" if account else f"agg:{of}"
        if node_id not in builder.graph:
            label = {
                "user": "users",
                "group": "groups",
                "role": "roles",
                "policy-aws": "AWS-managed policies",
                "policy-customer": "customer-managed policies",
                "inline": "inline policies",
            }[of]
            drill = {"view": "identity", "account": account} if account else {"hide_aws": ""}
            builder.graph.add_node(
                node_id, kind="aggregate", label=label, account=account, of=of, count=0,
                drill=drill, sample=[],
            )  # fmt: skip
        return node_id

    def link(source: str | None, target: str | None, kind: str, n: int) -> None:
        if source and target and scope.keeps_kind(kind):
            key = (kind, "")
            if builder.graph.has_edge(source, target, key):
                builder.graph.edges[source, target, key]["count"] += n
            else:
                builder.graph.add_edge(source, target, key=key, kind=kind, count=n)

    for model, of in (
        (models.IamUser, "user"),
        (models.IamGroup, "group"),
        (models.IamRole, "role"),
    ):
        for account_pk, n in model.objects.values_list("account_id").annotate(n=Count("pk")):
            if node_id := node(of, account_of[account_pk]):
                builder.graph.nodes[node_id]["count"] = n
    for account_pk, n in (
        models.ManagedPolicy.objects.filter(is_aws_managed=False)
        .values_list("account_id")
        .annotate(n=Count("pk"))
    ):
        if node_id := node("policy-customer", account_of[account_pk]):
            builder.graph.nodes[node_id]["count"] = n
    if aws := node("policy-aws", ""):
        builder.graph.nodes[aws]["count"] = (
            models.ManagedPolicy.objects.filter(is_aws_managed=True)
            .values("arn")
            .distinct()
            .count()
        )
    for account_pk, n in models.GroupMembership.objects.values_list("group__account_id").annotate(
        n=Count("pk")
    ):
        account = account_of[account_pk]
        link(node("user", account), node("group", account), "member", n)
    for owner in PRINCIPAL_KINDS:
        rows = (
            models.PolicyAttachment.objects.filter(**{f"{owner}__isnull": False})
            .values_list("policy__account_id", "policy__is_aws_managed")
            .annotate(n=Count("pk"))
        )
        for account_pk, aws_managed, n in rows:
            account = account_of[account_pk]
            target = node("policy-aws" if aws_managed else "policy-customer", account)
            link(node(owner, account), target, "attached", n)
        inline = (
            models.InlinePolicy.objects.filter(**{f"{owner}__isnull": False})
            .values_list("account_id")
            .annotate(n=Count("pk"))
        )
        for account_pk, n in inline:
            account = account_of[account_pk]
            inline_node = node("inline", account)
            link(node(owner, account), inline_node, "inline", n)
            if inline_node:
                builder.graph.nodes[inline_node]["count"] += n
    add_escalation_counts(builder, "", node)


def _edge_filter(scope: Scope) -> EdgeFilter:
    outcomes = ["allow", "conditional"] + (["denied"] if scope.show_denied else [])
    if scope.conditional == "only":
        outcomes.remove("allow")
    elif scope.conditional == "none":
        outcomes.remove("conditional")
    kinds = [k for k, category in SOURCE_CATEGORY.items() if scope.keeps_kind(category)]
    return EdgeFilter(outcomes=outcomes, source_kinds=kinds, accounts=sorted(scope.accounts))


def principal_count(account_id: str, accounts: Iterable[str] = ()) -> int:
    """Users and roles of the account (of the estate, or of ``accounts``, without one): a view
    holding them all is past the threshold whatever its edges."""
    in_scope = Q(account__account_id=account_id) if account_id else Q()
    if accounts:
        in_scope &= Q(account__account_id__in=sorted(accounts))
    return (
        models.IamUser.objects.filter(in_scope).count()
        + models.IamRole.objects.filter(in_scope).count()
    )


def access_size(selection: EdgeSelection, scope: Scope) -> int:
    """About how many nodes the edges of ``selection`` draw (targets, sources and the members
    of small access groups), counted by the database."""
    return count_edge_ends(
        selection, _edge_filter(scope), member_limit=MEMBER_LIMIT, stop_after=COLLECT_LIMIT
    )


def _account_index() -> tuple[dict[int, int], dict[int, int]]:
    """Account pk of every role and every user, read once per analysis run and process: the
    overview groups edges by role and user keys instead of joining 50,000-row tables."""

    def load(run_id: int) -> tuple[dict[int, int], dict[int, int]]:
        roles = dict(models.IamRole.objects.values_list("pk", "account_id"))
        users = dict(models.IamUser.objects.values_list("pk", "account_id"))
        return roles, users

    return run_cached("account-index", load) or load(0)


def _access_groups() -> dict[int, tuple[int, str, int]]:
    """Access group pk -> (account pk, kind, member count), read once per run and process."""

    def load(run_id: int) -> dict[int, tuple[int, str, int]]:
        return {
            pk: (account_pk, kind, n)
            for pk, account_pk, kind, n in models.AccessGroup.objects.values_list(
                "pk", "account_id", "kind", "member_count"
            )
        }

    return run_cached("access-group-index", load) or load(0)


def _filter_key(edge_filter: EdgeFilter) -> str:
    return ":".join(
        ",".join(sorted(values))
        for values in (edge_filter.outcomes, edge_filter.source_kinds, edge_filter.accounts)
    )


def estate_edge_counts(edge_filter: EdgeFilter) -> list[dict[str, Any]]:
    """`count_edges_by_account` of the current run, counted once per run and filter for every
    process (the default filter when the analysis finishes: `warm_overview`)."""
    return shared_for_run(
        f"graph:edge-counts:{_filter_key(edge_filter)}",
        lambda: list(count_edges_by_account(edge_filter)),
    )


def _account_edge_counts(
    account_id: str, selection: EdgeSelection, edge_filter: EdgeFilter
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The edges into the account counted per source and outcome, and those leaving it per
    source kind, access group, target role and outcome; once per run, account and filter."""

    def count() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        into = count_edges(
            EdgeSelection(targets=selection.targets),
            edge_filter,
            ("source", "source_kind", "source_group_id", "source_user_id", "source_role_id",
             "outcome"),
        )  # fmt: skip
        leaving = EdgeSelection(
            source_roles=selection.source_roles,
            source_users=selection.source_users,
            source_groups=selection.source_groups,
        )
        out = count_edges(
            leaving, edge_filter, ("source_kind", "source_group_id", "target_id", "outcome")
        )
        return into, out

    return shared_for_run(f"graph:account-edges:{account_id}:{_filter_key(edge_filter)}", count)


@warmer("graph-overview")
def warm_overview() -> None:
    """The estate's access overview counts (default filter) and escalation counts, the
    escalation hops of the reach graph that every picture with escalations reads, and each
    account's identity view (kept for the run with its escalations), so that no request pays
    for them."""
    from identities.graph.identity import build_identity_graph  # it reads this module

    escalation_hops()
    estate_edge_counts(_edge_filter(Scope()))
    count_escalations_by_account()
    groups_with_edges()
    for account_id in models.Account.objects.order_by("account_id").values_list(
        "account_id", flat=True
    ):
        build_identity_graph(account_id=account_id)


def load_access_overview(builder: Builder, selection: EdgeSelection, account_id: str = "") -> None:
    """Users and roles of each account folded into one node each, outside parties kept, the
    edges between them counted by the database (GROUP BY), never one row per edge.

    For one account the edges into it and out of it are grouped by source and target key and
    mapped to accounts here; for the estate, one GROUP BY per kind of source joins only the
    table that holds the source's account.
    """
    scope = builder.scope
    account_of = dict(models.Account.objects.values_list("pk", "account_id"))
    groups = _access_groups()
    counts: dict[tuple[str, str, Any], dict[str, Any]] = {}
    if account_id:
        role_account, user_account = _account_index()
        edge_filter = _edge_filter(scope)
        into, out = _account_edge_counts(account_id, selection, edge_filter)
        rows: Iterable[dict[str, Any]] = [dict(row) for row in into]
        for row in rows:
            row["target_account"] = None
            row["source_account"] = (
                groups[row["source_group_id"]][0]
                if row["source_group_id"]
                else user_account.get(row["source_user_id"])
                or role_account.get(row["source_role_id"])
            )
            row["source_group__kind"] = (
                groups[row["source_group_id"]][1] if row["source_group_id"] else ""
            )
            row["outside_source"] = row["source"]
        _add_overview_rows(builder, rows, account_of, account_id, counts)
        own = next(pk for pk, value in account_of.items() if value == account_id)
        kept = []
        for row in map(dict, out):
            target_account = role_account.get(row["target_id"])
            if target_account == own:
                continue  # counted with the edges into the account
            row["target_account"] = target_account
            row["source_group__kind"] = (
                groups[row["source_group_id"]][1] if row["source_group_id"] else ""
            )
            kept.append(row)
        _add_overview_rows(builder, kept, account_of, account_id, counts)
    else:
        _add_overview_rows(
            builder, estate_edge_counts(_edge_filter(scope)), account_of, account_id, counts
        )
    for (source_id, target_id, key), data in counts.items():
        builder.graph.add_edge(source_id, target_id, key=key, **data)
    add_escalation_counts(
        builder, account_id, lambda of, account: _overview_node(builder, of, account)
    )
    # Every user and role is in exactly one access group: their sizes sum to the counts.
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for account_pk, kind, n in groups.values():
        sizes[(kind, account_of[account_pk])] += n
    for _, data in builder.graph.nodes(data=True):
        if data["kind"] == "aggregate":
            data["count"] = sizes.get((data["of"], data["account"]), 0)


def _add_overview_rows(
    builder: Builder,
    rows: Iterable[dict[str, Any]],
    account_of: dict[int, str],
    account_id: str,
    counts: dict[tuple[str, str, Any], dict[str, Any]],
) -> None:
    for row in rows:
        kind = row["source_kind"]
        if kind in OUTSIDE_KINDS:
            node_id, node_kind, label, source_account = outside_node(row["outside_source"], kind)
            if node_id not in builder.graph:
                builder.graph.add_node(
                    node_id, kind=node_kind, label=label, account=source_account, outside=True
                )
            source_id: str | None = node_id
        else:
            of = "user" if kind == "user" or row["source_group__kind"] == "user" else "role"
            source = (
                account_of.get(row["source_account"]) if "source_account" in row else account_id
            )
            source_id = _overview_node(builder, of, source)
        target = account_of.get(row["target_account"]) if row.get("target_account") else account_id
        target_id = _overview_node(builder, "role", target)
        category = SOURCE_CATEGORY[kind]
        if source_id is None or target_id is None or source_id == target_id:
            continue
        slot = (source_id, target_id, (category, row["outcome"]))
        if slot in counts:
            counts[slot]["count"] += row["n"]
        else:
            counts[slot] = {"kind": category, "outcome": row["outcome"], "count": row["n"]}


def _overview_node(builder: Builder, of: str, account_id: str | None) -> str | None:
    if not account_id or not builder.scope.keeps_account(account_id):
        return None
    node_id = f"agg:{of}s:{account_id}"
    if node_id not in builder.graph:
        builder.graph.add_node(
            node_id,
            kind="aggregate",
            label=f"{of}s",
            account=account_id,
            of=of,
            count=0,
            drill={"view": "access", "account": account_id, "accounts": account_id},
            sample=[],
        )
    return node_id
