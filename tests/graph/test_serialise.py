"""The JSON of a view from a plain networkx graph (no database)."""

from __future__ import annotations

import networkx as nx

from identities.graph.export import graph_to_svg, table_rows
from identities.graph.serialise import serialise_graph


def _data() -> dict:
    graph = nx.MultiDiGraph()
    graph.add_node("user:1:ann", kind="user", label="ann", account="1")
    graph.add_node("role:2:ops", kind="role", label="ops", account="2")
    graph.add_node("role:2:idle", kind="role", label="idle", account="2")
    graph.add_edge(
        "user:1:ann",
        "role:2:ops",
        key=("assume", "conditional"),
        kind="assume",
        outcome="conditional",
        conditions=["aws:MultiFactorAuthPresent"],
        action="sts:AssumeRole",
    )
    positions = {"user:1:ann": (0.0, 0.0), "role:2:ops": (320.0, 0.0)}
    return serialise_graph(
        graph,
        positions,
        view="access",
        account_names={"1": "dev", "2": "prod"},
        flags={"user:1:ann": ["admin"]},
    )


def test_serialise_graph_sorts_nodes_and_describes_edges():
    data = _data()

    assert [node["id"] for node in data["nodes"]] == ["role:2:idle", "role:2:ops", "user:1:ann"]
    assert data["edges"] == [
        {
            "id": "user:1:ann|assume|conditional|role:2:ops",
            "source": "user:1:ann",
            "target": "role:2:ops",
            "kind": "assume",
            "summary": "ann can assume ops",
            "outcome": "conditional",
            "conditions": ["aws:MultiFactorAuthPresent"],
            "action": "sts:AssumeRole",
        }
    ]
    ann = data["nodes"][2]
    assert (ann["flags"], ann["sub"], ann["display"]) == (["admin"], "dev", "ann\ndev")
    assert data["stats"]["by_kind"] == {"role": 2, "user": 1}


def test_table_rows_and_svg_of_the_same_data():
    data = _data()

    rows = table_rows(data)
    svg = graph_to_svg(data, highlight=["user:1:ann|assume|conditional|role:2:ops"])

    assert [(row["source"]["id"], row["relation"]) for row in rows] == [
        ("user:1:ann", "can assume (sts:AssumeRole)"),
        ("role:2:idle", ""),
    ]
    assert svg.count("<polyline ") == 1
    assert 'marker-end="url(#arrow-hl)"' in svg
