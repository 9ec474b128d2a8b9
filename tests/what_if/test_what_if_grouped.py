"""Principals holding the same policies before and after a change are asked what to evaluate
again once (`incremental_powers._decide`, per pair of policy sets), then each is evaluated on
its own: two principals sharing a policy set whose outcomes differ by their own ARN or name
(a condition on aws:username, a trust policy naming one of them) keep their own answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from identities.analysis import analyse_estate, incremental_powers
from identities.analysis.what_if import INCREMENTAL, ORG, PolicyRef, Proposal, what_if
from identities.ingest.imports import import_bundle
from identities.models import (
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    OrgPolicy,
    PolicyAttachment,
)
from identities.sample.generate import generate_bundle
from tests.what_if.test_what_if_incremental import _difference

NOW = datetime(2027, 1, 15, tzinfo=UTC)


def _pair_sharing_one_group(
    statement: Callable[[IamUser], dict[str, Any]],
) -> tuple[IamUser, IamUser, OrgPolicy]:
    """Two users of an organisation member account holding nothing but one IAM group's inline
    policy (one statement, made for the first user), and the SCP denying access keys attached
    to their account."""
    import_bundle(generate_bundle(accounts=4, users=5, roles=8, seed=3), label="generated")
    users = IamUser.objects.filter(
        account__in_organization=True, account__is_management=False
    ).order_by("pk")
    first = users.first()
    assert first is not None
    second = users.filter(account=first.account).exclude(pk=first.pk).first()
    assert second is not None
    pair = [first, second]
    PolicyAttachment.objects.filter(user__in=pair).delete()
    InlinePolicy.objects.filter(user__in=pair).delete()
    GroupMembership.objects.filter(user__in=pair).delete()
    IamUser.objects.filter(pk__in=[u.pk for u in pair]).update(boundary_arn="")
    account = first.account
    group = IamGroup.objects.create(
        account=account,
        unique_id="AGPAGROUPEDTEST",
        name="grouped",
        arn=f"arn:aws:iam::{account.account_id}:group/grouped",
    )
    for user in pair:
        GroupMembership.objects.create(user=user, group=group)
    InlinePolicy.objects.create(
        account=account,
        group=group,
        name="shared",
        document={"Version": "2012-10-17", "Statement": [statement(first)]},
    )
    policy = OrgPolicy.objects.get(name="DenyIAMUserCreation")
    policy.targets = [*(policy.targets or []), account.account_id]
    policy.save()
    return first, second, policy


def _answers(proposal: Proposal) -> dict[str, Any]:
    fast = what_if(proposal, now=NOW)
    full = what_if(proposal, now=NOW, incremental=False)
    assert fast.method == INCREMENTAL, fast.why_full
    fast_document, full_document = fast.document(), full.document()
    assert fast_document == full_document, _difference(fast_document, full_document)
    return fast_document


def test_principals_sharing_policies_are_decided_once_and_evaluated_each_on_its_own(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, scp = _pair_sharing_one_group(
        lambda alice: {
            "Effect": "Allow",
            "Action": "iam:CreateAccessKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:username": alice.name}},
        }
    )
    analyse_estate(now=NOW)
    decided: list[tuple[str, str]] = []
    original = incremental_powers._decide

    def counted(said: Any, change: Any, actor: Any) -> Any:
        decided.append((change.actor.arn, actor.arn))
        return original(said, change, actor)

    monkeypatch.setattr(incremental_powers, "_decide", counted)
    proposal = Proposal()
    proposal.remove_statement(PolicyRef(ORG, scp.policy_id), "0")  # the Deny of access keys

    answer = _answers(proposal)

    # Alice's and Bob's policies, before and after, are the same objects: one decision.
    assert not {alice.arn, bob.arn} <= {arn for arn, _ in decided}
    gained = {(row["principal"], row["method"]) for row in answer["escalations_added"]}
    assert (alice.arn, "IAM-CreateAccessKey") in gained
    assert not any(principal == bob.arn for principal, _ in gained)


def test_a_trust_policy_naming_one_of_two_principals_sharing_policies_keeps_its_edges_apart(
    db: None,
) -> None:
    alice, bob, scp = _pair_sharing_one_group(
        lambda _: {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
    )
    account = alice.account
    trusted = IamRole.objects.create(
        account=account,
        unique_id="AROAGROUPEDTEST",
        name="alice-only",
        arn=f"arn:aws:iam::{account.account_id}:role/alice-only",
        trust_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnEquals": {"aws:PrincipalArn": alice.arn}},
                }
            ],
        },
    )
    # The SCP denies sts:AssumeRole to all of the account until its statement is removed.
    scp.document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"},
            *_statements(scp.document),
        ],
    }
    scp.save()
    analyse_estate(now=NOW)
    proposal = Proposal()
    proposal.remove_statement(PolicyRef(ORG, scp.policy_id), "0")

    answer = _answers(proposal)

    added = {(edge["source"], edge["target"]) for edge in answer["edges_added"]}
    assert (alice.arn, trusted.arn) in added
    assert (bob.arn, trusted.arn) not in added


def _statements(document: Any) -> list[Any]:
    raw = (document or {}).get("Statement") or []
    return list(raw) if isinstance(raw, list) else [raw]
