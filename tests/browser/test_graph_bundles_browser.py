"""A busy access view of ten generated accounts draws the parallel edges between two nodes as
one bundle, its count shown once zoomed in; a click on a bundle draws its members in its
place, each with its own panel.
Screenshots go to test-artifacts/screenshots/graph/."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from identities.graph.access import build_access_graph
from tests.browser.conftest import SCREENSHOTS, screenshot_taker
from tests.browser.test_graph_browser import _wait_drawn
from tests.browser.test_graph_readable_browser import _views
from tests.browser.test_scale_browser import _login, ten_accounts  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

DRAWN = """() => {
  const cy = window.iamvizGraph;
  return {bundles: cy.edges('.bundle').map(e => [e.id(), e.data('members')]),
          edges: cy.edges().map(e => e.id()).sort(), zoom: cy.zoom(),
          labels: cy.edges('.bundle').map(e => e.style('label'))};
}"""


def _busy_view() -> tuple[str, dict]:
    """The first access view of the graph pages that bundles edges, and its graph."""
    for path in _views().values():
        if not path.startswith("/graph/access/"):
            continue
        query = dict(parse_qsl(urlsplit(path).query))
        graph = build_access_graph(
            account_id=query.get("account", ""),
            focus=query.get("focus", ""),
            direction=query.get("dir", ""),
        )
        if graph["bundles"]:
            return path, graph
    raise AssertionError("no access view of ten accounts bundles its edges")


def test_a_bundle_opens_into_its_members_on_a_click(
    ten_accounts,  # noqa: F811  (the fixture imported above)
    live_server,
    staff_user,
    page,
):
    shot = screenshot_taker(page, SCREENSHOTS / "graph", full_page=False)
    path, graph = _busy_view()
    bundled = {m for bundle in graph["bundles"] for m in bundle["members"]}
    _login(page, live_server, path)
    _wait_drawn(page)
    shot("bundles-closed")

    drawn = page.evaluate(DRAWN)
    # Each call returns nothing: Playwright would serialise the Cytoscape object a setter returns,
    # the whole graph, for seconds and gigabytes (the renderer crashed under it).
    page.evaluate("() => { window.iamvizGraph.zoom(1); }")
    zoomed = page.evaluate(DRAWN)
    shot("bundles-zoomed-in")
    bundle_id, members = drawn["bundles"][0]
    page.evaluate("(id) => { window.iamvizGraph.getElementById(id).emit('tap'); }", bundle_id)
    opened = page.evaluate(DRAWN)
    shot("bundles-one-open")
    panel = page.evaluate("(id) => window.iamvizGraph.getElementById(id).data('panel')", members[0])

    assert sorted(b[0] for b in drawn["bundles"]) == sorted(b["id"] for b in graph["bundles"])
    # Every edge of the view is drawn, alone or in its bundle.
    assert sorted(drawn["edges"]) == sorted(
        [e["id"] for e in graph["edges"] if e["id"] not in bundled]
        + [b["id"] for b in graph["bundles"]]
    )
    # Counts are drawn once zoomed in, not at the opening zoom.
    assert drawn["zoom"] < 0.85 and set(drawn["labels"]) == {""}
    assert zoomed["labels"] == [f"× {len(m)}" for _, m in zoomed["bundles"]]
    assert len(members) >= 2
    assert sorted(opened["edges"]) == sorted(
        [e for e in drawn["edges"] if e != bundle_id] + members
    )
    # A member drawn is an edge like any other: a tap on it loads its own panel.
    assert panel.startswith("/graph/edge/?source=")
    assert page.errors == []
