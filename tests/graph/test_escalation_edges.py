"""Escalation edges in every graph view, the path finder and the edge panel (issue 10, item 3):
a kind of their own (``escalate``), read through `identities.queries.escalations`, on the sample
organisation's frank (PassRole + CreateFunction onto lambda-exec) and svc-key-rotator
(CreateAccessKey on auditor)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from django.urls import reverse

from identities.graph.access import build_access_graph
from identities.graph.export import graph_to_graphml, graph_to_svg, table_rows
from identities.graph.identity import build_identity_graph
from identities.graph.panels import edge_panel
from identities.graph.paths import find_paths
from identities.queries.escalations import count_escalations_by_account

DEV, PROD, SEC = "333333333333", "444444444444", "222222222222"
FRANK, LAMBDA_EXEC = f"user:{DEV}:frank", f"role:{DEV}:lambda-exec"
ROTATOR, AUDITOR = f"user:{SEC}:svc-key-rotator", f"user:{SEC}:auditor"
PASS_TO_LAMBDA = "Lambda-PassExistingRoleToNewLambdaThenInvoke"
LAMBDA_DEPLOYER = (
    "statement (Statement[0]) of customer-managed policy lambda-deployer "
    f"(arn:aws:iam::{DEV}:policy/lambda-deployer)"
)


def _escalations(data: dict) -> dict[tuple[str, str], dict]:
    return {(e["source"], e["target"]): e for e in data["edges"] if e["kind"] == "escalate"}


def test_graph_json_draws_frank_and_the_key_rotator_escalations(logged_in_client, imported_sample):
    url = reverse("identities:graph-data")

    frank = logged_in_client.get(url, {"view": "access", "focus": FRANK}).json()
    rotator = logged_in_client.get(url, {"view": "access", "focus": ROTATOR}).json()

    edge = _escalations(frank)[(FRANK, LAMBDA_EXEC)]
    assert (edge["id"], edge["outcome"], edge["status"]) == (
        f"{FRANK}|escalate|allow|{LAMBDA_EXEC}",
        "allow",
        "proven",
    )
    assert PASS_TO_LAMBDA in edge["methods"]
    assert "action" not in edge
    assert edge["summary"].startswith("frank can escalate to lambda-exec (")
    assert _escalations(rotator)[(ROTATOR, AUDITOR)]["methods"] == ["IAM-CreateAccessKey"]
    # The target of an escalation is drawn, and the view goes on from it (one step further).
    assert [e["kind"] for e in rotator["edges"] if e["source"] == AUDITOR] == ["in-group"]


def test_escalation_edges_follow_the_kind_and_condition_filters(imported_sample):
    only_assume = build_access_graph(focus=FRANK, edge_kinds=["assume"])
    only_escalate = build_access_graph(focus=FRANK, edge_kinds=["escalate"])
    conditional_only = build_access_graph(focus=FRANK, conditional="only")

    assert _escalations(only_assume) == {}
    # A member's link to its access group is structure, not a filter choice.
    assert {e["kind"] for e in only_escalate["edges"]} == {"escalate", "in-group"}
    assert sorted(_escalations(only_escalate)) == [
        (FRANK, f"role:{DEV}:app-server"),
        (FRANK, LAMBDA_EXEC),
        (FRANK, f"role:{DEV}:terraform-build"),
    ]
    # Frank's escalations need no condition.
    assert _escalations(conditional_only) == {}


def test_a_focus_on_the_target_draws_who_can_escalate_into_it(imported_sample):
    data = build_access_graph(focus=AUDITOR, depth=1)

    assert _escalations(data)[(ROTATOR, AUDITOR)]["status"] == "proven"


def test_identity_view_draws_escalations_between_its_principals(imported_sample):
    data = build_identity_graph(account_id=DEV)

    assert _escalations(data)[(FRANK, LAMBDA_EXEC)]["outcome"] == "allow"


def test_folded_views_count_escalations_per_account(imported_sample):
    data = build_access_graph(threshold=5)

    edge = _escalations(data)[(f"agg:users:{DEV}", f"agg:roles:{DEV}")]
    # alice, erin and frank onto app-server and lambda-exec, bob onto lambda-exec, frank onto
    # terraform-build
    assert edge["count"] == 8
    assert [(c.source_of, c.target_of, c.n) for c in count_escalations_by_account(SEC)] == [
        ("user", "user", 3)
    ]


def test_exports_keep_the_escalation_kind(imported_sample):
    data = build_access_graph(focus=FRANK)

    graphml = ET.fromstring(graph_to_graphml(data))
    svg = graph_to_svg(data)
    rows = [row["relation"] for row in table_rows(data) if row["target"]]

    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    ids = {e.get("id") for e in graphml.findall(".//g:edge", ns)}
    assert f"{FRANK}|escalate|allow|{LAMBDA_EXEC}" in ids
    assert svg.count('class="edge-escalate"') == len(_escalations(data))
    assert 'stroke="#be123c"' in svg
    assert any(r.startswith("can escalate to (") and PASS_TO_LAMBDA in r for r in rows)


def test_path_finder_explains_the_escalation_hop(imported_sample):
    data = find_paths(source=FRANK, target=LAMBDA_EXEC)

    [path] = data["paths"]
    [hop] = path["hops"]
    assert (hop["kind"], hop["method"], hop["status"], hop["outcome"]) == (
        "escalate",
        PASS_TO_LAMBDA,
        "proven",
        "allow",
    )
    assert hop["action"] == "iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction"
    assert LAMBDA_DEPLOYER in hop["granted_by"]
    assert hop["remediation"].startswith("Limit iam:PassRole to the roles")
    assert hop["edge"] == f"{FRANK}|escalate|allow|{LAMBDA_EXEC}"
    assert hop["edge"] in data["highlight"]
    assert [e["kind"] for e in data["edges"]] == ["escalate"]


def test_path_finder_chains_mix_escalation_and_assume_hops(imported_sample):
    data = find_paths(source=ROTATOR, target=f"role:{DEV}:public-reader")

    assert [(h["kind"], h.get("method"), h["target"]) for h in data["paths"][0]["hops"]] == [
        ("escalate", "IAM-CreateAccessKey", f"user:{SEC}:secops-admin"),
        ("assume", None, f"role:{DEV}:public-reader"),
    ]


def test_edge_panel_shows_each_method_with_its_statements_and_fix(imported_sample):
    panel = edge_panel(FRANK, LAMBDA_EXEC, "escalate")

    methods = {item["method"]: item for item in panel["escalations"]}
    item = methods[PASS_TO_LAMBDA]
    assert panel["relation"] == "can escalate to"
    assert sorted(methods) == [
        "Lambda-EditExistingLambdaFunctionWithRole",
        PASS_TO_LAMBDA,
        "Lambda-PassRoleToNewLambdaThenInvokeCrossAccount",
        "Lambda-PassRoleToNewLambdaThenTrigger",
        "Lambda-UpdateFunctionConfigurationLayer",
    ]
    assert (item["status"], methods["Lambda-PassRoleToNewLambdaThenTrigger"]["status"]) == (
        "proven",
        "potential",
    )
    assert item["statements"][0]["ref"] == LAMBDA_DEPLOYER
    assert item["statements"][0]["statement"]["Action"] == "iam:PassRole"
    assert item["remediation"].startswith("Limit iam:PassRole")
    assert item["references"][0].startswith("https://")


def test_edge_panel_page_renders_the_escalation(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": ROTATOR, "target": AUDITOR, "kind": "escalate"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<code>IAM-CreateAccessKey</code>" in body
    assert "Edge · can escalate to" in body
    assert 'class="remediation"' in body


def test_edge_panel_without_an_escalation_is_404(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": AUDITOR, "target": ROTATOR, "kind": "escalate"},
    )

    assert response.status_code == 404


def test_whole_account_identity_view_ranks_its_escalations_once_per_run(imported_sample):
    first = _escalations(build_identity_graph(account_id=DEV))
    again = _escalations(build_identity_graph(account_id=DEV))
    # Filtered by conditions: ranked apart, not read from the unfiltered ranking.
    conditional = _escalations(build_access_graph(account_id=DEV, conditional="only"))

    assert PASS_TO_LAMBDA in first[(FRANK, LAMBDA_EXEC)]["methods"]
    assert again == first
    assert all(edge["outcome"] == "conditional" for edge in conditional.values())
