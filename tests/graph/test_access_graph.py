"""The access view: exact edges on the sample organisation, filters, focus, folding; and against
the selectors: a member whose own edge replaces its access group's is drawn with its own edges,
so the picture, the panel, the path finder and `access_out_of` agree."""

from __future__ import annotations

import networkx as nx

from identities.graph.access import build_access_graph
from identities.graph.panels import node_panel
from identities.graph.paths import find_paths
from identities.models import IamUser
from identities.queries.access import access_out_of
from tests.graph.conftest import SOLO, solo_arn
from tests.graph.conftest import edge_tuples as _edges
from tests.graph.conftest import labels as _labels
from tests.graph.conftest import node_ids as _node_ids

DEV, PROD, MGMT, SEC = "333333333333", "444444444444", "111111111111", "222222222222"

ALICE, BOB = f"user:{SOLO}:alice", f"user:{SOLO}:bob"
DEPLOY, AUDIT = f"role:{SOLO}:deploy", f"role:{SOLO}:audit"


def _drawn(data: dict) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_edges_from(
        (edge["source"], edge["target"])
        for edge in data["edges"]
        if edge.get("outcome", "") != "denied"
    )
    return graph


def _reaches(data: dict, source: str, target: str) -> bool:
    graph = _drawn(data)
    return source in graph and target in graph and nx.has_path(graph, source, target)


def test_access_graph_draws_no_way_from_a_denied_member_to_the_role(denied_member_estate):
    data = build_access_graph()

    assert _reaches(data, ALICE, DEPLOY) is False
    assert _reaches(data, ALICE, AUDIT) is True
    assert _reaches(data, BOB, DEPLOY) is True


def test_access_graph_focused_on_a_denied_member_leaves_the_role_out(denied_member_estate):
    data = build_access_graph(focus=ALICE, depth=2)

    assert sorted(n["id"] for n in data["nodes"] if n["kind"] in {"user", "role"}) == [
        AUDIT,
        ALICE,
    ]


def test_access_graph_shows_the_refused_edge_only_when_asked(denied_member_estate):
    data = build_access_graph(focus=ALICE, depth=1, show_denied=True)

    assert sorted(
        (edge["source"], edge["target"], edge.get("outcome"))
        for edge in data["edges"]
        if edge["source"] == ALICE
    ) == [(ALICE, AUDIT, "allow"), (ALICE, DEPLOY, "denied")]


def test_panel_graph_paths_and_access_out_of_agree_on_every_pair(denied_member_estate):
    data = build_access_graph()

    for user in ("alice", "bob"):
        principal = IamUser.objects.get(arn=solo_arn("user", user))
        node_id = f"user:{SOLO}:{user}"
        selector = sorted(access.target for access in access_out_of(principal))
        panel = sorted(row["id"] for row in node_panel(node_id)["out"])
        for role in ("audit", "deploy"):
            role_id = f"role:{SOLO}:{role}"
            by_selector = solo_arn("role", role) in selector
            assert (role_id in panel) is by_selector, (user, role)
            assert _reaches(data, node_id, role_id) is by_selector, (user, role)
            assert bool(find_paths(source=node_id, target=role_id)["paths"]) is by_selector


# --- the sample organisation ------------------------------------------------------------


def test_access_estate_exact_edges(imported_sample):
    data = build_access_graph()

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
    data = build_access_graph()

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
    data = build_access_graph(conditional="only")

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
    data = build_access_graph(conditional="none")

    assert {e.get("outcome") for e in data["edges"] if e["kind"] != "in-group"} == {"allow"}


def test_access_edge_kind_filter_keeps_services_only(imported_sample):
    data = build_access_graph(edge_kinds=["service"])

    assert _edges(data) == [
        ("service:ec2.amazonaws.com", f"role:{DEV}:app-server", "service", "allow"),
        ("service:lambda.amazonaws.com", f"role:{DEV}:lambda-exec", "service", "allow"),
    ]


def test_access_focus_two_hops_each_way(imported_sample):
    data = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2)

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
    base = build_access_graph(focus=f"role:{PROD}:deploy", depth=1)
    expanded = build_access_graph(
        focus=f"role:{PROD}:deploy", depth=1, expand=[f"user:{DEV}:alice"]
    )

    assert _node_ids(base) == [f"role:{PROD}:deploy", f"user:{DEV}:ci-deploy"]
    assert set(_node_ids(expanded)) - set(_node_ids(base)) == {
        f"role:{DEV}:dev-ops",
        f"user:{DEV}:alice",
    }


def test_access_flags_administrators_and_findings(imported_sample):
    data = build_access_graph()

    flags = {n["id"]: n.get("flags", []) for n in data["nodes"]}
    assert flags[f"user:{MGMT}:dave"] == ["admin", "finding"]
    assert flags[f"role:{PROD}:prod-break-glass"] == ["admin"]
    assert flags[f"role:{DEV}:public-reader"] == ["finding"]
    assert flags[f"user:{DEV}:alice"] == []


def test_access_estate_overview_past_the_threshold(imported_sample):
    data = build_access_graph(threshold=5)

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
    data = build_access_graph(account_id=PROD, threshold=4)

    assert sorted((e["source"], e["target"], e["outcome"], e["count"]) for e in data["edges"]) == [
        (f"agg:roles:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{SEC}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{DEV}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{SEC}", f"agg:roles:{PROD}", "conditional", 1),
        (f"agg:users:{DEV}", f"agg:roles:{PROD}", "conditional", 1),
    ]


def test_access_layout_is_deterministic(imported_sample):
    assert build_access_graph() == build_access_graph()


def test_access_fold_keeps_edge_totals(imported_sample):
    unfolded = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=100)
    folded = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=2)

    assert folded["stats"]["folded"] == ["users", "roles"]
    assert sum(e.get("count", 1) for e in folded["edges"]) == len(unfolded["edges"])
    # The focus stays itself; everything around it folds by kind and account.
    assert _node_ids(folded) == [
        f"agg:roles:{DEV}",
        f"agg:roles:{PROD}",
        f"agg:users:{DEV}",
        f"role:{PROD}:prod-ops",
    ]
