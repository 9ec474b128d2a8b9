"""The identity view: users → groups → policies ← roles, read from the estate tables, and the
estate reads every view shares (the node named by an id, account names, risk flags)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db.models import Q

from identities import models
from identities.graph.build import (
    AGGREGATE_THRESHOLD,
    COLLECT_LIMIT,
    IDENTITY_EDGE_KINDS,
    MAX_DEPTH,
    PRINCIPAL_KINDS,
    Builder,
    GraphError,
    Scope,
    account_and_name,
    policy_kind,
    policy_name,
    principal_node_id,
    split_node_id,
)
from identities.graph.cached import kept_for_run
from identities.graph.escalations import add_escalation_edges
from identities.graph.fold import fold_graph, identity_fold_steps
from identities.graph.layout import clear_edge_paths, layout_columns
from identities.graph.overview import load_identity_overview, principal_count
from identities.graph.serialise import serialise_graph
from identities.queries.findings import principal_flags

_PRINCIPAL_VALUES = ("pk", "name", "account__account_id", "arn")
PRINCIPAL_MODELS: dict[str, type[models.IamUser] | type[models.IamGroup] | type[models.IamRole]] = {
    "user": models.IamUser,
    "group": models.IamGroup,
    "role": models.IamRole,
}


def _add_principal(
    builder: Builder, kind: str, pk: int, name: str, account_id: str, arn: str = ""
) -> str:
    node_id = principal_node_id(kind, account_id, name)
    # A user's or role's ARN rides along: the escalation edges find the drawn ones by it.
    extra = {"arn": arn} if arn and kind != "group" else {}
    if builder.node(node_id, kind, name, account_id, **extra):
        builder.pks[node_id] = pk
    return node_id


def _add_policy(builder: Builder, arn: str, name: str, account_id: str) -> str:
    kind = policy_kind(arn)
    node_id = f"policy:{arn}"
    builder.node(node_id, kind, name, "" if kind == "policy-aws" else account_id)
    return node_id


def _add_inline(builder: Builder, pk: int, name: str, owner_kind: str, owner_name: str,
                account_id: str) -> str:  # fmt: skip
    node_id = f"inline:{owner_kind}:{account_id}:{owner_name}:{name}"
    if builder.node(node_id, "inline", name, account_id, owner=f"{owner_kind} {owner_name}"):
        builder.pks[node_id] = pk
    return node_id


# Kind -> primary key -> node id of the principals drawn already whose edges are wanted.
Owners = dict[str, dict[int, str]]


def _load_identity_edges(
    builder: Builder,
    owners: Owners,
    *,
    policy_arns: Iterable[str] = (),
    inline_pks: Iterable[int] = (),
) -> None:
    """Add the identity edges touching the principals of ``owners`` (drawn already), the
    managed policies with these ARNs and the inline policies with these pks.

    The owners are read by their keys and not joined (they are drawn): subqueries of owners
    ORed together made the planner misjudge the rows forty times over and join every user and
    role of the estate.
    """
    scope = builder.scope
    policy_arns = list(policy_arns)
    inline_pks = list(inline_pks)
    owned = {kind: drawn for kind, drawn in owners.items() if drawn}

    owner_q = Q(pk__in=[])
    for kind, drawn in owned.items():
        owner_q |= Q(**{f"{kind}_id__in": list(drawn)})

    member_q = Q(pk__in=[])
    for kind in ("user", "group"):
        if kind in owned:
            member_q |= Q(**{f"{kind}_id__in": list(owned[kind])})
    if scope.keeps_kind("member") and ("user" in owned or "group" in owned):
        rows = models.GroupMembership.objects.filter(member_q).values_list(
            "user_id", "user__name", "user__account__account_id", "user__arn",
            "group_id", "group__name", "group__account__account_id",
        )  # fmt: skip
        for user_pk, user, user_account, user_arn, group_pk, group, group_account in rows:
            source = _add_principal(builder, "user", user_pk, user, user_account, user_arn)
            target = _add_principal(builder, "group", group_pk, group, group_account)
            builder.edge(source, target, "member")

    def owner_of(owner_pks: Sequence[int | None]) -> tuple[str, str]:
        """The kind and node id of the drawn owner of a row (user, group, role pks)."""
        for kind, owner_pk in zip(PRINCIPAL_KINDS, owner_pks, strict=True):
            if owner_pk is not None and owner_pk in owned.get(kind, {}):
                return kind, owned[kind][owner_pk]
        raise AssertionError("a row read by its owner has one")

    if scope.keeps_kind("attached"):
        only_customer = Q(policy__is_aws_managed=False) if scope.hide_aws_managed else Q()
        seen = set()
        if owned:
            for pk, arn, name, policy_account, *owner_pks in models.PolicyAttachment.objects.filter(
                owner_q, only_customer
            ).values_list(
                "pk", "policy__arn", "policy__name", "policy__account__account_id",
                "user_id", "group_id", "role_id",
            ):  # fmt: skip
                seen.add(pk)
                target = _add_policy(builder, arn, name, policy_account)
                builder.later_edge(owner_of(owner_pks)[1], target, "attached")
        if policy_arns:
            attachments = models.PolicyAttachment.objects.filter(
                only_customer, policy__arn__in=policy_arns
            ).values_list(
                "pk", "policy__arn", "policy__name", "policy__account__account_id",
                "user_id", "user__name", "user__account__account_id", "user__arn",
                "group_id", "group__name", "group__account__account_id", "group__arn",
                "role_id", "role__name", "role__account__account_id", "role__arn",
            )  # fmt: skip
            for pk, arn, name, policy_account, *owner_columns in attachments:
                if pk in seen:
                    continue
                target = _add_policy(builder, arn, name, policy_account)
                for index, kind in enumerate(PRINCIPAL_KINDS):
                    owner_pk, owner, account_id, owner_arn = cast(list[Any], owner_columns)[
                        index * 4 : index * 4 + 4
                    ]
                    if owner_pk is not None:
                        source = _add_principal(
                            builder, kind, owner_pk, owner, account_id, owner_arn
                        )
                        builder.later_edge(source, target, "attached")

    if scope.keeps_kind("inline"):
        # pk -> (name, account id, owner kind, owner name, owner node id)
        found: dict[int, tuple[str, str, str, str, str]] = {}
        if owned:
            for pk, name, account_id, *owner_pks in models.InlinePolicy.objects.filter(
                owner_q
            ).values_list("pk", "name", "account__account_id", "user_id", "group_id", "role_id"):
                kind, node_id = owner_of(owner_pks)
                found[pk] = (name, account_id, kind, node_id.split(":", 2)[2], node_id)
        if missing := [pk for pk in inline_pks if pk not in found]:
            for pk, name, account_id, *owner_columns in models.InlinePolicy.objects.filter(
                pk__in=missing
            ).values_list(
                "pk", "name", "account__account_id",
                "user_id", "user__name", "group_id", "group__name", "role_id", "role__name",
            ):  # fmt: skip
                for index, kind in enumerate(PRINCIPAL_KINDS):
                    owner_pk, owner = cast(list[Any], owner_columns)[index * 2 : index * 2 + 2]
                    if owner_pk is not None:
                        source = _add_principal(builder, kind, owner_pk, owner, account_id)
                        found[pk] = (name, account_id, kind, owner, source)
        # By name, as one read ordered them (the model's ordering).
        for pk, (name, account_id, kind, owner, source) in sorted(
            found.items(), key=lambda item: (item[1][0], item[0])
        ):
            target = _add_inline(builder, pk, name, kind, owner, account_id)
            builder.later_edge(source, target, "inline")

    if scope.keeps_kind("boundary"):
        for kind, model in (("user", models.IamUser), ("role", models.IamRole)):
            if kind not in owned and not policy_arns:
                continue
            where = Q(pk__in=list(owned[kind])) if kind in owned else Q(pk__in=[])
            if policy_arns:
                where |= Q(boundary_arn__in=policy_arns)
            bounded = (
                model.objects.filter(where)
                .exclude(boundary_arn="")
                .values_list(*_PRINCIPAL_VALUES, "boundary_arn")
            )
            for pk, name, account_id, arn, boundary_arn in bounded:
                source = _add_principal(builder, kind, pk, name, account_id, arn)
                target = _add_policy(builder, boundary_arn, policy_name(boundary_arn), account_id)
                builder.later_edge(source, target, "boundary")


def _grow_identity(builder: Builder, frontier: set[str]) -> set[str]:
    """Add every identity neighbour of the frontier nodes; return the nodes that are new."""
    before = set(builder.graph)
    owners: Owners = defaultdict(dict)
    arns: list[str] = []
    inline_pks: list[int] = []
    for node_id in frontier:
        kind, key = split_node_id(node_id)
        if kind == "policy":
            arns.append(key)
        elif node_id in builder.pks and kind == "inline":
            inline_pks.append(builder.pks[node_id])
        elif node_id in builder.pks and kind in PRINCIPAL_KINDS:
            owners[kind][builder.pks[node_id]] = node_id
    _load_identity_edges(builder, owners, policy_arns=arns, inline_pks=inline_pks)
    return set(builder.graph) - before


def principal_field(kind: str, key: str, field: str) -> Any:
    """``field`` of the user, group or role that a node key (``<account id>:<name>``) names;
    GraphError when the estate has none."""
    account_id, name = account_and_name(key)
    found = (
        PRINCIPAL_MODELS[kind]
        .objects.filter(account__account_id=account_id, name=name)
        .values_list(field, flat=True)
        .first()
    )
    if found is None:
        raise GraphError(f"No IAM {kind} named {name!r} in account {account_id}.")
    return found


def seed_identity_node(builder: Builder, node_id: str) -> None:
    """Put one named node in the graph, or raise GraphError when the estate has no such node."""
    kind, key = split_node_id(node_id)
    if kind in PRINCIPAL_KINDS:
        pk = principal_field(kind, key, "pk")
        account_id, name = account_and_name(key)
        builder.graph.add_node(node_id, kind=kind, label=name, account=account_id)
        builder.pks[node_id] = pk
    elif kind == "policy":
        row = models.ManagedPolicy.objects.filter(arn=key).values_list(
            "name", "account__account_id"
        )
        found = row.first()
        if found is None:
            raise GraphError(f"No managed policy {key}.")
        kind = policy_kind(key)
        builder.graph.add_node(
            node_id, kind=kind, label=found[0], account="" if kind == "policy-aws" else found[1]
        )
    elif kind == "inline":
        owner_kind, account_id, owner, name = (key.split(":", 3) + ["", "", ""])[:4]
        if owner_kind not in PRINCIPAL_KINDS:
            raise GraphError(f"Not an inline policy id: {node_id!r}")
        pk = (
            models.InlinePolicy.objects.filter(
                account__account_id=account_id, name=name, **{f"{owner_kind}__name": owner}
            )
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise GraphError(f"No inline policy {name!r} on {owner_kind} {owner}.")
        builder.graph.add_node(
            node_id, kind="inline", label=name, account=account_id, owner=f"{owner_kind} {owner}"
        )
        builder.pks[node_id] = pk
    else:
        raise GraphError(f"The identity view has no {kind} nodes.")


READABLE_NODES = 150


@kept_for_run("identity")
def build_identity_graph(
    *,
    account_id: str = "",
    focus: str = "",
    depth: int = 2,
    expand: Iterable[str] = (),
    edge_kinds: Iterable[str] = (),
    accounts: Iterable[str] = (),
    hide_aws_managed: bool = False,
    threshold: int = AGGREGATE_THRESHOLD,
) -> dict[str, Any]:
    """Users → groups → policies ← roles, in four columns, for one account or around a node.

    With ``focus`` the view is every node within ``depth`` hops of it (edges taken in either
    direction); with ``account_id`` it is every user, group and role of the account and their
    policies. ``expand`` merges in the neighbours of further nodes. A user's policies are its
    own and those of its groups:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html
    """
    scope = Scope(
        edge_kinds=frozenset(edge_kinds) & frozenset(IDENTITY_EDGE_KINDS),
        accounts=frozenset(accounts),
        hide_aws_managed=hide_aws_managed,
    )
    builder = Builder(scope)
    folded_by_sql = False
    if focus:
        seed_identity_node(builder, focus)
        frontier = {focus}
        for _ in range(max(0, min(depth, MAX_DEPTH))):
            if len(builder.graph) > COLLECT_LIMIT:
                builder.truncated = True
                break
            frontier = _grow_identity(builder, frontier)
            if not frontier:
                break
    else:
        in_scope = Q(account__account_id=account_id) if account_id else Q()
        if scope.accounts:
            in_scope &= Q(account__account_id__in=sorted(scope.accounts))
        if not account_id and principal_count("", scope.accounts) > threshold:
            load_identity_overview(builder)
            folded_by_sql = True
        else:
            owners: Owners = defaultdict(dict)
            for kind, model in PRINCIPAL_MODELS.items():
                for pk, name, account, arn in model.objects.filter(in_scope).values_list(
                    *_PRINCIPAL_VALUES
                ):
                    node_id = _add_principal(builder, kind, pk, name, account, arn)
                    if node_id in builder.graph:
                        owners[kind][pk] = node_id
            _load_identity_edges(builder, owners)
    expand = list(expand)
    if expanded := builder.seed_all(expand, lambda node_id: seed_identity_node(builder, node_id)):
        _grow_identity(builder, expanded)
    if not folded_by_sql:
        # The view's neighbourhood is structural: escalations between the principals it holds
        # (for a whole account, always the same ones).
        whole = account_id and not focus and not expanded and not scope.accounts
        add_escalation_edges(
            builder, add_ends=False, cache_as=f"account:{account_id}" if whole else ""
        )
    # A whole account folds sooner than the estate: past `READABLE_NODES` its four columns no
    # longer fit a browser window at a legible zoom; its folded nodes list their members.
    limit = min(threshold, READABLE_NODES) if account_id and not focus else threshold
    graph, folded = fold_graph(
        builder.graph,
        limit,
        identity_fold_steps,
        focus=focus,
        keep=expand,
        pending=builder.pending,
    )
    if folded_by_sql:
        folded = ["users", "roles", "policies"]
    positions, columns = layout_columns(graph)
    data = serialise_graph(
        graph,
        positions,
        view="identity",
        extra_nodes=columns,
        stats={"truncated": builder.truncated, "folded": folded, "focus": focus},
        account_names=account_names(),
        flags=risk_flags(graph, builder.pks),
    )
    clear_edge_paths(data["nodes"], data["edges"])
    return data


def account_names() -> dict[str, str]:
    """The name every page shows for each account id of the estate."""
    return {
        account_id: name or alias or account_id
        for account_id, name, alias in models.Account.objects.values_list(
            "account_id", "name", "alias"
        )
    }


def risk_flags(graph: Any, pks: dict[str, int]) -> dict[str, list[str]]:
    """``admin`` for administrators, ``finding`` for principals with a finding, of the users and
    roles drawn in ``graph`` (``pks``: their primary keys by node id)."""
    drawn = {node_id: pk for node_id, pk in pks.items() if node_id in graph}
    users = {pk: n for n, pk in drawn.items() if n.startswith("user:")}
    roles = {pk: n for n, pk in drawn.items() if n.startswith("role:")}
    flags = principal_flags(users=users, roles=roles)
    return {(users if kind == "user" else roles)[pk]: found for (kind, pk), found in flags.items()}
