"""Positions computed on the server, depending only on the data: four columns for the identity
view, one box per account (with columns by hop distance) for the access view and the path
finder. Nodes are ordered by sorted keys and barycentres, so the same data gives the same
picture. Then the edges whose straight line would run through a node they do not join are
routed through the gaps between columns and rows (`clear_edge_paths`). Pure: networkx in,
coordinates out.
"""

from __future__ import annotations

import bisect
import itertools
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


# --- edges routed clear of the nodes they do not join -----------------------------------------

# A node's box for the router: its drawn box and this much more on every side, so that a line
# passing a node keeps clear of its border, not grazing a corner (read as touching it).
_MARGIN = 5.0
# The side of a cell of the grid that files the node boxes for the segment tests.
_CELL = 80.0
# Horizontal gaps tried per edge whose simpler routes are blocked (nearest first).
_GAPS_TRIED = 16
# Parallel edges and edges sharing a gap run this far apart.
_LANE = 5.0
_LANES = 7
# Routes tried per edge at most; when all are blocked, the first _COUNTED and one in
# _COUNTED of the others are compared for the fallback.
_TRIES = 240
_COUNTED = 16
# Lines beside nodes tried on either side of an end when the gaps beside it are blocked.
_BESIDE = 3
# Edges between the same two nodes bend this far apart at their middle.
_FAN = 16.0

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def segment_hits_box(start: Point, end: Point, box: Box) -> bool:
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


class _Lines:
    """The boxes filed by the row of cells they cover (``across=1``: by y) or by the column
    (``across=0``: by x), each line's boxes sorted by their near side along it."""

    def __init__(self, boxes: dict[str, Box], *, across: int, along: int) -> None:
        self.boxes = boxes
        self.across, self.along = across, along
        filed: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for node_id, box in boxes.items():
            low, high = box[across], box[across + 2]
            for line in range(math.floor(low / _CELL), math.floor(high / _CELL) + 1):
                filed[line].append((box[along], node_id))
        self.lines: dict[int, tuple[list[float], list[str], float]] = {}
        for line, entries in filed.items():
            entries.sort()
            longest = max(boxes[n][along + 2] - boxes[n][along] for _, n in entries)
            self.lines[line] = ([start for start, _ in entries], [n for _, n in entries], longest)

    def blocked(self, at: float, low: float, high: float, ends: tuple[str, str]) -> bool:
        """Whether the run at ``at`` across, from ``low`` to ``high`` along, meets a box
        other than those of ``ends`` (sides included)."""
        found = self.lines.get(math.floor(at / _CELL))
        if found is None:
            return False
        starts, node_ids, longest = found
        boxes, across, along = self.boxes, self.across, self.along
        # A box starting before ``low - longest`` ends before ``low`` (a pixel spare for
        # rounding: the boxes it lets through are tested as any other).
        for index in range(bisect.bisect_left(starts, low - longest - 1.0), len(starts)):
            if starts[index] > high:
                break
            box = boxes[node_ids[index]]
            if (
                low <= box[along + 2]
                and box[across] <= at <= box[across + 2]
                and node_ids[index] not in ends
            ):
                return True
        return False


class _Obstacles:
    """The node boxes filed in a grid of square cells: a segment is tested against the boxes of
    the cells it passes through only, so a test costs its length, not the number of nodes."""

    def __init__(self, boxes: dict[str, Box]) -> None:
        self.boxes = boxes
        self.cells: dict[tuple[int, int], list[str]] = defaultdict(list)
        for node_id, (x0, y0, x1, y1) in boxes.items():
            for i in range(math.floor(x0 / _CELL), math.floor(x1 / _CELL) + 1):
                for j in range(math.floor(y0 / _CELL), math.floor(y1 / _CELL) + 1):
                    self.cells[(i, j)].append(node_id)
        # The boxes of each row of cells by left side, and of each column by top: a horizontal
        # or vertical run (most runs) tests those of its one row or column within its reach.
        self.rows = _Lines(boxes, across=1, along=0)
        self.columns = _Lines(boxes, across=0, along=1)

    def _cells(self, a: Point, b: Point) -> Iterable[list[str]]:
        """The node lists of the cells the segment a → b passes through, from left to right."""
        (ax, ay), (bx, by) = (a, b) if a[0] <= b[0] else (b, a)
        cells = self.cells
        if bx == ax:
            i = math.floor(ax / _CELL)
            for j in range(math.floor(min(ay, by) / _CELL), math.floor(max(ay, by) / _CELL) + 1):
                if found := cells.get((i, j)):
                    yield found
            return
        slope = (by - ay) / (bx - ax)
        for i in range(math.floor(ax / _CELL), math.floor(bx / _CELL) + 1):
            # The part of the segment within this column of cells.
            left, right = i * _CELL, (i + 1) * _CELL
            ya = ay + ((left if left > ax else ax) - ax) * slope
            yb = ay + ((right if right < bx else bx) - ax) * slope
            low, high = (ya, yb) if ya <= yb else (yb, ya)
            for j in range(math.floor(low / _CELL), math.floor(high / _CELL) + 1):
                if found := cells.get((i, j)):
                    yield found

    def blocked(self, a: Point, b: Point, ends: tuple[str, str]) -> bool:
        """Whether the segment a → b runs through a node other than the edge's ends."""
        (ax, ay), (bx, by) = a, b
        if ay == by:
            return self.rows.blocked(ay, min(ax, bx), max(ax, bx), ends)
        if ax == bx:
            return self.columns.blocked(ax, min(ay, by), max(ay, by), ends)
        boxes = self.boxes
        for found in self._cells(a, b):
            for node_id in found:
                if node_id not in ends and segment_hits_box(a, b, boxes[node_id]):
                    return True
        return False

    def hits(self, a: Point, b: Point, ends: tuple[str, str]) -> set[str]:
        """The nodes, other than the edge's ends, that the segment a → b runs through."""
        return {
            node_id
            for found in self._cells(a, b)
            for node_id in found
            if node_id not in ends and segment_hits_box(a, b, self.boxes[node_id])
        }

    def route_blocked(self, points: list[Point], ends: tuple[str, str]) -> bool:
        return any(self.blocked(a, b, ends) for a, b in zip(points, points[1:], strict=False))

    def route_hits(self, points: list[Point], ends: tuple[str, str]) -> int:
        return sum(len(self.hits(a, b, ends)) for a, b in zip(points, points[1:], strict=False))


def _node_box(node: dict[str, Any]) -> Box:
    half_w = node.get("w", 200) / 2 + _MARGIN
    half_h = node.get("h", 32) / 2 + _MARGIN
    return (node["x"] - half_w, node["y"] - half_h, node["x"] + half_w, node["y"] + half_h)


class _Router:
    """Orthogonal routes through the gaps between columns and rows, for the edges whose straight
    line would run through a node they do not join."""

    def __init__(self, nodes: dict[str, dict[str, Any]]) -> None:
        self.nodes = nodes
        self.obstacles = _Obstacles({n: _node_box(node) for n, node in nodes.items()})
        # Every row's gaps above and below: where a route may cross the columns between its ends.
        rows = sorted({node["y"] for node in nodes.values()})
        self.gaps = sorted({y + d for y in rows for d in (-ROW_HEIGHT / 2, ROW_HEIGHT / 2)})
        self.centres = {(node["x"], node["y"]): node_id for node_id, node in nodes.items()}
        boxes = self.obstacles.boxes.values()
        self.sides = sorted({x for box in boxes for x in (box[0] - _LANE, box[2] + _LANE)})
        self.tested: dict[tuple[Point, Point], bool] = {}

    def blocked(self, a: Point, b: Point) -> bool:
        """Whether the run a → b goes through a node other than those centred on its ends.
        Routes share many runs (into a target, along a gap): each is tested once."""
        key = (a, b)
        found = self.tested.get(key)
        if found is None:
            ends = (self.centres.get(a, ""), self.centres.get(b, ""))
            found = self.tested[key] = self.obstacles.blocked(a, b, ends)
        return found

    def route(self, source: str, target: str) -> tuple[list[Point], int]:
        """The waypoints between the two centres (none: a straight line) and the nodes the
        route still runs through (0 unless every route tried is blocked)."""
        s, t = self.nodes[source], self.nodes[target]
        start, end = (s["x"], s["y"]), (t["x"], t["y"])
        ends = (source, target)
        blocked = self.blocked
        tried: list[list[Point]] = []
        candidates = itertools.islice(self._candidates(start, end), _TRIES)
        for rank, waypoints in enumerate(candidates):
            points = [start, *waypoints, end]
            if not any(blocked(a, b) for a, b in zip(points, points[1:], strict=False)):
                return waypoints, 0
            if rank < _COUNTED or rank % _COUNTED == 0:
                tried.append(waypoints)
        # Every route is blocked: of the simplest ones and a sample of the others, the one
        # through the fewest nodes.
        hits = [(self.obstacles.route_hits([start, *w, end], ends), i) for i, w in enumerate(tried)]
        fewest, index = min(hits)
        return tried[index], fewest

    def detours(self, start: Point, end: Point) -> Iterable[list[Point]]:
        """The routes of ``_candidates`` other than the straight line."""
        return itertools.islice(self._candidates(start, end), 1, None)

    def _candidates(self, start: Point, end: Point) -> Iterable[list[Point]]:
        """Routes from the simplest: straight; one vertical run in a gap between columns; two
        vertical runs (beside the source, beside the target) joined by a horizontal run in a
        gap between rows, on the near sides first, then on the far ones."""
        (sx, sy), (tx, ty) = start, end
        yield []
        half = COLUMN_WIDTH / 2
        if abs(tx - sx) < half:
            # Same column: out to the gap on its right (else its left) and back.
            for vx in (max(sx, tx) + half, min(sx, tx) - half, sx + 3 * half, sx - 3 * half):
                yield [(vx, sy), (vx, ty)]
            source_sides, target_sides = (sx + half, sx - half), (tx + half, tx - half)
        else:
            step = half if tx > sx else -half
            yield [(tx - step, sy), (tx - step, ty)]
            yield [(sx + step, sy), (sx + step, ty)]
            source_sides, target_sides = (sx + step, sx - step), (tx - step, tx + step)
        gaps = self._gaps_between(sy, ty)
        for vs in source_sides:
            for vt in target_sides:
                for gy in gaps:
                    yield [(vs, sy), (vs, gy), (vt, gy), (vt, ty)]
        # Boxes of other accounts may stand in those gaps (boxes are packed side by side, off
        # the columns' grid): runs just beside a node, nearest the ends first.
        near_source, near_target = self._beside(sx), self._beside(tx)
        for vx in sorted(
            set(near_source + near_target), key=lambda x: min(abs(x - sx), abs(x - tx))
        ):
            yield [(vx, sy), (vx, ty)]
        for vs in near_source:
            for vt in near_target:
                for gy in gaps:
                    yield [(vs, sy), (vs, gy), (vt, gy), (vt, ty)]

    def _beside(self, x: float) -> list[float]:
        """A few vertical lines just beside the nodes nearest ``x`` (either side)."""
        index = bisect.bisect(self.sides, x)
        return self.sides[max(0, index - _BESIDE) : index + _BESIDE]

    def _gaps_between(self, sy: float, ty: float) -> list[float]:
        """The gaps between rows a route may cross the columns along: those nearest the middle
        height, then those beside the target's row and the source's (runs into a packed box
        of accounts are short there)."""
        gaps, found = self.gaps, dict[float, None]()
        for y, count in (((sy + ty) / 2, _GAPS_TRIED), (ty, 4), (sy, 4)):
            index = bisect.bisect(gaps, y)
            for offset in range(count):
                # Alternately below and above y, nearest first.
                at = index + (offset // 2 if offset % 2 == 0 else -(offset // 2) - 1)
                if 0 <= at < len(gaps):
                    found.setdefault(gaps[at], None)
        return list(found)


def clear_edge_paths(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> int:
    """Route every edge clear of the nodes it does not join: ec2 → app-server drawn straight
    through the OIDC provider beside it would read as ec2 → OIDC → app-server.

    An edge whose straight line is clear stays straight; any other gets ``route``: the
    waypoints of a line that leaves its source horizontally, runs up or down the gap between
    two columns and, when columns lie between its ends, along a gap between two rows. The
    waypoints are also given as Cytoscape's ``segment-weights`` (``sw``) and
    ``segment-distances`` (``sd``) relative to the line between the two centres. Edges sharing
    a gap are spread a few pixels apart. Nodes never move. Returns the edges left running
    through a node (0 unless no route tried was clear).
    """
    drawn = {n["id"]: n for n in nodes if n["kind"] not in {"box", "column"} and "x" in n}
    router = _Router(drawn)
    left = 0
    routes: dict[int, list[Point]] = {}
    for index, edge in enumerate(edges):
        edge.pop("route", None)
        source, target = edge["source"], edge["target"]
        if source == target or source not in drawn or target not in drawn:
            continue
        waypoints, hits = router.route(source, target)
        left += hits > 0
        if waypoints:
            routes[index] = waypoints
    routes = _spread(edges, routes, router)
    routes.update(_fan(edges, routes, router))
    for index, waypoints in routes.items():
        edge = edges[index]
        edge["route"] = [[round(x, 1), round(y, 1)] for x, y in waypoints]
        s, t = drawn[edge["source"]], drawn[edge["target"]]
        edge["sw"], edge["sd"] = _segment_offsets((s["x"], s["y"]), (t["x"], t["y"]), waypoints)
    return left


def _spread(
    edges: list[dict[str, Any]], routes: dict[int, list[Point]], router: _Router
) -> dict[int, list[Point]]:
    """Each route moved across its gaps by a lane: edges between the same two nodes, and edges
    towards different targets in one gap, would otherwise be drawn on top of each other. A
    move that would run the route into a node is not made."""
    lanes: dict[tuple[str, float], list[str]] = defaultdict(list)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, waypoints in routes.items():
        edge = edges[index]
        pairs[(edge["source"], edge["target"])].append(index)
        for x in {x for x, _ in waypoints}:
            lanes[("x", x)].append(edge["target"])
    # Each gap's targets by name, and each target's rank among them.
    order = {key: {t: i for i, t in enumerate(sorted(set(ts)))} for key, ts in lanes.items()}
    spread: dict[int, list[Point]] = {}
    for (source, target), indexes in sorted(pairs.items()):
        for rank, index in enumerate(indexes):
            waypoints = routes[index]
            parallel = (rank - (len(indexes) - 1) / 2) * _LANE
            moved = []
            for x, y in waypoints:
                # Centred on the gap: a gap used by one target keeps its middle.
                ranks = order[("x", x)]
                used = min(len(ranks), _LANES)
                lane = (ranks[target] % _LANES - (used - 1) / 2) * _LANE
                moved.append((x + lane + parallel, y + parallel))
            s, t = router.nodes[source], router.nodes[target]
            path = [(s["x"], s["y"]), *moved, (t["x"], t["y"])]
            blocked = router.obstacles.route_blocked(path, (source, target))
            spread[index] = waypoints if blocked else moved
    return spread


def _fan(
    edges: list[dict[str, Any]], routes: dict[int, list[Point]], router: _Router
) -> dict[int, list[Point]]:
    """Waypoints for the straight edges between two nodes joined by several (either way): each
    bends through a point beside the middle of the line, as Cytoscape fans such edges out, but
    checked clear of the other nodes; when the bend is not clear the edge takes the first
    clear route that leaves its source on another side."""
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, edge in enumerate(edges):
        source, target = edge["source"], edge["target"]
        if source != target and source in router.nodes and target in router.nodes:
            pairs[(min(source, target), max(source, target))].append(index)
    fanned: dict[int, list[Point]] = {}
    for (first, second), indexes in sorted(pairs.items()):
        if len(indexes) < 2:
            continue
        a, b = router.nodes[first], router.nodes[second]
        dx, dy = b["x"] - a["x"], b["y"] - a["y"]
        length = math.hypot(dx, dy) or 1.0
        # The normal of the pair's line, the same for both directions.
        nx_, ny_ = -dy / length, dx / length
        middle = ((a["x"] + b["x"]) / 2, (a["y"] + b["y"]) / 2)
        for rank, index in enumerate(indexes):
            offset = (rank - (len(indexes) - 1) / 2) * _FAN
            if index in routes or offset == 0:
                continue
            edge = edges[index]
            s, t = router.nodes[edge["source"]], router.nodes[edge["target"]]
            start, end = (s["x"], s["y"]), (t["x"], t["y"])
            bend = [(middle[0] + nx_ * offset, middle[1] + ny_ * offset)]
            if not router.obstacles.route_blocked([start, *bend, end], (first, second)):
                fanned[index] = bend
                continue
            for waypoints in router.detours(start, end):
                points = [start, *waypoints, end]
                if not any(router.blocked(p, q) for p, q in zip(points, points[1:], strict=False)):
                    moved = [(x + offset / 2, y + offset / 2) for x, y in waypoints]
                    blocked = router.obstacles.route_blocked([start, *moved, end], (first, second))
                    fanned[index] = waypoints if blocked else moved
                    break
    return fanned


def _segment_offsets(
    start: Point, end: Point, waypoints: list[Point]
) -> tuple[list[float], list[float]]:
    """Cytoscape's segment weights and distances of the waypoints, with ``edge-distances:
    node-position``: a waypoint is at weight w along start → end, then distance d along the
    normal (-uy, ux) of its unit direction u."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    weights, distances = [], []
    for x, y in waypoints:
        px, py = x - start[0], y - start[1]
        weights.append(round((px * ux + py * uy) / length, 4))
        distances.append(round(-px * uy + py * ux, 1))
    return weights, distances


# --- parallel edges drawn as one ----------------------------------------------------------------

# From this many edges a view draws the edges between the same two nodes as one bundle: on a
# busy view the parallel lanes of each pair fill the gaps between the account boxes.
BUNDLE_FROM = 150


def bundle_parallel_edges(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bundles of a busy view: one drawn edge for the edges between the same two nodes
    (either direction counts apart), which the page expands into its members on a tap.

    A bundle runs along the middle of its members' lanes (``clear_edge_paths`` spread them
    evenly either side of the route it found clear), else along its first member's route.
    Its ``outcome`` is the weakest that holds: ``allow`` when a member holds unconditionally,
    ``conditional`` when every member holds only under conditions, else that of its first
    member; its ``kind`` is the members' when they share one, else ``mixed``. Each member gets
    ``bundle``: the bundle's id. Nothing is bundled below ``BUNDLE_FROM`` edges.
    """
    if len(edges) < BUNDLE_FROM:
        return []
    drawn = {n["id"]: n for n in nodes if n["kind"] not in {"box", "column"} and "x" in n}
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for edge in edges:
        if edge["source"] != edge["target"]:
            pairs[(edge["source"], edge["target"])].append(edge)
    obstacles: _Obstacles | None = None
    bundles = []
    for (source, target), members in sorted(pairs.items()):
        if len(members) < 2:
            continue
        bundle_id = f"bundle:{source}|{target}"
        outcomes = {member.get("outcome", "") for member in members}
        kinds = {member["kind"] for member in members}
        bundle: dict[str, Any] = {
            "id": bundle_id,
            "source": source,
            "target": target,
            "kind": kinds.pop() if len(kinds) == 1 else "mixed",
            "outcome": (
                "allow"
                if "allow" in outcomes
                else "conditional"
                if outcomes == {"conditional"}
                else members[0].get("outcome", "")
            ),
            "members": [member["id"] for member in members],
            "count": sum(member.get("count", 1) for member in members),
        }
        routes = [member.get("route") for member in members]
        route = _middle_route(routes)
        if route and source in drawn and target in drawn:
            s, t = drawn[source], drawn[target]
            start, end = (s["x"], s["y"]), (t["x"], t["y"])
            points: list[Point] = [(x, y) for x, y in route]
            if obstacles is None:
                obstacles = _Obstacles({n: _node_box(node) for n, node in drawn.items()})
            if obstacles.route_blocked([start, *points, end], (source, target)):
                points = [(x, y) for x, y in routes[0] or []]
            if points:
                bundle["route"] = [[round(x, 1), round(y, 1)] for x, y in points]
                bundle["sw"], bundle["sd"] = _segment_offsets(start, end, points)
        for member in members:
            member["bundle"] = bundle_id
        bundles.append(bundle)
    return bundles


def _middle_route(routes: list[list[list[float]] | None]) -> list[list[float]]:
    """The waypoints midway between routes of as many waypoints (the lanes of one pair); no
    waypoints when a member runs straight, the first route when their shapes differ."""
    if any(not route for route in routes):
        return []
    first = routes[0] or []
    if any(len(route or []) != len(first) for route in routes):
        return [list(point) for point in first]
    count = len(routes)
    return [
        [sum((route or [])[i][0] for route in routes) / count,
         sum((route or [])[i][1] for route in routes) / count]
        for i in range(len(first))
    ]  # fmt: skip
