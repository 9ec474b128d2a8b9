"""Read side: querysets, annotations and small pure helpers behind the pages, the graph and the
exports. Nothing here writes.

estate (lists, filters, detail pages, search, ARN links) · trust (the principals a role's trust
policy names) · access (the one reader of stored access edges and reach) · sync (sync runs and
change sets) · exports (CSV rows).
"""
