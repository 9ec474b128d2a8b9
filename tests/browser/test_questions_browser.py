"""The graphs start from a question (issue 11) on a generated estate of ten accounts: each is
asked from the questions page, its graph drawn is the server's answer and holds what the
reader (`identities.queries.access`) says; a node expanded one hop grows it, collapsing it
gives the first view back, and the permalink reloads the same view. Screenshots go to
test-artifacts/screenshots/questions/.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from identities.graph.build import arn_node_id
from identities.models import AccessEdge, IamRole, IamUser
from identities.queries import access
from tests.browser.conftest import SCREENSHOTS, screenshot_taker
from tests.browser.test_graph_browser import _click_node, _wait_drawn
from tests.browser.test_scale_browser import _login, ten_accounts  # noqa: F401  (fixture)

# The generated estate of ten accounts the scale tests use.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("ten_accounts")]

SHOTS = SCREENSHOTS / "questions"


@pytest.fixture
def shot(page):
    return screenshot_taker(page, SHOTS, full_page=False)


def _drawn_ids(page) -> set[str]:
    return set(
        page.evaluate(
            "() => window.iamvizGraph.nodes().filter(n => !n.hasClass('box')).map(n => n.id())"
        )
    )


def _answer(page, live_server) -> dict:
    """The graph JSON of the view the page shows (same query string)."""
    query = urlsplit(page.url).query
    view = urlsplit(page.url).path.strip("/").split("/")[-1]
    response = page.request.get(f"{live_server.url}/graph/data.json?view={view}&{query}")
    assert response.ok
    return json.loads(response.text())


def _ask(page, box: str, name: str) -> None:
    """Type a name (or ARN) in a question's search box, pick the first suggestion with Enter."""
    page.fill(f"#find-{box}", name)
    page.locator(f"#suggest-{box} [role=option]").first.wait_for()
    page.press(f"#find-{box}", "Enter")


def _expand_collapse_reload(page, live_server, node_id: str, shot, name: str) -> None:
    """Expand ``node_id`` one hop from its panel, collapse it back, reload the permalink."""
    first = _drawn_ids(page)
    asked = page.url
    _click_node(page, node_id)
    page.locator("#panel-expand").click()
    page.wait_for_url(re.compile("expand="))
    _wait_drawn(page)
    page.wait_for_function("(n) => window.iamvizGraph.nodes().length > n", arg=len(first))
    grown = _drawn_ids(page)
    shot(f"{name}-expanded")
    assert first < grown
    assert grown == {n["id"] for n in _answer(page, live_server)["nodes"] if n["kind"] != "box"}

    collapse = page.locator(f'#graph-expanded .collapse-link[data-node="{node_id}"]')
    href = collapse.get_attribute("href") or ""
    assert "expand=" not in href, href
    collapse.click()
    page.wait_for_url(lambda url: "expand=" not in url, wait_until="load")
    _wait_drawn(page)
    assert _drawn_ids(page) == first
    shot(f"{name}-collapsed")

    permalink = page.url
    page.goto(permalink)
    _wait_drawn(page)
    assert _drawn_ids(page) == first
    assert urlsplit(page.url).query == urlsplit(permalink).query
    assert urlsplit(asked).query.split("&node=")[0] in urlsplit(page.url).query
    assert not page.errors, page.errors


def _role_with_few_sources() -> IamRole:
    """A role that some, not many, principals of the estate can assume directly."""
    counts: dict[int, int] = {}
    for target_id in AccessEdge.objects.filter(source_kind__in=["user", "role"]).values_list(
        "target_id", flat=True
    ):
        counts[target_id] = counts.get(target_id, 0) + 1
    pk = min((c, pk) for pk, c in counts.items() if c >= 2)[1]
    return IamRole.objects.get(pk=pk)


def test_who_can_reach_this_role_and_what_can_this_principal_reach(
    live_server, staff_user, page, shot
):
    role = _role_with_few_sources()
    focus = arn_node_id(role.arn)
    _login(page, live_server, "/graph/")
    page.locator("#question-reach-in").wait_for()
    shot("01-questions")

    _ask(page, "reach-in", role.arn)  # names repeat across accounts; ARNs do not
    page.wait_for_url(re.compile(r"/graph/access/\?dir=in&focus="))
    _wait_drawn(page)
    shot("02-who-can-reach-role")
    answer = _answer(page, live_server)
    drawn = _drawn_ids(page)
    assert answer["stats"]["focus"] == focus and answer["stats"]["direction"] == "in"
    assert drawn == {n["id"] for n in answer["nodes"] if n["kind"] != "box"}
    # Every principal the reader says can assume the role directly is drawn, with its edge.
    direct = {
        arn_node_id(a.source)
        for a in access.access_into(role, expand_groups=False)
        if a.source_kind in {"user", "role"}
    }
    into = {e["source"] for e in answer["edges"] if e["target"] == focus}
    assert direct and direct <= into
    # Only the way in: nothing the role itself can assume is drawn.
    assert not [e for e in answer["edges"] if e["source"] == focus and e["kind"] != "escalate"]
    _expand_collapse_reload(page, live_server, focus, shot, "03-who-can-reach")

    user = (
        IamUser.objects.filter(
            pk__in=AccessEdge.objects.filter(source_kind="user").values("source_user")
        )
        .order_by("name")
        .first()
    )
    assert user is not None
    page.goto(f"{live_server.url}/graph/")
    _ask(page, "reach-out", user.arn)
    page.wait_for_url(re.compile(r"/graph/access/\?dir=out&focus="))
    _wait_drawn(page)
    shot("04-what-can-principal-reach")
    answer = _answer(page, live_server)
    user_id = arn_node_id(user.arn)
    assert answer["stats"]["focus"] == user_id
    assert _drawn_ids(page) == {n["id"] for n in answer["nodes"] if n["kind"] != "box"}
    reached = {arn_node_id(a.target) for a in access.access_out_of(user)}
    # Its own edges, and those of the access group it shares (drawn once, from the group).
    holders = {user_id} | {
        e["target"] for e in answer["edges"] if e["source"] == user_id and e["kind"] == "in-group"
    }
    drawn_targets = {e["target"] for e in answer["edges"] if e["source"] in holders}
    assert reached and reached <= drawn_targets
    _expand_collapse_reload(page, live_server, user_id, shot, "05-what-can-reach")


def test_paths_from_a_to_b_and_an_accounts_trust_boundary(live_server, staff_user, page, shot):
    source, target = next(
        (user.arn, r.node)
        for user in IamUser.objects.order_by("name")[:40]
        for r in access.reach_from(user.arn)
        if r.hops >= 2 and ":role/" in r.node
    )
    _login(page, live_server, "/graph/")
    _ask(page, "paths", source)
    page.wait_for_url(re.compile(r"/graph/paths/\?source="))
    _ask(page, "target", target)
    page.wait_for_url(re.compile(r"target="))
    _wait_drawn(page)
    shot("06-paths-from-a-to-b")
    answer = _answer(page, live_server)
    assert answer["paths"], "the path finder found no chain the reader found"
    reader_chain = access.chain_between(source, target)
    assert reader_chain is not None
    assert len(answer["paths"][0]["hops"]) == len(reader_chain) - 1
    assert {arn_node_id(arn) for arn in reader_chain} <= _drawn_ids(page)
    page.goto(page.url)
    _wait_drawn(page)
    assert {arn_node_id(arn) for arn in reader_chain} <= _drawn_ids(page)

    account = IamRole.objects.get(arn=target).account.account_id
    page.goto(f"{live_server.url}/graph/")
    page.select_option("#boundary-account", account)
    page.click("#boundary-graph")
    page.wait_for_url(re.compile(rf"account={account}"))
    _wait_drawn(page)
    shot("07-trust-boundary-graph")
    answer = _answer(page, live_server)
    assert _drawn_ids(page) == {n["id"] for n in answer["nodes"] if n["kind"] != "box"}
    matrix = access.account_matrix()
    outside = {s for (s, t) in matrix.cells if t == account and s != account}
    drawn_accounts = {n["account"] for n in answer["nodes"] if n["kind"] != "box"}
    assert account in drawn_accounts
    if not answer["aggregated"]:
        assert {s for s in outside if s.isdigit()} <= drawn_accounts
    page.click("#boundary-table")
    page.wait_for_function(
        "() => /Trust boundary of/.test(document.querySelector('#matrix-cell h2').innerText)"
    )
    shot("08-trust-boundary-table")
    assert not page.errors, page.errors
