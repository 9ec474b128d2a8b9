"""The JSON a graph page, its island and the exports share: plain dicts from a laid-out networkx
graph. Pure: the account names and risk flags come in as arguments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import networkx as nx
import orjson

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
            "title": node_title(
                NODE_KIND_LABELS.get(kind, kind), data.get("title") or label, account_name
            ),
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
            "id": edge_id(source, kind, data.get("outcome", ""), target),
            "source": source,
            "target": target,
            "kind": kind,
            "summary": edge_summary(
                labels[source],
                edge_verb(kind, data.get("outcome", "")),
                labels[target],
                data.get("methods") if kind == "escalate" else None,
            ),
        }
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


# What the page's script (static/js/graph.js) never reads: the exports and the table do.
_NOT_READ_BY_SCRIPT = frozenset({"sample", "drill_url", "url", "owner", "account_name"})
# Nodes without a panel of their own: a folded node lists its members instead.
_NO_PANEL = frozenset({"aggregate", "column", "box"})


def browser_island(data: dict[str, Any]) -> dict[str, Any]:
    """The graph as the page's script reads it: the same data without the fields it never
    reads and without those it derives, each dropped only where the derivation gives it back:
    a node's panel URL, tooltip (``title``) and folded members' list (``members_url``), an
    edge's id and ``summary``. The few words and URL prefixes they are derived from travel
    along (``words``, ``links``). Waypoints (``route``) stay with the exports: the script
    draws an edge's path from ``sd`` and ``sw``."""
    urls = NodeUrls()
    folded = folded_members_url("-").split("?", 1)[0]
    names: dict[str, str] = {}
    for node in data["nodes"]:
        if node.get("account") and node.get("account_name"):
            names.setdefault(node["account"], node["account_name"])
    kinds: dict[str, str] = {}
    nodes = []
    for node in data["nodes"]:
        slim = {name: value for name, value in node.items() if name not in _NOT_READ_BY_SCRIPT}
        kind, account = node["kind"], node.get("account", "")
        if "title" in node:
            kinds[kind] = NODE_KIND_LABELS.get(kind, kind)
            if node["title"] == node_title(kinds[kind], node["label"], names.get(account, "")):
                del slim["title"]
        if kind not in _NO_PANEL:
            if node.get("panel") == urls.panel_url(node["id"]):
                del slim["panel"]
            else:
                slim["panel"] = node.get("panel", "")
        if "members_url" in node:
            # As `folded_members_url` builds it, with its path reversed once.
            members = {"id": node["id"]}
            if node["members_url"] == f"{folded}?{urlencode(members)}":
                del slim["members_url"]
            elif node["members_url"] == (
                f"{folded}?{urlencode({**members, 'of': node.get('of', ''), 'account': account})}"
            ):
                del slim["members_url"]
                slim["members_by_account"] = True
        nodes.append(slim)
    labels = {node["id"]: node.get("label", "") for node in data["nodes"]}
    verbs: dict[str, str] = {}
    edges = []
    for edge in data["edges"]:
        slim = {name: value for name, value in edge.items() if name != "route"}
        source, kind, target = edge["source"], edge["kind"], edge["target"]
        outcome = edge.get("outcome", "")
        if edge["id"] == edge_id(source, kind, outcome, target):
            del slim["id"]
        verb = verbs.setdefault(f"{kind}|{outcome}", edge_verb(kind, outcome))
        methods = edge.get("methods") if kind == "escalate" else None
        derived = edge_summary(labels.get(source, ""), verb, labels.get(target, ""), methods)
        if edge.get("summary") == derived:
            del slim["summary"]
        edges.append(slim)
    island = {name: value for name, value in data.items() if name not in {"nodes", "edges"}}
    island.pop("folded_members", None)
    if "bundles" in data:
        island["bundles"] = [
            {name: value for name, value in bundle.items() if name not in {"route", "members"}}
            for bundle in data["bundles"]
        ]
    island.update(
        nodes=nodes,
        edges=edges,
        links={**data.get("links", {}), "node": urls.panel, "folded": folded},
        words={"kinds": kinds, "accounts": names, "verbs": verbs},
    )
    return island


def island_json(data: dict[str, Any]) -> str:
    """``browser_island(data)`` as JSON safe inside a ``<script>`` element, as Django's
    ``json_script`` escapes it (``<``, ``>`` and ``&`` as Unicode escapes)."""
    raw = orjson.dumps(browser_island(data))
    for char, escaped in ((b"<", b"\\u003C"), (b">", b"\\u003E"), (b"&", b"\\u0026")):
        raw = raw.replace(char, escaped)
    return raw.decode()


_ACCESS_KINDS = frozenset(ACCESS_EDGE_KINDS) - {"escalate"}


def edge_id(source: str, kind: str, outcome: str, target: str) -> str:
    """An edge's id: its ends, kind and outcome (graph.js derives it the same way)."""
    return f"{source}|{kind}|{outcome}|{target}"


def edge_verb(kind: str, outcome: str) -> str:
    """What an edge of this kind and outcome says of its source ("can assume")."""
    if kind in _ACCESS_KINDS:
        return "is refused" if outcome == "denied" else "can assume"
    return EDGE_KIND_LABELS.get(kind, kind)


def edge_summary(
    source_label: str, verb: str, target_label: str, methods: Iterable[str] | None = None
) -> str:
    """An edge in words ("alice can assume deploy"); an escalation names its methods."""
    summary = f"{source_label} {verb} {target_label}"
    return f"{summary} ({', '.join(methods)})" if methods else summary


def node_title(kind_label: str, label: str, account_name: str) -> str:
    """A node's tooltip: its kind, name and account ("IAM role: deploy · prod")."""
    return f"{kind_label}: {label}" + (f" · {account_name}" if account_name else "")


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
