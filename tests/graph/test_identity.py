"""The identity view on the sample organisation: exact nodes and edges, determinism, folding
past the threshold."""

from __future__ import annotations

import pytest

from identities.graph.build import GraphError
from identities.graph.identity import build_identity_graph
from tests.graph.conftest import edge_tuples as _edges
from tests.graph.conftest import node_ids as _node_ids

DEV, PROD, MGMT, SEC = "333333333333", "444444444444", "111111111111", "222222222222"


def test_identity_focus_depth_one_exact_neighbourhood(imported_sample):
    data = build_identity_graph(focus=f"user:{DEV}:alice", depth=1)

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
    data = build_identity_graph(focus=f"user:{DEV}:alice", depth=2, hide_aws_managed=True)

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
    data = build_identity_graph(account_id=DEV)

    assert data["stats"]["by_kind"] == {
        "group": 1,
        "inline": 5,
        "policy-aws": 6,
        "policy-customer": 3,
        "role": 8,
        "user": 5,
    }
    # 22 and 11 escalations between the principals drawn (PassRole to lambda, ec2, codebuild, …).
    assert data["stats"]["edges"] == 33


def test_identity_hide_aws_managed_drops_their_nodes_and_edges(imported_sample):
    data = build_identity_graph(account_id=DEV, hide_aws_managed=True)

    assert data["stats"]["by_kind"] == {
        "group": 1,
        "inline": 5,
        "policy-customer": 3,
        "role": 8,
        "user": 5,
    }
    assert [e for e in data["edges"] if "aws:policy" in e["target"]] == []


def test_identity_edge_kind_filter_keeps_only_memberships(imported_sample):
    data = build_identity_graph(focus=f"group:{DEV}:developers", depth=1, edge_kinds=["member"])

    assert {edge["kind"] for edge in data["edges"]} == {"member"}
    assert _node_ids(data) == [
        f"group:{DEV}:developers",
        f"user:{DEV}:alice",
        f"user:{DEV}:bob",
        f"user:{DEV}:erin",
        f"user:{DEV}:frank",
    ]


def test_identity_columns_users_groups_policies_roles(imported_sample):
    data = build_identity_graph(account_id=DEV)

    x_of = {node["kind"]: node["x"] for node in data["nodes"] if node["kind"] != "column"}
    assert (x_of["user"], x_of["group"], x_of["policy-aws"], x_of["role"]) == (0, 320, 640, 960)
    assert [n["label"] for n in data["nodes"] if n["kind"] == "column"] == [
        "Users · 5",
        "Groups · 1",
        "Policies · 14",
        "Roles · 8",
    ]


def test_identity_layout_is_deterministic(imported_sample):
    first = build_identity_graph(account_id=DEV)
    second = build_identity_graph(account_id=DEV)

    assert first == second
    positions = {(n["x"], n["y"]) for n in first["nodes"] if n["kind"] != "column"}
    assert len(positions) == first["stats"]["nodes"]  # no two nodes share a place


def test_identity_folds_users_by_group_then_roles_past_the_threshold(imported_sample):
    data = build_identity_graph(account_id=DEV, threshold=20)

    folded = {n["id"]: n["count"] for n in data["nodes"] if n["kind"] == "aggregate"}
    assert data["aggregated"] is True
    assert data["stats"]["folded"] == ["users", "roles"]
    assert folded == {
        f"agg:roles:{DEV}": 8,
        f"agg:users:{DEV}:nogroup": 1,
        f"agg:users:group:{DEV}:developers": 4,
    }
    drill = next(n for n in data["nodes"] if n["id"] == f"agg:users:group:{DEV}:developers")
    assert drill["drill_url"] == f"/graph/identity/?focus=group%3A{DEV}%3Adevelopers&depth=1"


def test_identity_estate_overview_past_the_threshold_counts_by_account(imported_sample):
    data = build_identity_graph(threshold=10)

    counts = {n["id"]: n["count"] for n in data["nodes"] if n["kind"] == "aggregate"}
    edges = {(e["source"], e["target"], e["kind"]): e["count"] for e in data["edges"]}
    assert data["stats"]["folded"] == ["users", "roles", "policies"]
    assert counts[f"agg:user:{DEV}"] == 5
    assert counts[f"agg:role:{PROD}"] == 6
    assert counts["agg:policy-aws"] == 7
    assert edges[(f"agg:user:{DEV}", f"agg:group:{DEV}", "member")] == 4
    assert edges[(f"agg:role:{DEV}", "agg:policy-aws", "attached")] == 8
    assert edges[(f"agg:user:{DEV}", f"agg:role:{DEV}", "escalate")] == 8
    assert len(edges) == 19


def test_identity_unknown_focus_raises(imported_sample):
    with pytest.raises(GraphError, match="No IAM user named 'nobody'"):
        build_identity_graph(focus=f"user:{DEV}:nobody")
