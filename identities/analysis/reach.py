"""Transitive reach through role chaining, on a networkx graph of the stored direct edges.

Every hop is two graph edges, ``principal -> via -> role``, where *via* is the principal's access
group (``group:KEY``, shared by its members) or the principal's own node (``via:ARN``) for edges
of its own. So a breadth-first search counts hops exactly, and an access group's edges appear
once instead of once per member. A member refused a role its group may assume is linked to the
group's roles one by one, minus the refused ones.

Chains start anywhere but only IAM users and roles (and outsiders standing for them) continue
them: services and federated principals only ever make a first hop, and role chaining limits
each chained session to one hour.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx
import orjson

logger = logging.getLogger(__name__)

GROUP_PREFIX = "group:"
VIA_PREFIX = "via:"
# Escalation hops (a distinct kind): ``escalate:ARN`` or ``escalate:group:N`` before the target.
ESCALATE_PREFIX = "escalate:"
# A class of roles trusting "*" (``class:N``): the groups that can assume all of them point to
# it, and it to each role; one node instead of an edge per group and role.
CLASS_PREFIX = "class:"
HOP_PREFIXES = (GROUP_PREFIX, VIA_PREFIX, ESCALATE_PREFIX, CLASS_PREFIX)


def is_hop_node(node: str) -> bool:
    return node.startswith(HOP_PREFIXES)


@dataclass(frozen=True)
class Reached:
    """A node found by a search, with the shortest chain to or from the start.

    ``path`` (principals and roles only, from the chain's first principal to its role) is
    built on first use: a search may reach tens of thousands of nodes, a page shows a few.
    """

    node: str
    hops: int
    parents: dict[str, str | None] = field(repr=False, compare=False)
    start_first: bool = field(repr=False, compare=False)

    @cached_property
    def path(self) -> tuple[str, ...]:
        chain = []
        step: str | None = self.node
        while step is not None:
            if not is_hop_node(step):
                chain.append(step)
            step = self.parents[step]
        # ``chain`` runs from ``node`` back to the search's start.
        return tuple(reversed(chain)) if self.start_first else tuple(chain)


class ReachGraph:
    """The direct edges of one analysis run as a graph (see the module docstring)."""

    def __init__(
        self, graph: nx.DiGraph, needs: dict[tuple[str, str], tuple[str, ...]] | None = None
    ) -> None:
        self.graph = graph
        # (source, role ARN) -> the statements an access edge cannot do without, where they are
        # not those alone in their layer of its granted_by (`edges.EdgeResult.needs`).
        self.needs = needs or {}

    @classmethod
    def build(
        cls,
        edges: Iterable[tuple[str, str]],
        memberships: Iterable[tuple[str, str]],
        refused: Iterable[tuple[str, str]] = (),
        escalations: Iterable[tuple[str, str]] = (),
        escalation_memberships: Iterable[tuple[str, str]] = (),
        classes: Iterable[tuple[str, Collection[str], Collection[str]]] = (),
    ) -> ReachGraph:
        """``edges``: possible (source, role ARN) pairs, a source being an ARN, ``*``,
        ``service:…``, ``federated:…`` or ``group:KEY``; ``memberships``: (ARN, ``group:KEY``);
        ``refused``: (ARN, role ARN) pairs where a member's own answer is no;
        ``escalations``: (ARN or ``escalate:group:N``, principal ARN) escalation pairs and
        ``escalation_memberships`` (ARN, ``escalate:group:N``) for the grouped ones;
        ``classes``: (``class:N``, ``group:KEY`` sources, role ARNs), each group assuming each
        role of the class (a group -> class -> role hop)."""
        pairs: list[tuple[str, str]] = []
        group_targets: dict[str, set[str]] = defaultdict(set)
        group_classes: dict[str, list[Collection[str]]] = defaultdict(list)
        for node, groups, roles in classes:
            pairs.extend((group, node) for group in groups)
            pairs.extend((node, role) for role in roles)
            for group in groups:
                group_classes[group].append(roles)
        for source, target in edges:
            if source.startswith(GROUP_PREFIX):
                group_targets[source].add(target)
                pairs.append((source, target))
            else:
                via = VIA_PREFIX + source
                pairs.append((source, via))
                pairs.append((via, target))
        refused_by: dict[str, set[str]] = defaultdict(set)
        for source, target in refused:
            refused_by[source].add(target)
        for member, group in memberships:
            targets = group_targets.get(group, set())
            if not targets and group not in group_classes:
                continue
            denied = refused_by.get(member)
            if denied and group in group_classes:
                targets = targets.union(*group_classes[group])
            if denied and denied & targets:
                via = VIA_PREFIX + member
                pairs.append((member, via))
                pairs.extend((via, target) for target in sorted(targets - denied))
            else:
                pairs.append((member, group))
        for source, target in escalations:
            if source.startswith(ESCALATE_PREFIX):
                pairs.append((source, target))
            else:
                pairs.append((source, ESCALATE_PREFIX + source))
                pairs.append((ESCALATE_PREFIX + source, target))
        pairs.extend(escalation_memberships)
        graph = nx.DiGraph()
        graph.add_edges_from(pairs)
        return cls(graph)

    def replace_incoming(
        self,
        role: str,
        sources: Iterable[str],
        refused: Collection[str],
        members: Mapping[str, Collection[str]],
    ) -> None:
        """Make ``role``'s access edges these, as `build` would have linked them: ``sources``
        of its possible edges (ARNs, ``*``, ``service:…``, ``group:KEY``; a role class's
        groups among them), ``refused`` members whose own answer is no, ``members`` of each
        group. Escalation edges into the role stay."""
        graph = self.graph
        if role in graph:
            graph.remove_edges_from(
                [(node, role) for node in graph._pred[role] if not node.startswith(ESCALATE_PREFIX)]
            )
        for source in sources:
            if not source.startswith(GROUP_PREFIX):
                graph.add_edges_from([(source, VIA_PREFIX + source), (VIA_PREFIX + source, role)])
                continue
            graph.add_edge(source, role)
            for member in members.get(source, ()):
                via = VIA_PREFIX + member
                if graph.has_edge(member, source):
                    if member in refused:
                        # Linked through its own node from now on, as `build` links a member
                        # refused one of its group's roles.
                        graph.remove_edge(member, source)
                        graph.add_edge(member, via)
                        graph.add_edges_from((via, t) for t in self._roles_of(source, role))
                elif member not in refused:
                    graph.add_edge(
                        *((via, role) if graph.has_edge(member, via) else (member, source))
                    )

    def _roles_of(self, group: str, but: str) -> list[str]:
        """The roles a group's edges lead to (through its classes too), but one."""
        found: list[str] = []
        for node in self.graph._succ[group]:
            found.extend(self.graph._succ[node] if node.startswith(CLASS_PREFIX) else [node])
        return [node for node in found if node != but]

    # -- storage -------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        nodes = list(self.graph.nodes)
        index = {node: i for i, node in enumerate(nodes)}
        sources = [index[u] for u, _ in self.graph.edges]
        targets = [index[v] for _, v in self.graph.edges]
        data: dict[str, Any] = {"nodes": nodes, "u": sources, "v": targets}
        if self.needs:
            data["needs"] = [[u, v, refs] for (u, v), refs in self.needs.items()]
        return zlib.compress(orjson.dumps(data), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReachGraph:
        loaded = orjson.loads(zlib.decompress(data))
        nodes = loaded["nodes"]
        # networkx's adjacency dicts filled directly: add_edges_from checks and copies
        # attributes per edge, several times slower on the million edges of 50 accounts.
        succ: dict[str, dict[str, dict[str, Any]]] = {node: {} for node in nodes}
        pred: dict[str, dict[str, dict[str, Any]]] = {node: {} for node in nodes}
        for u, v in zip(loaded["u"], loaded["v"], strict=True):
            source, target = nodes[u], nodes[v]
            succ[source][target] = pred[target][source] = {}
        graph = nx.DiGraph()
        graph._node = {node: {} for node in nodes}
        graph._adj = succ  # networkx's setter makes it ``_succ`` too and resets its views
        graph._pred = pred
        needs = {(u, v): tuple(refs) for u, v, refs in loaded.get("needs", ())}
        return cls(graph, needs)

    # -- searches ------------------------------------------------------------------------------
    # The searches walk networkx's own adjacency dicts (``_succ``/``_pred``): the public views
    # wrap every lookup in a new view object, which doubles the time of a search that visits
    # a few hundred thousand edges.

    def reach_from(self, start: str) -> list[Reached]:
        """Every role ``start`` can end up in, with the shortest chain (start first)."""
        if start not in self.graph:
            return []
        search = _bfs(self.graph._succ, [start])
        return _collect(search, start_first=True, keep=lambda node: node != start)

    def reach_to(self, target: str) -> list[Reached]:
        """Every principal that can end up in role ``target``, with the shortest chain."""
        if target not in self.graph:
            return []
        search = _bfs(self.graph._pred, [target])
        return _collect(search, start_first=False, keep=lambda node: node != target)

    def nearest(self, targets: Iterable[str]) -> dict[str, Reached]:
        """For every principal that can reach one of ``targets``, the nearest and its chain."""
        sources = [node for node in targets if node in self.graph]
        search = _bfs(self.graph._pred, sources)
        found = set(sources)
        return {
            reached.node: reached
            for reached in _collect(search, start_first=False, keep=lambda n: n not in found)
        }


@dataclass(frozen=True)
class EscalationHops:
    """The escalation hops of a reach graph alone (``principal -> escalate:… -> principal``),
    what the graph pictures read of it: a small part of the graph, loaded without the rest.

    ``out``: principal -> the hops it enters; ``members``: hop -> the principals entering it;
    ``onto``: hop -> the principals it leads to; ``into``: principal -> the hops leading to it.
    """

    out: dict[str, tuple[str, ...]]
    members: dict[str, tuple[str, ...]]
    onto: dict[str, frozenset[str]]
    into: dict[str, frozenset[str]]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> EscalationHops:
        """From the graph's edges with an escalation hop at one end (or both)."""
        out: dict[str, list[str]] = defaultdict(list)
        members: dict[str, list[str]] = defaultdict(list)
        onto: dict[str, set[str]] = defaultdict(set)
        into: dict[str, set[str]] = defaultdict(set)
        for source, target in pairs:
            if target.startswith(ESCALATE_PREFIX):
                out[source].append(target)
                members[target].append(source)
            if source.startswith(ESCALATE_PREFIX):
                onto[source].add(target)
                into[target].add(source)
        # A few hundred distinct sets stand for hundreds of thousands of edges (the hops of an
        # account's escalation groups lead to the same principals): each is kept once, in
        # memory and when pickled.
        shared: dict[frozenset[str], frozenset[str]] = {}

        def once(nodes: set[str]) -> frozenset[str]:
            key = frozenset(nodes)
            return shared.setdefault(key, key)

        return cls(
            out={node: tuple(hops) for node, hops in out.items()},
            members={hop: tuple(nodes) for hop, nodes in members.items()},
            onto={hop: once(nodes) for hop, nodes in onto.items()},
            into={node: once(hops) for node, hops in into.items()},
        )

    @classmethod
    def of_graph(cls, graph: nx.DiGraph) -> EscalationHops:
        """The escalation hops of a graph held in memory."""
        hops = [node for node in graph if node.startswith(ESCALATE_PREFIX)]
        pairs = [(node, hop) for hop in hops for node in graph._pred[hop]]
        pairs.extend((hop, node) for hop in hops for node in graph._succ[hop])
        return cls.from_pairs(pairs)

    @classmethod
    def from_bytes(cls, data: bytes) -> EscalationHops:
        """From a stored graph (`ReachGraph.to_bytes`), its other edges skipped: no graph is
        built, several times faster than `ReachGraph.from_bytes` on 50 accounts."""
        loaded = orjson.loads(zlib.decompress(data))
        nodes = loaded["nodes"]
        hop = [node.startswith(ESCALATE_PREFIX) for node in nodes]
        return cls.from_pairs(
            (nodes[u], nodes[v])
            for u, v in zip(loaded["u"], loaded["v"], strict=True)
            if hop[u] or hop[v]
        )


def expand_classes(graph: nx.DiGraph) -> None:
    """Replace each class node of ``graph`` (a copy) by edges from its groups to its roles,
    so that every hop is two edges again (principal -> hop node -> role)."""
    for node in [node for node in graph if node.startswith(CLASS_PREFIX)]:
        roles = list(graph.successors(node))
        for group in list(graph.predecessors(node)):
            graph.add_edges_from((group, role) for role in roles)
        graph.remove_node(node)


def _bfs(
    adjacency: dict[str, dict[str, dict[str, object]]], starts: list[str]
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Breadth-first search: parent pointers and hop counts (hop nodes add no hop)."""
    parents: dict[str, str | None] = dict.fromkeys(starts)
    hops = dict.fromkeys(starts, 0)
    queue = deque(starts)
    prefixes = HOP_PREFIXES
    while queue:
        node = queue.popleft()
        depth = hops[node]
        for neighbour in adjacency[node]:
            if neighbour not in parents:
                parents[neighbour] = node
                hops[neighbour] = depth if neighbour.startswith(prefixes) else depth + 1
                queue.append(neighbour)
    return parents, hops


def _collect(
    search: tuple[dict[str, str | None], dict[str, int]],
    *,
    start_first: bool,
    keep: Callable[[str], bool],
) -> list[Reached]:
    parents, hops = search
    return [
        Reached(node, hops[node], parents, start_first)
        for node in parents
        if not is_hop_node(node) and keep(node)
    ]


def load_graph(data: bytes | memoryview | None) -> ReachGraph | None:
    if data is None:
        return None
    return ReachGraph.from_bytes(bytes(data))


def load_escalation_hops(data: bytes | memoryview | None) -> EscalationHops | None:
    if data is None:
        return None
    return EscalationHops.from_bytes(bytes(data))
