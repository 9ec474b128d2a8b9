"""Edges routed clear of the nodes they do not join, on generated graphs (no database): every
edge is followed along its drawn line (its centres and waypoints) and no point of it may lie
inside the box of a node it does not join."""

from __future__ import annotations

import random
import time
from typing import Any

import networkx as nx
import pytest

from identities.graph.build import COLUMN_WIDTH, ROW_HEIGHT
from identities.graph.layout import clear_edge_paths, layout_access, layout_columns

_KINDS = ("user", "role", "role", "service", "federated")


def crossings(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(edge, node) for each edge whose drawn line enters a node it does not join: points every
    2 px along each run of the line (centres and waypoints) against the drawn box, less 3 px
    (a graze is not a crossing), of each node near the run."""
    drawn = {n["id"]: n for n in nodes if n["kind"] not in {"box", "column"}}
    found = []
    for edge in edges:
        a, b = drawn[edge["source"]], drawn[edge["target"]]
        line = [(a["x"], a["y"]), *map(tuple, edge.get("route", [])), (b["x"], b["y"])]
        hit = set()
        for (x0, y0), (x1, y1) in zip(line, line[1:], strict=False):
            steps = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / 2))
            points = [
                (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(steps + 1)
            ]
            for node_id, node in drawn.items():
                if node_id in (edge["source"], edge["target"]) or node_id in hit:
                    continue
                half_w, half_h = node["w"] / 2 - 3, node["h"] / 2 - 3
                x, y = node["x"], node["y"]
                if (
                    min(x0, x1) > x + half_w
                    or max(x0, x1) < x - half_w
                    or min(y0, y1) > y + half_h
                    or max(y0, y1) < y - half_h
                ):
                    continue  # the run's bounding box misses the node
                if any(abs(px - x) < half_w and abs(py - y) < half_h for px, py in points):
                    hit.add(node_id)
        found += [(f"{edge['source']} -> {edge['target']}", node_id) for node_id in sorted(hit)]
    return found


def _drawn(
    graph: nx.MultiDiGraph, positions: dict[str, tuple[float, float]], parents: dict[str, str]
):
    """Node and edge dicts as the graph JSON has them: sizes as serialise_graph gives them."""
    nodes = []
    for node_id, data in graph.nodes(data=True):
        x, y = positions[node_id]
        lines = 2 if len(data["label"]) > 20 else 1
        nodes.append(
            {
                "id": node_id,
                "kind": data["kind"],
                "x": x,
                "y": y,
                "w": min(270, max(110, 7 * min(len(data["label"]), 34) + 28)),
                "h": 18 + 13 * lines,
                "parent": parents.get(node_id, ""),
            }
        )
    edges = [{"source": s, "target": t, "kind": k[0]} for s, t, k in graph.edges(keys=True)]
    return nodes, edges


def generated_access_graph(seed: int, size: int) -> nx.MultiDiGraph:
    """Principals of a few accounts with edges between random pairs, long hops included."""
    rng = random.Random(seed)
    graph = nx.MultiDiGraph()
    accounts = [f"{100000000000 + i}" for i in range(rng.randint(1, 5))]
    for index in range(size):
        kind = rng.choice(_KINDS)
        account = "" if kind in {"service", "federated"} else rng.choice(accounts)
        name = "x" * rng.randint(3, 40)
        node_id = f"{kind}:{account}:{index}" if account else f"{kind}:{index}"
        graph.add_node(node_id, kind=kind, label=f"{name}{index}", account=account)
    ids = sorted(graph)
    roles = [n for n in ids if n.startswith("role:")]
    for _ in range(int(size * 1.6)):
        source, target = rng.choice(ids), rng.choice(roles or ids)
        if source != target:
            graph.add_edge(source, target, key=(rng.choice(("assume", "escalate")), "allow"))
    return graph


def generated_identity_graph(seed: int, size: int) -> nx.MultiDiGraph:
    rng = random.Random(seed)
    graph = nx.MultiDiGraph()
    kinds = ("user", "group", "policy-aws", "policy-customer", "inline", "role")
    for index in range(size):
        kind = rng.choice(kinds)
        graph.add_node(
            f"{kind}:{index}", kind=kind, label=f"{kind}-{'n' * rng.randint(2, 30)}", account="1"
        )
    by_kind: dict[str, list[str]] = {}
    for node_id, data in graph.nodes(data=True):
        by_kind.setdefault(data["kind"], []).append(node_id)
    policies = by_kind.get("policy-aws", []) + by_kind.get("policy-customer", [])
    for _ in range(int(size * 1.5)):
        pick = rng.random()
        if pick < 0.3 and by_kind.get("user") and by_kind.get("group"):
            graph.add_edge(
                rng.choice(by_kind["user"]), rng.choice(by_kind["group"]), key=("member",)
            )
        elif policies:
            # Users and roles straight to policies: a user's edge skips the groups' column.
            source = rng.choice(
                by_kind.get("user", []) + by_kind.get("group", []) + by_kind.get("role", [])
                or policies
            )
            graph.add_edge(source, rng.choice(policies), key=("attached",))
    return graph


@pytest.mark.parametrize("seed", range(12))
def test_access_layouts_draw_no_edge_through_a_node(seed):
    graph = generated_access_graph(seed, size=20 + seed * 12)
    positions, boxes, parents = layout_access(graph, {}, chain=seed % 3 == 0)
    nodes, edges = _drawn(graph, positions, parents)
    straight = crossings(nodes, edges)

    assert clear_edge_paths(nodes, edges) == 0

    assert crossings(nodes, edges) == []
    # The graphs are dense enough that straight lines would cross nodes: routes are tested.
    assert straight or seed < 2


@pytest.mark.parametrize("seed", range(6))
def test_identity_columns_draw_no_edge_through_a_node(seed):
    graph = generated_identity_graph(seed, size=30 + seed * 20)
    positions, _headers = layout_columns(graph)
    nodes, edges = _drawn(graph, positions, {})
    assert crossings(nodes, edges)  # users -> policies skip the groups' column

    assert clear_edge_paths(nodes, edges) == 0

    assert crossings(nodes, edges) == []


def test_ec2_to_app_server_goes_round_the_provider_between_them():
    # ec2 (left) → app-server two columns on, with the OIDC provider in line between them.
    nodes = [
        {"id": "box:a", "kind": "box"},
        {"id": "service:ec2", "kind": "service", "x": 0, "y": 0, "w": 150, "h": 31},
        {"id": "federated:oidc", "kind": "federated", "x": COLUMN_WIDTH, "y": 0, "w": 200, "h": 31},
        {
            "id": "role:1:other",
            "kind": "role",
            "x": COLUMN_WIDTH,
            "y": ROW_HEIGHT,
            "w": 200,
            "h": 31,
        },
        {"id": "role:1:app", "kind": "role", "x": 2 * COLUMN_WIDTH, "y": 0, "w": 200, "h": 31},
    ]
    edges = [
        {"source": "service:ec2", "target": "role:1:app"},
        {"source": "federated:oidc", "target": "role:1:other"},
    ]
    assert crossings(nodes, edges) == [("service:ec2 -> role:1:app", "federated:oidc")]

    assert clear_edge_paths(nodes, edges) == 0

    assert crossings(nodes, edges) == []
    # Nodes stay where the layout put them; only the edge bends, through the gaps.
    assert [(n.get("x"), n.get("y")) for n in nodes[1:]] == [
        (0, 0),
        (COLUMN_WIDTH, 0),
        (COLUMN_WIDTH, ROW_HEIGHT),
        (2 * COLUMN_WIDTH, 0),
    ]
    route = edges[0]["route"]
    assert len(route) == 4 and all(abs(x % COLUMN_WIDTH - COLUMN_WIDTH / 2) < 20 for x, _ in route)
    assert "route" not in edges[1]  # a clear straight line stays straight


def test_segment_offsets_place_the_waypoints_where_cytoscape_draws_them():
    nodes = [
        {"id": "user:1:a", "kind": "user", "x": 0, "y": 0, "w": 200, "h": 31},
        {"id": "user:1:b", "kind": "user", "x": 0, "y": ROW_HEIGHT, "w": 200, "h": 31},
        {"id": "user:1:c", "kind": "user", "x": 0, "y": 2 * ROW_HEIGHT, "w": 200, "h": 31},
    ]
    edges = [{"source": "user:1:a", "target": "user:1:c"}]

    clear_edge_paths(nodes, edges)

    (edge,) = edges
    # Cytoscape, edge-distances: node-position: point = s + w (t - s) + d (-uy, ux).
    length = 2 * ROW_HEIGHT
    for (x, y), w, d in zip(edge["route"], edge["sw"], edge["sd"], strict=True):
        assert (round(0 + d * -1, 1), round(w * length, 1)) == (round(x, 1), round(y, 1))


def test_routing_a_150_node_view_is_quick():
    graph = generated_access_graph(7, size=150)
    started = time.perf_counter()
    positions, _boxes, parents = layout_access(graph, {})
    nodes, edges = _drawn(graph, positions, parents)
    assert clear_edge_paths(nodes, edges) == 0
    elapsed = time.perf_counter() - started
    assert len(edges) > 200
    assert elapsed < 0.5  # about 30 ms on a quiet core; generous for a shared CI runner
