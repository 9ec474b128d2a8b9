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

# Access group labels of the sample organisation.
NO_STATEMENT = "with no identity statement about sts:AssumeRole"
BOUNDED = "with PowerUserAccess, within boundary developer-boundary"


def _named(data: dict, node_id: str) -> str:
    """A node's id, or an access group's label (its id is a digest)."""
    return _labels(data)[node_id] if node_id.startswith("access-group:") else node_id


def _named_nodes(data: dict) -> list[str]:
    return sorted(_named(data, node_id) for node_id in _node_ids(data))


def _named_edges(data: dict) -> list[tuple[str, str, str, str]]:
    return sorted((_named(data, s), _named(data, t), k, o) for s, t, k, o in _edges(data))


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
    assert edges == sorted([
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 role with AdministratorAccess", "audit", "assume", "allow"),
        ("1 role with AdministratorAccess", "org-inventory", "assume", "allow"),
        ("1 role with AdministratorAccess", "org-inventory", "assume", "allow"),
        ("1 role with AdministratorAccess", "partner-gateway", "assume", "conditional"),
        ("1 role with AdministratorAccess", "partner-gateway", "assume", "conditional"),
        ("1 role with AdministratorAccess", "public-reader", "assume", "allow"),
        ("1 role with AdministratorAccess", "public-reader", "assume", "allow"),
        ("1 role with PowerUserAccess", "org-inventory", "assume", "allow"),
        ("1 role with PowerUserAccess", "org-inventory", "assume", "allow"),
        ("1 role with PowerUserAccess", "partner-gateway", "assume", "conditional"),
        ("1 role with PowerUserAccess", "partner-gateway", "assume", "conditional"),
        ("1 role with PowerUserAccess", "public-reader", "assume", "allow"),
        ("1 role with PowerUserAccess", "public-reader", "assume", "allow"),
        (f"1 role {BOUNDED}", "org-inventory", "assume", "allow"),
        (f"1 role {BOUNDED}", "partner-gateway", "assume", "conditional"),
        (f"1 role {BOUNDED}", "public-reader", "assume", "allow"),
        (f"1 role {NO_STATEMENT}", "org-inventory", "assume", "allow"),
        (f"1 user {BOUNDED}", "org-inventory", "assume", "allow"),
        (f"1 user {BOUNDED}", "partner-gateway", "assume", "conditional"),
        (f"1 user {BOUNDED}", "public-reader", "assume", "allow"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        ("1 user with assume-audit-roles (group auditors)", "audit", "assume", "conditional"),
        (
            "1 user with assume-audit-roles (group auditors)",
            "org-inventory",
            "assume",
            "allow",
        ),
        (f"1 user {NO_STATEMENT}", "org-inventory", "assume", "allow"),
        (f"1 user {NO_STATEMENT}", "public-reader", "assume", "allow"),
        ("2 roles with AdministratorAccess", "org-inventory", "assume", "allow"),
        ("2 roles with AdministratorAccess", "partner-gateway", "assume", "conditional"),
        ("2 roles with AdministratorAccess", "public-reader", "assume", "allow"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("2 users with AdministratorAccess", "OrganizationAccountAccessRole", "assume", "allow"),
        ("2 users with AdministratorAccess", "org-inventory", "assume", "allow"),
        ("2 users with AdministratorAccess", "partner-gateway", "assume", "conditional"),
        ("2 users with AdministratorAccess", "public-reader", "assume", "allow"),
        (f"3 roles {NO_STATEMENT}", "partner-gateway", "assume", "conditional"),
        ("3 users with PowerUserAccess", "org-inventory", "assume", "allow"),
        ("3 users with PowerUserAccess", "partner-gateway", "assume", "conditional"),
        ("3 users with PowerUserAccess", "public-reader", "assume", "allow"),
        (f"4 roles {NO_STATEMENT}", "public-reader", "assume", "allow"),
        ("Anyone (*)", "org-inventory", "anyone", "conditional"),
        ("Anyone (*)", "partner-gateway", "anyone", "conditional"),
        ("Anyone (*)", "public-reader", "anyone", "allow"),
        ("Okta (SAML)", "okta-admin", "federated", "conditional"),
        ("OrganizationAccountAccessRole", "1 role with AdministratorAccess", "in-group", ""),
        ("OrganizationAccountAccessRole", "2 roles with AdministratorAccess", "in-group", ""),
        ("alice", "3 users with PowerUserAccess", "in-group", ""),
        ("alice", "dev-ops", "assume", "conditional"),
        ("app-server", f"4 roles {NO_STATEMENT}", "in-group", ""),
        ("audit", f"3 roles {NO_STATEMENT}", "in-group", ""),
        ("audit", f"4 roles {NO_STATEMENT}", "in-group", ""),
        ("auditor", "1 user with assume-audit-roles (group auditors)", "in-group", ""),
        ("bob", f"1 user {BOUNDED}", "in-group", ""),
        ("carol", "2 users with AdministratorAccess", "in-group", ""),
        ("ci-deploy", f"1 user {NO_STATEMENT}", "in-group", ""),
        ("ci-deploy", "deploy", "assume", "conditional"),
        ("dave", "2 users with AdministratorAccess", "in-group", ""),
        ("deploy", "1 role with PowerUserAccess", "in-group", ""),
        ("dev-ops", "1 role with PowerUserAccess", "in-group", ""),
        ("dev-ops", "prod-ops", "assume", "allow"),
        ("ec2.amazonaws.com", "app-server", "service", "allow"),
        ("erin", "3 users with PowerUserAccess", "in-group", ""),
        ("frank", "3 users with PowerUserAccess", "in-group", ""),
        ("github-deploy", f"1 role {BOUNDED}", "in-group", ""),
        ("lambda-exec", f"4 roles {NO_STATEMENT}", "in-group", ""),
        ("lambda.amazonaws.com", "lambda-exec", "service", "allow"),
        ("okta-admin", "1 role with AdministratorAccess", "in-group", ""),
        ("org-inventory", f"1 role {NO_STATEMENT}", "in-group", ""),
        ("partner-gateway", f"3 roles {NO_STATEMENT}", "in-group", ""),
        ("partner-gateway", "org-inventory", "assume", "allow"),
        ("prod-break-glass", "2 roles with AdministratorAccess", "in-group", ""),
        ("prod-ops", f"3 roles {NO_STATEMENT}", "in-group", ""),
        ("prod-ops", "prod-break-glass", "assume", "allow"),
        ("public-reader", f"4 roles {NO_STATEMENT}", "in-group", ""),
        ("svc-key-rotator", f"1 user {NO_STATEMENT}", "in-group", ""),
        ("token.actions.githubusercontent.com (OIDC)", "github-deploy", "federated", "conditional"),
        # Escalations, a kind of their own (issue 10): PassRole to lambda/ec2, CreateAccessKey.
        ("alice", "app-server", "escalate", "allow"),
        ("alice", "lambda-exec", "escalate", "allow"),
        ("bob", "lambda-exec", "escalate", "allow"),
        ("dev-ops", "app-server", "escalate", "allow"),
        ("dev-ops", "lambda-exec", "escalate", "allow"),
        ("erin", "app-server", "escalate", "allow"),
        ("erin", "lambda-exec", "escalate", "allow"),
        ("frank", "app-server", "escalate", "allow"),
        ("frank", "lambda-exec", "escalate", "allow"),
        ("github-deploy", "lambda-exec", "escalate", "allow"),
        ("svc-key-rotator", "auditor", "escalate", "allow"),
        ('1 user with AdministratorAccess', 'audit', 'assume', 'allow'),
        ('1 user with AdministratorAccess', 'audit', 'assume', 'allow'),
        ('1 user with AdministratorAccess', 'audit', 'assume', 'allow'),
        ('1 user with AdministratorAccess', 'org-inventory', 'assume', 'allow'),
        ('1 user with AdministratorAccess', 'partner-gateway', 'assume', 'conditional'),
        ('1 user with AdministratorAccess', 'public-reader', 'assume', 'allow'),
        ('2 roles with AdministratorAccess', 'org-inventory', 'assume', 'allow'),
        ('2 roles with AdministratorAccess', 'partner-gateway', 'assume', 'conditional'),
        ('2 roles with AdministratorAccess', 'public-reader', 'assume', 'allow'),
        ('OrganizationAccountAccessRole', '2 roles with AdministratorAccess', 'in-group', ''),
        ('codebuild.amazonaws.com', 'terraform-build', 'service', 'allow'),
        ('frank', 'terraform-build', 'escalate', 'allow'),
        ('secops-admin', '1 user with AdministratorAccess', 'in-group', ''),
        ('svc-key-rotator', 'secops-admin', 'escalate', 'allow'),
        ('terraform-build', '2 roles with AdministratorAccess', 'in-group', ''),

    ])  # fmt: skip


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
    # Issue 9, item 10: the hover shows what the condition requires.
    requirements = {
        (e["source"], e["target"]): e.get("requirements")
        for e in data["edges"]
        if e["kind"] != "in-group"
    }
    assert requirements[(f"user:{DEV}:ci-deploy", f"role:{PROD}:deploy")] == [
        "ExternalId = acme-ci-7f3a9c"
    ]
    assert requirements[(f"user:{DEV}:alice", f"role:{DEV}:dev-ops")] == ["MFA = true"]
    assert {e.get("outcome") for e in data["edges"] if e["kind"] != "in-group"} == {"conditional"}


def test_access_unconditional_filter_drops_conditional_edges(imported_sample):
    data = build_access_graph(conditional="none")

    assert {e.get("outcome") for e in data["edges"] if e["kind"] != "in-group"} == {"allow"}


def test_access_edge_kind_filter_keeps_services_only(imported_sample):
    data = build_access_graph(edge_kinds=["service"])

    assert _edges(data) == [
        ("service:codebuild.amazonaws.com", f"role:{DEV}:terraform-build", "service", "allow"),
        ("service:ec2.amazonaws.com", f"role:{DEV}:app-server", "service", "allow"),
        ("service:lambda.amazonaws.com", f"role:{DEV}:lambda-exec", "service", "allow"),
    ]


def test_access_focus_two_hops_each_way(imported_sample):
    data = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2)

    admins, no_statement = "2 roles with AdministratorAccess", f"3 roles {NO_STATEMENT}"
    assert _named_nodes(data) == [
        admins,
        no_statement,
        f"role:{SEC}:org-inventory",
        f"role:{DEV}:dev-ops",
        f"role:{DEV}:public-reader",
        f"role:{PROD}:partner-gateway",
        f"role:{PROD}:prod-break-glass",
        f"role:{PROD}:prod-ops",
        f"user:{DEV}:alice",
    ]
    assert _named_edges(data) == [
        (admins, f"role:{SEC}:org-inventory", "assume", "allow"),
        (admins, f"role:{DEV}:public-reader", "assume", "allow"),
        (admins, f"role:{PROD}:partner-gateway", "assume", "conditional"),
        (no_statement, f"role:{PROD}:partner-gateway", "assume", "conditional"),
        (f"role:{DEV}:dev-ops", f"role:{PROD}:prod-ops", "assume", "allow"),
        (f"role:{PROD}:partner-gateway", no_statement, "in-group", ""),
        (f"role:{PROD}:partner-gateway", f"role:{SEC}:org-inventory", "assume", "allow"),
        (f"role:{PROD}:prod-break-glass", admins, "in-group", ""),
        (f"role:{PROD}:prod-ops", no_statement, "in-group", ""),
        (f"role:{PROD}:prod-ops", f"role:{PROD}:prod-break-glass", "assume", "allow"),
        (f"user:{DEV}:alice", f"role:{DEV}:dev-ops", "assume", "conditional"),
    ]


def test_access_expand_merges_neighbours(imported_sample):
    base = build_access_graph(focus=f"role:{PROD}:deploy", depth=1)
    expanded = build_access_graph(
        focus=f"role:{PROD}:deploy", depth=1, expand=[f"user:{DEV}:alice"]
    )

    assert _named_nodes(base) == [
        "1 role with PowerUserAccess",
        f"role:{SEC}:org-inventory",
        f"role:{DEV}:public-reader",
        f"role:{PROD}:deploy",
        f"role:{PROD}:partner-gateway",
        f"user:{DEV}:ci-deploy",
    ]
    assert set(_named_nodes(expanded)) - set(_named_nodes(base)) == {
        "3 users with PowerUserAccess",
        f"role:{DEV}:app-server",
        f"role:{DEV}:dev-ops",
        f"role:{DEV}:lambda-exec",
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
        f"agg:roles:{SEC}": 2,
        f"agg:roles:{DEV}": 8,
        f"agg:roles:{PROD}": 6,
        f"agg:users:{MGMT}": 2,
        f"agg:users:{SEC}": 3,
        f"agg:users:{DEV}": 5,
    }
    # 32: org-inventory's aws:PrincipalOrgID is answered for members (issue 9, item 6), so
    # their conditional edges into acme-security are allowed, merging with the allowed ones.
    # 33: and acme-dev's users' escalations onto its roles, one edge.
    # 37: secops-admin's allowed edges into the other accounts' audit roles, and CodeBuild's
    # edge into acme-dev (terraform-build).
    assert len(data["edges"]) == 37
    assert (f"agg:users:{DEV}", f"agg:roles:{DEV}", "escalate", "allow") in _edges(data)
    assert (f"agg:users:{DEV}", f"agg:roles:{PROD}", "assume", "conditional") in _edges(data)
    aggregate = next(n for n in data["nodes"] if n["id"] == f"agg:roles:{PROD}")
    assert aggregate["drill_url"] == f"/graph/access/?account={PROD}&accounts={PROD}"


def test_access_account_overview_counts_edges_into_the_account(imported_sample):
    data = build_access_graph(account_id=PROD, threshold=4)

    # Edges within the account (to partner-gateway, prod-ops → prod-break-glass) are inside
    # one aggregate and not drawn.
    assert sorted((e["source"], e["target"], e["outcome"], e["count"]) for e in data["edges"]) == [
        (f"agg:roles:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{MGMT}", f"agg:roles:{PROD}", "conditional", 1),
        (f"agg:roles:{SEC}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{SEC}", f"agg:roles:{PROD}", "conditional", 1),
        (f"agg:roles:{DEV}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:roles:{DEV}", f"agg:roles:{PROD}", "conditional", 3),
        (f"agg:roles:{PROD}", f"agg:roles:{SEC}", "allow", 3),
        (f"agg:roles:{PROD}", f"agg:roles:{DEV}", "allow", 2),
        (f"agg:users:{MGMT}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{MGMT}", f"agg:roles:{PROD}", "conditional", 1),
        (f"agg:users:{SEC}", f"agg:roles:{PROD}", "allow", 1),
        (f"agg:users:{SEC}", f"agg:roles:{PROD}", "conditional", 2),
        (f"agg:users:{DEV}", f"agg:roles:{PROD}", "conditional", 3),
        ("anyone", f"agg:roles:{PROD}", "conditional", 1),
    ]


def test_access_layout_is_deterministic(imported_sample):
    assert build_access_graph() == build_access_graph()


def test_access_fold_keeps_edge_totals(imported_sample):
    unfolded = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=100)
    folded = build_access_graph(focus=f"role:{PROD}:prod-ops", depth=2, threshold=2)

    assert folded["stats"]["folded"] == ["users", "roles", "access groups"]
    assert sum(e.get("count", 1) for e in folded["edges"]) == len(unfolded["edges"])
    # The focus stays itself; everything around it folds by kind and account.
    assert _node_ids(folded) == [
        f"agg:access-groups:{PROD}",
        f"agg:roles:{SEC}",
        f"agg:roles:{DEV}",
        f"agg:roles:{PROD}",
        f"agg:users:{DEV}",
        f"role:{PROD}:prod-ops",
    ]
