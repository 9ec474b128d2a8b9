"""A reviewer follows frank's escalation in Chromium (issue 10, item 3): the access view draws it
as an edge of its own colour, and the path finder explains the hop with its method, the
statements and the fix. Screenshots go to test-artifacts/screenshots/graph/."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

DEV = "333333333333"
FRANK, LAMBDA_EXEC = f"user:{DEV}:frank", f"role:{DEV}:lambda-exec"
METHOD = "Lambda-PassExistingRoleToNewLambdaThenInvoke"


def _login(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=15000)


def test_path_finder_shows_the_escalation_hop(
    transactional_db, live_server, imported_sample, staff_user, page
):
    (SCREENSHOTS / "graph").mkdir(parents=True, exist_ok=True)
    _login(page, live_server, f"/graph/access/?focus=user%3A{DEV}%3Afrank&depth=1")
    colour = page.evaluate(
        "(id) => window.iamvizGraph.getElementById(id).style('line-color')",
        f"{FRANK}|escalate|allow|{LAMBDA_EXEC}",
    )
    legend = page.locator(".graph-legend").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "graph" / "10-access-escalations.png"))

    page.goto(f"{live_server.url}/graph/paths/?source={FRANK}&target={LAMBDA_EXEC}")
    page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=15000)
    page.locator("#path-list .path-card").wait_for()
    highlighted = page.evaluate("() => window.iamvizGraph.edges('.hl.escalate').map(e => e.id())")
    hop = page.locator("#path-list li.hop").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "graph" / "11-paths-escalation.png"))
    page.locator("#path-list li.hop a", has_text="Show the statements").click()
    panel = page.locator("#node-panel .edge-panel")
    panel.wait_for()
    page.wait_for_url(re.compile(r"/graph/paths/"))

    assert colour == "rgb(190,18,60)"
    assert "can escalate to" in legend
    assert highlighted == [f"{FRANK}|escalate|allow|{LAMBDA_EXEC}"]
    assert hop.splitlines()[0] == "1 frank can escalate to lambda-exec"
    assert METHOD in hop
    assert "iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction" in hop
    assert "customer-managed policy lambda-deployer" in hop
    assert "Fix: Limit iam:PassRole" in hop
    assert METHOD in panel.inner_text()
    assert "The statements that allow it" in panel.inner_text()
    assert page.errors == []
