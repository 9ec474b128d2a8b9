"""The stored reach graph loads back into the same networkx graph, usable like a built one."""

from __future__ import annotations

import networkx as nx

from identities.analysis.reach import ReachGraph


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_node("lonely")
    graph.add_edges_from([("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("d", "b")])
    return graph


def test_a_stored_graph_loads_back_equal():
    loaded = ReachGraph.from_bytes(ReachGraph(_graph()).to_bytes()).graph

    assert nx.utils.graphs_equal(loaded, _graph())
    assert set(loaded.predecessors("b")) == {"a", "d"}
    assert set(loaded.successors("a")) == {"b", "c"}
    assert "lonely" in loaded


def test_a_loaded_graph_changes_like_a_built_one():
    loaded = ReachGraph.from_bytes(ReachGraph(_graph()).to_bytes()).graph

    loaded.add_edge("lonely", "a")
    loaded.remove_edge("a", "b")

    assert set(loaded.predecessors("a")) == {"c", "lonely"}
    assert set(loaded.successors("a")) == {"c"}
    assert set(loaded.adj["lonely"]) == {"a"}
    assert set(loaded.pred["b"]) == {"d"}
