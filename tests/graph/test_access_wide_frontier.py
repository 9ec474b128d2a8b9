"""An access view around a node stops growing at a wide frontier (`WIDE_FRONTIER`): past the
first hop, a hop from more nodes is taken only when asked for every hop (``full``); the view
says where it stopped, folds what it drew, and loses none of the first hops' nodes. The page
says so and links to the view with every hop."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from identities.graph import access
from identities.graph.access import build_access_graph

PROD, SEC = "444444444444", "222222222222"
PROD_OPS = f"role:{PROD}:prod-ops"
# Two hops from prod-ops: through partner-gateway, which its access group can assume.
SECOND_HOP = f"role:{SEC}:org-inventory"


def _drawn_or_folded(data: dict[str, Any]) -> set[str]:
    """The node ids a view holds, drawn or as members of its folded nodes."""
    drawn = {node["id"] for node in data["nodes"] if node["kind"] not in {"box", "aggregate"}}
    return drawn | {member for members in data["folded_members"].values() for member in members}


def _principals(data: dict[str, Any]) -> set[str]:
    return {n for n in _drawn_or_folded(data) if n.startswith(("user:", "role:", "access-group"))}


def test_a_view_within_the_limit_takes_every_hop(imported_sample):
    data = build_access_graph(focus=PROD_OPS, depth=2)

    assert data["stats"]["stopped"] is None
    assert SECOND_HOP in _drawn_or_folded(data)


def test_a_wide_frontier_stops_the_view_and_says_where(imported_sample, monkeypatch):
    one_hop = build_access_graph(focus=PROD_OPS, depth=1)
    monkeypatch.setattr(access, "WIDE_FRONTIER", 2)

    stopped = build_access_graph(focus=PROD_OPS, depth=2)

    assert stopped["stats"]["stopped"]["hops"] == 1
    assert stopped["stats"]["stopped"]["depth"] == 2
    assert stopped["stats"]["stopped"]["frontier"] > 2
    assert SECOND_HOP not in _drawn_or_folded(stopped)
    # Nothing of the first hop is lost: drawn, or a member of a folded node.
    assert _principals(one_hop) <= _principals(stopped)
    # The stopped view folds its wide frontier (here, past 2 nodes).
    assert stopped["stats"]["folded"]


def test_every_hop_when_asked(imported_sample, monkeypatch):
    whole = build_access_graph(focus=PROD_OPS, depth=2)
    monkeypatch.setattr(access, "WIDE_FRONTIER", 2)

    full = build_access_graph(focus=PROD_OPS, depth=2, full=True)

    assert full["stats"]["stopped"] is None
    assert full["nodes"] == whole["nodes"]
    assert full["edges"] == whole["edges"]


def test_the_first_hop_is_always_taken(imported_sample, monkeypatch):
    monkeypatch.setattr(access, "WIDE_FRONTIER", 0)

    data = build_access_graph(focus=PROD_OPS, depth=2)

    assert data["stats"]["stopped"]["hops"] == 1
    assert len(_principals(data)) > 1


def test_the_page_says_it_stopped_and_links_to_every_hop(
    imported_sample, logged_in_client, monkeypatch
):
    monkeypatch.setattr(access, "WIDE_FRONTIER", 2)
    url = reverse("identities:graph-access")

    stopped = logged_in_client.get(url, {"focus": PROD_OPS})
    page = stopped.content.decode()

    assert 'id="stopped-note"' in page
    assert "stopped after 1 hop of 2" in page
    assert f'id="every-hop" href="{url}?focus=role%3A{PROD}%3Aprod-ops&amp;full=1"' in page

    full = logged_in_client.get(url, {"focus": PROD_OPS, "full": "1"})
    page = full.content.decode()

    assert full.context["graph"]["stats"]["stopped"] is None
    assert 'id="stopped-note"' not in page
    assert f'id="wide-hops" class="small" href="{url}?focus=role%3A{PROD}%3Aprod-ops"' in page
    # The scope form keeps the choice when the depth or question changes.
    assert '<input type="hidden" name="full" value="1">' in page


@pytest.mark.parametrize("full", ["", "1"])
def test_the_graph_json_carries_the_choice(imported_sample, logged_in_client, monkeypatch, full):
    monkeypatch.setattr(access, "WIDE_FRONTIER", 2)

    response = logged_in_client.get(
        reverse("identities:graph-data"), {"view": "access", "focus": PROD_OPS, "full": full}
    )

    assert response.status_code == 200
    assert (response.json()["stats"]["stopped"] is None) is bool(full)
