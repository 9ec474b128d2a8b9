"""Server-side layouts of plain networkx graphs (no database)."""

from __future__ import annotations

import networkx as nx

from identities.graph import access as access_graph
from identities.graph.access import build_access_graph
from identities.graph.build import COLUMN_WIDTH, ROW_HEIGHT
from identities.graph.layout import clear_edge_paths, layout_access, layout_columns


def test_layout_columns_puts_each_kind_in_its_column():
    graph = nx.MultiDiGraph()
    graph.add_node("user:1:ann", kind="user", label="ann", account="1")
    graph.add_node("group:1:devs", kind="group", label="devs", account="1")
    graph.add_node("policy:arn:aws:iam::aws:policy/X", kind="policy-aws", label="X", account="")
    graph.add_node("role:1:ops", kind="role", label="ops", account="1")

    positions, headers = layout_columns(graph)

    assert positions == {
        "user:1:ann": (0, 0.0),
        "group:1:devs": (COLUMN_WIDTH, 0.0),
        "policy:arn:aws:iam::aws:policy/X": (2 * COLUMN_WIDTH, 0.0),
        "role:1:ops": (3 * COLUMN_WIDTH, 0.0),
    }
    assert [header["label"] for header in headers] == [
        "Users · 1",
        "Groups · 1",
        "Policies · 1",
        "Roles · 1",
    ]


def test_layout_access_boxes_accounts_and_chains_left_to_right():
    graph = nx.MultiDiGraph()
    graph.add_node("anyone", kind="anyone", label="Anyone (*)", account="")
    graph.add_node("role:1:a", kind="role", label="a", account="1")
    graph.add_node("role:1:b", kind="role", label="b", account="1")
    graph.add_edge("anyone", "role:1:a", kind="anyone")
    graph.add_edge("role:1:a", "role:1:b", kind="assume")

    positions, boxes, parents = layout_access(graph, {"1": "one"}, roots=["anyone"], chain=True)

    assert [box["label"] for box in boxes] == ["Anyone — any AWS account", "one · 1"]
    assert parents == {"anyone": "box:0:anyone", "role:1:a": "box:4:1", "role:1:b": "box:4:1"}
    assert positions["role:1:b"][0] - positions["role:1:a"][0] == COLUMN_WIDTH
    assert positions["role:1:a"][1] == positions["role:1:b"][1]
    assert positions["role:1:a"][1] >= ROW_HEIGHT


def test_layout_is_deterministic_whatever_the_insertion_order():
    first, second = nx.MultiDiGraph(), nx.MultiDiGraph()
    nodes = [(f"user:1:u{i}", {"kind": "user", "label": f"u{i}", "account": "1"}) for i in range(5)]
    first.add_nodes_from(nodes)
    second.add_nodes_from(reversed(nodes))

    assert layout_columns(first) == layout_columns(second)


def _crossings(data: dict) -> list[tuple[str, str, str]]:
    """(source, target, node) for each straight edge of the graph JSON that runs through a
    node it does not join; points sampled along the edge against each node's drawn box,
    less a few pixels at the edges (a graze is not a crossing)."""
    nodes = {n["id"]: n for n in data["nodes"] if n["kind"] not in {"box", "column"}}
    found = []
    for edge in data["edges"]:
        a, b = nodes[edge["source"]], nodes[edge["target"]]
        points = [
            (a["x"] + (b["x"] - a["x"]) * i / 400, a["y"] + (b["y"] - a["y"]) * i / 400)
            for i in range(401)
        ]
        for node_id, node in nodes.items():
            if node_id in (edge["source"], edge["target"]):
                continue
            half_w, half_h = node["w"] / 2 - 5, node["h"] / 2 - 4
            if any(abs(x - node["x"]) < half_w and abs(y - node["y"]) < half_h for x, y in points):
                found.append((edge["source"], edge["target"], node_id))
    return found


def _boxed(node_id: str, x: float, y: float) -> dict:
    kind = node_id.split(":")[0]
    return {"id": node_id, "kind": kind, "x": x, "y": y, "w": 200, "h": 31, "parent": "box:a"}


def test_clear_edge_paths_moves_a_node_off_an_edge_that_skips_it():
    # ec2 (left) → app-server (two columns on) with the OIDC provider between them, in line.
    nodes = [
        {"id": "box:a", "kind": "box"},
        {"id": "service:ec2", "kind": "service", "x": 0, "y": 0, "w": 150, "h": 31},
        _boxed("federated:oidc", 320, 0),
        _boxed("role:1:other", 320, 58),
        _boxed("role:1:app", 640, 0),
    ]
    edges = [
        {"source": "service:ec2", "target": "role:1:app"},
        {"source": "federated:oidc", "target": "role:1:other"},
    ]
    data = {"nodes": nodes, "edges": edges}
    assert _crossings(data) == [("service:ec2", "role:1:app", "federated:oidc")]

    assert clear_edge_paths(nodes, edges) == 0

    assert _crossings(data) == []
    # It moved within its column, to a row its box already had.
    assert {(n["x"], n["y"]) for n in nodes[2:4]} == {(320, 0), (320, 58)}


def test_sample_ec2_to_app_server_does_not_run_through_the_provider(imported_sample):
    # The reading: ec2 → app-server drawn through the OIDC provider beside it.
    data = build_access_graph(focus="role:333333333333:app-server", direction="in")
    ends = {(s, t) for s, t, _ in _crossings(data)}
    assert not any(s.startswith("service:ec2") for s, _ in ends)


def test_question_views_of_the_sample_draw_fewer_edges_through_nodes(imported_sample, monkeypatch):
    roles = [n["id"] for n in build_access_graph()["nodes"] if n["kind"] == "role"]
    asked = [(focus, direction) for focus in roles for direction in ("in", "out")]

    def crossings() -> list[int]:
        return [len(_crossings(build_access_graph(focus=f, direction=d))) for f, d in asked]

    after = crossings()
    monkeypatch.setattr(access_graph, "clear_edge_paths", lambda nodes, edges: 0)
    before = crossings()

    assert all(a <= b for a, b in zip(after, before, strict=True))
    assert sum(after) < sum(before)
