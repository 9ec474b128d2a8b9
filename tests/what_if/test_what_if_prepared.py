"""The estate a what-if starts from is loaded once per analysis and never changed by a proposal:
answers in a row equal each answered alone, and a sync, import or new analysis is seen."""

from __future__ import annotations

from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.analysis import what_if as what_if_module
from identities.analysis.estate import Estate
from identities.analysis.what_if import (
    BOUNDARY,
    FULL,
    INCREMENTAL,
    TRUST,
    PolicyRef,
    Proposal,
    clear_prepared,
    what_if,
)
from identities.ingest.imports import import_bundle
from identities.models import GroupMembership

ALICE = "arn:aws:iam::333333333333:user/alice"
PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
S3_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.fixture(autouse=True)
def _no_prepared_estate() -> Any:
    clear_prepared()
    yield
    clear_prepared()


def _proposals() -> list[Proposal]:
    trust = Proposal()
    trust.remove_statement(PolicyRef(TRUST, PROD_OPS), "FromDevOps")
    membership = Proposal()
    group = GroupMembership.objects.filter(user__arn=ALICE).values_list("group__arn", flat=True)
    membership.remove_membership(ALICE, group[0])
    boundary = Proposal()
    boundary.set_boundary(ALICE, S3_ONLY)
    return [trust, membership, boundary]


def _fingerprint(estate: Estate) -> tuple[object, ...]:
    """Every part of an estate a proposal could replace, by identity and value."""

    def docs(found: Any) -> tuple[object, ...]:
        return tuple((id(doc), id(doc.policy)) for doc in found)

    return (
        tuple(
            (
                id(actor),
                actor.arn,
                docs(actor.docs),
                id(actor.boundary),
                actor.boundary_arn,
                id(actor.trust),
                tuple(actor.group_pks),
                id(actor.account),
            )
            for actor in estate.actors
        ),
        tuple((id(group), docs(group.docs), id(group.account)) for group in estate.groups),
        tuple(
            (aid, tuple(map(docs, info.scp_levels)), tuple(map(docs, info.rcp_levels)))
            for aid, info in estate.accounts.items()
        ),
        tuple(sorted((arn, id(actor)) for arn, actor in estate.by_arn.items())),
    )


def _prepared_estate() -> Estate:
    prepared = what_if_module._prepared_cache
    assert prepared is not None
    return prepared.estate


def test_proposals_in_a_row_answer_as_each_alone_and_leave_the_estate_unchanged(
    imported_sample: Any,
) -> None:
    proposals = _proposals()
    alone = []
    for proposal in proposals:
        clear_prepared()
        alone.append(what_if(proposal).document())
    assert all(answer["edges_removed"] or answer["admin_reach_removed"] for answer in alone[:2])

    clear_prepared()
    first = what_if(proposals[0])
    estate = _prepared_estate()
    before = _fingerprint(estate)
    in_a_row = [first.document()] + [what_if(p).document() for p in (*proposals[1:], proposals[0])]

    assert in_a_row == [*alone, alone[0]]
    assert first.method == INCREMENTAL
    assert _prepared_estate() is estate  # loaded once, kept
    assert _fingerprint(estate) == before
    assert estate.by_arn[ALICE].boundary is None  # the boundary proposal stayed its own
    assert PROD_OPS in {role.arn for role in estate.roles}


def test_the_whole_estate_answer_leaves_the_prepared_estate_unchanged(
    imported_sample: Any,
) -> None:
    proposal = _proposals()[2]
    fast = what_if(proposal)
    before = _fingerprint(_prepared_estate())

    full = what_if(proposal, incremental=False)

    assert full.method == FULL and fast.method == INCREMENTAL
    assert full.document() == fast.document()
    assert _fingerprint(_prepared_estate()) == before


def test_a_new_analysis_is_prepared_again(imported_sample: Any) -> None:
    what_if(_proposals()[0])
    estate = _prepared_estate()

    analyse_estate()
    answer = what_if(_proposals()[0])

    assert answer.method == INCREMENTAL
    assert _prepared_estate() is not estate


def test_after_a_sync_the_prepared_estate_is_not_used(
    imported_sample: Any, sample_bundle: dict[str, Any]
) -> None:
    proposal = Proposal()
    proposal.set_boundary(ALICE, S3_ONLY)
    what_if(proposal)
    estate = _prepared_estate()

    import_bundle(sample_bundle, label="sample-org.json")
    answer = what_if(proposal)

    assert answer.method == FULL
    assert "changed since" in answer.why_full
    assert _prepared_estate() is estate  # untouched: the answer loaded the estate afresh
    assert PolicyRef(BOUNDARY, ALICE) in proposal.documents
