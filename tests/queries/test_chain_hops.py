"""Chains that mix role assumptions and escalations (issue 10, item 3): every hop has its stored
edge, an escalation hop its method, through `identities.queries.access` and
`identities.queries.escalations`."""

from __future__ import annotations

from identities.queries.access import chains_with_steps, hop_details, path_links, reach_from
from identities.queries.escalations import escalations_between, escalations_from, escalations_of

SEC, DEV = "222222222222", "333333333333"
ROTATOR = f"arn:aws:iam::{SEC}:user/service/svc-key-rotator"
AUDITOR = f"arn:aws:iam::{SEC}:user/auditor"
AUDIT = f"arn:aws:iam::{DEV}:role/audit"
FRANK = f"arn:aws:iam::{DEV}:user/frank"
LAMBDA_EXEC = f"arn:aws:iam::{DEV}:role/lambda-exec"


def test_hop_details_explain_an_escalation_hop(imported_sample):
    escalation, assume = hop_details([ROTATOR, AUDITOR, AUDIT])

    assert escalation.escalation is not None
    assert (escalation.escalation.method, escalation.action, escalation.outcome) == (
        "IAM-CreateAccessKey",
        "iam:CreateAccessKey",
        "allow",
    )
    assert escalation.granted_by == (
        "statement (Statement[0]) of customer-managed policy iam-key-rotation "
        f"(arn:aws:iam::{SEC}:policy/iam-key-rotation)",
    )
    assert (assume.escalation, assume.action) == (None, "sts:AssumeRole")


def test_chain_steps_keep_the_escalation_hop(imported_sample):
    reached = [r for r in reach_from(ROTATOR) if r.node == AUDIT]

    [chain] = chains_with_steps(reached)

    assert [step.escalation.method if step.escalation else "" for step in chain.steps] == [
        "IAM-CreateAccessKey",
        "",
    ]
    assert [(node, step.target if step else None) for node, step in chain.links] == [
        (ROTATOR, None),
        (AUDITOR, AUDITOR),
        (AUDIT, AUDIT),
    ]


def test_path_links_read_every_hop_at_once(imported_sample):
    [links] = path_links([[FRANK, LAMBDA_EXEC]])

    assert links[1][1] is not None and links[1][1].escalation is not None
    assert links[1][1].escalation.method == "Lambda-PassExistingRoleToNewLambdaThenInvoke"


def test_escalations_from_many_agrees_with_one_at_a_time(imported_sample):
    together = escalations_from([FRANK, ROTATOR, AUDITOR])

    assert together == {p: escalations_of(p) for p in (FRANK, ROTATOR) if escalations_of(p)}
    assert escalations_between([(FRANK, LAMBDA_EXEC)])[(FRANK, LAMBDA_EXEC)].status == "proven"
