"""Template helpers of the graph pages: node kinds and ids as words, edge panel links."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from identities.graph.build import NODE_KIND_LABELS, describe_node
from identities.graph.serialise import island_json
from identities.graph.urls import node_panel_url

logger = logging.getLogger(__name__)

register = template.Library()


@register.filter
def graph_kind_label(kind: str) -> str:
    return NODE_KIND_LABELS.get(kind, kind)


@register.filter
def graph_island(data: dict[str, Any]) -> SafeString:
    """The ``#graph-data`` script element the page's script draws: the view's data as
    `identities.graph.serialise.browser_island` trims it, escaped as ``json_script`` does."""
    return format_html(
        '<script id="graph-data" type="application/json">{}</script>', mark_safe(island_json(data))
    )


@register.filter
def node_label(node_id: str) -> str:
    """The name of a node id ("role:444444444444:deploy" -> "deploy")."""
    described = describe_node(node_id)
    return described["label"] if described else node_id


@register.filter
def node_account(node_id: str) -> str:
    described = describe_node(node_id)
    return described["account"] if described else ""


@register.filter
def edge_url(edge: dict[str, Any]) -> str:
    """The panel URL of an edge (or a path hop): its two ends and its kind."""
    kind = edge.get("edge_kind") or edge.get("kind") or "assume"
    query = urlencode({"source": edge["source"], "target": edge["target"], "kind": kind})
    return f"{reverse('identities:graph-edge')}?{query}"


@register.filter
def path_ids(path: dict[str, Any]) -> str:
    """The node and edge ids of one chain, space-separated (graph.js highlights them)."""
    ids: list[str] = []
    for hop in path["hops"]:
        for value in (hop["source"], hop["edge"], hop["target"]):
            if value not in ids:
                ids.append(value)
    return " ".join(ids)


@register.filter(name="node_panel_url")
def node_panel_url_filter(node_id: str) -> str:
    return node_panel_url(node_id)


@register.filter
def arn_name(arn: str) -> str:
    """The last part of an ARN (``…:role/path/deploy`` -> ``deploy``); other strings as they are."""
    if arn.startswith("arn:"):
        return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    return arn
