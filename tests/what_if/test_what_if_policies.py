"""A what-if of an identity policy, boundary, SCP/RCP, membership or attachment answered from the stored
analysis (only the principals the change touches evaluated again) equals the whole-estate
answer."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import Count
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from identities.analysis import analyse_estate
from identities.analysis.what_if import (
    BOUNDARY,
    FULL,
    INCREMENTAL,
    INLINE,
    MANAGED,
    ORG,
    PolicyRef,
    Proposal,
    current_document,
    what_if,
)
from identities.ingest.imports import import_bundle
from identities.models import (
    GroupMembership,
    IamRole,
    IamUser,
    InlinePolicy,
    ManagedPolicy,
    OrgPolicy,
    PolicyAttachment,
)
from identities.sample.generate import generate_bundle
from tests.what_if.test_what_if_incremental import _difference

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture
def generated(db: None) -> None:
    import_bundle(generate_bundle(accounts=3, users=4, roles=8, seed=7), label="generated")
    analyse_estate(now=NOW)


def _statements() -> list[dict[str, Any]]:
    """Statements a proposed document may hold: about assuming roles, full access,
    escalation permissions and nothing that matters."""
    role = IamRole.objects.exclude(path__startswith="/aws-service-role/").order_by("pk").first()
    assert role is not None
    return [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "*"},
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role.arn},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
    ]


def _refs(kind: str) -> list[PolicyRef]:
    if kind == MANAGED:
        return [
            PolicyRef(MANAGED, arn)
            for arn in sorted(set(ManagedPolicy.objects.values_list("arn", flat=True)))
        ]
    if kind == INLINE:
        refs = []
        for policy in InlinePolicy.objects.select_related("user", "group", "role").order_by("pk"):
            owner = policy.user or policy.group or policy.role
            assert owner is not None
            refs.append(PolicyRef(INLINE, owner.arn, policy.name))
        return refs
    return [
        PolicyRef(ORG, policy_id)
        for policy_id in OrgPolicy.objects.order_by("pk").values_list("policy_id", flat=True)
    ]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_policy_or_membership_change_answered_incrementally_equals_the_whole_estate_answer(
    generated: None, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from([MANAGED, INLINE, ORG, BOUNDARY, "membership", "detach"]))
    proposal = Proposal()
    if kind == "detach":
        attachments = sorted(
            (attachment.policy.arn, owner.arn)
            for attachment in PolicyAttachment.objects.select_related(
                "policy", "user", "group", "role"
            )
            if (owner := attachment.user or attachment.group or attachment.role) is not None
        )
        proposal.detach(*data.draw(st.sampled_from(attachments)))
    elif kind == "membership":
        pairs = sorted(GroupMembership.objects.values_list("user__arn", "group__arn"))
        proposal.remove_membership(*data.draw(st.sampled_from(pairs)))
    elif kind == BOUNDARY:
        arns = sorted(
            [
                *IamUser.objects.values_list("arn", flat=True),
                *IamRole.objects.exclude(path__startswith="/aws-service-role/").values_list(
                    "arn", flat=True
                ),
            ]
        )
        statements = data.draw(st.lists(st.sampled_from(_statements()), max_size=3))
        proposal.set_boundary(
            data.draw(st.sampled_from(arns)),
            {"Version": "2012-10-17", "Statement": statements},
        )
    else:
        refs = _refs(kind)
        if not refs:
            return
        ref = data.draw(st.sampled_from(refs))
        document = copy.deepcopy(current_document(ref))
        raw = document.get("Statement") or []
        statements = raw if isinstance(raw, list) else [raw]
        how = data.draw(st.sampled_from(["remove", "add", "replace"]))
        if how == "remove" and statements:
            proposal.remove_statement(ref, str(data.draw(st.integers(0, len(statements) - 1))))
        else:
            new = data.draw(st.lists(st.sampled_from(_statements()), min_size=1, max_size=2))
            document["Statement"] = [*statements, *new] if how == "add" else new
            proposal.replace(ref, document)

    fast = what_if(proposal, now=NOW)
    full = what_if(proposal, now=NOW, incremental=False)

    assert fast.method == INCREMENTAL, fast.why_full
    assert full.method == FULL
    event(f"{kind}: {fast.method}, {'some' if full.changes else 'no'} difference")
    fast_document, full_document = fast.document(), full.document()
    assert fast_document == full_document, _difference(fast_document, full_document)


def test_a_change_touching_more_principals_than_the_limit_is_refused_by_name(
    generated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from identities.analysis import incremental
    from identities.analysis.what_if import WhatIfError

    attachment = (
        PolicyAttachment.objects.filter(policy__arn__startswith="arn:aws:iam::aws:")
        .values("policy__arn")
        .annotate(n=Count("pk"))
        .order_by("-n", "policy__arn")
        .first()
    )
    assert attachment is not None and attachment["n"] >= 2
    ref = PolicyRef(MANAGED, attachment["policy__arn"])

    def proposal() -> Proposal:
        made = Proposal()
        made.replace(ref, {"Version": "2012-10-17", "Statement": []})
        return made

    answered = what_if(proposal(), now=NOW)
    monkeypatch.setattr(incremental, "WIDEST_CHANGE", 1)
    with pytest.raises(WhatIfError, match=r"touches the policies of \d+ principals, more than"):
        what_if(proposal(), now=NOW)

    assert answered.method == INCREMENTAL
