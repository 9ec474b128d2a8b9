"""An edge with a folded end ("roles × 60") has a panel: how many edges it carries, their
outcomes, and a link to the same list of members its folded node opens."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import networkx as nx
import pytest
from django.urls import reverse

from identities.graph.build import GraphError
from identities.graph.fold import fold_graph, identity_fold_steps
from identities.graph.folded import folded_edge
from identities.graph.serialise import serialise_graph

pytestmark = pytest.mark.django_db

ACCESS = "http://testserver/graph/access/"


@pytest.fixture
def folded_estate(db: None) -> None:
    """Ten generated accounts: past the threshold, the estate-wide access view folds."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def _htmx(client: Any, url: str, params: dict[str, str], current: str = ACCESS) -> Any:
    headers = {"HX-Request": "true", "HX-Current-URL": current, "HX-Target": "node-panel"}
    return client.get(url, params, headers=headers)


def _access_view(client: Any) -> dict[str, Any]:
    response = client.get(reverse("identities:graph-data"), {"view": "access"})
    return json.loads(response.content)


def _identity_graph() -> nx.MultiDiGraph:
    """Three users in one group, two holding a policy: folding users leaves "users in devs"
    with two edges to the policy folded into one."""
    graph = nx.MultiDiGraph()
    graph.add_node("group:1:devs", kind="group", label="devs", account="1")
    graph.add_node("policy:arn:aws:iam::1:policy/p", kind="policy-customer", label="p", account="1")
    for name in ("ann", "bob", "cid"):
        graph.add_node(f"user:1:{name}", kind="user", label=name, account="1")
        graph.add_edge(f"user:1:{name}", "group:1:devs", key="member", kind="member")
    for name in ("ann", "bob"):
        graph.add_edge(
            f"user:1:{name}", "policy:arn:aws:iam::1:policy/p", key="attached", kind="attached"
        )
    return graph


def test_folded_edge_counts_the_edges_it_carries_and_links_the_folded_list():
    folded, _ = fold_graph(_identity_graph(), 3, identity_fold_steps)
    data = serialise_graph(folded, {}, view="identity", account_names={})

    edge = folded_edge(data, "agg:users:group:1:devs", "policy:arn:aws:iam::1:policy/p", "attached")

    assert edge["count"] == 2
    assert edge["outcomes"] == [("", 2)]
    users, policy = edge["ends"]
    assert users["count"] == 3
    assert users["members_url"] == "/graph/folded/?id=agg%3Ausers%3Agroup%3A1%3Adevs"
    assert policy["label"] == "p" and "members_url" not in policy
    member = folded_edge(data, "agg:users:group:1:devs", "group:1:devs", "member")
    assert member["count"] == 3


def test_folded_edge_of_another_kind_is_not_in_the_view():
    folded, _ = fold_graph(_identity_graph(), 3, identity_fold_steps)
    data = serialise_graph(folded, {}, view="identity", account_names={})

    with pytest.raises(GraphError):
        folded_edge(data, "agg:users:group:1:devs", "group:1:devs", "attached")


def test_edge_between_folded_nodes_has_a_panel(folded_estate, logged_in_client):
    data = _access_view(logged_in_client)
    edge = next(
        e
        for e in data["edges"]
        if e["source"].startswith("agg:") and e["target"].startswith("agg:roles:")
    )
    drawn = [
        e
        for e in data["edges"]
        if (e["source"], e["target"], e["kind"]) == (edge["source"], edge["target"], edge["kind"])
    ]
    params = {"source": edge["source"], "target": edge["target"], "kind": edge["kind"]}

    response = _htmx(logged_in_client, reverse("identities:graph-edge"), params)

    assert response.status_code == 200
    body = response.content.decode()
    total = sum(e.get("count", 1) for e in drawn)
    assert f'<strong id="folded-edge-count">{total}</strong>' in body
    target = next(n for n in data["nodes"] if n["id"] == edge["target"])
    assert target["members_url"].replace("&", "&amp;") in body
    assert "<!DOCTYPE" not in body  # the panel fragment, not a page


def test_folded_edge_panel_links_open_the_folded_lists(folded_estate, logged_in_client):
    """One account's users to its own roles: both ends are folded, and each link of the panel
    opens that folded node's list of members."""
    data = _access_view(logged_in_client)
    edge = next(
        e
        for e in data["edges"]
        if e["source"].startswith("agg:users:") and e["target"].startswith("agg:roles:")
    )
    params = {"source": edge["source"], "target": edge["target"], "kind": edge["kind"]}
    body = _htmx(logged_in_client, reverse("identities:graph-edge"), params).content.decode()

    shown = int(body.split('<strong id="folded-edge-count">')[1].split("<")[0])
    assert shown > 0
    links = [part.split('"')[0] for part in body.split('class="folded-open" href="')[1:]]
    assert len(links) == 2
    for link in links:
        query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
        assert query["from"] == ["/graph/access/"]
        listed = _htmx(logged_in_client, link.replace("&amp;", "&"), {})
        assert listed.status_code == 200


def test_folded_edge_standalone_page_reads_the_view_from_its_from(folded_estate, logged_in_client):
    data = _access_view(logged_in_client)
    edge = next(e for e in data["edges"] if e["target"].startswith("agg:roles:"))
    params = {
        "source": edge["source"],
        "target": edge["target"],
        "kind": edge["kind"],
        "from": "/graph/access/",
    }

    response = logged_in_client.get(reverse("identities:graph-edge"), params)

    assert response.status_code == 200
    assert b"folded-edge-count" in response.content


def test_folded_edge_not_drawn_is_404(folded_estate, logged_in_client):
    params = {
        "source": "agg:users:000000000000",
        "target": "agg:roles:000000000000",
        "kind": "assume",
    }

    response = _htmx(logged_in_client, reverse("identities:graph-edge"), params)

    assert response.status_code == 404


def test_folded_edge_asked_from_the_paths_view_is_404(folded_estate, logged_in_client):
    data = _access_view(logged_in_client)
    edge = next(e for e in data["edges"] if e["target"].startswith("agg:roles:"))
    params = {"source": edge["source"], "target": edge["target"], "kind": edge["kind"]}

    response = _htmx(
        logged_in_client,
        reverse("identities:graph-edge"),
        params,
        current="http://testserver/graph/paths/",
    )

    assert response.status_code == 404
