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
- ``highlight``: edges marked added or removed (changes since a sync, a what-if's changes).

The analysis computes access edges once per import; nothing here re-evaluates a policy.
"""
