"""The escalation page's counts come from the database (rows × members, less self-targets);
they must equal the counts of the expanded escalations, and its pages the expanded rows."""

from __future__ import annotations

import pytest

from identities.models import EscalationGroup
from identities.queries.escalations import (
    Escalation,
    ExpandedEscalations,
    count_by_method,
    count_by_principal,
    count_methods,
    count_principals,
    escalation_graph_edges,
    escalation_pairs,
    escalation_rows,
    iter_escalations,
)


@pytest.fixture
def generated_estate(db: None) -> None:
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=20, roles=40, seed=2), label="generated")
    analyse_estate()


def _expanded(**filters: str | None) -> list[Escalation]:
    """Every escalation expanded row by row and sorted, as the page used to count them."""
    from identities.queries.escalations import _expand

    found: list[Escalation] = []
    for row in escalation_rows(**filters).values(
        "source", "source_group_id", "method", "status", "targets", "condition_keys", "granted_by"
    ):
        holders = (
            list(
                EscalationGroup.objects.get(pk=row["source_group_id"]).members.values_list(
                    "arn", flat=True
                )
            )
            if row["source_group_id"]
            else [row["source"]]
        )
        found.extend(_expand(dict(row), holders))
    return sorted(found, key=lambda e: (e.principal, e.method, e.target or ""))


@pytest.mark.parametrize("fixture", ["generated_estate", "imported_sample"])
def test_counts_by_method_and_principal_equal_the_expanded_rows(request, fixture):
    request.getfixturevalue(fixture)
    expanded = _expanded()
    assert expanded

    assert count_methods() == count_by_method(expanded)
    assert count_principals() == count_by_principal(expanded)


def test_the_estate_has_groups_of_several_members(generated_estate):
    assert EscalationGroup.objects.filter(member_count__gt=1, edges__isnull=False).exists()


def test_filtered_counts_equal_the_filtered_rows(generated_estate):
    method = count_methods()[0].method.id
    expanded = [e for e in _expanded(method=method, status="proven") if "user" in e.principal]

    assert count_methods(method=method, status="proven", query="USER") == count_by_method(expanded)
    assert count_principals(method=method, status="proven", query="user") == (
        count_by_principal(expanded)
    )


def test_pages_of_expanded_escalations_are_slices_of_every_escalation(generated_estate):
    every = list(iter_escalations())
    totals = sorted((row.principal, row.escalations) for row in count_principals())
    pages = ExpandedEscalations(totals, escalation_rows())

    assert len(pages) == len(every)
    assert sorted(every, key=lambda e: (e.principal, e.method, e.target or "")) == every
    for start in (0, 7, len(every) // 2, len(every) - 3):
        assert pages[start : start + 25] == every[start : start + 25]


def test_graph_edges_onto_some_targets_are_those_of_every_target(generated_estate):
    principals = {row.principal for row in count_principals()}
    every = escalation_graph_edges(principals)
    targets = {e.target for e in every[::3]}

    assert targets
    assert escalation_graph_edges(principals, targets) == [e for e in every if e.target in targets]


@pytest.mark.parametrize("conditional", ["", "only", "none"])
def test_pairs_sum_up_the_graph_edges_of_each_principal_and_target(generated_estate, conditional):
    principals = {row.principal for row in count_principals()}
    kept = [
        e
        for e in escalation_graph_edges(principals)
        if conditional == "" or (conditional == "only") == e.conditional
    ]
    expected: dict[tuple[str, str], tuple[bool, bool, set[str], set[str]]] = {}
    for e in kept:
        assert e.target is not None
        unconditional, proven, methods, keys = expected.get(
            (e.principal, e.target), (False, False, set(), set())
        )
        expected[(e.principal, e.target)] = (
            unconditional or not e.conditional,
            proven or e.status == "proven",
            methods | {e.method},
            keys | set(e.conditions),
        )
    found = escalation_pairs(principals, conditional=conditional)

    assert expected
    assert {
        pair: (s.unconditional, s.proven, s.methods, s.conditions) for pair, s in found.items()
    } == expected
    some = {target for _, target in list(expected)[::4]}
    assert set(escalation_pairs(principals, some, conditional)) == {
        pair for pair in expected if pair[1] in some
    }
