"""URLs of the graph pages (no database)."""

from __future__ import annotations

from identities.graph.urls import url_with


def test_url_with_replaces_and_drops_parameters():
    url = url_with(
        "/graph/access/?focus=a&expand=b&expand=c&cond=only", {"focus": "z"}, drop=("expand",)
    )

    assert url == "/graph/access/?cond=only&focus=z"
