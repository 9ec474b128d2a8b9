"""Moving the statement that grants an edge (an unrelated statement added before it) changes
no access: the history reports edges that appear, vanish or change their conditions, not the
place of their evidence, and the incremental what-if (which compares what statements say about
sts:AssumeRole, whatever their place) answers as the whole-estate one does."""

from __future__ import annotations

import copy
from typing import Any

from identities.analysis.what_if import (
    INCREMENTAL,
    MANAGED,
    PolicyRef,
    Proposal,
    current_document,
    what_if,
)
from identities.models import AccessEdge, ManagedPolicy
from tests.what_if.test_what_if_incremental import _difference

UNRELATED = {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}


def _granting_managed_policy() -> ManagedPolicy:
    """A customer-managed policy whose statement grants a stored edge (by its place)."""
    refs = {
        ref
        for granted in AccessEdge.objects.values_list("granted_by", flat=True)
        for ref in granted
        if "(Statement[" in ref
    }
    for policy in ManagedPolicy.objects.exclude(arn__startswith="arn:aws:iam::aws:").order_by("pk"):
        if any(ref.endswith(f"of {policy.name}") or policy.arn in ref for ref in refs):
            return policy
    raise AssertionError(f"no managed policy grants an edge: {sorted(refs)[:5]}")


def test_a_statement_moved_by_an_earlier_one_changes_no_access_in_either_answer(
    imported_sample: Any,
) -> None:
    policy = _granting_managed_policy()
    ref = PolicyRef(MANAGED, policy.arn)
    document = copy.deepcopy(current_document(ref))
    raw = document.get("Statement") or []
    document["Statement"] = [UNRELATED, *(raw if isinstance(raw, list) else [raw])]
    proposal = Proposal()
    proposal.replace(ref, document)

    fast = what_if(proposal)
    full = what_if(proposal, incremental=False)

    assert fast.method == INCREMENTAL
    fast_document, full_document = fast.document(), full.document()
    for key in ("edges_added", "edges_removed", "escalations_added", "escalations_removed"):
        assert full_document[key] == [], key
    assert fast_document == full_document, _difference(fast_document, full_document)
