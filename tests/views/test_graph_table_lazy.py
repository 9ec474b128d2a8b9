"""A graph page's table of more than 120 rows opens closed and is fetched when opened: the same
view with ``table=1`` answers its rows alone."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from identities.graph.access import build_access_graph
from identities.graph.export import TABLE_LIMIT, table_rows
from tests.views.conftest import assert_fragment, page_body


def _render(rows: list, query: str) -> str:
    request = RequestFactory().get(f"/graph/access/?{query}")
    context = {"rows": rows, "table_limit": TABLE_LIMIT}
    return render_to_string("partials/graph_table.html", context, request=request)


def test_a_busy_table_is_fetched_when_opened(imported_sample):
    rows = table_rows(build_access_graph())
    busy = rows + rows  # 214 rows

    closed = _render(busy, "cond=only&focus=role%3A1%3Ax")
    fetched = _render(busy, "cond=only&focus=role%3A1%3Ax&table=1")

    assert "graph-rows" not in closed and "<tr" not in closed
    assert (
        'hx-get="/graph/access/?cond=only&amp;focus=role%3A1%3Ax&amp;table=1" '
        'hx-trigger="toggle once"'
    ) in closed
    assert "214 rows" in closed and '<details class="graph-table">' not in closed
    assert fetched.count("<tr") == 214 + 1  # and the header row
    assert '<details class="graph-table" open>' in fetched


def test_a_short_table_is_drawn_open_at_once(imported_sample):
    rows = table_rows(build_access_graph())

    html = _render(rows, "")

    assert '<details class="graph-table" open>' in html
    assert html.count("<tr") == len(rows) + 1
    assert "toggle once" not in html


def test_the_view_answers_its_table_alone_for_htmx(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-access"), {"table": "1"}, headers={"HX-Request": "true"}
    )

    body = assert_fragment(response)
    assert body.lstrip().startswith('<details class="graph-table" open>')
    assert body.count("<tr") == 107 + 1  # and the header row
    assert 'id="graph-data"' not in body and 'id="graph-view"' not in body


def test_a_page_load_with_table_still_draws_the_whole_page(logged_in_client, imported_sample):
    body = page_body(logged_in_client.get(reverse("identities:graph-access"), {"table": "1"}))

    assert 'id="graph-data"' in body and '<details class="graph-table" open>' in body
