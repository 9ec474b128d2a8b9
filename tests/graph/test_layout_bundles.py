"""Parallel edges of a busy access view drawn as one bundle (no database): a bundle per pair of
nodes joined by several edges, along the middle of its members' lanes and clear of every other
node; nothing bundled on a view below BUNDLE_FROM edges."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx

from identities.graph.build import COLUMN_WIDTH
from identities.graph.layout import (
    BUNDLE_FROM,
    bundle_parallel_edges,
    clear_edge_paths,
    layout_access,
)
from tests.graph.test_layout_routes import _drawn, crossings


def _busy_graph(seed: int) -> nx.MultiDiGraph:
    """Principals of four accounts; most pairs joined twice (allowed and conditional)."""
    rng = random.Random(seed)
    graph = nx.MultiDiGraph()
    accounts = [f"{100000000000 + i}" for i in range(4)]
    for index in range(90):
        kind = rng.choice(("user", "role", "role"))
        account = rng.choice(accounts)
        graph.add_node(f"{kind}:{account}:{index}", kind=kind, label=f"p{index}", account=account)
    ids = sorted(graph)
    roles = [n for n in ids if n.startswith("role:")]
    while graph.number_of_edges() < BUNDLE_FROM + 40:
        source, target = rng.choice(ids), rng.choice(roles)
        if source == target:
            continue
        graph.add_edge(source, target, key=("assume", "allow"))
        if rng.random() < 0.7:
            graph.add_edge(source, target, key=("assume", "conditional"))
    return graph


def _laid_out(graph: nx.MultiDiGraph) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    positions, _boxes, parents = layout_access(graph, {})
    nodes, edges = _drawn(graph, positions, parents)
    for edge, (*_, key) in zip(edges, graph.edges(keys=True), strict=True):
        edge["outcome"] = key[1]
        edge["id"] = f"{edge['source']}|{key[0]}|{key[1]}|{edge['target']}"
    assert clear_edge_paths(nodes, edges) == 0
    return nodes, edges


def test_each_pair_joined_several_times_is_one_bundle_clear_of_other_nodes():
    nodes, edges = _laid_out(_busy_graph(3))
    pairs: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        pairs.setdefault((edge["source"], edge["target"]), []).append(edge["id"])

    bundles = bundle_parallel_edges(nodes, edges)

    parallel = {pair: ids for pair, ids in pairs.items() if len(ids) > 1}
    assert len(parallel) > 20
    assert {(b["source"], b["target"]): b["members"] for b in bundles} == parallel
    assert [b["id"] for b in bundles] == [f"bundle:{s}|{t}" for s, t in sorted(parallel)]
    by_id = {b["id"]: b for b in bundles}
    for edge in edges:
        bundle = edge.get("bundle")
        assert (bundle is not None) == ((edge["source"], edge["target"]) in parallel)
        if bundle:
            assert edge["id"] in by_id[bundle]["members"]
    assert {b["outcome"] for b in bundles} == {"allow"}  # each holds an allowed member
    assert {b["count"] for b in bundles} == {2}
    assert crossings(nodes, bundles) == []
    assert any("route" in b for b in bundles)


def test_a_routed_bundle_runs_midway_between_its_members_lanes():
    nodes, edges = _laid_out(_busy_graph(5))

    bundles = bundle_parallel_edges(nodes, edges)

    by_id = {e["id"]: e for e in edges}
    checked = 0
    for bundle in bundles:
        routes = [by_id[m].get("route") for m in bundle["members"]]
        if "route" not in bundle or any(r is None or len(r) != len(routes[0]) for r in routes):
            continue
        for index, (x, y) in enumerate(bundle["route"]):
            mean_x = sum(r[index][0] for r in routes) / len(routes)
            mean_y = sum(r[index][1] for r in routes) / len(routes)
            if (round(mean_x, 1), round(mean_y, 1)) != (x, y):
                break  # the middle ran into a node: the first member's route instead
        else:
            checked += 1
            # The members' lanes are apart; the bundle's route is none of them.
            assert bundle["route"] not in routes
    assert checked > 5


def test_a_bundle_of_conditional_edges_only_is_conditional_and_counts_folded_edges():
    nodes = [
        {"id": "box:4:1", "kind": "box"},
        {"id": "user:1:a", "kind": "user", "x": 0, "y": 0, "w": 150, "h": 31},
        {"id": "role:1:b", "kind": "role", "x": COLUMN_WIDTH, "y": 0, "w": 150, "h": 31},
    ]
    pair = [
        {"id": f"e{i}", "source": "user:1:a", "target": "role:1:b", "kind": "assume",
         "outcome": "conditional", "count": 3}
        for i in range(2)
    ]  # fmt: skip
    others = [
        {"id": f"x{i}", "source": "user:1:a", "target": "user:1:a", "kind": "assume"}
        for i in range(BUNDLE_FROM)
    ]
    edges = pair + others

    (bundle,) = bundle_parallel_edges(nodes, edges)

    assert bundle == {
        "id": "bundle:user:1:a|role:1:b",
        "source": "user:1:a",
        "target": "role:1:b",
        "kind": "assume",
        "outcome": "conditional",
        "members": ["e0", "e1"],
        "count": 6,
    }
    assert [e.get("bundle") for e in pair] == [bundle["id"]] * 2


def test_a_view_below_the_threshold_bundles_nothing():
    nodes, edges = _laid_out(_busy_graph(3))
    few = edges[: BUNDLE_FROM - 1]

    assert bundle_parallel_edges(nodes, few) == []
    assert not any("bundle" in edge for edge in few)
