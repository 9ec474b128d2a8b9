"""A view's data in other shapes: the table under the picture, GraphML, a standalone SVG.
Pure: they read the dicts `serialise_graph` returns.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

import networkx as nx

from identities.graph.build import EDGE_KIND_LABELS, NODE_WIDTH

TABLE_LIMIT = 1000


def table_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The view's edges as rows (source, relation, target, details), at most TABLE_LIMIT,
    then the nodes no edge touches: the same information as the picture."""
    nodes = {node["id"]: node for node in data["nodes"]}
    rows: list[dict[str, Any]] = []
    touched: set[str] = set()
    for edge in data["edges"]:
        source, target = nodes[edge["source"]], nodes[edge["target"]]
        touched.update((edge["source"], edge["target"]))
        if len(rows) >= TABLE_LIMIT:
            continue
        relation = EDGE_KIND_LABELS.get(edge["kind"], edge["kind"])
        if edge.get("action"):
            relation = f"can assume ({edge['action']})"
        elif edge.get("methods"):
            relation = f"can escalate to ({', '.join(edge['methods'])})"
        rows.append({"source": source, "target": target, "relation": relation, "edge": edge})
    for node_id, node in nodes.items():
        if node_id not in touched and node["kind"] not in {"box", "column"}:
            if len(rows) >= TABLE_LIMIT:
                break
            rows.append({"source": node, "target": None, "relation": "", "edge": None})
    return rows


def graph_to_graphml(data: dict[str, Any]) -> str:
    """The view as GraphML (yEd, Gephi, networkx read it): scalar attributes only, lists joined
    by newlines, positions as x/y."""
    graph = nx.MultiDiGraph()
    for node in data["nodes"]:
        if node["kind"] in {"column"}:
            continue
        graph.add_node(node["id"], **_scalar_attrs(node, skip={"id"}))
    for edge in data["edges"]:
        graph.add_edge(
            edge["source"],
            edge["target"],
            key=edge["id"],
            **_scalar_attrs(edge, skip={"source", "target"}),
        )
    # Generated key ids (d0, d1, …): named ones repeat `kind` for nodes and edges, and
    # GraphML key ids must be unique; each key still carries its attribute's name.
    return "\n".join(nx.generate_graphml(graph, edge_id_from_attribute="id"))


def _scalar_attrs(item: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in item.items():
        if key in skip or value is None:
            continue
        if isinstance(value, list | tuple):
            attrs[key] = "\n".join(str(v) for v in value)
        elif isinstance(value, dict):
            attrs[key] = "&".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            attrs[key] = value
    return attrs


_SVG_FILL = {
    "user": ("#dbeafe", "#1d4ed8"),
    "group": ("#ccfbf1", "#0f766e"),
    "role": ("#ede9fe", "#6d28d9"),
    "policy-aws": ("#ffedd5", "#c2410c"),
    "policy-customer": ("#fef3c7", "#b45309"),
    "inline": ("#f1f5f9", "#475569"),
    "service": ("#e0e7ff", "#4338ca"),
    "federated": ("#fae8ff", "#a21caf"),
    "account": ("#fee2e2", "#b91c1c"),
    "external": ("#fee2e2", "#b91c1c"),
    "anyone": ("#fecaca", "#991b1b"),
    "access-group": ("#e0f2fe", "#0369a1"),
    "aggregate": ("#f8fafc", "#334155"),
}
_SVG_EDGE = {"conditional": "#b45309", "denied": "#94a3b8"}
# Escalations are drawn in their own colour, dotted when only potential.
_SVG_ESCALATE = "#be123c"


def graph_to_svg(data: dict[str, Any], highlight: Iterable[str] = ()) -> str:
    """The view drawn as a standalone SVG from the server's positions (what the page shows,
    without client state), for tickets and audit evidence."""
    nodes = {n["id"]: n for n in data["nodes"] if "x" in n}
    boxes = [n for n in data["nodes"] if n["kind"] == "box"]
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in nodes.values():
        if node.get("parent"):
            children[node["parent"]].append(node)
    box_rects = {}
    for box in boxes:
        members = children.get(box["id"], [])
        if not members:
            continue
        x0 = min(n["x"] - _half(n)[0] for n in members) - 16
        x1 = max(n["x"] + _half(n)[0] for n in members) + 16
        y0 = min(n["y"] - _half(n)[1] for n in members) - 34
        y1 = max(n["y"] + _half(n)[1] for n in members) + 16
        box_rects[box["id"]] = (x0, y0, x1, y1)
    drawn = list(nodes.values())
    min_x = min([0, *(n["x"] - _half(n)[0] for n in drawn), *(r[0] for r in box_rects.values())])
    min_y = min([0, *(n["y"] - _half(n)[1] for n in drawn), *(r[1] for r in box_rects.values())])
    max_x = max([0, *(n["x"] + _half(n)[0] for n in drawn), *(r[2] for r in box_rects.values())])
    max_y = max([0, *(n["y"] + _half(n)[1] for n in drawn), *(r[3] for r in box_rects.values())])
    min_x, min_y, max_x, max_y = min_x - 20, min_y - 20, max_x + 20, max_y + 20
    width, height = max_x - min_x, max_y - min_y
    marked = set(highlight)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{min_x:.0f} {min_y:.0f} '
        f'{width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#64748b"/></marker>',
        '<marker id="arrow-hl" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#1d4ed8"/></marker>',
        "</defs>",
        f'<rect x="{min_x:.0f}" y="{min_y:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'fill="#ffffff"/>',
    ]
    for box in boxes:
        if box["id"] not in box_rects:
            continue
        x0, y0, x1, y1 = box_rects[box["id"]]
        out.append(
            f'<g class="box"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
            f'height="{y1 - y0:.1f}" rx="8" fill="#f8fafc" stroke="#cbd5e1"/>'
            f'<text x="{x0 + 10:.1f}" y="{y0 + 18:.1f}" font-weight="bold" fill="#334155">'
            f"{escape(box['label'])}</text></g>"
        )
    for node in data["nodes"]:
        if node["kind"] == "column":
            out.append(
                f'<text x="{node["x"]:.1f}" y="{node["y"]:.1f}" text-anchor="middle" '
                f'font-weight="bold" fill="#475569">{escape(node["label"])}</text>'
            )
    for edge in data["edges"]:
        source, target = nodes.get(edge["source"]), nodes.get(edge["target"])
        if not source or not target:
            continue
        hl = edge["id"] in marked
        colour = "#1d4ed8" if hl else _SVG_EDGE.get(edge.get("outcome", ""), "#64748b")
        dash = ' stroke-dasharray="6 4"' if edge.get("outcome") == "conditional" else ""
        if edge.get("outcome") == "denied":
            dash = ' stroke-dasharray="2 3"'
        if edge["kind"] == "escalate":
            colour = "#1d4ed8" if hl else _SVG_ESCALATE
            dash = ' stroke-dasharray="3 3"' if edge.get("status") == "potential" else dash
        changed = set(edge.get("classes", ())) & {"change-added", "change-removed"}
        if "change-added" in changed and not hl:  # the page's changes since a sync
            colour, dash = "#15803d", ""
        elif "change-removed" in changed and not hl:
            colour, dash = "#9f1239", ' stroke-dasharray="5 5"'
        points = _edge_points(source, target, edge.get("route") or ())
        title = f"{source['label']} {EDGE_KIND_LABELS.get(edge['kind'], edge['kind'])} "
        title += target["label"]
        if edge.get("methods"):
            title += f" by {', '.join(edge['methods'])}"
        if edge.get("requirements") or edge.get("conditions"):
            title += " when " + "; ".join(edge.get("requirements") or edge["conditions"])
        classes = " ".join([f"edge-{edge['kind']}", *sorted(changed)])
        # Along the route the page draws (around the nodes the edge does not join).
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(
            f'<polyline class="{escape(classes)}" points="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="{3 if hl or changed else 1.4}"{dash} marker-end="url(#{"arrow-hl" if hl else "arrow"})">'
            f"<title>{escape(title)}</title></polyline>"
        )
    for node in nodes.values():
        if node["kind"] in {"box", "column"}:
            continue
        fill, stroke = _SVG_FILL.get(node["kind"], ("#f1f5f9", "#475569"))
        hl = node["id"] in marked
        admin = "admin" in node.get("flags", ())
        width = 1.2
        if admin:  # the page's red administrator border
            stroke, width = "#b91c1c", 3.0
        if hl:
            stroke, width = "#1d4ed8", 3.0
        half_w, half_h = _half(node)
        # The page's own wrapped label (every line, nothing cut), not a truncated copy.
        lines = (node.get("display") or node["label"]).split("\n")
        first_y = node["y"] + 4 - 6.5 * (len(lines) - 1)
        spans = "".join(
            f'<tspan x="{node["x"]:.1f}" y="{first_y + 13 * i:.1f}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        out.append(
            f'<g class="node{" admin" if admin else ""}"><rect x="{node["x"] - half_w:.1f}" '
            f'y="{node["y"] - half_h:.1f}" width="{2 * half_w:.1f}" height="{2 * half_h:.1f}" '
            f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
            f'<text text-anchor="middle" fill="#0f172a">{spans}</text>'
            f"<title>{escape(node['id'])}</title></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _half(node: dict[str, Any]) -> tuple[float, float]:
    """Half the width and height of a node's rectangle, as the page sizes it."""
    return (node.get("w") or NODE_WIDTH) / 2, (node.get("h") or 30) / 2


def _edge_points(
    source: dict[str, Any], target: dict[str, Any], route: Iterable[Iterable[float]]
) -> list[tuple[float, float]]:
    """The drawn line of an edge: from the source's border through the route's waypoints to
    the target's border (a straight edge: the segment between the two borders)."""
    waypoints = [(float(x), float(y)) for x, y in route]
    if not waypoints:
        x1, y1, x2, y2 = _clip(source, target)
        return [(x1, y1), (x2, y2)]
    first = {"x": waypoints[0][0], "y": waypoints[0][1], "w": 0.001, "h": 0.001}
    last = {"x": waypoints[-1][0], "y": waypoints[-1][1], "w": 0.001, "h": 0.001}
    x1, y1, *_ = _clip(source, first)
    *_, x2, y2 = _clip(last, target)
    return [(x1, y1), *waypoints, (x2, y2)]


def _clip(source: dict[str, Any], target: dict[str, Any]) -> tuple[float, float, float, float]:
    """The segment between two node rectangles, cut at their borders."""
    x1, y1, x2, y2 = source["x"], source["y"], target["x"], target["y"]
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return x1, y1, x2, y2

    def scale(node: dict[str, Any]) -> float:
        half_w, half_h = _half(node)
        return min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)

    start, end = scale(source), scale(target)
    return x1 + dx * start, y1 + dy * start, x2 - dx * end, y2 - dy * end
