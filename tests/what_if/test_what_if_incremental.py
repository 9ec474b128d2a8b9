"""The incremental what-if (a trust policy change answered from the stored analysis) equals
the whole-estate one."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identities.analysis import analyse_estate
from identities.analysis.what_if import (
    FULL,
    INCREMENTAL,
    TRUST,
    PolicyRef,
    Proposal,
    current_document,
    what_if,
)
from identities.ingest.imports import import_bundle
from identities.models import Account, GroupMembership, IamRole, IamUser
from identities.sample.generate import generate_bundle

NOW = datetime(2027, 1, 15, tzinfo=UTC)
PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"


@pytest.fixture
def generated(db: None) -> None:
    import_bundle(generate_bundle(accounts=3, users=4, roles=8, seed=5), label="generated")
    analyse_estate(now=NOW)


def _principals() -> list[dict[str, Any]]:
    """Principal elements a proposed trust statement may name."""
    arns = [
        *IamUser.objects.values_list("arn", flat=True),
        *IamRole.objects.values_list("arn", flat=True),
    ]
    roots = [f"arn:aws:iam::{a}:root" for a in Account.objects.values_list("account_id", flat=True)]
    return [
        {"AWS": "*"},
        {"AWS": "arn:aws:iam::999999999999:root"},
        *({"AWS": arn} for arn in sorted(arns)),
        *({"AWS": root} for root in sorted(roots)),
        {"Federated": "arn:aws:iam::999999999999:saml-provider/idp"},
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_trust_change_answered_incrementally_equals_the_whole_estate_answer(
    generated: None, data: st.DataObject
) -> None:
    arns = sorted(
        IamRole.objects.exclude(path__startswith="/aws-service-role/").values_list("arn", flat=True)
    )
    roles = data.draw(st.lists(st.sampled_from(arns), min_size=1, max_size=2, unique=True))
    proposal = Proposal()
    for arn in roles:
        ref = PolicyRef(TRUST, arn)
        document = copy.deepcopy(current_document(ref))
        raw = document.get("Statement") or []
        statements = raw if isinstance(raw, list) else [raw]
        how = data.draw(st.sampled_from(["add", "remove", "replace"]))
        new = {
            "Effect": "Allow",
            "Principal": data.draw(st.sampled_from(_principals())),
            "Action": "sts:AssumeRole",
        }
        if how == "remove" and statements:
            del statements[data.draw(st.integers(0, len(statements) - 1))]
        elif how == "replace":
            statements = [new]
        else:
            statements = [*statements, new]
        document["Statement"] = statements
        proposal.replace(ref, document)

    fast = what_if(proposal, now=NOW)
    full = what_if(proposal, now=NOW, incremental=False)

    # Only a change of the services a role trusts is left to the whole-estate analysis.
    assert fast.method == INCREMENTAL or "services" in fast.why_full
    assert full.method == FULL
    fast_document, full_document = fast.document(), full.document()
    assert fast_document == full_document, _difference(fast_document, full_document)


def _difference(fast: dict[str, Any], full: dict[str, Any]) -> str:
    """The items only one answer has, by key (a failure's explanation)."""
    lines = []
    for key in fast:
        if fast[key] == full[key] or not isinstance(fast[key], list):
            continue
        ours = {json.dumps(item, sort_keys=True) for item in fast[key]}
        theirs = {json.dumps(item, sort_keys=True) for item in full[key]}
        lines.append(f"{key}: only incremental {ours - theirs}, only full {theirs - ours}")
    return "\n".join(lines)


def test_a_new_service_in_a_trust_policy_is_answered_by_the_whole_estate(
    imported_sample: Any,
) -> None:
    ref = PolicyRef(TRUST, PROD_OPS)
    document = current_document(ref)
    document["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    proposal = Proposal()
    proposal.replace(ref, document)

    answer = what_if(proposal)

    assert answer.method == FULL
    assert "services" in answer.why_full
    added = answer.document()["edges_added"]
    assert [(e["source"], e["target"]) for e in added] == [
        ("service:lambda.amazonaws.com", PROD_OPS)
    ]


def test_a_trust_change_is_answered_incrementally_from_the_stored_analysis(
    imported_sample: Any,
) -> None:
    proposal = Proposal()
    proposal.remove_statement(PolicyRef(TRUST, PROD_OPS), "FromDevOps")

    answer = what_if(proposal)

    assert answer.method == INCREMENTAL
    assert answer.document()["admin_reach_removed"] == [
        "arn:aws:iam::333333333333:role/dev-ops",
        "arn:aws:iam::333333333333:user/alice",
    ]


def test_a_membership_change_is_answered_incrementally_as_the_whole_estate_answers_it(
    imported_sample: Any,
) -> None:
    alice = "arn:aws:iam::333333333333:user/alice"
    group = GroupMembership.objects.filter(user__arn=alice).values_list("group__arn", flat=True)
    proposal = Proposal()
    proposal.remove_membership(alice, group[0])

    answer = what_if(proposal)

    assert answer.method == INCREMENTAL
    assert answer.document() == what_if(proposal, incremental=False).document()


def test_a_proposal_mixing_trust_and_identity_changes_analyses_the_whole_estate(
    imported_sample: Any,
) -> None:
    alice = "arn:aws:iam::333333333333:user/alice"
    group = GroupMembership.objects.filter(user__arn=alice).values_list("group__arn", flat=True)
    proposal = Proposal()
    proposal.remove_statement(PolicyRef(TRUST, PROD_OPS), "FromDevOps")
    proposal.remove_membership(alice, group[0])

    answer = what_if(proposal)

    assert answer.method == FULL
    assert "trust policies and other policies" in answer.why_full
