from __future__ import annotations

import pytest

from tests.views.conftest import assert_fragment, htmx_get


def _titles_and_names(context) -> list[tuple[str, list[str]]]:
    return [
        (group["title"], [getattr(row, "name", "") for row in group["rows"]])
        for group in context["groups"]
    ]


def test_search_finds_across_kinds(logged_in_client, imported_sample):
    response = logged_in_client.get("/search/", {"q": "ci-deploy"})

    assert _titles_and_names(response.context) == [
        ("Users", ["ci-deploy"]),
        ("Policies", ["ci-deploy-assume"]),
    ]


def test_search_matches_account_id(logged_in_client, imported_sample):
    response = logged_in_client.get("/search/", {"q": "444444444444"})

    assert [a.account_id for a in response.context["groups"][0]["rows"]] == ["444444444444"]


def test_search_suggestions_partial_for_nav_box(logged_in_client, imported_sample):
    response = htmx_get(logged_in_client, "/search/", target="suggestions", q="alice")

    body = assert_fragment(response)
    assert body.strip().startswith('<ul class="suggestion-list"')
    assert '<a href="/accounts/333333333333/users/alice/">alice <small>acme-dev</small></a>' in body


def test_search_page_htmx_returns_results_partial(logged_in_client, imported_sample):
    response = htmx_get(logged_in_client, "/search/", q="audit")

    body = assert_fragment(response)
    assert body.lstrip().startswith('<section id="results"')


@pytest.mark.parametrize(
    ("arn", "location"),
    [
        ("arn:aws:iam::333333333333:user/alice", "/accounts/333333333333/users/alice/"),
        ("arn:aws:iam::444444444444:role/deploy", "/accounts/444444444444/roles/deploy/"),
        ("arn:aws:iam::333333333333:group/developers", "/accounts/333333333333/groups/developers/"),
        (
            "arn:aws:iam::333333333333:policy/ci-deploy-assume",
            "/accounts/333333333333/policies/arn:aws:iam::333333333333:policy/ci-deploy-assume/",
        ),
        ("arn:aws:iam::222222222222:root", "/accounts/222222222222/"),
        (
            "arn:aws:sts::444444444444:assumed-role/deploy/session-1",
            "/accounts/444444444444/roles/deploy/",
        ),
        (
            "arn:aws:iam::333333333333:instance-profile/app-server",
            "/accounts/333333333333/roles/app-server/",
        ),
        (
            "arn:aws:iam::222222222222:user/service/svc-key-rotator",
            "/accounts/222222222222/users/svc-key-rotator/",
        ),
        ("arn:aws:iam::333333333333:user/service/svc-key-rotator", None),
    ],
)
def test_arn_resolver_redirects_known_arns(logged_in_client, imported_sample, arn, location):
    response = logged_in_client.get(f"/arn/{arn}")

    if location is None:
        assert response.status_code == 404
    else:
        assert (response.status_code, response["Location"]) == (302, location)


def test_arn_resolver_404_names_the_arn(logged_in_client, imported_sample):
    response = logged_in_client.get("/arn/arn:aws:iam::333333333333:role/nope")

    assert response.status_code == 404
    assert (
        "No user, group, role, policy or account with the ARN "
        "arn:aws:iam::333333333333:role/nope is known."
    ) in response.content.decode()
