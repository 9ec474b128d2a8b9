"""The exports of a view: GraphML, SVG and the table under the picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx

from identities.graph.access import build_access_graph
from identities.graph.export import graph_to_graphml, graph_to_svg, table_rows
from identities.graph.identity import build_identity_graph
from identities.graph.paths import find_paths

DEV, PROD, MGMT, SEC = "333333333333", "444444444444", "111111111111", "222222222222"


def test_graphml_export_round_trips_through_networkx(imported_sample, tmp_path):
    data = build_access_graph()

    path = tmp_path / "access.graphml"
    path.write_text(graph_to_graphml(data))
    loaded = nx.read_graphml(path)
    assert loaded.number_of_nodes() == len(data["nodes"])
    assert loaded.number_of_edges() == len(data["edges"])
    assert loaded.nodes["anyone"]["kind"] == "anyone"


def test_svg_export_draws_every_node_and_edge(imported_sample):
    data = find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    svg = graph_to_svg(data, highlight=data["highlight"])
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert len(root.findall(".//svg:g[@class='node']", ns)) == 4
    assert len(root.findall(".//svg:polyline", ns)) == 3
    assert "prod-break-glass" in svg


def test_table_rows_list_every_edge_then_lonely_nodes(imported_sample):
    data = build_identity_graph(account_id=PROD)

    rows = table_rows(data)
    lonely = [row["source"]["label"] for row in rows if row["edge"] is None]
    assert len(rows) == len(data["edges"]) + len(lonely)
    assert lonely == []


def test_graphml_key_ids_are_unique_though_nodes_and_edges_share_kind(imported_sample):
    data = build_access_graph()

    root = ET.fromstring(graph_to_graphml(data))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    keys = root.findall("g:key", ns)
    ids = [key.get("id") for key in keys]
    assert len(ids) == len(set(ids))
    assert {key.get("for") for key in keys if key.get("attr.name") == "kind"} == {"node", "edge"}


def test_svg_export_keeps_administrator_borders_and_whole_labels():
    long_name = "prod-break-glass-administrators"  # 31 characters: the page shows it whole
    data = {
        "nodes": [
            {
                "id": "role:1:a",
                "kind": "role",
                "label": long_name,
                "display": long_name,
                "x": 0.0,
                "y": 0.0,
                "w": 245,
                "h": 31,
                "flags": ["admin"],
            },
            {
                "id": "user:1:b",
                "kind": "user",
                "label": "bob",
                "display": "bob\nDev account",
                "x": 300.0,
                "y": 0.0,
                "w": 110,
                "h": 44,
            },
        ],
        "edges": [],
    }

    root = ET.fromstring(graph_to_svg(data))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = root.findall(".//svg:g", ns)
    admin = next(g for g in groups if g.get("class") == "node admin")
    bob = next(g for g in groups if g.get("class") == "node")
    assert admin.find("svg:rect", ns).get("stroke") == "#b91c1c"
    assert float(admin.find("svg:rect", ns).get("width")) == 245
    assert "".join(admin.find("svg:text", ns).itertext()) == long_name
    assert [span.text for span in bob.findall(".//svg:tspan", ns)] == ["bob", "Dev account"]
