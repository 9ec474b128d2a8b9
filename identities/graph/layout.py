"""Positions computed on the server, depending only on the data: four columns for the identity
view, one box per account (with columns by hop distance) for the access view and the path
finder. Nodes are ordered by sorted keys and barycentres, so the same data gives the same
picture. Pure: networkx in, coordinates out.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

import networkx as nx

from identities.graph.build import (
    BAND_GAP,
    CANVAS_ASPECT,
    COLUMN_WIDTH,
    NODE_WIDTH_MAX,
    ROW_HEIGHT,
)


def layout_access(
    graph: nx.MultiDiGraph, names: dict[str, str], roots: Iterable[str] = (), chain: bool = False
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]], dict[str, str]]:
    labels: dict[str, str] = {}
    for node_id in graph:
        data = graph.nodes[node_id]
        band = _band_of(data)
        if band not in labels:
            labels[band] = _band_label(band, data, names)
    positions, boxes = _layout_bands(graph, labels, list(roots) or None, chain=chain)
    parents = {node_id: f"box:{_band_of(graph.nodes[node_id])}" for node_id in graph}
    for box in boxes:
        band = box["id"].removeprefix("box:")
        box["outside"] = not band.startswith("4:")
    return positions, boxes, parents


def _band_label(band: str, data: dict[str, Any], names: dict[str, str]) -> str:
    if band == "0:anyone":
        return "Anyone — any AWS account"
    if band == "1:services":
        return "AWS services"
    if band == "2:web-identity":
        return "Web identity providers"
    account_id = data["account"]
    if band.startswith("3:external:"):
        return f"Outside the estate · {account_id or 'unknown account'}"
    name = names.get(account_id, "")
    return f"{name} · {account_id}" if name and name != account_id else account_id


_IDENTITY_COLUMNS = {
    "user": 0,
    "group": 1,
    "policy-aws": 2,
    "policy-customer": 2,
    "inline": 2,
    "role": 3,
}
_COLUMN_TITLES = ("Users", "Groups", "Policies", "Roles")


def _sort_key(graph: nx.MultiDiGraph, node_id: str) -> tuple[str, str, str]:
    data = graph.nodes[node_id]
    return (data["account"], data["label"].lower(), node_id)


def _order_column(graph: nx.MultiDiGraph, nodes: list[str], placed: dict[str, float]) -> list[str]:
    """Nodes ordered by the mean height of their placed neighbours (either direction), then
    by account, name and id; nodes with no placed neighbour go last."""

    def key(node_id: str) -> tuple[float, tuple[str, str, str]]:
        neighbours = set(graph.predecessors(node_id)) | set(graph.successors(node_id))
        centre = _barycentre_float(placed, neighbours)
        return (math.inf if centre is None else centre, _sort_key(graph, node_id))

    return sorted(nodes, key=key)


def layout_columns(
    graph: nx.MultiDiGraph,
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    """Four columns (users, groups, policies, roles), each centred on y = 0.

    Groups are sorted by account and name; users follow their groups, policies the users,
    groups and roles that hold them, roles their policies; then policies and roles are
    ordered once more against each other. Ties break on account, name and id, so the order
    depends only on the data.
    """
    columns: dict[int, list[str]] = defaultdict(list)
    for node_id, data in graph.nodes(data=True):
        kind = data["kind"] if data["kind"] != "aggregate" else data.get("of", "")
        column = _IDENTITY_COLUMNS.get(kind)
        if column is not None:
            columns[column].append(node_id)
    placed: dict[str, float] = {}

    def place(column: int, order: list[str]) -> None:
        columns[column] = order
        top = -(len(order) - 1) * ROW_HEIGHT / 2
        for index, node_id in enumerate(order):
            placed[node_id] = top + index * ROW_HEIGHT

    place(1, sorted(columns[1], key=lambda n: _sort_key(graph, n)))
    place(0, _order_column(graph, columns[0], placed))
    place(2, _order_column(graph, columns[2], placed))
    place(3, _order_column(graph, columns[3], placed))
    place(2, _order_column(graph, columns[2], placed))
    place(3, _order_column(graph, columns[3], placed))
    positions: dict[str, tuple[float, float]] = {}
    headers: list[dict[str, Any]] = []
    tallest = max((len(nodes) for nodes in columns.values()), default=0)
    for column in range(4):
        nodes = columns[column]
        if not nodes:
            continue
        for node_id in nodes:
            positions[node_id] = (column * COLUMN_WIDTH, placed[node_id])
        headers.append(
            {
                "id": f"column:{column}",
                "kind": "column",
                "label": f"{_COLUMN_TITLES[column]} · {len(nodes)}",
                "x": column * COLUMN_WIDTH,
                "y": -(tallest - 1) * ROW_HEIGHT / 2 - ROW_HEIGHT * 1.2,
            }
        )
    return positions, headers


def _hop_layers(graph: nx.MultiDiGraph, roots: Iterable[str] = ()) -> dict[str, int]:
    """Hop distance from the roots (the given ones, else the nodes nothing points to); a part
    no root reaches (a cycle) starts again from its smallest node."""
    layer: dict[str, int] = {}
    starts = sorted(roots) or sorted(n for n in graph if graph.in_degree(n) == 0)
    for group in (starts, *([n] for n in sorted(graph))):
        queue = deque(n for n in group if n in graph and n not in layer)
        for node_id in queue:
            layer[node_id] = 0
        while queue:
            node_id = queue.popleft()
            for successor in sorted(set(graph.successors(node_id))):
                if successor not in layer:
                    layer[successor] = layer[node_id] + 1
                    queue.append(successor)
    return layer


def _band_of(data: dict[str, Any]) -> str:
    kind = data["kind"]
    if kind == "anyone":
        return "0:anyone"
    if kind == "service":
        return "1:services"
    if kind == "federated" and not data["account"]:
        return "2:web-identity"
    if kind in {"account", "external"}:
        return f"3:external:{data['account']}"
    return f"4:{data['account']}"


def _layout_bands(
    graph: nx.MultiDiGraph,
    band_labels: dict[str, str],
    roots: list[str] | None = None,
    *,
    chain: bool = False,
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    """One box per account (a band); inside it, columns by hop distance from the roots.

    Each band keeps only the columns it uses, ordered left to right by hop distance, and a
    column is ordered by the mean row of the nodes that point into it, then by name. Bands
    never overlap, so an account box holds exactly its principals; they are packed in rows
    (outside parties first, then accounts by name) to fill a landscape canvas. With ``chain``
    (the path finder) every band keeps the global columns and the bands stack, so each hop
    moves one column to the right.
    """
    layer = _hop_layers(graph, roots or ())
    bands: dict[str, list[str]] = defaultdict(list)
    for node_id in graph:
        bands[_band_of(graph.nodes[node_id])].append(node_id)
    band_order = sorted(bands, key=lambda b: (b[:2], band_labels.get(b, b), b))
    local: dict[str, tuple[float, float]] = {}
    local_y: dict[str, float] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for band in band_order:
        columns: dict[int, list[str]] = defaultdict(list)
        for node_id in bands[band]:
            columns[layer[node_id]].append(node_id)
        rows = 0
        for index_of_hop, hop in enumerate(sorted(columns)):
            column = hop if chain else index_of_hop

            def key(node_id: str) -> tuple[float, bool, tuple[str, str, str]]:
                centre = _barycentre_float(local_y, graph.predecessors(node_id))
                # Providers head their column: an edge leaving the users below them then
                # never crosses them.
                last = graph.nodes[node_id]["kind"] != "federated"
                return (math.inf if centre is None else centre, last, _sort_key(graph, node_id))

            ordered = sorted(columns[hop], key=key)
            for index, node_id in enumerate(ordered):
                local[node_id] = (column * COLUMN_WIDTH, index * ROW_HEIGHT)
                local_y[node_id] = index * ROW_HEIGHT
            rows = max(rows, len(ordered))
        sizes[band] = (
            (max(columns) if chain else len(columns) - 1) * COLUMN_WIDTH + NODE_WIDTH_MAX,
            (rows - 1) * ROW_HEIGHT + ROW_HEIGHT,
        )
    if chain:
        offsets, top = {}, 0.0
        for band in band_order:
            offsets[band] = (0.0, top)
            top += sizes[band][1] + BAND_GAP
    else:
        offsets = _pack_bands(band_order, sizes)
    positions = {}
    for band in band_order:
        dx, dy = offsets[band]
        for node_id in bands[band]:
            lx, ly = local[node_id]
            positions[node_id] = (dx + lx, dy + ly)
    boxes = [
        {"id": f"box:{band}", "kind": "box", "label": band_labels.get(band, band)}
        for band in band_order
    ]
    return positions, boxes


def _pack_bands(
    order: list[str], sizes: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """Top-left corners of the bands, packed in rows (shelves) in the given order.

    Tries a range of row widths and keeps the packing that a CANVAS_ASPECT canvas shows
    largest, so a few wide account boxes sit side by side and many stack into a grid.
    """
    widest = max((w for w, _ in sizes.values()), default=0.0)
    total = sum(w + BAND_GAP for w, _ in sizes.values())
    best: tuple[float, dict[str, tuple[float, float]]] | None = None
    for step in range(25):
        limit = widest + (total - widest) * step / 24
        offsets: dict[str, tuple[float, float]] = {}
        x = y = shelf = right = 0.0
        for band in order:
            width, height = sizes[band]
            if x > 0 and x + width > limit:
                x, y, shelf = 0.0, y + shelf + BAND_GAP, 0.0
            offsets[band] = (x, y)
            right = max(right, x + width)
            x += width + BAND_GAP
            shelf = max(shelf, height)
        bottom = y + shelf
        scale = min(CANVAS_ASPECT / max(right, 1.0), 1.0 / max(bottom, 1.0))
        if best is None or scale > best[0] * 1.001:
            best = (scale, offsets)
    return best[1] if best else {}


def _barycentre_float(positions: dict[str, float], neighbours: Iterable[str]) -> float | None:
    found = [positions[n] for n in neighbours if n in positions]
    return sum(found) / len(found) if found else None


# --- edges clear of unrelated nodes ----------------------------------------------------------

# The moves cost O(rows × edges × nodes) each: tried on question-sized views only (measured
# on the sample: 17 nodes 0.1 s; 45 nodes 5 s at 40 rounds).
CLEAR_LIMIT = 20
_CLEAR_ROUNDS = 12


def segment_hits_box(
    start: tuple[float, float], end: tuple[float, float], box: tuple[float, float, float, float]
) -> bool:
    """Whether the straight segment start → end crosses the rectangle (x0, y0, x1, y1)."""
    (x0, y0), (x1, y1) = start, end
    t0, t1 = 0.0, 1.0
    dx, dy = x1 - x0, y1 - y0
    # Liang–Barsky clipping: the segment meets the box where every edge's interval overlaps.
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


class _Geometry:
    """Nodes' centres and boxes, and the straight edges between them, for conflict counting."""

    def __init__(self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
        self.nodes = {n["id"]: n for n in nodes if n["kind"] not in {"box", "column"}}
        pairs = {(e["source"], e["target"]) for e in edges if e["source"] != e["target"]}
        self.edges = sorted(p for p in pairs if p[0] in self.nodes and p[1] in self.nodes)
        self.incident: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for pair in self.edges:
            self.incident[pair[0]].append(pair)
            self.incident[pair[1]].append(pair)

    def centre(self, node_id: str) -> tuple[float, float]:
        node = self.nodes[node_id]
        return node["x"], node["y"]

    def box(self, node_id: str) -> tuple[float, float, float, float]:
        node = self.nodes[node_id]
        # A touch smaller than drawn: an edge grazing a corner is not read as passing through.
        half_w, half_h = node.get("w", 200) / 2 - 4, node.get("h", 32) / 2 - 3
        return (node["x"] - half_w, node["y"] - half_h, node["x"] + half_w, node["y"] + half_h)

    def hits(self, pair: tuple[str, str], node_id: str) -> bool:
        if node_id in pair:
            return False
        return segment_hits_box(self.centre(pair[0]), self.centre(pair[1]), self.box(node_id))

    def conflicts(self) -> list[tuple[tuple[str, str], str]]:
        return [
            (pair, node_id)
            for pair in self.edges
            for node_id in sorted(self.nodes)
            if self.hits(pair, node_id)
        ]

    def cost(self, moved: set[str]) -> int:
        """The conflicts that involve the ``moved`` nodes, as blockers or as edge ends."""
        total = 0
        for pair in self.edges:
            if pair[0] in moved or pair[1] in moved:
                total += sum(1 for node_id in self.nodes if self.hits(pair, node_id))
            else:
                total += sum(1 for node_id in moved if self.hits(pair, node_id))
        return total


def clear_edge_paths(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> int:
    """Move nodes within their account box so that no straight edge crosses a node it does
    not join (ec2 → app-server drawn through the OIDC provider beside it reads as ec2 → OIDC →
    app-server). A node only swaps rows with another node of its column, or takes a free row
    of its box, so boxes keep their size. Returns the conflicts left (0 when all are cleared
    or the view is too big to try)."""
    geometry = _Geometry(nodes, edges)
    if len(geometry.nodes) > CLEAR_LIMIT:
        return 0
    rows: dict[str, set[float]] = defaultdict(set)
    for node in geometry.nodes.values():
        rows[node.get("parent", "")].add(node["y"])
    for _ in range(_CLEAR_ROUNDS):
        conflicts = geometry.conflicts()
        if not conflicts or not any(_move_one(geometry, rows, c) for c in conflicts[:20]):
            return len(conflicts)
    return len(geometry.conflicts())


def _move_one(
    geometry: _Geometry, rows: dict[str, set[float]], conflict: tuple[tuple[str, str], str]
) -> bool:
    """Clear one conflict by moving the blocking node, else one end of the edge, to the row of
    its column that leaves the fewest conflicts; False when no move improves anything."""
    (source, target), blocker = conflict
    for node_id in (blocker, target):
        node = geometry.nodes[node_id]
        parent = node.get("parent", "")
        column = {
            other["y"]: other_id
            for other_id, other in geometry.nodes.items()
            if other.get("parent", "") == parent and other["x"] == node["x"]
        }
        start_y = node["y"]
        best: tuple[int, float] | None = None
        for y in sorted(rows[parent]):
            if y == start_y:
                continue
            other_id = column.get(y)
            moved = {node_id} | ({other_id} if other_id else set())
            before = geometry.cost(moved)
            _swap(geometry, node_id, other_id, y, start_y)
            after = geometry.cost(moved)
            _swap(geometry, node_id, other_id, start_y, y)
            if after < before and (best is None or after - before < best[0]):
                best = (after - before, y)
        if best is not None:
            _swap(geometry, node_id, column.get(best[1]), best[1], start_y)
            return True
    return False


def _swap(geometry: _Geometry, node_id: str, other_id: str | None, y: float, old_y: float) -> None:
    geometry.nodes[node_id]["y"] = y
    if other_id:
        geometry.nodes[other_id]["y"] = old_y
