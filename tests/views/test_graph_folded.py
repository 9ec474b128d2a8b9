"""A folded node opens the list of its members (issue 11, item 4: drilling into "roles × 600"
reloaded the same folded view), and "Show refused candidates" says when the view has none."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
import pytest
from django.urls import reverse

from identities.graph.fold import fold_graph, identity_fold_steps
from identities.graph.folded import folded_member_ids, folded_member_rows
from identities.graph.serialise import serialise_graph
from identities.models import AccessEdge, IamRole
from identities.views.graph import FOLDED_PAGE_SIZE

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


def _folded(client: Any, url: str, current: str = ACCESS, target: str = "") -> Any:
    headers = {"HX-Request": "true", "HX-Current-URL": current}
    if target:
        headers["HX-Target"] = target
    return client.get(url, headers=headers)


def test_folded_member_ids_are_the_nodes_it_folded():
    graph = nx.MultiDiGraph()
    for name in ("ann", "bob", "cid"):
        graph.add_node(f"user:1:{name}", kind="user", label=name, account="1")
        graph.add_edge(f"user:1:{name}", "group:1:devs", key="member", kind="member")
    graph.add_node("group:1:devs", kind="group", label="devs", account="1")
    folded, _ = fold_graph(graph, 2, identity_fold_steps)

    data = serialise_graph(folded, {}, view="identity", account_names={})

    node = next(n for n in data["nodes"] if n["kind"] == "aggregate")
    assert folded_member_ids(data, node["id"]) == ["user:1:ann", "user:1:bob", "user:1:cid"]
    assert [row["label"] for row in folded_member_rows(["user:1:ann", "user:1:bob"], "BO")] == [
        "bob"
    ]
    assert node["members_url"] == "/graph/folded/?id=agg%3Ausers%3Agroup%3A1%3Adevs"


def test_estate_access_view_folds_and_its_json_has_no_member_lists(folded_estate, logged_in_client):
    response = logged_in_client.get(reverse("identities:graph-data"), {"view": "access"})

    data = json.loads(response.content)
    roles = [n for n in data["nodes"] if n["id"].startswith("agg:roles:")]
    assert len(roles) == 10
    assert all(n["count"] == 60 for n in roles)
    assert "folded_members" not in data
    assert all("of=role" in n["members_url"] for n in roles)


def test_folded_roles_list_every_role_of_the_account_a_page_at_a_time(
    folded_estate, logged_in_client
):
    data = json.loads(
        logged_in_client.get(reverse("identities:graph-data"), {"view": "access"}).content
    )
    node = next(n for n in data["nodes"] if n["id"].startswith("agg:roles:"))
    account = node["account"]

    seen: list[str] = []
    for number in (1, 2, 3):
        response = _folded(logged_in_client, f"{node['members_url']}&page={number}")
        assert response.status_code == 200
        seen.extend(row["id"] for row, _ in response.context["rows"])

    names = IamRole.objects.filter(account__account_id=account).values_list("name", flat=True)
    assert seen == [f"role:{account}:{name}" for name in sorted(names)]
    assert len(seen) == node["count"] == 60
    assert len(response.context["rows"]) == 60 - 2 * FOLDED_PAGE_SIZE


def test_folded_member_links_add_it_to_the_current_view(folded_estate, logged_in_client):
    data = json.loads(
        logged_in_client.get(reverse("identities:graph-data"), {"view": "access"}).content
    )
    node = next(n for n in data["nodes"] if n["id"].startswith("agg:roles:"))

    response = _folded(logged_in_client, node["members_url"])
    member, links = response.context["rows"][0]
    added = json.loads(
        logged_in_client.get(
            reverse("identities:graph-data"), {"view": "access", "expand": member["id"]}
        ).content
    )

    assert links["expand"].startswith("/graph/access/?expand=")
    assert member["id"] in {n["id"] for n in added["nodes"]}
    assert 'type="search"' in response.content.decode()


def test_folded_search_swaps_only_the_rows(folded_estate, logged_in_client):
    data = json.loads(
        logged_in_client.get(reverse("identities:graph-data"), {"view": "access"}).content
    )
    node = next(n for n in data["nodes"] if n["id"].startswith("agg:users:"))
    first = _folded(logged_in_client, node["members_url"]).context["rows"][0][0]

    response = _folded(
        logged_in_client, f"{node['members_url']}&q={first['label']}", target="folded-rows"
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="folded-rows">')
    labels = [row["label"] for row, _ in response.context["rows"]]
    assert first["label"] in labels
    assert all(first["label"].lower() in label.lower() for label in labels)


def test_folded_node_not_in_the_view_is_a_404(folded_estate, logged_in_client):
    response = _folded(logged_in_client, "/graph/folded/?id=agg%3Aroles%3A000000000000")

    assert response.status_code == 404


def test_show_refused_says_when_the_view_has_none(folded_estate, logged_in_client):
    assert not AccessEdge.objects.filter(outcome="denied").exists()

    shown = logged_in_client.get(reverse("identities:graph-access"), {"denied": "1"})
    hidden = logged_in_client.get(reverse("identities:graph-access"))

    assert shown.context["graph"]["stats"]["refused"] == 0
    assert "no refused candidates in this view" in shown.content.decode()
    assert hidden.context["graph"]["stats"]["refused"] is None
    assert 'id="refused-note"' not in hidden.content.decode()


@pytest.mark.parametrize(("name", "one"), [("user-list", "user"), ("role-list", "role")])
def test_estate_list_of_one_says_it_in_the_singular(imported_sample, logged_in_client, name, one):
    model = {"user": "iamuser", "role": "iamrole"}[one]
    from django.apps import apps

    first = apps.get_model("identities", model).objects.order_by("name").first()

    response = logged_in_client.get(reverse(f"identities:{name}"), {"q": first.arn})

    assert response.context["page"].paginator.count == 1
    assert f"<strong>1</strong> {one}</p>" in response.content.decode()


def test_folded_inline_policies_list_every_inline_policy_of_the_account(folded_estate):
    from identities.graph.build import describe_node
    from identities.graph.identity import build_identity_graph
    from identities.models import InlinePolicy

    data = build_identity_graph(threshold=10)
    node = next(n for n in data["nodes"] if n["id"].startswith("agg:inline:"))
    account = node["account"]

    members = folded_member_ids(data, node["id"])

    names = InlinePolicy.objects.filter(account__account_id=account).values_list("name", flat=True)
    assert len(members) == len(names) > 0
    described = [describe_node(member) for member in members]
    assert sorted(d["label"] for d in described if d) == sorted(names)
