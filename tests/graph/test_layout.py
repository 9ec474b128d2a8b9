"""Server-side layouts of plain networkx graphs (no database)."""

from __future__ import annotations

import networkx as nx

from identities.graph import access as access_graph
from identities.graph.access import build_access_graph
from identities.graph.build import COLUMN_WIDTH, ROW_HEIGHT
from identities.graph.layout import layout_access, layout_columns
from identities.queries.shared_cache import clear_cache
from tests.graph.test_layout_routes import crossings


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


def _crossings(data: dict) -> list[tuple[str, str]]:
    """(edge, node) for each drawn edge (its route included) that runs through a node it does
    not join."""
    return crossings(data["nodes"], data["edges"])


def test_sample_ec2_to_app_server_does_not_run_through_the_provider(imported_sample):
    # The reading: ec2 → app-server drawn through the OIDC provider beside it.
    data = build_access_graph(focus="role:333333333333:app-server", direction="in")
    assert not any(edge.startswith("service:ec2") for edge, _ in _crossings(data))


def test_question_views_of_the_sample_draw_no_edge_through_a_node(imported_sample, monkeypatch):
    roles = [n["id"] for n in build_access_graph()["nodes"] if n["kind"] == "role"]
    asked = [(focus, direction) for focus in roles for direction in ("in", "out")]

    def crossings_of_views() -> list[int]:
        return [len(_crossings(build_access_graph(focus=f, direction=d))) for f, d in asked]

    after = crossings_of_views()
    monkeypatch.setattr(access_graph, "clear_edge_paths", lambda nodes, edges: 0)
    clear_cache()  # the views are kept per analysis run: build them again, unrouted
    before = crossings_of_views()

    assert sum(before) > 0  # straight lines would run through nodes
    assert after == [0] * len(asked)
