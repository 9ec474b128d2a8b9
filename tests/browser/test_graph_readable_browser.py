"""Every graph view of a generated estate of ten accounts opens legible in Chromium (a zoom of
at least 0.5, labels of at least 7 rendered pixels) and draws no edge through a node it does
not join, as Cytoscape drew it (its end points and the waypoints of its route). The sample
organisation's ec2 → app-server is drawn around the OIDC provider beside it. Screenshots go
to test-artifacts/screenshots/readable/.
"""

from __future__ import annotations

import statistics

import pytest

from identities.graph.build import arn_node_id
from identities.models import AccessEdge, IamRole
from identities.queries import access
from tests.browser.conftest import SCREENSHOTS, screenshot_taker
from tests.browser.test_graph_browser import _login as _login_sample
from tests.browser.test_graph_browser import _wait_drawn
from tests.browser.test_scale_browser import _login, ten_accounts  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "readable"

# Each drawn edge followed every 2 px along its line, as Cytoscape placed it, against the box
# of every node it does not join, less 3 px (a graze is not a crossing): [edge, node] pairs.
CROSSINGS = """() => {
  const cy = window.iamvizGraph;
  const boxes = cy.nodes().filter(n => !n.hasClass('box') && !n.hasClass('column')).map(n => {
    const p = n.position(), w = n.width() / 2 - 3, h = n.height() / 2 - 3;
    return [n.id(), p.x - w, p.y - h, p.x + w, p.y + h];
  });
  const found = [];
  cy.edges().forEach(e => {
    const middle = e.segmentPoints() || (e.controlPoints() ? [e.midpoint()] : []);
    const line = [e.sourceEndpoint(), ...middle, e.targetEndpoint()];
    const ends = [e.source().id(), e.target().id()];
    for (let i = 0; i + 1 < line.length; i++) {
      const a = line[i], b = line[i + 1];
      const steps = Math.max(1, Math.ceil(Math.max(Math.abs(b.x - a.x), Math.abs(b.y - a.y)) / 2));
      for (const [id, x0, y0, x1, y1] of boxes) {
        if (ends.includes(id)) continue;
        if (Math.max(a.x, b.x) < x0 || Math.min(a.x, b.x) > x1) continue;
        if (Math.max(a.y, b.y) < y0 || Math.min(a.y, b.y) > y1) continue;
        for (let s = 0; s <= steps; s++) {
          const x = a.x + (b.x - a.x) * s / steps, y = a.y + (b.y - a.y) * s / steps;
          if (x > x0 && x < x1 && y > y0 && y < y1) { found.push([e.id(), id]); break; }
        }
      }
    }
  });
  return found;
}"""

# The opening zoom, the smallest rendered label of a principal or folded node, how many edges
# the server routed, and how many nodes are drawn.
LEGIBILITY = """() => {
  const cy = window.iamvizGraph;
  const nodes = cy.nodes().filter(n => !n.hasClass('box') && !n.hasClass('column'));
  return {zoom: cy.zoom(), nodes: nodes.length, routed: cy.edges('.routed').length,
          font: Math.min(...nodes.map(n => parseFloat(n.renderedStyle('font-size'))))};
}"""


@pytest.fixture
def shot(page):
    return screenshot_taker(page, SHOTS, full_page=False)


def _views() -> dict[str, str]:
    """Each view of the graph pages on the estate's busiest role (most users and roles that can
    assume it), a user who can, and the role's account."""
    role_pk = statistics.mode(
        AccessEdge.objects.filter(source_kind__in=["user", "role"]).values_list(
            "target_id", flat=True
        )
    )
    role = IamRole.objects.select_related("account").get(pk=role_pk)
    user = next(a.source for a in access.access_into(role) if a.source_kind == "user")
    role_id, user_id = arn_node_id(role.arn), arn_node_id(user)
    account = role.account.account_id
    return {
        "who-can-reach": f"/graph/access/?focus={role_id}&dir=in",
        "what-can-reach": f"/graph/access/?focus={user_id}&dir=out",
        "paths": f"/graph/paths/?source={user_id}&target={role_id}",
        "trust-boundary": f"/graph/access/?account={account}",
        "identity-of-account": f"/graph/identity/?account={account}",
        "access-estate": "/graph/access/",
    }


def test_every_view_of_ten_accounts_opens_legible_with_no_edge_through_a_node(
    ten_accounts,  # noqa: F811  (the fixture imported above)
    live_server,
    staff_user,
    page,
    shot,
):
    views = _views()
    _login(page, live_server, "/graph/")
    seen = {}
    for name, path in views.items():
        page.goto(f"{live_server.url}{path}")
        _wait_drawn(page)
        shot(name)
        seen[name] = page.evaluate(LEGIBILITY)
        assert seen[name]["nodes"] > 1, name
        assert seen[name]["zoom"] >= 0.5, (name, seen[name])
        assert seen[name]["font"] >= 7, (name, seen[name])  # rendered pixels
        assert page.evaluate(CROSSINGS) == [], name
    # Straight lines would have run through nodes: the routes are what keeps them clear.
    assert sum(view["routed"] for view in seen.values()) > 0
    assert page.errors == []


def test_sample_ec2_to_app_server_is_drawn_around_the_provider(
    transactional_db, live_server, imported_sample, staff_user, page, shot
):
    _login_sample(page, live_server, "/graph/access/?focus=role:333333333333:app-server&dir=in")
    shot("sample-app-server-way-in")
    ec2 = page.evaluate(
        "() => window.iamvizGraph.edges().filter(e => e.source().id().startsWith('service:ec2'))"
        ".map(e => e.id())"
    )
    assert ec2
    crossing = page.evaluate(CROSSINGS)
    assert crossing == []
    assert page.evaluate(LEGIBILITY)["zoom"] >= 0.5
    assert page.errors == []
