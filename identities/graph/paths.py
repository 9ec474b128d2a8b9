"""The path finder: chains of role assumptions from one principal to a role, searched on the
current run's reach graph, each hop with the stored edge behind it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

import networkx as nx

from identities.analysis.reach import (
    CLASS_PREFIX,
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    VIA_PREFIX,
    expand_classes,
    is_hop_node,
)
from identities.graph.access import AccessLoader, seed_access_node
from identities.graph.build import (
    MAX_PATH_LENGTH,
    MAX_PATHS,
    Builder,
    Scope,
    arn_node_id,
    node_source,
    outside_kind,
    outside_node,
    split_node_id,
)
from identities.graph.cached import kept_for_run
from identities.graph.escalations import escalation_details
from identities.graph.identity import account_names, principal_field
from identities.graph.layout import clear_edge_paths, layout_access
from identities.graph.serialise import serialise_graph
from identities.queries.access import DirectAccess, edges_between, escalation_hop, reach_graph
from identities.queries.escalations import escalations_between


def _node_reach_key(node_id: str) -> str:
    kind, key = split_node_id(node_id)
    if kind in {"user", "role"}:
        return str(principal_field(kind, key, "arn"))
    return node_source(node_id)


def _hop_details(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], DirectAccess]:
    """The stored edge behind each (hop node, target ARN) pair of the reach graph.

    A hop node is an access group (``group:KEY``, its edges), a principal's own node
    (``via:ARN``: the principal's edges, its own or its group's by the rule of
    `identities.queries.access`) or a principal's escalation node (``escalate:ARN``, see
    `_own_escalation_nodes`: its escalation to the target, as `escalation_hop`).
    """
    assume = {(hop, target) for hop, target in pairs if not hop.startswith(ESCALATE_PREFIX)}
    sources = {hop: hop if hop.startswith(GROUP_PREFIX) else hop.removeprefix(VIA_PREFIX)
               for hop, _ in assume}  # fmt: skip
    found = edges_between((sources[hop], role) for hop, role in assume)
    details = {
        (hop, role): found[(sources[hop], role)][0]
        for hop, role in assume
        if (sources[hop], role) in found
    }
    escalations = escalations_between(
        (hop.removeprefix(ESCALATE_PREFIX), target) for hop, target in pairs - assume
    )
    for (principal, target), escalation in escalations.items():
        details[(ESCALATE_PREFIX + principal, target)] = escalation_hop(escalation)
    return details


def _own_escalation_nodes(sub: nx.DiGraph) -> None:
    """Give each principal its own escalation node (``escalate:ARN``) in place of its
    escalation group's: a group's escalation holds for each member but never onto the member
    itself, and the path finder explains it per principal."""
    shared = ESCALATE_PREFIX + GROUP_PREFIX
    for hop in [node for node in sub if node.startswith(shared)]:
        targets = list(sub.successors(hop))
        for member in list(sub.predecessors(hop)):
            own = ESCALATE_PREFIX + member
            sub.add_edge(member, own)
            sub.add_edges_from((own, target) for target in targets if target != member)
        sub.remove_node(hop)


def _hop_category(hop_source: str, row: DirectAccess) -> str:
    """The edge kind a hop is drawn as (the graph's kinds)."""
    if row.escalation is not None:
        return "escalate"
    if hop_source.startswith("service:"):
        return "service"
    if hop_source.startswith("federated:"):
        return "federated"
    return "anyone" if hop_source == "*" else "assume"


@kept_for_run("paths")
def find_paths(
    *,
    source: str,
    target: str,
    max_length: int = 4,
    mode: str = "shortest",
    conditional: str = "",
    limit: int = MAX_PATHS,
) -> dict[str, Any]:
    """Chains of role assumptions from one principal to a role: the shortest ones, or every
    simple chain of at most ``max_length`` hops (``mode="all"``), from the stored edges.

    ``conditional="none"`` keeps only hops that need no condition; ``"only"`` keeps chains with
    at least one conditional hop. Each hop lists the stored edge behind it: action, outcome,
    condition keys and the statements that grant it. Role chaining:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
    """
    max_length = max(1, min(max_length, MAX_PATH_LENGTH))
    start, end = _node_reach_key(source), _node_reach_key(target)
    loaded = reach_graph()
    reach = loaded.graph if loaded is not None else None
    chains: list[list[tuple[str, str, DirectAccess]]] = []
    if reach is not None and start in reach and end in reach and start != end:
        chains = _search_chains(reach, start, end, max_length, mode, conditional, limit)
    builder = Builder(Scope())
    loader = AccessLoader(builder)
    for node_id in (source, target):
        seed_access_node(loader, node_id)
    graph = builder.graph
    paths: list[dict[str, Any]] = []
    for chain in chains:
        hops = []
        for hop_source, hop_target, row in chain:
            source_id, target_id = arn_node_id(hop_source), arn_node_id(hop_target)
            for node_id, arn in ((source_id, hop_source), (target_id, hop_target)):
                if node_id not in graph:
                    kind, key = split_node_id(node_id)
                    label = key.rsplit(":", 1)[-1] if kind in {"user", "role"} else key
                    if kind in {"user", "role"}:
                        graph.add_node(node_id, kind=kind, label=label, account=key.split(":")[0])
                    else:
                        _, kind, label, account_id = outside_node(arn, outside_kind(arn))
                        graph.add_node(
                            node_id, kind=kind, label=label, account=account_id, outside=True
                        )
            category = _hop_category(hop_source, row)
            requirements = [text for _, text in row.requirements]
            edge: dict[str, Any] = {
                "outcome": row.outcome,
                "conditions": list(row.condition_keys),
                "requirements": requirements,
            }
            if row.escalation is None:
                edge["action"] = row.action
            else:
                edge.update(methods=[row.escalation.method], status=row.escalation.status)
            graph.add_edge(
                source_id,
                target_id,
                key=("escalate" if row.escalation else "assume", row.outcome),
                kind=category,
                **edge,
            )
            hop = {
                "source": source_id,
                "target": target_id,
                "source_arn": hop_source,
                "target_arn": hop_target,
                "action": row.action,
                "outcome": row.outcome,
                "conditions": list(row.condition_keys),
                "requirements": requirements,
                "granted_by": list(row.granted_by),
                "via_group": row.group_label,
                "kind": category,
                "edge": f"{source_id}|{category}|{row.outcome}|{target_id}",
            }
            if row.escalation is not None:
                hop.update(escalation_details(row.escalation))
            hops.append(hop)
        paths.append({"length": len(hops), "hops": hops})
    names = account_names()
    positions, boxes, parents = layout_access(graph, names, roots=[source], chain=True)
    data = serialise_graph(
        graph,
        positions,
        view="paths",
        extra_nodes=boxes,
        parents=parents,
        account_names=names,
        stats={"paths": len(paths), "mode": mode, "max_length": max_length},
    )
    clear_edge_paths(data["nodes"], data["edges"])
    highlight = {source, target}
    for path in paths:
        for hop in path["hops"]:
            highlight.update((hop["source"], hop["target"], hop["edge"]))
    data["paths"] = paths
    data["highlight"] = sorted(highlight) if paths else []
    data["source"], data["target"] = source, target
    return data


def _search_chains(
    reach: nx.DiGraph,
    start: str,
    end: str,
    max_length: int,
    mode: str,
    conditional: str,
    limit: int,
) -> list[list[tuple[str, str, DirectAccess]]]:
    """Chains as lists of (principal, role, stored edge) hops, shortest first, then by ARNs.

    Every hop is two edges of the reach graph (principal -> hop node -> role), so the search
    runs on the part of the graph within ``2 * max_length`` edges of both ends.
    """
    cutoff = 2 * max_length
    sub = _between(reach, start, end, cutoff)
    expand_classes(sub)
    _own_escalation_nodes(sub)
    details: dict[tuple[str, str], DirectAccess] = {}
    if conditional == "none":
        # Every hop's edge decides whether it may be taken: read them all first.
        details = _hop_details({(u, v) for u, v in sub.edges if is_hop_node(u)})
        sub.remove_edges_from(
            [(u, v) for u, v in sub.edges if is_hop_node(u) and
             ((row := details.get((u, v))) is None or row.conditional)]
        )  # fmt: skip
        chains = _ranked(_candidate_paths(sub, start, end, mode, cutoff, limit * 10), max_length)
    else:
        # The hops of the chains kept only (a neighbourhood holds thousands): a hop with no
        # stored edge behind it is taken out and the search runs again. Which chains have a
        # conditional hop is known from all their hops.
        while True:
            candidates = _candidate_paths(sub, start, end, mode, cutoff, limit * 10)
            chains = _ranked(candidates, max_length)
            wanted = {
                (path[i], path[i + 1])
                for path in (chains if conditional == "only" else chains[:limit])
                for i in range(1, len(path) - 1, 2)
                if (path[i], path[i + 1]) not in details
            }
            if not wanted:
                break
            details.update(_hop_details(wanted))
            if missing := wanted - details.keys():
                sub.remove_edges_from(missing)
            else:
                break
    found = []
    for path in chains:
        hops = [
            (path[i], path[i + 2], details[(path[i + 1], path[i + 2])])
            for i in range(0, len(path) - 2, 2)
        ]
        if conditional == "only" and not any(row.conditional for _, _, row in hops):
            continue
        found.append(hops)
        if len(found) == limit:
            break
    return found


def _ranked(candidates: list[list[str]], max_length: int) -> list[list[str]]:
    """The first path of each chain of principals, chains of fewer principals first, then by
    their ARNs. Expanding class nodes can make a shortest path longer than the limit: such a
    path is dropped."""
    first: dict[tuple[str, ...], list[str]] = {}
    for path in candidates:
        if (len(path) - 1) // 2 > max_length:
            continue
        first.setdefault(tuple(node for node in path if not is_hop_node(node)), path)
    return [first[principals] for principals in sorted(first, key=lambda p: (len(p), p))]


def _between(reach: nx.DiGraph, start: str, end: str, most: int) -> nx.DiGraph:
    """The part of the reach graph on walks of at most ``most`` edges from ``start`` to
    ``end`` once its class nodes are expanded (`expand_classes`): the nodes whose distance
    from ``start`` plus distance to ``end`` is at most ``most``, and the edges between them.
    An edge into a class node counts for nothing, as expanding it leaves one edge from the
    group to each role of the class.

    The distances to ``end`` are searched backwards among the nodes within reach of ``start``
    only, and no further than ``most`` allows: every node on a shortest way from such a node to
    ``end`` is within that bound too, so each distance kept is exact. The searches walk
    networkx's adjacency dicts (as `identities.analysis.reach` does): its views cost a call per
    neighbour on graphs of a million edges.
    """
    succ, pred = reach._succ, reach._pred
    ahead = _distances(succ, start, most)
    behind = _distances(pred, end, most, ahead)
    sub = nx.DiGraph()
    sub.add_nodes_from(behind)
    sub.add_edges_from(
        (node, neighbour) for node in behind for neighbour in succ[node] if neighbour in behind
    )
    return sub


def _distances(
    adjacency: dict[str, dict[str, Any]],
    origin: str,
    most: int,
    ahead: dict[str, int] | None = None,
) -> dict[str, int]:
    """Distances from ``origin`` along ``adjacency``, at most ``most``, an edge into a class
    node counting for nothing (a breadth-first search with a deque, class nodes to the front).
    Forwards (``_succ``) without ``ahead``; backwards (``_pred``) with it, the distances from
    the start: a node is then reached only if its two distances add up to at most ``most``."""
    found = {origin: 0} if ahead is None or ahead.get(origin, most + 1) <= most else {}
    queue = deque(found)
    while queue:
        node = queue.popleft()
        depth = found[node]
        if ahead is None:
            for neighbour in adjacency[node]:
                free = neighbour.startswith(CLASS_PREFIX)
                reached = depth if free else depth + 1
                if reached <= most and reached < found.get(neighbour, most + 1):
                    found[neighbour] = reached
                    (queue.appendleft if free else queue.append)(neighbour)
        else:
            # Backwards, the edges into this node: free when it is a class node.
            free = node.startswith(CLASS_PREFIX)
            reached = depth if free else depth + 1
            for neighbour in adjacency[node]:
                if reached + ahead.get(neighbour, most + 1) <= most and reached < found.get(
                    neighbour, most + 1
                ):
                    found[neighbour] = reached
                    (queue.appendleft if free else queue.append)(neighbour)
    return found


def _candidate_paths(
    sub: nx.DiGraph, start: str, end: str, mode: str, cutoff: int, most: int
) -> list[list[str]]:
    """At most ``most`` paths of the reach graph from ``start`` to ``end``: every simple one
    within ``cutoff`` edges, the shorter first (``mode="all"``), else the shortest."""
    if start not in sub or end not in sub or not nx.has_path(sub, start, end):
        return []
    if mode == "all":
        return list(islice(_simple_paths(sub, start, end, cutoff), most))
    return list(islice(nx.all_shortest_paths(sub, start, end), most))


def _simple_paths(sub: nx.DiGraph, start: str, end: str, cutoff: int) -> Iterator[list[str]]:
    """Every simple path from ``start`` to ``end`` of at most ``cutoff`` edges, those of fewer
    edges first. A depth-first search per length that never steps onto a node further from
    ``end`` than the edges left allow: every branch it follows leads to ``end``, but for the
    nodes a path may not visit twice."""
    if start not in sub or end not in sub:
        return
    succ = sub._succ
    to_end = {end: 0}
    queue = deque([end])
    while queue:
        node = queue.popleft()
        for neighbour in sub._pred[node]:
            if neighbour not in to_end:
                to_end[neighbour] = to_end[node] + 1
                queue.append(neighbour)
    far = cutoff + 1
    for length in range(to_end.get(start, far), cutoff + 1):
        path, on_path = [start], {start}
        stack = [iter(succ[start])]
        while stack:
            for node in stack[-1]:
                if node in on_path or len(path) + to_end.get(node, far) > length:
                    continue
                if node == end:
                    if len(path) == length:
                        yield [*path, end]
                    continue
                path.append(node)
                on_path.add(node)
                stack.append(iter(succ[node]))
                break
            else:
                stack.pop()
                on_path.discard(path.pop())
