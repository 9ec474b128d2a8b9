"""The access graph highlights what changed since the last sync: after a second import that adds
a trust, the new edge is drawn with the highlight class, stays so in the permalink, and its panel
says it is new."""

from __future__ import annotations

import copy
import re

import pytest

pytestmark = pytest.mark.browser

PROD_OPS = "role:444444444444:prod-ops"
VENDOR_EDGE = f"account:999999999999|outside|allow|{PROD_OPS}"


def _edge(page, edge_id: str) -> dict:
    return page.evaluate(
        "(id) => { const e = window.iamvizGraph.getElementById(id); return e.nonempty() ? "
        "{classes: e.classes(), colour: e.style('line-color'), changed: window.iamvizGraph"
        ".edges('.change-added').map(x => x.id())} : null; }",
        edge_id,
    )


def test_new_trust_is_highlighted_on_the_access_graph_since_the_last_sync(
    transactional_db, live_server, imported_sample, sample_bundle, staff_user, page, screenshot
):
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from tests.review.conftest import change_sample

    import_bundle(copy.deepcopy(change_sample(sample_bundle)), label="night.json")
    analyse_estate()
    path = f"/graph/access/?focus={PROD_OPS}&depth=1"

    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=15000)
    before = _edge(page, VENDOR_EDGE)
    page.select_option("#graph-since", "last")
    page.wait_for_url(re.compile(r"since=last"))
    page.wait_for_function("() => window.iamvizGraph.edges('.change-added').length > 0")
    after = _edge(page, VENDOR_EDGE)
    screenshot("highlight-01-since-last-sync")
    page.evaluate("(id) => { window.iamvizGraph.getElementById(id).emit('tap'); }", VENDOR_EDGE)
    page.locator("#node-panel #edge-change").wait_for()
    badge = page.locator("#node-panel #edge-change").text_content()
    permalink = page.url

    fresh = page.context.new_page()
    fresh.goto(permalink)
    fresh.wait_for_selector("#graph-canvas[data-ready=true]", timeout=15000)
    reopened = _edge(fresh, VENDOR_EDGE)

    assert before is not None and "change-added" not in before["classes"]
    assert "change-added" in after["classes"]
    assert after["colour"] == "rgb(21,128,61)"
    assert after["changed"] == [VENDOR_EDGE]
    assert badge == "new since the last sync"
    assert reopened is not None and "change-added" in reopened["classes"]
    assert "1 new edge since the last sync" in page.locator("#graph-changes").inner_text()
    assert page.errors == []
