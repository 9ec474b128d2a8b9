"""A what-if of an SCP or RCP that changes escalations and administrators, answered from the
stored analysis (only the principals, and methods, whose permissions change evaluated again),
equals the whole-estate answer."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from identities.analysis import analyse_estate
from identities.analysis.incremental_powers import _add_edges, _link_escalations, _rows_replaced
from identities.analysis.reach import ReachGraph
from identities.analysis.what_if import (
    FULL,
    INCREMENTAL,
    ORG,
    PolicyRef,
    Proposal,
    current_document,
    what_if,
)
from identities.ingest.imports import import_bundle
from identities.models import Administrator, IamUser, InlinePolicy, OrgPolicy
from identities.sample.generate import generate_bundle
from tests.what_if.test_what_if_incremental import _difference

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture
def generated(db: None) -> None:
    import_bundle(generate_bundle(accounts=4, users=5, roles=8, seed=3), label="generated")
    analyse_estate(now=NOW)


# Statements about the actions escalations and administrators are decided on.
_SCP_STATEMENTS: list[dict[str, Any]] = [
    {"Effect": "Deny", "Action": ["iam:CreateUser", "iam:CreateAccessKey"], "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"},
    {"Effect": "Deny", "Action": ["iam:AttachUserPolicy", "iam:PutRolePolicy"], "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:UpdateAssumeRolePolicy", "Resource": "*"},
    {"Effect": "Deny", "Action": "lambda:CreateFunction", "Resource": "*"},
    {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"},
    {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": "iam:*",
        "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ops-*"}},
    },
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"},
]
_RCP_STATEMENTS: list[dict[str, Any]] = [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:PrincipalIsAWSService": "true"}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-other"}},
    },
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_an_scp_or_rcp_change_answered_incrementally_equals_the_whole_estate_answer(
    generated: None, data: st.DataObject
) -> None:
    policies = list(OrgPolicy.objects.order_by("pk").values_list("policy_id", "type"))
    policy_id, kind = data.draw(st.sampled_from(policies))
    choices = _SCP_STATEMENTS if kind == OrgPolicy.Type.SCP else _RCP_STATEMENTS
    ref = PolicyRef(ORG, policy_id)
    document = copy.deepcopy(current_document(ref))
    raw = document.get("Statement") or []
    statements = raw if isinstance(raw, list) else [raw]
    how = data.draw(st.sampled_from(["remove", "add", "replace"]))
    proposal = Proposal()
    if how == "remove" and statements:
        proposal.remove_statement(ref, str(data.draw(st.integers(0, len(statements) - 1))))
    else:
        new = data.draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3))
        document["Statement"] = [*statements, *new] if how == "add" else new
        proposal.replace(ref, document)

    fast = what_if(proposal, now=NOW)
    full = what_if(proposal, now=NOW, incremental=False)

    assert fast.method == INCREMENTAL, fast.why_full
    assert full.method == FULL
    fast_document, full_document = fast.document(), full.document()
    escalations = fast_document["escalations_added"] or fast_document["escalations_removed"]
    admins = fast_document["administrators_added"] or fast_document["administrators_removed"]
    event(f"{kind}: escalations {'change' if escalations else 'same'}")
    event(f"{kind}: administrators {'change' if admins else 'same'}")
    assert fast_document == full_document, _difference(fast_document, full_document)


def test_removing_the_scp_denying_access_keys_adds_those_escalations_and_administrators(
    db: None,
) -> None:
    import_bundle(generate_bundle(accounts=4, users=5, roles=8, seed=3), label="generated")
    # The SCP attached to one member account too (an account id is an SCP target).
    policy = OrgPolicy.objects.get(name="DenyIAMUserCreation")
    user = (
        IamUser.objects.filter(account__in_organization=True, account__is_management=False)
        .order_by("pk")
        .first()
    )
    assert user is not None
    policy.targets = [*(policy.targets or []), user.account.account_id]
    policy.save()
    InlinePolicy.objects.create(
        account=user.account,
        user=user,
        name="keys",
        document={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}],
        },
    )
    analyse_estate(now=NOW)
    proposal = Proposal()
    proposal.remove_statement(PolicyRef(ORG, policy.policy_id), "0")

    fast = what_if(proposal, now=NOW)
    full = what_if(proposal, now=NOW, incremental=False)

    assert fast.method == INCREMENTAL
    fast_document, full_document = fast.document(), full.document()
    assert fast_document == full_document, _difference(fast_document, full_document)
    others = IamUser.objects.filter(account=user.account).exclude(pk=user.pk)
    assert sorted(
        (row["principal"], row["method"], row["target"])
        for row in fast_document["escalations_added"]
    ) == sorted((user.arn, "IAM-CreateAccessKey", other.arn) for other in others)
    # Administrators allowed everything but iam:CreateAccessKey could grant themselves the
    # rest (a self-grant escalation); now they have full access, which escalates by nothing.
    removed = fast_document["escalations_removed"]
    self_granting = Administrator.objects.filter(basis="escalation")
    assert removed != []
    assert {row["principal"] for row in removed} <= set(self_granting.values_list("arn", flat=True))
    assert {row["target"] for row in removed} == {None}


def test_rows_replaced_keep_a_members_other_methods_as_its_own() -> None:
    rows = {
        "rows": [
            ["group:g", "IAM-CreateAccessKey", "proven", 0, [], ["s0"]],
            ["group:g", "IAM-UpdateLoginProfile", "proven", 0, [], ["s1"]],
            ["arn:c", "IAM-PutUserPolicy", "proven", 1, [], ["s2"]],
        ],
        "targets": [["arn:a", "arn:b", "arn:x"], []],
        "members": {"arn:a": "group:g", "arn:b": "group:g"},
    }
    added = {
        "rows": [
            ["arn:a", "IAM-CreateAccessKey", "proven", 0, ["aws:MultiFactorAuthPresent"], []],
            ["arn:b", "IAM-CreateAccessKey", "proven", 1, [], ["s0"]],
        ],
        "targets": [["arn:x"], ["arn:a", "arn:x"]],
        "members": {},
    }
    again = {"IAM-CreateAccessKey"}

    found, changed = _rows_replaced(rows, {"arn:a": again, "arn:b": again}, added)

    expanded = [[*row[:3], found["targets"][row[3]], *row[4:]] for row in found["rows"]]
    assert changed == ["arn:a"]
    assert expanded == [
        ["group:g", "IAM-CreateAccessKey", "proven", ["arn:a", "arn:b", "arn:x"], [], ["s0"]],
        ["group:g", "IAM-UpdateLoginProfile", "proven", ["arn:a", "arn:b", "arn:x"], [], ["s1"]],
        ["arn:c", "IAM-PutUserPolicy", "proven", [], [], ["s2"]],
        ["arn:a", "IAM-UpdateLoginProfile", "proven", ["arn:b", "arn:x"], [], ["s1"]],
        ["arn:a", "IAM-CreateAccessKey", "proven", ["arn:x"], ["aws:MultiFactorAuthPresent"], []],
    ]
    # arn:b's escalations by the method are what they were: it stays in its group.
    assert found["members"] == {"arn:b": "group:g"}


def test_escalation_edges_keep_a_group_hop_that_leads_to_its_targets_only() -> None:
    graph = ReachGraph.build(
        [],
        [],
        escalations=[
            ("escalate:group:g", "arn:a"),
            ("escalate:group:g", "arn:b"),
            ("escalate:group:h", "arn:y"),
        ],
        escalation_memberships=[
            ("arn:a", "escalate:group:g"),
            ("arn:b", "escalate:group:g"),
            ("arn:a", "escalate:group:h"),
        ],
    )
    rows = {
        "rows": [["arn:a", "IAM-CreateAccessKey", "proven", 0, [], []]],
        "targets": [["arn:b", "arn:x"]],
        "members": {},
    }

    _link_escalations(graph, ["arn:a"], rows)

    succ = graph.graph._succ
    assert sorted(succ["arn:a"]) == ["escalate:arn:a", "escalate:group:g"]
    assert sorted(succ["escalate:arn:a"]) == ["arn:x"]
    assert sorted(succ["escalate:group:g"]) == ["arn:a", "arn:b"]
    assert sorted(succ["arn:b"]) == ["escalate:group:g"]


def test_edges_added_on_the_adjacency_are_those_networkx_adds() -> None:
    ours, theirs = nx.DiGraph(), nx.DiGraph()
    for graph in (ours, theirs):
        graph.add_edge("escalate:a", "arn:b")
        graph.add_edge("arn:c", "escalate:a")
    added = [("escalate:a", ["arn:d", "arn:b", "arn:new", "arn:c"]), ("escalate:e", ["arn:b"])]

    for source, targets in added:
        _add_edges(ours, source, targets)
        theirs.add_edges_from((source, target) for target in targets)

    assert list(ours.nodes) == list(theirs.nodes)
    for graph_of in (lambda g: g._succ, lambda g: g._pred):
        assert {n: list(found) for n, found in graph_of(ours).items()} == {
            n: list(found) for n, found in graph_of(theirs).items()
        }
    assert ours._succ["escalate:a"]["arn:new"] is ours._pred["arn:new"]["escalate:a"]
    assert sorted(ours.edges) == sorted(theirs.edges)
