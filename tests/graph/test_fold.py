"""Folding plain networkx graphs (no database)."""

from __future__ import annotations

import networkx as nx

from identities.graph.fold import fold_graph, identity_fold_steps, thin_out


def _identity_graph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for name in ("ann", "bob", "cid"):
        graph.add_node(f"user:1:{name}", kind="user", label=name, account="1")
        graph.add_edge(f"user:1:{name}", "group:1:devs", key="member", kind="member")
    graph.add_node("group:1:devs", kind="group", label="devs", account="1")
    graph.add_node("role:1:ops", kind="role", label="ops", account="1")
    return graph


def test_fold_graph_below_the_threshold_returns_the_same_graph():
    graph = _identity_graph()

    folded, applied = fold_graph(graph, 10, identity_fold_steps)

    assert folded is graph
    assert applied == []


def test_fold_graph_folds_users_by_group_and_counts_their_edges():
    folded, applied = fold_graph(_identity_graph(), 3, identity_fold_steps)

    assert applied == ["users"]
    assert sorted(folded.nodes) == ["agg:users:group:1:devs", "group:1:devs", "role:1:ops"]
    assert folded.nodes["agg:users:group:1:devs"]["count"] == 3
    assert [data["count"] for _, _, data in folded.edges(data=True)] == [3]


def test_fold_graph_never_folds_the_focus():
    folded, _ = fold_graph(_identity_graph(), 3, identity_fold_steps, focus="user:1:ann")

    assert "user:1:ann" in folded
    assert folded.nodes["agg:users:group:1:devs"]["count"] == 2


def test_thin_out_keeps_the_heaviest_edges():
    graph = nx.MultiDiGraph()
    for target, count in (("b", 5), ("c", 1), ("d", 3)):
        graph.add_edge("a", target, key="folded", kind="folded", count=count)

    dropped = thin_out(graph, 2)

    assert dropped == 1
    assert sorted(v for _, v in graph.edges()) == ["b", "d"]
