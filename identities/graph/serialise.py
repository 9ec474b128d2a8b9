"""The JSON a graph page, its island and the exports share: plain dicts from a laid-out networkx
graph. Pure: the account names and risk flags come in as arguments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import networkx as nx

from identities.graph.build import (
    ACCESS_EDGE_KINDS,
    EDGE_KIND_LABELS,
    LABEL_WIDTH,
    NODE_KIND_LABELS,
    NODE_WIDTH_MAX,
)
from identities.graph.urls import NodeUrls, folded_members_url, graph_links, view_url


def serialise_graph(
    graph: nx.MultiDiGraph,
    positions: dict[str, tuple[float, float]],
    *,
    view: str,
    extra_nodes: Iterable[dict[str, Any]] = (),
    parents: dict[str, str] | None = None,
    stats: dict[str, Any] | None = None,
    account_names: dict[str, str],
    flags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The JSON the page and the exports share: nodes sorted by id, then edges sorted by ends.

    ``flags`` are the risk flags (``admin``, ``finding``) of the principals drawn.
    """
    urls = NodeUrls()
    names = account_names
    flags = flags or {}
    many_accounts = len({d["account"] for _, d in graph.nodes(data=True) if d["account"]}) > 1
    nodes: list[dict[str, Any]] = [dict(node) for node in extra_nodes]
    for node_id in sorted(graph):
        data = graph.nodes[node_id]
        x, y = positions.get(node_id, (0.0, 0.0))
        kind = data["kind"]
        account_name = names.get(data["account"], data["account"])
        label = data["label"]
        node: dict[str, Any] = {
            "id": node_id,
            "kind": kind,
            "label": label,
            "account": data["account"],
            "account_name": account_name,
            "x": round(x, 1),
            "y": round(y, 1),
            "display": _display(label, data.get("count") if kind == "aggregate" else None),
            "w": 0,
            "title": f"{NODE_KIND_LABELS.get(kind, kind)}: {data.get('title') or label}"
            + (f" · {account_name}" if account_name else ""),
        }
        if kind == "aggregate":
            drill = dict(data["drill"])
            node["drill_url"] = view_url(drill.pop("view", view), drill)
            node["members_url"] = folded_members_url(
                node_id, None if data.get("members") else (data["of"], data["account"])
            )
        else:
            node["panel"] = urls.panel_url(node_id)
            if url := urls.detail_url(node_id):
                node["url"] = url
        if many_accounts and not parents and account_name:
            node["sub"] = account_name
            node["display"] += f"\n{_shorten(account_name, LABEL_WIDTH)}"
        node["w"] = _node_width(node["display"])
        node["h"] = 18 + 13 * (node["display"].count("\n") + 1)
        if data.get("outside"):
            node["outside"] = True
        if node_id in flags:
            node["flags"] = flags[node_id]
        for name in ("count", "of", "owner", "sample"):
            if name in data:
                node[name] = data[name]
        if parents and node_id in parents:
            node["parent"] = parents[node_id]
        nodes.append(node)
    labels = {node["id"]: node["label"] for node in nodes}
    edges: list[dict[str, Any]] = []
    for source, target, _key, data in sorted(
        graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], str(e[2]))
    ):
        kind = data["kind"]
        edge: dict[str, Any] = {
            "id": f"{source}|{kind}|{data.get('outcome', '')}|{target}",
            "source": source,
            "target": target,
            "kind": kind,
            "summary": f"{labels[source]} {EDGE_KIND_LABELS.get(kind, kind)} {labels[target]}",
        }
        if kind in _ACCESS_KINDS:
            edge["summary"] = f"{labels[source]} can assume {labels[target]}"
            if data.get("outcome") == "denied":
                edge["summary"] = f"{labels[source]} is refused {labels[target]}"
        elif kind == "escalate" and data.get("methods"):
            edge["summary"] += f" ({', '.join(data['methods'])})"
        for name in ("outcome", "conditions", "requirements", "count", "action", "via",
                     "methods", "status"):  # fmt: skip
            if name in data and data[name] not in ("", None, ()):
                edge[name] = data[name]
        edges.append(edge)
    principal_nodes = [n for n in nodes if n["kind"] not in {"column", "box"}]
    # Every member of each folded node, for its list (`folded_members`); not sent to browsers.
    members = {
        node_id: data["members"]
        for node_id, data in graph.nodes(data=True)
        if data["kind"] == "aggregate" and data.get("members")
    }
    return {
        "folded_members": members,
        "view": view,
        "nodes": nodes,
        "edges": edges,
        "aggregated": bool(stats and stats.get("folded")),
        "links": graph_links(),
        "stats": {
            "nodes": len(principal_nodes),
            "edges": len(edges),
            "by_kind": _count_by(principal_nodes, "kind"),
            **(stats or {}),
        },
    }


_ACCESS_KINDS = frozenset(ACCESS_EDGE_KINDS) - {"escalate"}


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _display(label: str, count: int | None) -> str:
    """A label in at most two lines of at most 34 characters (nodes grow to 270 px)."""
    lines: list[str] = []
    rest = label
    while rest and len(lines) < 2:
        if len(rest) <= LABEL_WIDTH:
            lines.append(rest)
            rest = ""
            break
        cut = rest.rfind(" ", 0, LABEL_WIDTH)
        cut = cut if cut > 10 else LABEL_WIDTH
        lines.append(rest[:cut])
        rest = rest[cut:].lstrip()
    if rest:
        lines[-1] = _shorten(lines[-1] + " " + rest, LABEL_WIDTH)
    text = "\n".join(lines)
    return f"{text}\n× {count}" if count is not None else text


def _node_width(display: str) -> int:
    """Room for the longest line of the label at 12 px (about 7 px a character)."""
    longest = max((len(line) for line in display.split("\n")), default=0)
    return int(min(NODE_WIDTH_MAX, max(110, 7 * longest + 28)))


def _count_by(items: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item[key]] += 1
    return dict(sorted(counts.items()))
