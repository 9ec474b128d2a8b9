"""At 390 px the access tabs wrap and wide tables scroll inside themselves, so no page is
wider than the phone (the access pages measured 755 px, the audit log 528 px, a run 434 px);
at 1280 px the graph tabs stay on screen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def _measure(browser: Any, live_server: Any, path: str, width: int) -> dict[str, Any]:
    """Log in at `width` px, open `path`, save a screenshot and measure the page."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}{path}")
        page.fill("#id_username", "reviewer")
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}{path}")
        shots = SCREENSHOTS / "narrow"
        shots.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=False)
        return {
            "width": page.evaluate("() => document.documentElement.scrollWidth"),
            "tables": page.locator("main table").count(),
            "last_graph_tab": page.locator(".graph-tabs li:last-child a").first.bounding_box()
            if page.locator(".graph-tabs").count()
            else None,
        }
    finally:
        context.close()


@pytest.mark.parametrize(
    "path", ["/access/administrators/", "/access/findings/", "/audit/", "/runs/{run}/"]
)
def test_access_tabs_and_tables_fit_a_390px_screen(
    transactional_db, live_server, imported_sample, staff_user, browser: Any, path: str
):
    measured = _measure(browser, live_server, path.format(run=imported_sample.pk), 390)

    assert measured["width"] <= 390
    assert measured["tables"] > 0


def test_graph_tabs_stay_inside_a_1280px_screen(
    transactional_db, live_server, imported_sample, staff_user, browser: Any
):
    # Pico's negative margins on nav links pushed the last graph tab 2 px past the edge.
    measured = _measure(browser, live_server, "/graph/", 1280)

    tab = measured["last_graph_tab"]
    assert measured["width"] <= 1280
    assert tab is not None and tab["x"] + tab["width"] <= 1280
