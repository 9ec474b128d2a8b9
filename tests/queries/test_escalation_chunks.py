"""Every escalation is read in growing chunks of principals: the first chunk small (a
download's first rows come at once), the rows the same as read in one chunk."""

from __future__ import annotations

import pytest

from identities.queries import escalations
from identities.queries.escalations import _growing_chunks, iter_escalations


@pytest.fixture
def generated_estate(db: None) -> None:
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=20, roles=40, seed=2), label="generated")
    analyse_estate()


def test_chunks_start_small_and_double_without_splitting_a_principal(monkeypatch):
    monkeypatch.setattr(escalations, "_FIRST_EXPANDED", 10)
    totals = [("a", 4), ("b", 4), ("c", 4), ("d", 30), ("e", 1), ("f", 1), ("g", 1)]

    chunks = list(_growing_chunks(totals))

    # At most 10 escalations, then 20 (d would pass them: the next chunk), then 40.
    assert chunks == [["a", "b"], ["c"], ["d", "e", "f", "g"]]


def test_a_principal_past_the_budget_is_a_chunk_of_its_own(monkeypatch):
    monkeypatch.setattr(escalations, "_FIRST_EXPANDED", 10)

    assert list(_growing_chunks([("a", 50), ("b", 1)])) == [["a"], ["b"]]


def test_chunks_hold_at_most_the_chunk_of_principals(monkeypatch):
    monkeypatch.setattr(escalations, "_CHUNK", 2)
    totals = [(f"p{number}", 0) for number in range(5)]

    assert list(_growing_chunks(totals)) == [["p0", "p1"], ["p2", "p3"], ["p4"]]


@pytest.mark.parametrize("filters", [{}, {"status": "proven"}])
def test_escalations_read_in_small_chunks_equal_one_read(
    generated_estate, monkeypatch, filters: dict[str, str]
):
    monkeypatch.setattr(escalations, "_FIRST_EXPANDED", 10**9)
    at_once = list(iter_escalations(**filters))
    monkeypatch.setattr(escalations, "_FIRST_EXPANDED", 1)
    chunks = list(_growing_chunks((p, 1) for p in "abcdefgh"))

    in_chunks = list(iter_escalations(**filters))

    assert at_once
    assert in_chunks == at_once
    assert [len(chunk) for chunk in chunks] == [1, 2, 4, 1]
