"""The graph pages and their htmx fragments, panels, suggestions and exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identities.graph.serialise import browser_island
from tests.views.conftest import NAV_MARKER, assert_fragment, page_body

DEV, PROD, MGMT = "333333333333", "444444444444", "111111111111"


def _island(response) -> dict:
    body = response.content.decode()
    start = body.index('<script id="graph-data" type="application/json">') + len(
        '<script id="graph-data" type="application/json">'
    )
    return json.loads(body[start : body.index("</script>", start)])


@pytest.mark.parametrize(
    ("name", "params", "title"),
    [
        ("identities:graph-access", {}, "Who can assume what"),
        ("identities:graph-identity", {"account": DEV}, "Users, groups, roles and their policies"),
        (
            "identities:graph-paths",
            {"source": f"user:{DEV}:alice", "target": f"role:{PROD}:prod-break-glass"},
            "Path finder",
        ),
    ],
)
def test_graph_pages_render_with_island_table_and_scripts(
    logged_in_client, imported_sample, name, params, title
):
    response = logged_in_client.get(reverse(name), params)

    body = page_body(response)
    assert NAV_MARKER in body
    assert f"<h1>{title}</h1>" in body
    assert 'id="graph-canvas"' in body
    assert "vendor/cytoscape-3.35.0.min.js" in body
    assert "js/graph.js" in body
    assert "<script>" not in body  # no inline script: data travels in the JSON island
    assert "The same as a table" in body
    assert response["Vary"] == "HX-Request, Cookie" or "HX-Request" in response["Vary"]


def test_graph_pages_need_login(client, imported_sample):
    response = client.get(reverse("identities:graph-access"))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_access_page_island_matches_the_json_endpoint(logged_in_client, imported_sample):
    page = logged_in_client.get(reverse("identities:graph-access"), {"cond": "only"})
    data = logged_in_client.get(
        reverse("identities:graph-data"), {"view": "access", "cond": "only"}
    )

    # The island is the endpoint's data less what the page's script derives or never reads.
    assert _island(page) == browser_island(data.json())
    assert data["Content-Type"] == "application/json"
    # 21 conditional edges, and the 20 members of the access groups among their sources (the
    # organisation-inventory edges are plain allows now that the estate answers aws:PrincipalOrgID)
    assert data.json()["stats"]["edges"] == 41


def test_access_fragment_for_htmx_swaps_view_and_state(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-access"),
        {"focus": f"role:{PROD}:prod-ops", "depth": "2"},
        headers={"HX-Request": "true", "HX-Target": "graph-view"},
    )

    body = assert_fragment(response)
    assert body.lstrip().startswith('<section id="graph-view"')
    assert '<div id="graph-state" class="graph-state" hx-swap-oob="true">' in body
    assert f'name="focus" value="role:{PROD}:prod-ops"' in body
    assert '<div id="graph-scope" class="graph-scope" hx-swap-oob="true">' in body
    assert _island(response)["stats"]["nodes"] == 9  # as in test_access_focus_two_hops_each_way


def test_identity_view_focus_unknown_is_404(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-identity"), {"focus": f"user:{DEV}:nobody"}
    )

    assert response.status_code == 404


def test_paths_page_lists_each_hop_with_its_statements(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-paths"),
        {"source": f"user:{DEV}:alice", "target": f"role:{PROD}:prod-break-glass"},
    )

    body = response.content.decode()
    assert "1 chain from <strong>alice</strong> to <strong>prod-break-glass</strong>" in body
    assert body.count('<li class="hop outcome-') == 3
    assert "only when MFA = true" in body
    assert "statement &#x27;FromDevOps&#x27; (Statement[0]) of trust policy prod-ops" in body
    assert _island(response)["highlight"][0] == f"role:{DEV}:dev-ops"


def test_paths_page_without_ends_asks_for_them(logged_in_client, imported_sample):
    response = logged_in_client.get(reverse("identities:graph-paths"))

    body = page_body(response)
    assert "Choose a start and an end above." in body
    assert _island(response)["nodes"] == []


def test_permalink_with_selected_node_renders_its_panel(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-access"), {"node": f"role:{PROD}:deploy"}
    )

    body = response.content.decode()
    assert 'data-node="role:444444444444:deploy"' in body
    assert "Who can assume it" in body
    assert 'id="state-node" name="node" value="role:444444444444:deploy"' in body


def test_node_panel_fragment_for_a_role(logged_in_client, imported_sample):
    url = reverse("identities:graph-node", args=["role", f"{PROD}:deploy"])

    response = logged_in_client.get(
        url,
        headers={
            "HX-Request": "true",
            "HX-Target": "node-panel",
            "HX-Current-URL": "http://testserver/graph/access/?cond=only",
        },
    )

    body = assert_fragment(response)
    assert '<article class="panel" data-node="role:444444444444:deploy">' in body
    assert "<strong>ci-deploy</strong>" in body
    assert "only when ExternalId = acme-ci-7f3a9c" in body
    # Expand keeps the view the reviewer is on.
    assert 'href="/graph/access/?cond=only&amp;expand=role%3A444444444444%3Adeploy' in body


def test_node_panel_full_page_and_404(logged_in_client, imported_sample):
    ok = logged_in_client.get(reverse("identities:graph-node", args=["user", f"{MGMT}:dave"]))
    missing = logged_in_client.get(reverse("identities:graph-node", args=["user", f"{MGMT}:zed"]))

    assert ok.status_code == 200
    assert NAV_MARKER in ok.content.decode()
    assert "Administrator dave in acme-management has no MFA device" in ok.content.decode()
    assert missing.status_code == 404


def test_node_panel_for_outside_party_and_policy(logged_in_client, imported_sample):
    anyone = logged_in_client.get(reverse("identities:graph-node", args=["anyone", "-"]))
    policy = logged_in_client.get(
        reverse(
            "identities:graph-node",
            args=["policy", "arn:aws:iam::333333333333:policy/ci-deploy-assume"],
        )
    )

    assert anyone.status_code == 200
    assert "<strong>public-reader</strong>" in anyone.content.decode()
    assert policy.status_code == 200
    assert "AssumeProdDeploy" in policy.content.decode()


def test_edge_panel_shows_the_exact_statements(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": f"user:{DEV}:ci-deploy", "target": f"role:{PROD}:deploy", "kind": "assume"},
        headers={"HX-Request": "true", "HX-Target": "node-panel"},
    )

    body = assert_fragment(response)
    assert "allowed only under conditions" in body
    assert (
        '<code class="requirement" title="sts:ExternalId">ExternalId = acme-ci-7f3a9c</code>'
        in body
    )
    assert "CiDeployFromDev" in body
    assert "acme-ci-7f3a9c" in body  # the ExternalId value, from the trust statement itself
    assert "AssumeProdDeploy" in body  # the identity statement of the CI user's policy


def test_edge_panel_through_an_access_group(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {
            "source": f"user:{MGMT}:carol",
            "target": f"role:{PROD}:OrganizationAccountAccessRole",
            "kind": "assume",
        },
    )

    body = page_body(response)
    assert "users of acme-management with AdministratorAccess" in body
    assert "AWS-managed policy AdministratorAccess" in body


def test_edge_panel_unknown_edge_is_404(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": f"user:{DEV}:alice", "target": f"role:{PROD}:deploy", "kind": "assume"},
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "current_url", "expected"),
    [
        pytest.param(
            {"q": "ali", "field": "focus"},
            "/graph/identity/?hide_aws=1&expand=x&node=y",
            [
                'href="/graph/identity/?hide_aws=1&amp;focus=user%3A333333333333%3Aalice"',
                'hx-target="#graph-view"',
            ],
            id="link-to-the-current-view-with-the-new-focus",
        ),
        pytest.param(
            {"q": "ec2", "field": "source"},
            "/graph/paths/?target=role%3A1%3Ax",
            ["ec2.amazonaws.com", "source=service%3Aec2.amazonaws.com"],
            id="access-view-offers-outside-parties",
        ),
    ],
)
def test_suggestions(logged_in_client, imported_sample, query, current_url, expected):
    response = logged_in_client.get(
        reverse("identities:graph-suggest"),
        query,
        headers={
            "HX-Request": "true",
            "HX-Target": f"suggest-{query['field']}",
            "HX-Current-URL": f"http://testserver{current_url}",
        },
    )

    body = assert_fragment(response)
    for text in expected:
        assert text in body


def test_json_export_download_and_missing_view(logged_in_client, imported_sample):
    download = logged_in_client.get(
        reverse("identities:graph-data"), {"view": "identity", "account": PROD, "download": "1"}
    )
    missing = logged_in_client.get(reverse("identities:graph-data"))

    assert download["Content-Disposition"] == 'attachment; filename="iamviz-identity.json"'
    assert download.json()["stats"]["by_kind"] == {
        "inline": 2,
        "policy-aws": 4,
        "role": 6,
    }
    assert missing.status_code == 404


def test_graphml_export_is_valid_graphml(logged_in_client, imported_sample):
    response = logged_in_client.get(reverse("identities:graph-graphml"), {"view": "access"})

    root = ET.fromstring(response.content)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert response["Content-Disposition"] == 'attachment; filename="iamviz-access.graphml"'
    # 94 and 13 escalations, as in test_access_estate_exact_edges
    assert len(root.findall(".//g:edge", ns)) == 107
    # boxes; 10 users, 18 roles, 17 access groups with edges, 6 outside parties
    assert len(root.findall(".//g:node", ns)) == 6 + 51


def test_svg_export_highlights_the_chain(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-svg"),
        {"view": "paths", "source": f"user:{DEV}:alice", "target": f"role:{PROD}:prod-break-glass"},
    )

    svg = response.content.decode()
    assert response["Content-Type"] == "image/svg+xml"
    assert svg.count('marker-end="url(#arrow-hl)"') == 3


def test_graph_json_query_count_is_bounded(
    logged_in_client, imported_sample, django_assert_max_num_queries
):
    # Two of them find the members whose own edge replaces their access group's; up to six
    # draw the escalations (ARNs of the principals drawn, the current run, escalation rows);
    # one reads the current run for the views it keeps (identities.graph.cached), one for the
    # escalation hops kept per run (identities.queries.access.escalation_hops); the escalation
    # rows of principals and of their groups are two reads, each by its index.
    with django_assert_max_num_queries(29):
        logged_in_client.get(reverse("identities:graph-data"), {"view": "access"})
    # A hop of the neighbourhood costs a fixed handful of queries, whatever its width.
    with django_assert_max_num_queries(50):
        logged_in_client.get(
            reverse("identities:graph-data"),
            {"view": "access", "focus": f"role:{PROD}:prod-ops", "depth": "4"},
        )
    with django_assert_max_num_queries(22):
        logged_in_client.get(reverse("identities:graph-data"), {"view": "identity"})


def test_graph_query_count_grows_by_hops_not_by_nodes(logged_in_client, imported_sample):
    url = reverse("identities:graph-data")
    params = {"view": "identity", "focus": f"user:{DEV}:alice"}

    with CaptureQueriesContext(connection) as one:
        logged_in_client.get(url, {**params, "depth": "1"})
    with CaptureQueriesContext(connection) as three:
        logged_in_client.get(url, {**params, "depth": "3"})

    # A hop costs a fixed handful of queries whatever its width.
    assert len(three) - len(one) <= 2 * 6
