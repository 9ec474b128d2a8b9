"""The page's script derives what the island leaves out (identities/graph/serialise.py,
browser_island): in Chromium, each drawn node's panel URL, tooltip and folded members' list and
each drawn edge's id and summary are those of the view's JSON export."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.browser.test_graph_browser import _login

pytestmark = pytest.mark.browser

DEV, PROD = "333333333333", "444444444444"

DRAWN = """() => {
  const cy = window.iamvizGraph;
  const nodes = {}, edges = {};
  cy.nodes().forEach(n => { nodes[n.id()] = {panel: n.data('panel'), title: n.data('title'),
                                             members_url: n.data('members_url')}; });
  cy.edges().forEach(e => { edges[e.id()] = {summary: e.data('summary')}; });
  return {nodes, edges};
}"""


@pytest.mark.parametrize(
    "path",
    [
        "/graph/access/",
        f"/graph/access/?focus=user%3A{DEV}%3Aalice&depth=2",
        f"/graph/identity/?account={DEV}",
        f"/graph/paths/?source=user%3A{DEV}%3Aalice&target=role%3A{PROD}%3Aprod-break-glass",
    ],
)
def test_the_script_derives_what_the_island_leaves_out(
    transactional_db, live_server, imported_sample, staff_user, page, path
):
    _login(page, live_server, path)
    drawn = page.evaluate(DRAWN)
    parts = urlsplit(path)
    view = parts.path.strip("/").split("/")[-1]
    export = f"/graph/data.json?view={view}&{parts.query}"
    data = json.loads(page.evaluate("(url) => fetch(url).then(r => r.text())", export))

    compared = 0
    for node in data["nodes"]:
        if node["kind"] in {"box", "column"}:
            continue
        assert drawn["nodes"][node["id"]] == {
            "panel": node.get("panel"),
            "title": node.get("title"),
            "members_url": node.get("members_url"),
        }, node["id"]
        compared += 1
    for edge in data["edges"]:
        if edge["id"] in drawn["edges"]:
            assert drawn["edges"][edge["id"]] == {"summary": edge["summary"]}
            compared += 1
    assert compared >= 3
    assert len(drawn["edges"]) == len(data["edges"])  # no bundles in the sample organisation
    assert page.errors == []
