"""The questions page and the question-scoped access view (issue 11): each question's search
box leads to the view answering it, the view's state (question, expansions) is in its URL, and
each expansion collapses back on its own."""

from __future__ import annotations

from urllib.parse import quote

from identities.graph.access import build_access_graph

APP = "role:333333333333:app-server"


def test_questions_page_offers_each_question_with_a_search_box(imported_sample, logged_in_client):
    response = logged_in_client.get("/graph/")

    assert response.status_code == 200
    html = response.content.decode()
    for box in ("reach-in", "reach-out", "paths"):
        assert f'id="find-{box}"' in html
    assert 'value="/graph/access/?dir=in"' in html
    assert 'value="/graph/paths/"' in html
    assert 'id="boundary-account"' in html and "333333333333" in html
    assert "{#" not in html and "{%" not in html


def test_a_suggestion_from_the_questions_page_opens_the_answering_view(
    imported_sample, logged_in_client
):
    response = logged_in_client.get(
        "/graph/suggest/",
        {"q": "app-server", "field": "focus", "from": "/graph/access/?dir=in"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/graph/"},
    )

    html = response.content.decode()
    assert f'href="/graph/access/?dir=in&amp;focus={quote(APP)}' in html
    assert "hx-get" not in html  # a link to follow: the questions page has no graph to swap


def test_who_can_reach_draws_only_the_way_in(imported_sample):
    both = build_access_graph(focus=APP)
    way_in = build_access_graph(focus=APP, direction="in")
    way_out = build_access_graph(focus=APP, direction="out")

    def ids(data: dict) -> set[str]:
        return {n["id"] for n in data["nodes"] if n["kind"] != "box"}

    assert way_in["stats"]["direction"] == "in"
    assert any(e["target"] == APP for e in way_in["edges"])
    assert not any(e["source"] == APP and e["kind"] != "escalate" for e in way_in["edges"])
    assert ids(way_in) | ids(way_out) == ids(both)


def test_each_expansion_collapses_on_its_own(imported_sample, logged_in_client):
    other = "user:111111111111:alice"
    url = f"/graph/access/?dir=in&focus={quote(APP)}&expand={quote(APP)}&expand={quote(other)}"
    response = logged_in_client.get(url)

    assert response.status_code == 200
    links = {link["id"]: url for link, url in response.context["collapse_links"]}
    assert set(links) == {APP, other}
    assert "expand=" + quote(other, safe="") in links[APP]
    assert "expand=" + quote(APP, safe="") not in links[APP]
    assert "dir=in" in links[other]
    panel = logged_in_client.get(
        f"/graph/node/role/333333333333:app-server?from={quote(url)}",
    )
    assert 'id="panel-collapse"' in panel.content.decode()
