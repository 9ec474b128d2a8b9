"""The API's direct edges are read a page at a time, by source: any slice holds exactly the
rows of the command's list at those positions, and a page reads the edges of its own sources."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from identities.api.views import DirectEdgePages
from identities.queries import access

PROD = "444444444444"


def _rows(account: str | None = None) -> list[dict[str, Any]]:
    return [edge.as_row() for edge in access.iter_direct_edges(account)]


@pytest.mark.parametrize("account", [None, PROD])
def test_direct_edge_sources_count_the_rows_of_each_source(imported_sample, account):
    expected = Counter(row["source"] for row in _rows(account))

    counted = access.direct_edge_sources(account)

    assert counted == sorted(expected.items())


@pytest.mark.parametrize("account", [None, PROD])
def test_every_slice_of_the_pages_is_the_commands_rows(imported_sample, account):
    every = _rows(account)
    pages = DirectEdgePages(account)

    slices = [(0, 1), (0, 7), (3, 11), (5, 6), (len(every) - 4, len(every) + 3), (9, 40)]

    assert len(pages) == len(every)
    for start, stop in slices:
        assert [orjson.loads(row) for row in pages[start:stop]] == every[start:stop]
    assert orjson.loads(pages[-1]) == every[-1]


def test_a_page_reads_the_edges_of_its_own_sources(imported_sample, monkeypatch):
    every = _rows()
    read: list[list[str]] = []

    def recorded(sources: list[str], account_id: str | None = None) -> list[Any]:
        read.append(list(sources))
        return access.direct_edges_of(sources, account_id)

    monkeypatch.setattr("identities.api.views.direct_edges_of", recorded)

    page = DirectEdgePages(None)[0:3]

    assert [orjson.loads(row) for row in page] == every[:3]
    assert read == [sorted({row["source"] for row in every[:3]})]


def test_the_edges_of_every_source_are_the_whole_list(imported_sample):
    every = _rows()

    found = access.direct_edges_of({row["source"] for row in every})

    assert [edge.as_row() for edge in found] == every
