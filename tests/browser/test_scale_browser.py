"""A reviewer works through a generated estate of ten accounts in Chromium (issue 11): the
account matrix and a cell's roles, a folded node's list of members and one added to the graph,
a role's "who can assume" summary opened, searched and paged. Screenshots go to
test-artifacts/screenshots/scale/.
"""

from __future__ import annotations

import re

import pytest

from identities.models import AccessEdge, IamRole
from identities.queries import access
from tests.browser.conftest import SCREENSHOTS, screenshot_taker
from tests.browser.test_graph_browser import _click_node, _wait_drawn

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "scale"


@pytest.fixture
def shot(page):
    return screenshot_taker(page, SHOTS, full_page=False)


@pytest.fixture
def ten_accounts(transactional_db) -> None:
    """10 accounts × 30 users × 60 roles: the estate-wide access view folds."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def _login(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(path.split("?")[0])))


def test_account_matrix_cell_drills_into_its_roles_and_the_graph(
    ten_accounts, live_server, staff_user, page, shot
):
    matrix = access.account_matrix()
    source, target = max(
        (cell for cell in matrix.cells if cell[0] != cell[1] and cell[0] in matrix.targets),
        key=lambda cell: matrix.cells[cell],
    )
    _login(page, live_server, "/access/matrix/")
    page.locator("#account-matrix").wait_for()
    shot("01-account-matrix")
    assert page.locator("#account-matrix tbody tr").count() == len(matrix.sources)

    page.click(f'[data-cell="{source}:{target}"]')
    heading = page.locator("#matrix-cell h2")
    heading.wait_for()
    page.wait_for_url(re.compile(rf"from={source}&to={target}"))
    shot("02-matrix-cell-roles")

    assert f"{matrix.cells[(source, target)]} principal" in heading.inner_text()
    rows = page.locator("#matrix-cell tbody tr")
    assert rows.count() == min(50, len(matrix.roles[(source, target)]))
    page.click(f'[data-boundary="{target}"]')
    page.wait_for_function(
        "() => /Trust boundary of/.test(document.querySelector('#matrix-cell h2').innerText)"
    )
    shot("03-account-trust-boundary")
    outside = sum(1 for (s, t) in matrix.cells if t == target and s != target)
    assert page.locator("#matrix-cell table.boundary tbody tr").count() == outside
    page.go_back()
    page.wait_for_function("() => /from=/.test(location.search)")
    page.goto(page.url)
    page.click("#matrix-graph")
    _wait_drawn(page)
    shot("04-matrix-cell-graph")
    drawn = page.evaluate("() => window.iamvizGraph.nodes().map(n => n.data('account'))")
    assert target in drawn
    assert page.errors == []


def test_folded_node_lists_its_members_and_adds_one_to_the_graph(
    ten_accounts, live_server, staff_user, page, shot
):
    account = IamRole.objects.order_by("account__account_id").first().account.account_id
    node_id = f"agg:roles:{account}"
    _login(page, live_server, "/graph/access/")
    _wait_drawn(page)
    shot("04-folded-estate")

    _click_node(page, node_id)
    panel = page.locator(f'#node-panel article.folded-panel[data-node="{node_id}"]')
    panel.wait_for()
    shot("05-folded-members")
    assert "60 members; 1–25 shown" in panel.inner_text()

    page.fill("#folded-search", "admin")
    page.wait_for_function(
        "() => /matching “admin”/.test(document.querySelector('#folded-rows').innerText)"
    )
    members = page.locator("#folded-rows li")
    names = members.locator(".member-name").all_inner_texts()
    assert names and all("admin" in name for name in names)
    chosen = members.first.get_attribute("data-id")
    shot("06-folded-search")

    members.first.get_by_text("Add to graph").click()
    page.wait_for_url(re.compile(r"expand="))
    _wait_drawn(page)
    page.wait_for_function("(id) => window.iamvizGraph.getElementById(id).nonempty()", arg=chosen)
    shot("07-member-added")
    assert page.errors == []


def test_role_who_can_assume_summary_opens_a_searchable_paged_list(
    ten_accounts, live_server, staff_user, page, shot
):
    busiest = (
        AccessEdge.objects.filter(source_kind="group", outcome="allow")
        .values_list("target_id", flat=True)
        .order_by("target_id")
    )
    role = max(
        IamRole.objects.select_related("account").filter(pk__in=set(busiest)),
        key=lambda r: (len(access.access_into(r)), r.arn),
    )
    total = len(access.access_into(role))
    _login(page, live_server, role.get_absolute_url())
    summary = page.locator("#who-can-assume table.bunches[data-part=direct]")
    summary.wait_for()
    shot("08-role-summary")
    counts = [
        int(c)
        for c in summary.locator("tbody.bunch").evaluate_all(
            "(rows) => rows.map(r => r.dataset.count)"
        )
    ]
    assert sum(counts) == total

    first = summary.locator("tbody.bunch").first
    first.locator("summary").click()
    rows = first.locator(".access-rows")
    rows.wait_for()
    assert f"{counts[0]} principal" in rows.locator("p").first.inner_text()
    shot("09-role-bunch-opened")

    if counts[0] > 25:
        rows.locator("a[rel=next]").click()
        page.wait_for_function(
            "() => /26–/.test(document.querySelector('.access-rows p').innerText)"
        )
        shot("10-role-bunch-page-2")
    first.locator("input[type=search]").fill("user/")
    page.wait_for_function(
        "() => /matching/.test(document.querySelector('.access-rows p').innerText)"
    )
    shot("11-role-bunch-search")
    assert page.url.endswith(role.get_absolute_url())
    assert page.errors == []


@pytest.fixture
def big_account(transactional_db) -> str:
    """One account of 300 users and 600 roles: its identity view holds over 1,000 nodes."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.models import Account
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=1, users=300, roles=600, seed=1), label="big")
    analyse_estate()
    return Account.objects.get().account_id


def test_identity_view_of_a_thousand_node_account_is_legible(
    big_account, live_server, staff_user, page, shot
):
    from identities.models import IamGroup, IamUser, InlinePolicy, ManagedPolicy

    # Its users, groups, roles and policies: the nodes of the view before folding.
    drawable = sum(
        model.objects.count() for model in (IamUser, IamGroup, IamRole, ManagedPolicy, InlinePolicy)
    )
    assert drawable >= 1000
    _login(page, live_server, f"/graph/identity/?account={big_account}")
    _wait_drawn(page)
    shot("12-identity-1000-nodes")

    zoom = page.evaluate("() => window.iamvizGraph.zoom()")
    font = page.evaluate(
        "() => parseFloat(window.iamvizGraph.nodes('[kind != \"column\"]')[0]"
        ".renderedStyle('font-size'))"
    )
    assert zoom >= 0.5
    assert font >= 7  # rendered pixels: readable without zooming in
    role = f"agg:roles:{big_account}"
    _click_node(page, role)
    page.locator(f'#node-panel article.folded-panel[data-node="{role}"]').wait_for()
    page.locator("#folded-rows li").first.get_by_text("Add to graph").click()
    page.wait_for_url(re.compile(r"expand="))
    _wait_drawn(page)
    shot("13-identity-role-added")
    added = re.search(r"expand=([^&]+)", page.url)
    assert added is not None
    assert page.evaluate("() => window.iamvizGraph.zoom()") >= 0.5
    assert page.errors == []
