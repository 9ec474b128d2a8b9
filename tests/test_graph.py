"""The graph builders on the sample organisation: exact nodes and edges, determinism, folding
past the threshold, the path finder, and the exports."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from identities import graph
from identities.graph import GraphError

DEV, PROD, MGMT, SEC = "333333333333", "444444444444", "111111111111", "222222222222"


def _node_ids(data):
    return sorted(node["id"] for node in data["nodes"] if node["kind"] not in {"box", "column"})


def _edges(data):
    return sorted(
        (edge["source"], edge["target"], edge["kind"], edge.get("outcome", ""))
        for edge in data["edges"]
    )


def _labels(data):
    return {node["id"]: node["label"] for node in data["nodes"]}


# --- identity view ------------------------------------------------------------------------


def test_identity_focus_depth_one_exact_neighbourhood(imported_sample):
    data = graph.build_identity_graph(focus=f"user:{DEV}:alice", depth=1)

    assert _node_ids(data) == [
        f"group:{DEV}:developers",
        f"inline:user:{DEV}:alice:assume-dev-ops",
        f"user:{DEV}:alice",
    ]
    assert _edges(data) == [
        (f"user:{DEV}:alice", f"group:{DEV}:developers", "member", ""),
        (f"user:{DEV}:alice", f"inline:user:{DEV}:alice:assume-dev-ops", "inline", ""),
    ]
    assert data["aggregated"] is False


def test_identity_focus_depth_two_reaches_group_policies_and_members(imported_sample):
    data = graph.build_identity_graph(focus=f"user:{DEV}:alice", depth=2, hide_aws_managed=True)

    assert _node_ids(data) == [
        f"group:{DEV}:developers",
        f"inline:group:{DEV}:developers:developers-pass-lambda-roles",
        f"inline:user:{DEV}:alice:assume-dev-ops",
        f"user:{DEV}:alice",
        f"user:{DEV}:bob",
        f"user:{DEV}:erin",
        f"user:{DEV}:frank",
    ]


def test_identity_account_counts_by_kind(imported_sample):
    data = graph.build_identity_graph(account_id=DEV)

    assert data["stats"]["by_kind"] == {
        "group": 1,
        "inline": 5,
        "policy-aws": 6,
        "policy-customer": 3,
        "role": 7,
        "user": 5,
    }
    assert data["stats"]["edges"] == 21


def test_identity_hide_aws_managed_drops_their_nodes_and_edges(imported_sample):
    data = graph.build_identity_graph(account_id=DEV, hide_aws_managed=True)

    assert data["stats"]["by_kind"] == {
        "group": 1,
        "inline": 5,
        "policy-customer": 3,
        "role": 7,
        "user": 5,
    }
    assert [e for e in data["edges"] if "aws:policy" in e["target"]] == []


def test_identity_edge_kind_filter_keeps_only_memberships(imported_sample):
    data = graph.build_identity_graph(
        focus=f"group:{DEV}:developers", depth=1, edge_kinds=["member"]
    )

    assert {edge["kind"] for edge in data["edges"]} == {"member"}
    assert _node_ids(data) == [
        f"group:{DEV}:developers",
        f"user:{DEV}:alice",
        f"user:{DEV}:bob",
        f"user:{DEV}:erin",
        f"user:{DEV}:frank",
    ]


def test_identity_columns_users_groups_policies_roles(imported_sample):
    data = graph.build_identity_graph(account_id=DEV)

    x_of = {node["kind"]: node["x"] for node in data["nodes"] if node["kind"] != "column"}
    assert (x_of["user"], x_of["group"], x_of["policy-aws"], x_of["role"]) == (0, 320, 640, 960)
    assert [n["label"] for n in data["nodes"] if n["kind"] == "column"] == [
        "Users · 5",
        "Groups · 1",
        "Policies · 14",
        "Roles · 7",
    ]


def test_identity_layout_is_deterministic(imported_sample):
    first = graph.build_identity_graph(account_id=DEV)
    second = graph.build_identity_graph(account_id=DEV)

    assert first == second
    positions = {(n["x"], n["y"]) for n in first["nodes"] if n["kind"] != "column"}
    assert len(positions) == first["stats"]["nodes"]  # no two nodes share a place


def test_identity_folds_users_by_group_then_roles_past_the_threshold(imported_sample):
    data = graph.build_identity_graph(account_id=DEV, threshold=20)

    folded = {n["id"]: n["count"] for n in data["nodes"] if n["kind"] == "aggregate"}
    assert data["aggregated"] is True
    assert data["stats"]["folded"] == ["users", "roles"]
    assert folded == {
        f"agg:roles:{DEV}": 7,
        f"agg:users:{DEV}:nogroup": 1,
        f"agg:users:group:{DEV}:developers": 4,
    }
    drill = next(n for n in data["nodes"] if n["id"] == f"agg:users:group:{DEV}:developers")
    assert drill["drill_url"] == f"/graph/identity/?focus=group%3A{DEV}%3Adevelopers&depth=1"


def test_identity_estate_overview_past_the_threshold_counts_by_account(imported_sample):
    data = graph.build_identity_graph(threshold=10)

    counts = {n["id"]: n["count"] for n in data["nodes"] if n["kind"] == "aggregate"}
    edges = {(e["source"], e["target"], e["kind"]): e["count"] for e in data["edges"]}
    assert data["stats"]["folded"] == ["users", "roles", "policies"]
    assert counts[f"agg:user:{DEV}"] == 5
    assert counts[f"agg:role:{PROD}"] == 5
    assert counts["agg:policy-aws"] == 7
    assert edges[(f"agg:user:{DEV}", f"agg:group:{DEV}", "member")] == 4
    assert edges[(f"agg:role:{DEV}", "agg:policy-aws", "attached")] == 7
    assert len(edges) == 17


def test_identity_unknown_focus_raises(imported_sample):
    with pytest.raises(GraphError, match="No IAM user named 'nobody'"):
        graph.build_identity_graph(focus=f"user:{DEV}:nobody")


# --- access view --------------------------------------------------------------------------


def test_access_estate_exact_edges(imported_sample):
    data = graph.build_access_graph()

    labels = _labels(data)
    edges = sorted(
        (labels[e["source"]], labels[e["target"]], e["kind"], e.get("outcome", ""))
        for e in data["edges"]
    )
    assert edges == [
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("Anyone (*)", "public-reader", "anyone", "allow"),
        ("Okta (SAML)", "okta-admin", "federated", "conditional"),
        ("OrganizationAccountAccessRole", "1 role with AdministratorAccess", "in-group", ""),
        ("alice", "dev-ops", "assume", "conditional"),
        ("auditor", "1 user with assume-audit-roles (group auditors)", "in-group", ""),
        ("carol", "2 users with AdministratorAccess", "in-group", ""),
        ("ci-deploy", "deploy", "assume", "conditional"),
        ("dave", "2 users with AdministratorAccess", "in-group", ""),
        ("dev-ops", "prod-ops", "assume", "allow"),
        ("ec2.amazonaws.com", "app-server", "service", "allow"),
        ("lambda.amazonaws.com", "lambda-exec", "service", "allow"),
        ("okta-admin", "1 role with AdministratorAccess", "in-group", ""),
        ("prod-ops", "prod-break-glass", "assume", "allow"),
        ("token.actions.githubusercontent.com (OIDC)", "github-deploy", "federated", "conditional"),
    ]


def test_access_outside_parties_and_boxes_are_distinct(imported_sample):
    data = graph.build_access_graph()

    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    parents = {n["id"]: n.get("parent") for n in data["nodes"]}
    assert kinds["anyone"] == "anyone"
    assert kinds["service:ec2.amazonaws.com"] == "service"
    assert kinds[f"federated:arn:aws:iam::{MGMT}:saml-provider/Okta"] == "federated"
    assert parents["anyone"] == "box:0:anyone"
    assert parents["service:ec2.amazonaws.com"] == "box:1:services"
    assert parents[f"role:{PROD}:deploy"] == f"box:4:{PROD}"
    boxes = {n["id"]: n["label"] for n in data["nodes"] if n["kind"] == "box"}
    assert boxes[f"box:4:{PROD}"] == f"acme-prod · {PROD}"


def test_access_conditional_edges_carry_their_condition_keys(imported_sample):
    data = graph.build_access_graph(conditional="only")

    conditions = {
        (e["source"], e["target"]): e["conditions"]
        for e in data["edges"]
        if e["kind"] != "in-group"
    }
    assert conditions[(f"user:{DEV}:ci-deploy", f"role:{PROD}:deploy")] == ["sts:ExternalId"]
    assert conditions[(f"user:{DEV}:alice", f"role:{DEV}:dev-ops")] == [
        "aws:MultiFactorAuthPresent"
    ]
    assert {e.get("outcome") for e in data["edges"] if e["kind"] != "in-group"} == {"conditional"}


def test_access_unconditional_filter_drops_conditional_edges(imported_sample):
    data = graph.build_access_graph(conditional="none")

    assert {e.get("outcome") for e in data["edges"] if e["kind"] != "in-group"} == {"allow"}


def test_access_edge_kind_filter_keeps_services_only(imported_sample):
    data = graph.build_access_graph(edge_kinds=["service"])

    assert _edges(data) == [
        ("service:ec2.amazonaws.com", f"role:{DEV}:app-server", "service", "allow"),
        ("service:lambda.amazonaws.com", f"role:{DEV}:lambda-exec", "service", "allow"),
    ]


def test_access_focus_two_hops_each_way(imported_sample):
    data = graph.build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2)

    assert _node_ids(data) == [
        f"role:{DEV}:dev-ops",
        f"role:{PROD}:prod-break-glass",
        f"role:{PROD}:prod-ops",
        f"user:{DEV}:alice",
    ]
    assert _edges(data) == [
        (f"role:{DEV}:dev-ops", f"role:{PROD}:prod-ops", "assume", "allow"),
        (f"role:{PROD}:prod-ops", f"role:{PROD}:prod-break-glass", "assume", "allow"),
        (f"user:{DEV}:alice", f"role:{DEV}:dev-ops", "assume", "conditional"),
    ]


def test_access_expand_merges_neighbours(imported_sample):
    base = graph.build_access_graph(focus=f"role:{PROD}:deploy", depth=1)
    expanded = graph.build_access_graph(
        focus=f"role:{PROD}:deploy", depth=1, expand=[f"user:{DEV}:alice"]
    )

    assert _node_ids(base) == [f"role:{PROD}:deploy", f"user:{DEV}:ci-deploy"]
    assert set(_node_ids(expanded)) - set(_node_ids(base)) == {
        f"role:{DEV}:dev-ops",
        f"user:{DEV}:alice",
    }


def test_access_flags_administrators_and_findings(imported_sample):
    data = graph.build_access_graph()

    flags = {n["id"]: n.get("flags", []) for n in data["nodes"]}
    assert flags[f"user:{MGMT}:dave"] == ["admin", "finding"]
    assert flags[f"role:{PROD}:prod-break-glass"] == ["admin"]
    assert flags[f"role:{DEV}:public-reader"] == ["finding"]
    assert flags[f"user:{DEV}:alice"] == []


def test_access_estate_overview_past_the_threshold(imported_sample):
    data = graph.build_access_graph(threshold=5)

    counts = {n["id"]: n["count"] for n in data["nodes"] if n["kind"] == "aggregate"}
    assert data["aggregated"] is True
    assert counts == {
        f"agg:roles:{MGMT}": 2,
        f"agg:roles:{SEC}": 1,
        f"agg:roles:{DEV}": 7,
        f"agg:roles:{PROD}": 5,
        f"agg:users:{MGMT}": 2,
        f"agg:users:{SEC}": 2,
        f"agg:users:{DEV}": 5,
    }
    assert len(data["edges"]) == 20
    assert (f"agg:users:{DEV}", f"agg:roles:{PROD}", "assume", "conditional") in _edges(data)
    aggregate = next(n for n in data["nodes"] if n["id"] == f"agg:roles:{PROD}")
    assert aggregate["drill_url"] == f"/graph/access/?account={PROD}&accounts={PROD}"


def test_access_account_overview_counts_edges_into_the_account(imported_sample):
    data = graph.build_access_graph(account_id=PROD, threshold=4)

    assert sorted((e["source"], e["target"], e["outcome"], e["count"]) for e in data["edges"]) == [
        (f"agg:roles:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{SEC}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{DEV}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{SEC}", f"agg:roles:{PROD}", "conditional", 1),
        (f"agg:users:{DEV}", f"agg:roles:{PROD}", "conditional", 1),
    ]


def test_access_layout_is_deterministic(imported_sample):
    assert graph.build_access_graph() == graph.build_access_graph()


def test_access_fold_keeps_edge_totals(imported_sample):
    unfolded = graph.build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=100)
    folded = graph.build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=2)

    assert folded["stats"]["folded"] == ["users", "roles"]
    assert sum(e.get("count", 1) for e in folded["edges"]) == len(unfolded["edges"])
    # The focus stays itself; everything around it folds by kind and account.
    assert _node_ids(folded) == [
        f"agg:roles:{DEV}",
        f"agg:roles:{PROD}",
        f"agg:users:{DEV}",
        f"role:{PROD}:prod-ops",
    ]


# --- path finder --------------------------------------------------------------------------


def test_paths_alice_to_break_glass_three_hops_explained(imported_sample):
    data = graph.find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    [path] = data["paths"]
    hops = [(h["source"], h["target"], h["outcome"], h["conditions"]) for h in path["hops"]]
    assert hops == [
        (f"user:{DEV}:alice", f"role:{DEV}:dev-ops", "conditional", ["aws:MultiFactorAuthPresent"]),
        (f"role:{DEV}:dev-ops", f"role:{PROD}:prod-ops", "allow", []),
        (f"role:{PROD}:prod-ops", f"role:{PROD}:prod-break-glass", "allow", []),
    ]
    assert path["hops"][0]["granted_by"] == [
        "statement 'AliceWithMFA' (Statement[0]) of trust policy dev-ops "
        f"(arn:aws:iam::{DEV}:role/dev-ops)"
    ]
    assert data["highlight"] == sorted(
        [
            f"user:{DEV}:alice",
            f"role:{DEV}:dev-ops",
            f"role:{PROD}:prod-ops",
            f"role:{PROD}:prod-break-glass",
            f"user:{DEV}:alice|assume|conditional|role:{DEV}:dev-ops",
            f"role:{DEV}:dev-ops|assume|allow|role:{PROD}:prod-ops",
            f"role:{PROD}:prod-ops|assume|allow|role:{PROD}:prod-break-glass",
        ]
    )
    assert {e["id"] for e in data["edges"]} <= set(data["highlight"])


def test_paths_ci_user_reaches_deploy_but_not_the_chain_end(imported_sample):
    to_deploy = graph.find_paths(source=f"user:{DEV}:ci-deploy", target=f"role:{PROD}:deploy")
    to_glass = graph.find_paths(
        source=f"user:{DEV}:ci-deploy", target=f"role:{PROD}:prod-break-glass", max_length=6
    )

    [path] = to_deploy["paths"]
    assert [(h["action"], h["conditions"]) for h in path["hops"]] == [
        ("sts:AssumeRole", ["sts:ExternalId"])
    ]
    assert to_glass["paths"] == []
    assert to_glass["highlight"] == []


def test_paths_without_conditions_excludes_the_mfa_hop(imported_sample):
    data = graph.find_paths(
        source=f"user:{DEV}:alice",
        target=f"role:{PROD}:prod-break-glass",
        conditional="none",
        mode="all",
    )

    assert data["paths"] == []


def test_paths_through_an_access_group(imported_sample):
    data = graph.find_paths(
        source=f"user:{MGMT}:carol", target=f"role:{PROD}:OrganizationAccountAccessRole"
    )

    [path] = data["paths"]
    [hop] = path["hops"]
    assert hop["via_group"] == "users of acme-management with AdministratorAccess"
    assert hop["outcome"] == "allow"


def test_paths_length_limit_cuts_long_chains(imported_sample):
    data = graph.find_paths(
        source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass", max_length=2
    )

    assert data["paths"] == []


def test_paths_are_deterministic_and_laid_out_left_to_right(imported_sample):
    first = graph.find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")
    second = graph.find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    assert first == second
    x = {n["id"]: n["x"] for n in first["nodes"] if n["kind"] != "box"}
    assert [x[h["source"]] for h in first["paths"][0]["hops"]] == [0, 320, 640]


def test_paths_unknown_source_raises(imported_sample):
    with pytest.raises(GraphError):
        graph.find_paths(source=f"user:{DEV}:nobody", target=f"role:{PROD}:deploy")


# --- exports and helpers ------------------------------------------------------------------


def test_graphml_export_round_trips_through_networkx(imported_sample, tmp_path):
    data = graph.build_access_graph()

    path = tmp_path / "access.graphml"
    path.write_text(graph.graph_to_graphml(data))
    loaded = nx.read_graphml(path)
    assert loaded.number_of_nodes() == len(data["nodes"])
    assert loaded.number_of_edges() == len(data["edges"])
    assert loaded.nodes["anyone"]["kind"] == "anyone"


def test_svg_export_draws_every_node_and_edge(imported_sample):
    data = graph.find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    svg = graph.graph_to_svg(data, highlight=data["highlight"])
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert len(root.findall(".//svg:g[@class='node']", ns)) == 4
    assert len(root.findall(".//svg:line", ns)) == 3
    assert "prod-break-glass" in svg


def test_table_rows_list_every_edge_then_lonely_nodes(imported_sample):
    data = graph.build_identity_graph(account_id=PROD)

    rows = graph.table_rows(data)
    lonely = [row["source"]["label"] for row in rows if row["edge"] is None]
    assert len(rows) == len(data["edges"]) + len(lonely)
    assert lonely == []


def test_node_ids_split_and_describe():
    assert graph.split_node_id("role:444444444444:deploy") == ("role", "444444444444:deploy")
    assert graph.split_node_id("anyone") == ("anyone", "")
    assert graph.describe_node("policy:arn:aws:iam::aws:policy/ReadOnlyAccess") == {
        "id": "policy:arn:aws:iam::aws:policy/ReadOnlyAccess",
        "kind": "policy",
        "kind_label": "policy",
        "label": "ReadOnlyAccess",
        "account": "",
    }
    with pytest.raises(GraphError):
        graph.split_node_id("Not An Id")


def test_url_with_replaces_and_drops_parameters():
    url = graph.url_with(
        "/graph/access/?focus=a&expand=b&expand=c&cond=only", {"focus": "z"}, drop=("expand",)
    )

    assert url == "/graph/access/?cond=only&focus=z"
