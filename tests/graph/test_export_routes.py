"""The SVG export draws what the page draws: routed edges along their waypoints, the changes
since a sync in their colours, highlights and administrator borders."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from identities.graph.build import COLUMN_WIDTH, ROW_HEIGHT
from identities.graph.export import graph_to_svg
from identities.graph.layout import clear_edge_paths

NS = {"svg": "http://www.w3.org/2000/svg"}


def _node(node_id: str, x: float, y: float, **extra) -> dict:
    kind = node_id.split(":")[0]
    return {
        "id": node_id,
        "kind": kind,
        "label": node_id,
        "x": x,
        "y": y,
        "w": 200,
        "h": 31,
        **extra,
    }


def _view() -> dict:
    nodes = [
        _node("service:ec2", 0, 0),
        _node("federated:oidc", COLUMN_WIDTH, 0),
        _node("role:1:app", 2 * COLUMN_WIDTH, 0, flags=["admin"]),
        _node("role:1:other", COLUMN_WIDTH, ROW_HEIGHT),
    ]
    edges: list[dict[str, Any]] = [
        {"id": "e1", "source": "service:ec2", "target": "role:1:app", "kind": "service"},
        {
            "id": "e2",
            "source": "federated:oidc",
            "target": "role:1:other",
            "kind": "federated",
            "classes": ["change-added"],
        },
    ]
    assert clear_edge_paths(nodes, edges) == 0
    return {"nodes": nodes, "edges": edges}


def _points(line: ET.Element) -> list[tuple[float, ...]]:
    return [tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]


def test_svg_draws_a_routed_edge_through_its_waypoints_around_the_node_between():
    data = _view()
    root = ET.fromstring(graph_to_svg(data))
    lines = root.findall(".//svg:polyline", NS)
    routed = next(line for line in lines if "ec2" in line.find("svg:title", NS).text)

    points = _points(routed)
    assert points[1:-1] == [tuple(p) for p in data["edges"][0]["route"]]
    # Starts at ec2's right border, ends at app-server's left border.
    assert points[0] == (100.0, 0.0)
    assert points[-1] == (2 * COLUMN_WIDTH - 100.0, 0.0)


def test_svg_keeps_changes_highlights_and_administrator_borders():
    data = _view()
    root = ET.fromstring(graph_to_svg(data, highlight=["e1", "service:ec2"]))
    lines = {
        line.find("svg:title", NS).text.split()[0]: line
        for line in root.findall(".//svg:polyline", NS)
    }
    assert lines["service:ec2"].get("stroke") == "#1d4ed8"  # highlighted
    assert lines["federated:oidc"].get("stroke") == "#15803d"  # added since the sync
    assert "change-added" in lines["federated:oidc"].get("class")
    nodes = {g.find("svg:title", NS).text: g for g in root.findall(".//svg:g", NS)}
    assert nodes["role:1:app"].get("class") == "node admin"
    assert nodes["role:1:app"].find("svg:rect", NS).get("stroke") == "#b91c1c"
    assert nodes["service:ec2"].find("svg:rect", NS).get("stroke") == "#1d4ed8"
