"""Folding a graph that is too big to draw: users by group, roles by account, policies by kind,
in that order, until it fits; each folded node carries the view to drill into. Pure: networkx in,
networkx out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import networkx as nx

# A folded node: id, label, account, drill-down view parameters.
Folded = tuple[str, str, str, dict[str, str]]
# A step's name and the function giving a node's folded node, or None when the step leaves the
# node alone.
FoldStep = tuple[str, Callable[[str, dict[str, Any]], Folded | None]]
# An edge of a multigraph: (source, target, key).
EdgeKey = tuple[str, str, Any]


def _first_target(graph: nx.MultiDiGraph, edge_kind: str) -> dict[str, str]:
    """Each node's first target (by id) along edges of this kind: its group, for folding."""
    first: dict[str, str] = {}
    for source, target, kind in graph.edges(data="kind"):
        if kind == edge_kind and (source not in first or target < first[source]):
            first[source] = target
    return first


def identity_fold_steps(graph: nx.MultiDiGraph) -> list[FoldStep]:
    """Users by their first IAM group, roles by account, policies by kind (and account)."""
    first_group = _first_target(graph, "member")

    def users(node_id: str, data: dict[str, Any]) -> Folded | None:
        if data["kind"] != "user":
            return None
        group = first_group.get(node_id)
        if group:
            group_name = graph.nodes[group]["label"] if group in graph else group
            return (
                f"agg:users:{group}",
                f"users in {group_name}",
                data["account"],
                {"view": "identity", "focus": group, "depth": "1"},
            )
        return (
            f"agg:users:{data['account']}:nogroup",
            "users in no group",
            data["account"],
            {"view": "identity", "account": data["account"]},
        )

    return [("users", users), ("roles", _fold_roles_by_account), ("policies", _fold_policies)]


def _fold_roles_by_account(node_id: str, data: dict[str, Any]) -> Folded | None:
    if data["kind"] != "role":
        return None
    account = data["account"]
    return f"agg:roles:{account}", "roles", account, {"account": account}


def _fold_policies(node_id: str, data: dict[str, Any]) -> Folded | None:
    kind = data["kind"]
    if kind == "policy-aws":
        return "agg:policy-aws", "AWS-managed policies", "", {"hide_aws": "1"}
    if kind in {"policy-customer", "inline"}:
        account = data["account"]
        label = "customer-managed policies" if kind == "policy-customer" else "inline policies"
        return f"agg:{kind}:{account}", label, account, {"account": account}
    return None


def fold_graph(
    graph: nx.MultiDiGraph,
    threshold: int,
    steps_of: Callable[[nx.MultiDiGraph], list[FoldStep]],
    focus: str = "",
    keep: Collection[str] = (),
    pending: Mapping[EdgeKey, dict[str, Any]] | None = None,
) -> tuple[nx.MultiDiGraph, list[str]]:
    """Fold nodes, step after step, until at most ``threshold`` nodes are left.

    Each step maps some of the remaining original nodes to folded nodes; the steps needed are
    decided on the counts alone, then the graph is contracted once. Edges between folded
    nodes merge into one edge per (source, target, kind, outcome) with a count and the union
    of their condition keys. The focus node is never folded, nor the nodes of ``keep`` (those
    a person added, from a folded node's list or by expanding). Returns the graph (the same one
    when nothing folds) and the names of the steps applied.

    ``pending`` holds edges between nodes of the graph that are not added to it yet, by
    (source, target, key): the result is the same as with them added first, but a graph that
    folds never holds them one by one (a neighbourhood reads tens of thousands of edges that
    fold into a few hundred). The steps do not read them (they read nodes and the edges of
    the graph).
    """
    count = graph.number_of_nodes()
    if count <= threshold:
        if pending:
            graph.add_edges_from((*ends, data) for ends, data in pending.items())
        return graph, []
    mapping: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    attrs: dict[str, dict[str, Any]] = {}
    applied: list[str] = []
    kept = {focus, *keep}
    for name, key_of in steps_of(graph):
        if count <= threshold:
            break
        step: dict[str, str] = {}
        for node_id, data in graph.nodes(data=True):
            if node_id in kept or node_id in mapping:
                continue
            found = key_of(node_id, data)
            if found is None:
                continue
            agg_id, label, account, drill = found
            step[node_id] = agg_id
            if agg_id not in attrs:
                attrs[agg_id] = {"label": label, "account": account, "drill": drill}
                attrs[agg_id]["of"] = data["kind"]
        if step:
            applied.append(name)
            count += len(set(step.values())) - len(step)
            mapping.update(step)
    for node_id, agg_id in mapping.items():
        members[agg_id].append(node_id)
    folded = nx.MultiDiGraph()
    for node_id, data in graph.nodes(data=True):
        if node_id not in mapping:
            folded.add_node(node_id, **data)
    for agg_id, data in attrs.items():
        ids = sorted(members[agg_id])
        folded.add_node(
            agg_id,
            kind="aggregate",
            label=data["label"],
            account=data["account"],
            count=len(ids),
            of=data["of"],
            drill=data["drill"],
            sample=ids[:5],
            members=ids,
        )
    merged: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for (source, target, key), data in _all_edges(graph, pending or {}):
        new_source, new_target = mapping.get(source, source), mapping.get(target, target)
        if new_source == new_target:
            continue
        if new_source == source and new_target == target:
            folded.add_edge(source, target, key=key, **data)
            continue
        slot = (new_source, new_target, (data["kind"], data.get("outcome", "")))
        edge = merged.get(slot)
        if edge is None:
            edge = merged[slot] = {
                "kind": data["kind"],
                "outcome": data.get("outcome", ""),
                "count": 0,
                "conditions": set(),
                "requirements": set(),
            }
        edge["count"] += data.get("count", 1)
        if conditions := data.get("conditions"):
            edge["conditions"].update(conditions)
        if requirements := data.get("requirements"):
            edge["requirements"].update(requirements)
    for (source, target, key), data in merged.items():
        data["conditions"] = sorted(data["conditions"])
        data["requirements"] = sorted(data["requirements"])
        folded.add_edge(source, target, key=key, **data)
    return folded, applied


def _all_edges(
    graph: nx.MultiDiGraph, pending: Mapping[EdgeKey, dict[str, Any]]
) -> Iterator[tuple[EdgeKey, dict[str, Any]]]:
    """The edges of the graph, then the pending ones, as ((source, target, key), data); a
    pending edge the graph holds too updates it (as adding it would have)."""
    # The graph holds a few edges, the pending tens of thousands: meet them from the graph's side.
    held = {ends for ends in graph.edges(keys=True) if ends in pending} if pending else set()
    for ends in held:
        graph.edges[ends].update(pending[ends])
    yield from (((u, v, k), data) for u, v, k, data in graph.edges(keys=True, data=True))
    if held:
        yield from ((ends, data) for ends, data in pending.items() if ends not in held)
    else:
        yield from pending.items()


def access_fold_steps(graph: nx.MultiDiGraph) -> list[FoldStep]:
    """Users by the access group they share, roles by account, access groups by account."""
    group_of = _first_target(graph, "in-group")

    def users(node_id: str, data: dict[str, Any]) -> Folded | None:
        if data["kind"] != "user":
            return None
        group = group_of.get(node_id)
        account = data["account"]
        if group:
            return (
                f"agg:users:{group}",
                "users sharing this access",
                account,
                {"view": "access", "focus": group, "depth": "1"},
            )
        return f"agg:users:{account}", "users", account, {"view": "access", "account": account}

    def roles(node_id: str, data: dict[str, Any]) -> Folded | None:
        if data["kind"] != "role":
            return None
        account = data["account"]
        return f"agg:roles:{account}", "roles", account, {"view": "access", "account": account}

    def groups(node_id: str, data: dict[str, Any]) -> Folded | None:
        if data["kind"] != "access-group":
            return None
        account = data["account"]
        return (
            f"agg:access-groups:{account}",
            "access groups",
            account,
            {"view": "access", "account": account},
        )

    return [("users", users), ("roles", roles), ("access groups", groups)]


def thin_out(graph: nx.MultiDiGraph, limit: int) -> int:
    """Keep the ``limit`` heaviest folded edges (those standing for the most edges) so that
    an aggregated picture stays readable; returns how many were left out."""
    if graph.number_of_edges() <= limit:
        return 0
    ranked = sorted(
        graph.edges(keys=True, data="count", default=1),
        key=lambda edge: (-edge[3], edge[0], edge[1], str(edge[2])),
    )
    dropped = ranked[limit:]
    graph.remove_edges_from((u, v, k) for u, v, k, _ in dropped)
    return len(dropped)
