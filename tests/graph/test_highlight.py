"""The changes highlight: edges added since the last sync marked on the access graph, edges
removed drawn as ghosts between drawn nodes, read from the access history."""

from __future__ import annotations

import networkx as nx
import pytest

from identities.graph.access import build_access_graph
from identities.graph.highlight import (
    Highlight,
    apply_highlight,
    key_kind,
    since_choices,
    since_sync,
)
from identities.graph.serialise import serialise_graph
from identities.queries.changes import HistoryUnavailable
from tests.review.conftest import reimport, two_analyses  # noqa: F401 - fixtures

VENDOR = "account:999999999999"
PROD_OPS = "role:444444444444:prod-ops"
CI_DEPLOY = "user:333333333333:ci-deploy"
PARTNER_GATEWAY = "role:444444444444:partner-gateway"
ORG_INVENTORY = "role:222222222222:org-inventory"


def marked(data: dict, mark: str) -> list[tuple[str, str, str]]:
    return sorted(
        (edge["source"], edge["target"], edge["kind"])
        for edge in data["edges"]
        if edge.get("change") == mark
    )


def _tiny() -> dict:
    graph = nx.MultiDiGraph()
    for node_id, kind in (("user:1:a", "user"), ("role:1:r", "role"), ("role:1:s", "role"),
                          ("federated:idp", "federated")):  # fmt: skip
        graph.add_node(node_id, kind=kind, label=node_id.rsplit(":", 1)[-1], account="1")
    graph.add_edge("user:1:a", "role:1:r", kind="assume", outcome="allow")
    graph.add_edge("federated:idp", "role:1:s", kind="federated", outcome="allow")
    return serialise_graph(graph, {}, view="access", account_names={})


def test_apply_highlight_marks_added_edges_and_draws_removed_ones_between_drawn_nodes():
    highlight = Highlight(
        added=frozenset({("federated:idp", "role:1:s", "assume")}),
        removed=frozenset(
            {
                ("user:1:a", "role:1:s", "assume"),  # both ends drawn, no edge: a ghost
                ("user:1:a", "role:1:r", "assume"),  # still drawn: not a ghost
                ("user:1:gone", "role:1:r", "assume"),  # an end not drawn: nothing
            }
        ),
        label="since the last sync",
    )

    data = apply_highlight(_tiny(), highlight)

    assert marked(data, "added") == [("federated:idp", "role:1:s", "federated")]
    assert marked(data, "removed") == [("user:1:a", "role:1:s", "assume")]
    classes = {edge["id"]: edge.get("classes", []) for edge in data["edges"]}
    assert classes["federated:idp|federated|allow|role:1:s"] == ["change-added"]
    assert classes["user:1:a|assume|removed|role:1:s"] == ["change-removed"]
    assert classes["user:1:a|assume|allow|role:1:r"] == []
    ends = sorted(node["id"] for node in data["nodes"] if "change-end" in node.get("classes", []))
    assert ends == ["federated:idp", "role:1:s", "user:1:a"]
    assert data["changes"] == {"label": "since the last sync", "added": 1, "removed": 1}
    assert (key_kind("anyone"), key_kind("escalate"), key_kind("member")) == (
        "assume",
        "escalate",
        "member",
    )


def test_no_highlight_leaves_the_graph_as_it_was():
    assert apply_highlight(_tiny(), None) == _tiny()


def test_access_graph_after_a_second_analysis_marks_the_new_trust(two_analyses):  # noqa: F811
    first, second = two_analyses
    data = build_access_graph(focus=PROD_OPS, depth=1)

    apply_highlight(data, since_sync("last"))

    assert marked(data, "added") == [(VENDOR, PROD_OPS, "outside")]
    assert data["changes"] == {
        "label": "since the last sync",
        "added": 1,
        "removed": 0,
        "since": "last",
        "from": first,
        "to": second,
    }
    unmarked = [e for e in data["edges"] if e["target"] == PROD_OPS and "change" not in e]
    assert unmarked, "the edges into prod-ops that were there before stay unmarked"
    vendor = next(node for node in data["nodes"] if node["id"] == VENDOR)
    assert "change-end" in vendor["classes"]


def test_ci_deploy_edges_from_its_new_group_are_marked_on_the_whole_access_graph(
    two_analyses,  # noqa: F811
):
    first, _ = two_analyses
    data = build_access_graph()

    apply_highlight(data, since_sync(str(first)))

    added = marked(data, "added")
    assert (VENDOR, PROD_OPS, "outside") in added
    # ci-deploy reaches the two roles through its (new) access group, drawn as the group's edges.
    targets = {target for source, target, _ in added if source.startswith("access-group:")}
    assert targets == {ORG_INVENTORY, PARTNER_GATEWAY}
    assert data["changes"]["label"] == f"since analysis #{first}"


def test_since_names_a_bad_parameter_and_offers_the_runs(two_analyses):  # noqa: F811
    first, _ = two_analyses

    with pytest.raises(HistoryUnavailable, match="since='yesterday'"):
        since_sync("yesterday")
    with pytest.raises(HistoryUnavailable, match="#99999"):
        since_sync("99999")
    # Two analyses: "the last sync" only (the one before it is the last sync).
    assert since_choices() == [("last", "the last sync")]
    assert first


def test_graph_json_page_and_edge_panel_carry_the_highlight(
    two_analyses,  # noqa: F811
    logged_in_client,
):
    from django.urls import reverse

    scope = {"focus": PROD_OPS, "depth": "1"}
    data = logged_in_client.get(
        reverse("identities:graph-data"), {"view": "access", **scope, "since": "last"}
    ).json()
    page = logged_in_client.get(reverse("identities:graph-access"), {**scope, "since": "last"})
    panel = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": VENDOR, "target": PROD_OPS, "kind": "outside", "since": "last"},
    )
    plain = logged_in_client.get(
        reverse("identities:graph-edge"), {"source": VENDOR, "target": PROD_OPS, "kind": "outside"}
    )
    bad = logged_in_client.get(reverse("identities:graph-access"), {**scope, "since": "yesterday"})

    vendor = next(e for e in data["edges"] if (e["source"], e["target"]) == (VENDOR, PROD_OPS))
    assert (vendor["change"], vendor["classes"]) == ("added", ["change-added"])
    assert [e for e in data["edges"] if e.get("change") and e is not vendor] == []
    body = page.content.decode()
    assert "1 new edge since the last sync" in body
    assert '<option value="last" selected>the last sync</option>' in body
    assert 'id="edge-change"' in panel.content.decode()
    assert "new since the last sync" in panel.content.decode()
    assert 'id="edge-change"' not in plain.content.decode()
    assert bad.status_code == 200
    assert "since=&#x27;yesterday&#x27;: expected &#x27;last&#x27;" in bad.content.decode()


def test_role_page_marks_the_new_trust_since_the_last_sync(
    two_analyses,  # noqa: F811
    logged_in_client,
):
    body = logged_in_client.get("/accounts/444444444444/roles/prod-ops/").content.decode()

    mark = body[body.index('<aside class="new-since-sync"') : body.index("</aside>")]
    assert "edge added: arn:aws:iam::999999999999:root can assume it" in mark
