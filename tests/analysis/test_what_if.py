"""What-if: a proposed change evaluated in memory, answered as access_changes answers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identities.analysis import analyse_estate
from identities.analysis.what_if import (
    INLINE,
    MANAGED,
    ORG,
    TRUST,
    PolicyRef,
    Proposal,
    WhatIfError,
    current_document,
    what_if,
)
from identities.bundle import BundleError
from identities.ingest.imports import import_bundle
from identities.models import (
    GroupMembership,
    IamRole,
    InlinePolicy,
    ManagedPolicy,
    OrgPolicy,
    PolicyAttachment,
)
from identities.queries.changes import changes_between, changes_document
from identities.sample.generate import generate_bundle

PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
DEV_OPS = "arn:aws:iam::333333333333:role/dev-ops"
ALICE = "arn:aws:iam::333333333333:user/alice"
EMPTY: dict[str, list[Any]] = {
    "edges_added": [],
    "edges_removed": [],
    "edges_changed": [],
    "administrators_added": [],
    "administrators_removed": [],
    "admin_reach_added": [],
    "admin_reach_removed": [],
    "escalations_added": [],
    "escalations_removed": [],
    "findings_new": [],
    "findings_resolved": [],
}


def _run_what_if(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("what_if", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_removing_the_trust_statement_from_dev_ops_cuts_alices_path_only(
    imported_sample: Any,
) -> None:
    document = _run_what_if("--remove-statement", PROD_OPS, "FromDevOps")

    removed = document.pop("edges_removed")
    assert [(e["source"], e["target"]) for e in removed] == [(DEV_OPS, PROD_OPS)]
    assert document.pop("from") is not None
    assert document.pop("to") is None
    # dev-ops itself reached prod-break-glass through prod-ops; alice only through dev-ops.
    assert document.pop("admin_reach_removed") == [DEV_OPS, ALICE]
    assert document == {
        key: [] for key in EMPTY if key not in ("edges_removed", "admin_reach_removed")
    }


def test_anyone_in_a_trust_policy_adds_an_edge_from_every_principal_allowed(
    imported_sample: Any,
) -> None:
    ref = PolicyRef(TRUST, PROD_OPS)
    trust = current_document(ref)
    trust["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    )
    proposal = Proposal()
    proposal.replace(ref, trust)

    document = what_if(proposal).document()

    added = {e["source"] for e in document["edges_added"]}
    assert {e["target"] for e in document["edges_added"]} == {PROD_OPS}
    # Anyone outside, and every principal whose own policies allow sts:AssumeRole on it.
    assert "*" in added
    assert ALICE in added
    assert DEV_OPS not in added  # it had the edge already
    assert document["findings_new"][0]["kind"] == "public_role"


def test_what_if_leaves_the_stored_analysis_alone(imported_sample: Any) -> None:
    before = list(IamRole.objects.values_list("arn", "trust_policy"))

    _run_what_if("--remove-statement", PROD_OPS, "0")

    assert list(IamRole.objects.values_list("arn", "trust_policy")) == before


def test_proposed_document_errors_name_the_json_path(imported_sample: Any, tmp_path: Path) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text(json.dumps({"Statement": [{"Effect": "allow", "Action": "sts:AssumeRole"}]}))

    with pytest.raises(CommandError) as raised:
        _run_what_if("--trust-policy", PROD_OPS, str(bad))

    assert str(raised.value).startswith(f"{bad}: $.Statement[0].Effect: ")


def test_unknown_statement_and_membership_are_refused(imported_sample: Any) -> None:
    with pytest.raises(WhatIfError):
        Proposal().remove_statement(PolicyRef(TRUST, PROD_OPS), "NoSuchSid")
    with pytest.raises(WhatIfError):
        Proposal().remove_membership(ALICE, "arn:aws:iam::333333333333:group/nobody")
    with pytest.raises(BundleError):
        Proposal().replace(PolicyRef(TRUST, PROD_OPS), "not json")


def test_a_boundary_denying_assume_role_removes_the_principals_edges(
    imported_sample: Any, tmp_path: Path
) -> None:
    boundary = tmp_path / "boundary.json"
    boundary.write_text(
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    )

    document = _run_what_if("--boundary", DEV_OPS, str(boundary))

    assert {e["source"] for e in document["edges_removed"]} == {DEV_OPS}
    assert document["edges_added"] == []
    assert DEV_OPS in document["admin_reach_removed"]


# -- a what-if equals a full re-analysis of the modified estate -----------------------------------

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture
def generated(db: None) -> None:
    import_bundle(generate_bundle(accounts=2, users=3, roles=6, seed=11), label="generated")
    analyse_estate(now=NOW)


def _candidates() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    found += [("trust", arn) for arn in IamRole.objects.values_list("arn", flat=True)]
    attached = PolicyAttachment.objects.values_list("policy__arn", flat=True).distinct()
    found += [("managed", arn) for arn in sorted(set(attached))]
    found += [
        ("inline", f"{row[0] or row[1] or row[2]}#{row[3]}")
        for row in InlinePolicy.objects.values_list("user__arn", "group__arn", "role__arn", "name")
    ]
    found += [("org", pid) for pid in OrgPolicy.objects.values_list("policy_id", flat=True)]
    found += [
        ("membership", pair)
        for pair in GroupMembership.objects.values_list("user__arn", "group__arn")
    ]
    return sorted(found, key=repr)


def _store(ref: PolicyRef, document: dict[str, Any]) -> None:
    """Write the proposed document as an import would have stored it."""
    if ref.kind == TRUST:
        IamRole.objects.filter(arn=ref.arn).update(trust_policy=document)
    elif ref.kind == MANAGED:
        ManagedPolicy.objects.filter(arn=ref.arn).update(document=document)
    elif ref.kind == INLINE:
        kind = next(k for k in ("role", "group", "user") if f":{k}/" in ref.arn)
        InlinePolicy.objects.filter(**{f"{kind}__arn": ref.arn}, name=ref.name).update(
            document=document
        )
    elif ref.kind == ORG:
        OrgPolicy.objects.filter(policy_id=ref.arn).update(document=document)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_what_if_equals_a_full_reanalysis(generated: None, data: st.DataObject) -> None:
    kind, target = data.draw(st.sampled_from(_candidates()))
    proposal = Proposal()
    if kind == "membership":
        proposal.remove_membership(*target)
    else:
        ref = PolicyRef.parse(target)
        document = current_document(ref)
        statements = document["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        if kind == "trust" and data.draw(st.booleans()):
            grown = copy.deepcopy(document)
            grown["Statement"] = [
                *statements,
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            ]
            proposal.replace(ref, grown)
        elif statements:
            index = data.draw(st.integers(0, len(statements) - 1))
            proposal.remove_statement(ref, str(index))
        else:
            return

    with transaction.atomic():
        answer = what_if(proposal, now=NOW).document()
        before = answer.pop("from")
        for ref, document in proposal.documents.items():
            _store(ref, document)
        for user, group in proposal.removed_memberships:
            GroupMembership.objects.filter(user__arn=user, group__arn=group).delete()
        after = analyse_estate(now=NOW)["run"]
        stored = changes_document(changes_between(before, after))
        transaction.set_rollback(True)

    stored.pop("from")
    stored.pop("to")
    answer.pop("to")
    assert answer == stored
