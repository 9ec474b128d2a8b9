"""The path finder's searches on plain graphs (no database): the part of the reach graph between
two ends, and every simple path between them, the shorter first."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from identities.analysis.reach import expand_classes
from identities.graph.paths import _between, _simple_paths


def _random_graph(seed: int) -> nx.DiGraph:
    rng = random.Random(seed)
    graph = nx.gnp_random_graph(40, 0.08, seed=seed, directed=True)
    graph.add_edges_from((rng.randrange(40), rng.randrange(40)) for _ in range(20))
    graph.remove_edges_from(nx.selfloop_edges(graph))
    return nx.relabel_nodes(graph, {node: f"n{node}" for node in graph})


@pytest.mark.parametrize("seed", range(6))
def test_between_keeps_the_nodes_of_every_short_walk_between_the_ends(seed):
    graph = _random_graph(seed)
    start, end, most = "n0", "n1", 5
    ahead = nx.single_source_shortest_path_length(graph, start, cutoff=most)
    behind = nx.single_source_shortest_path_length(graph.reverse(), end, cutoff=most)
    keep = {n for n, d in ahead.items() if n in behind and d + behind[n] <= most}

    sub = _between(graph, start, end, most)

    assert set(sub) == keep
    assert set(sub.edges) == set(graph.subgraph(keep).edges)


@pytest.mark.parametrize("seed", range(6))
def test_between_keeps_every_short_path_through_class_nodes(seed):
    graph = _random_graph(seed)
    # Some nodes stand for classes of roles: expanding one joins its predecessors to its
    # successors, one edge where there were two.
    graph = nx.relabel_nodes(graph, {f"n{i}": f"class:{i}" for i in range(30, 40)})
    whole = nx.DiGraph(graph)
    expand_classes(whole)
    cutoff = 5

    sub = _between(graph, "n0", "n1", cutoff)
    expand_classes(sub)

    expected = sorted(map(tuple, nx.all_simple_paths(whole, "n0", "n1", cutoff=cutoff)))
    assert sorted(map(tuple, _simple_paths(sub, "n0", "n1", cutoff))) == expected
    assert len(sub) < len(graph)


@pytest.mark.parametrize("seed", range(6))
def test_simple_paths_are_networkx_s_shorter_first(seed):
    graph = _random_graph(seed)
    cutoff = 6

    found = list(_simple_paths(graph, "n0", "n1", cutoff))

    expected = nx.all_simple_paths(graph, "n0", "n1", cutoff=cutoff)
    assert sorted(map(tuple, found)) == sorted(map(tuple, expected))
    assert [len(path) for path in found] == sorted(len(path) for path in found)
    assert len(set(map(tuple, found))) == len(found)


def test_simple_paths_between_unconnected_ends_are_none():
    graph = nx.DiGraph([("a", "b"), ("c", "d")])

    assert list(_simple_paths(graph, "a", "d", 4)) == []
    assert list(_simple_paths(graph, "a", "b", 4)) == [["a", "b"]]
