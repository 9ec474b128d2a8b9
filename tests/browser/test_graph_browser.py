"""A reviewer explores the sample organisation's graphs in Chromium: the access view and its
panels, the path finder along the three-hop chain and from the CI user, permalinks, exports.
Screenshots of each view go to test-artifacts/screenshots/graph/.

Benchmark mode: with IAMVIZ_GRAPH_BENCH_DATABASE_URL pointing at an imported and analysed
estate (see bench/graph.py), `test_graph_benchmark_first_draw_of_every_view` times the first draw
of every graph view in Chromium (the questions, an account's identity view, the
organisation-wide view).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS, screenshot_taker

pytestmark = pytest.mark.browser

DEV, PROD = "333333333333", "444444444444"
GRAPH_SHOTS = SCREENSHOTS / "graph"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shot(page):
    return screenshot_taker(page, GRAPH_SHOTS, full_page=False)


def _login(page, live_server, path: str, *, drawn: bool = True) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    if drawn:
        _wait_drawn(page)
    else:
        page.wait_for_url(f"{live_server.url}{path}")


def _wait_drawn(page) -> None:
    page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=15000)


def _click_node(page, node_id: str, double: bool = False) -> None:
    """Click a node where Cytoscape drew it (its rendered position inside the canvas), after
    panning to it as a reader would when the view opened legible on another part."""
    node = page.evaluate(
        "(id) => { const cy = window.iamvizGraph; const n = cy.getElementById(id); "
        "if (n.empty()) return null; const p = n.renderedPosition(); "
        "if (p.x < 20 || p.y < 20 || p.x > cy.width() - 20 || p.y > cy.height() - 20) "
        "cy.center(n); return n.renderedPosition(); }",
        node_id,
    )
    assert node is not None, f"{node_id} is not drawn"
    box = page.locator("#graph-canvas").bounding_box()
    x, y = box["x"] + node["x"], box["y"] + node["y"]
    if double:
        page.mouse.dblclick(x, y)
    else:
        page.mouse.click(x, y)


def _drawn(page) -> dict:
    return page.evaluate(
        "() => ({nodes: window.iamvizGraph.nodes().map(n => [n.id(), n.position('x'), "
        "n.position('y')]).sort(), edges: window.iamvizGraph.edges().map(e => e.id()).sort(), "
        "highlighted: window.iamvizGraph.edges('.hl').map(e => e.id()).sort()})"
    )


def test_graph_access_view_node_panel_swaps_in_without_reload(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login(page, live_server, "/graph/access/")
    shot("01-access-view")
    page.evaluate("() => { window.__sameDocument = true; }")

    _click_node(page, f"role:{PROD}:deploy")
    panel = page.locator('#node-panel article[data-node="role:444444444444:deploy"]')
    panel.wait_for()
    page.wait_for_url(re.compile(r"node=role%3A444444444444%3Adeploy"))
    shot("02-access-node-panel")

    assert page.evaluate("() => window.__sameDocument") is True
    assert "ci-deploy" in panel.inner_text()
    assert "only when ExternalId = acme-ci-7f3a9c" in panel.inner_text()
    # One row per edge of the whole access view: 59 assume (42 allowed, 17 conditional), 27
    # access-group memberships, 13 escalations, 3 from "*", 2 federated, 3 from services.
    assert page.locator("table.graph-rows tbody tr").count() == 107
    assert page.errors == []


def test_graph_edge_panel_shows_statements_and_expand_merges(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login(page, live_server, f"/graph/access/?focus=user%3A{DEV}%3Aalice&depth=1")
    before = _drawn(page)

    edge_id = f"user:{DEV}:alice|assume|conditional|role:{DEV}:dev-ops"
    middle = page.evaluate(
        "(id) => window.iamvizGraph.getElementById(id).renderedMidpoint()", edge_id
    )
    box = page.locator("#graph-canvas").bounding_box()
    page.mouse.click(box["x"] + middle["x"], box["y"] + middle["y"])
    page.locator("#node-panel .edge-panel").wait_for()
    statements = page.locator("#node-panel .edge-panel").inner_text()
    shot("03-access-edge-statements")

    # A real double click: its two taps must not load panels that race the expansion's swap.
    page.evaluate(
        "() => { window.__panelLoads = 0; document.body.addEventListener('htmx:beforeRequest',"
        " (e) => { if (e.detail.target && e.detail.target.id === 'node-panel')"
        " window.__panelLoads += 1; }); }"
    )
    _click_node(page, f"role:{DEV}:dev-ops", double=True)
    page.wait_for_url(re.compile(r"expand=role%3A333333333333%3Adev-ops"))
    page.wait_for_function(
        "() => window.iamvizGraph.getElementById('role:444444444444:prod-ops').nonempty()"
    )
    shot("04-access-expanded")
    after = _drawn(page)
    page.wait_for_timeout(600)  # past the double-tap interval: a single tap would load by now

    assert "AliceWithMFA" in statements
    assert "aws:MultiFactorAuthPresent" in statements
    # Alice's neighbourhood also holds the roles her access group reaches (org-inventory now
    # that the organisation id is known, the "*"-trusting public-reader) and escalation edges.
    drawn = [n[0] for n in before["nodes"] if not n[0].startswith(("box:", "access-group:"))]
    assert drawn == [
        "role:222222222222:org-inventory",
        f"role:{DEV}:app-server",
        f"role:{DEV}:dev-ops",
        f"role:{DEV}:lambda-exec",
        f"role:{DEV}:public-reader",
        f"role:{PROD}:partner-gateway",
        f"user:{DEV}:alice",
    ]
    assert f"role:{PROD}:prod-ops" in [n[0] for n in after["nodes"]]
    assert page.evaluate("() => window.__panelLoads") == 0
    assert page.errors == []


def test_graph_path_finder_alice_chain_and_ci_user(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login(page, live_server, "/graph/paths/", drawn=False)
    shot("05-paths-empty")
    page.locator("#find-source").press_sequentially("alic", delay=30)
    page.locator("#suggest-source a", has_text="alice").click()
    page.wait_for_url(re.compile(r"source=user%3A333333333333%3Aalice"))
    page.locator("#find-target").press_sequentially("break-gl", delay=30)
    page.locator("#suggest-target a", has_text="prod-break-glass").click()
    page.wait_for_url(re.compile(r"target=role%3A444444444444%3Aprod-break-glass"))
    page.locator("#path-list .path-card").wait_for()
    page.wait_for_function("() => window.iamvizGraph.edges('.hl').length === 3")
    shot("06-paths-alice-to-break-glass")
    hops = page.locator("#path-list li.hop").all_inner_texts()
    highlighted = _drawn(page)["highlighted"]

    page.goto(
        f"{live_server.url}/graph/paths/?source=user%3A{DEV}%3Aci-deploy"
        f"&target=role%3A{PROD}%3Adeploy"
    )
    _wait_drawn(page)
    shot("07-paths-ci-user-to-deploy")
    ci_hops = page.locator("#path-list li.hop").all_inner_texts()

    assert [hop.splitlines()[0] for hop in hops] == [
        "1 alice can assume dev-ops",
        "2 dev-ops can assume prod-ops",
        "3 prod-ops can assume prod-break-glass",
    ]
    assert "only when MFA = true" in hops[0]
    assert "cross-account" in hops[1]
    assert highlighted == sorted(
        [
            f"user:{DEV}:alice|assume|conditional|role:{DEV}:dev-ops",
            f"role:{DEV}:dev-ops|assume|allow|role:{PROD}:prod-ops",
            f"role:{PROD}:prod-ops|assume|allow|role:{PROD}:prod-break-glass",
        ]
    )
    assert len(ci_hops) == 1
    assert "only when ExternalId = acme-ci-7f3a9c" in ci_hops[0]
    assert page.errors == []


def test_graph_permalink_opens_the_same_view_in_a_fresh_page(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login(page, live_server, "/graph/identity/")
    page.locator("#find-focus").press_sequentially("develop", delay=30)
    page.locator("#suggest-focus a", has_text="developers").first.click()
    page.wait_for_url(re.compile(r"focus=group%3A333333333333%3Adevelopers"))
    page.locator("#scope-depth").select_option("1")
    page.wait_for_url(re.compile(r"depth=1"))
    page.locator("input[name=hide_aws]").check()
    page.wait_for_url(re.compile(r"hide_aws=1"))
    page.wait_for_function("() => !window.iamvizGraph.nodes('.policy-aws').length")
    _click_node(page, f"user:{DEV}:alice")
    page.locator('#node-panel article[data-node="user:333333333333:alice"]').wait_for()
    page.wait_for_url(re.compile(r"node=user%3A333333333333%3Aalice"))
    shot("08-identity-focus")
    permalink = page.url
    here = _drawn(page)

    fresh = page.context.new_page()
    fresh.errors = []
    fresh.on("console", lambda msg: fresh.errors.append(msg.text) if msg.type == "error" else None)
    fresh.on("pageerror", lambda exc: fresh.errors.append(str(exc)))
    fresh.goto(permalink)
    _wait_drawn(fresh)
    fresh.locator('#node-panel article[data-node="user:333333333333:alice"]').wait_for()
    fresh.screenshot(path=str(GRAPH_SHOTS / "09-identity-permalink.png"))

    assert _drawn(fresh) == here
    assert fresh.locator("#scope-depth").input_value() == "1"
    assert fresh.locator("input[name=hide_aws]").is_checked()
    assert page.errors == []
    assert fresh.errors == []


def test_graph_exports_data_and_picture(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login(page, live_server, "/graph/access/?cond=only")
    drawn = _drawn(page)

    with page.expect_download() as json_download:
        page.locator("#export-json").click()
    with page.expect_download() as graphml_download:
        page.locator("#export-graphml").click()
    with page.expect_download() as png_download:
        page.locator("[data-graph-action=png]").click()
    with page.expect_download() as svg_download:
        page.locator("a[href*='export.svg']").click()
    shot("10-access-conditional-only")

    data = json.loads(Path(json_download.value.path()).read_text())
    graphml = Path(graphml_download.value.path()).read_text()
    png = Path(png_download.value.path()).read_bytes()
    svg = Path(svg_download.value.path()).read_text()
    assert json_download.value.suggested_filename == "iamviz-access.json"
    assert sorted(edge["id"] for edge in data["edges"]) == drawn["edges"]
    assert graphml.count("<edge ") == len(drawn["edges"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_download.value.suggested_filename == "iamviz-access.png"
    assert svg.startswith("<svg")
    assert page.errors == []


@pytest.mark.skipif(
    not os.environ.get("IAMVIZ_GRAPH_BENCH_DATABASE_URL"),
    reason="benchmark mode: set IAMVIZ_GRAPH_BENCH_DATABASE_URL to an analysed estate",
)
def test_graph_benchmark_first_draw_of_every_view():
    url = os.environ["IAMVIZ_GRAPH_BENCH_DATABASE_URL"]

    done = subprocess.run(
        [sys.executable, "bench/graph.py", "--database-url", url, "--repeat", "20", "--browser"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(done.stdout)

    assert done.returncode == 0, done.stderr
    results = json.loads((ROOT / "bench-results" / "graph.json").read_text())
    for name, view in results["browser"].items():
        assert not view["timed_out"], name
        assert view["page_errors"] == [], name
        assert view["next_frame_ms"] < 200, name  # drawn, and the page still answers at once
        assert view["legible"], name  # opening zoom >= 0.5, labels >= 7 px
        assert view["browser_within_budget"], name  # the browser's part of the first draw
