"""Direct tests of the node and edge panels beside the graph."""

from __future__ import annotations

import pytest

from identities.graph.build import GraphError
from identities.graph.panels import edge_panel, node_panel, suggest_nodes
from identities.models import IamUser
from identities.queries.access import access_out_of
from tests.graph.conftest import SOLO

ALICE, BOB = f"user:{SOLO}:alice", f"user:{SOLO}:bob"
DEPLOY, AUDIT = f"role:{SOLO}:deploy", f"role:{SOLO}:audit"
DEV, PROD = "333333333333", "444444444444"


def _out(panel: dict) -> list[tuple[str, str]]:
    return [(row["id"], row["outcome"]) for row in panel["out"]]


def test_node_panel_of_a_denied_member_leaves_out_the_role_its_group_may_assume(
    denied_member_estate,
):
    panel = node_panel(ALICE)

    assert _out(panel) == [(AUDIT, "allow")]
    assert panel["out_count"] == 1


def test_node_panel_of_another_member_lists_both_roles(denied_member_estate):
    panel = node_panel(BOB)

    assert _out(panel) == [(AUDIT, "allow"), (DEPLOY, "allow")]


def test_node_panel_of_a_role_lists_access_groups_as_they_are_drawn(denied_member_estate):
    panel = node_panel(DEPLOY)

    assert [(row["kind"], row["outcome"]) for row in panel["in"]] == [
        ("access-group", "allow"),
        ("access-group", "allow"),
    ]
    assert panel["in_count"] == 2


def test_edge_panel_of_a_denied_member_shows_its_own_refused_edge(denied_member_estate):
    panel = edge_panel(ALICE, DEPLOY, "assume")

    assert [row["outcome"] for row in panel["access"]] == ["denied"]


def test_edge_panel_without_a_stored_edge_raises(denied_member_estate):
    with pytest.raises(GraphError):
        edge_panel(f"role:{SOLO}:audit", DEPLOY, "assume")


def test_node_panel_of_a_principal_lists_what_access_out_of_lists(imported_sample):
    alice = IamUser.objects.get(account__account_id=DEV, name="alice")

    panel = node_panel(f"user:{DEV}:alice")

    assert [row["label"] for row in panel["out"]] == [
        access.target.rsplit("/", 1)[-1] for access in access_out_of(alice)
    ]
    assert (f"role:{DEV}:dev-ops", "conditional") in _out(panel)
    assert panel["risk"]["findings"] == []


def test_node_panel_of_an_outside_party_lists_its_roles(imported_sample):
    panel = node_panel("service:ec2.amazonaws.com")

    assert panel["source"] == "service:ec2.amazonaws.com"
    assert [row["label"] for row in panel["out"]] == ["app-server"]


def test_suggest_nodes_finds_outside_parties_in_the_access_view(imported_sample):
    found = suggest_nodes("ec2", "access")

    assert [(item["id"], item["kind"]) for item in found] == [
        ("service:ec2.amazonaws.com", "service")
    ]


def test_panels_show_what_an_edges_conditions_require(imported_sample):
    # Issue 9, item 10; display forms after the condition operators page.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
    node = node_panel(f"user:{DEV}:ci-deploy")
    edge = edge_panel(f"user:{DEV}:ci-deploy", f"role:{PROD}:deploy", "assume")

    [row] = [row for row in node["out"] if row["id"] == f"role:{PROD}:deploy"]
    assert row["requirements"] == ["ExternalId = acme-ci-7f3a9c"]
    assert [access["requirements"] for access in edge["access"]] == [
        [("sts:ExternalId", "ExternalId = acme-ci-7f3a9c")]
    ]
