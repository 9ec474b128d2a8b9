"""At 390 px the access tabs wrap and wide tables scroll inside themselves, so no page is
wider than the phone (the access pages measured 755 px, the audit log 528 px, a run 434 px)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "path", ["/access/administrators/", "/access/findings/", "/audit/", "/runs/{run}/"]
)
def test_access_tabs_and_tables_fit_a_390px_screen(
    transactional_db, live_server, imported_sample, staff_user, browser: Any, path: str
):
    path = path.format(run=imported_sample.pk)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}{path}")
        page.fill("#id_username", "reviewer")
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}{path}")
        SHOTS = SCREENSHOTS / "narrow"
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
        has_table = page.locator("main table").count() > 0
    finally:
        context.close()

    assert page_width <= 390
    assert has_table
