"""Graphs for one page: small networkx graphs read from the estate tables and the stored access
edges, laid out on the server and returned as plain JSON-able dicts.

Every builder returns ``{"nodes": [...], "edges": [...], "aggregated": bool, "stats": {...}}``.
The modules, in the order a request goes through them:

- ``build``: node ids, the in-memory builder, kinds, labels and limits (pure);
- ``identity``, ``access``, ``paths``: the three views, reading the estate tables and, for
  edges and reach, `identities.queries.access` only;
- ``overview``: the folded pictures of a large estate, counted by the database;
- ``fold``, ``layout``, ``serialise``, ``export``: pure steps from a networkx graph to the
  JSON, the table, GraphML and SVG;
- ``urls``: panel, detail and view URLs; ``panels``: the detail panel of a node or an edge.

The analysis computes access edges once per import; nothing here re-evaluates a policy.
"""

from __future__ import annotations

# Re-exported while the views still import them from here (issue 8 restructure): import from
# the defining module instead.
from identities.graph.access import build_access_graph
from identities.graph.build import (
    ACCESS_EDGE_KINDS,
    AGGREGATE_THRESHOLD,
    IDENTITY_EDGE_KINDS,
    MAX_DEPTH,
    MAX_PATH_LENGTH,
    NODE_KIND_LABELS,
    GraphError,
    describe_node,
)
from identities.graph.export import TABLE_LIMIT, graph_to_graphml, graph_to_svg, table_rows
from identities.graph.identity import build_identity_graph
from identities.graph.paths import find_paths
from identities.graph.urls import (
    empty_graph,
    node_panel_url,
    panel_links,
    url_with,
    view_of_url,
)

__all__ = [
    "ACCESS_EDGE_KINDS",
    "AGGREGATE_THRESHOLD",
    "IDENTITY_EDGE_KINDS",
    "MAX_DEPTH",
    "MAX_PATH_LENGTH",
    "NODE_KIND_LABELS",
    "TABLE_LIMIT",
    "GraphError",
    "build_access_graph",
    "build_identity_graph",
    "describe_node",
    "empty_graph",
    "find_paths",
    "graph_to_graphml",
    "graph_to_svg",
    "node_panel_url",
    "panel_links",
    "table_rows",
    "url_with",
    "view_of_url",
]
