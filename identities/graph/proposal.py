"""The graph highlight of a saved what-if proposal: the edges its last answer adds and removes,
marked on a graph view asked with ``?what_if=ID`` (`highlight.apply_highlight`)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

from identities.analysis.history import ChangeRecord
from identities.graph.build import arn_node_id
from identities.graph.highlight import Highlight, edges_highlight
from identities.models import AccessChange, WhatIfProposal
from identities.queries.changes import change_item

Category = AccessChange.Category


def proposal_highlight(pk: int) -> Highlight:
    """The edges the proposal's last answer adds and removes (those it kept: the first few
    hundred of each); nothing when there is no such proposal."""
    proposal = WhatIfProposal.objects.filter(pk=pk).first()
    if proposal is None:
        return Highlight()
    lists = proposal.result.get("lists", {})
    added, removed = (
        [
            change_item(ChangeRecord(category, edge["source"], edge["target"]))
            for edge in lists.get(key, [])
        ]
        for key, category in (
            ("edges_added", Category.EDGE_ADDED),
            ("edges_removed", Category.EDGE_REMOVED),
        )
    )
    return edges_highlight(
        added, removed, f"if “{proposal.name}” were applied", {"what_if": proposal.pk}
    )


def proposal_graph_url(proposal: WhatIfProposal) -> str:
    """The access graph around the first role the proposal's answer changes, highlighted; ""
    when it changes no edge."""
    lists = proposal.result.get("lists", {})
    edges = [*lists.get("edges_added", []), *lists.get("edges_removed", [])]
    if not edges:
        return ""
    query = {"focus": arn_node_id(edges[0]["target"]), "depth": "1", "what_if": str(proposal.pk)}
    return f"{reverse('identities:graph-access')}?{urlencode(query)}"
