"""User, group, role and policy pages on the sample organisation."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.views.conftest import assert_fragment, htmx_get

ALICE = "/accounts/333333333333/users/alice/"
DEPLOY = "/accounts/444444444444/roles/deploy/"
AUDIT = "/accounts/333333333333/roles/audit/"
CI_POLICY = "/accounts/333333333333/policies/arn:aws:iam::333333333333:policy/ci-deploy-assume/"


def _rows(body: str, section: str) -> list[str]:
    """Text of each table row in the <section id=...>, tags stripped, spaces collapsed."""
    part = body.split(f'<section id="{section}"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", part, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def _what_if_links(body: str, section: str) -> list[dict[str, str]]:
    """Query parameters of each "What if" link in the <section id=...>."""
    part = body.split(f'<section id="{section}"', 1)[1].split("</section>", 1)[0]
    hrefs = re.findall(r'<a href="([^"]*/what-if/\?[^"]*)"', part)
    return [dict(parse_qsl(urlsplit(html.unescape(href)).query)) for href in hrefs]


def test_user_detail_shows_policy_inherited_through_group(logged_in_client, imported_sample):
    body = logged_in_client.get(ALICE).content.decode()

    rows = _rows(body, "policies")
    assert (
        "PowerUserAccess AWS managed via group developers arn:aws:iam::aws:policy/PowerUserAccess"
        " What if detached…"
    ) in rows
    # Detaching an inherited policy detaches it from the group that grants it.
    assert {
        "edit": "detach",
        "target": "arn:aws:iam::aws:policy/PowerUserAccess",
        "principal": "arn:aws:iam::333333333333:group/developers",
    } in _what_if_links(body, "policies")
    assert 'via group <a href="/accounts/333333333333/groups/developers/">developers</a>' in body


def test_user_detail_shows_group_inline_policy_with_group_name(logged_in_client, imported_sample):
    body = logged_in_client.get(ALICE).content.decode()

    assert re.search(
        r"<strong>developers-pass-lambda-roles</strong> · via group "
        r'<a href="/accounts/333333333333/groups/developers/">developers</a>',
        body,
    )


def test_user_detail_without_credential_report_says_so(logged_in_client, imported_shared):
    body = logged_in_client.get("/accounts/200611803367/users/privesc-sre-user/").content.decode()

    assert "no credential report" in body
    assert "No credential report: access keys are unknown." in body


def test_user_detail_shows_boundary_and_access_keys(logged_in_client, imported_sample):
    bob = logged_in_client.get("/accounts/333333333333/users/bob/").content.decode()
    ci = logged_in_client.get("/accounts/333333333333/users/ci-deploy/").content.decode()

    assert (
        'Permissions boundary: <a href="/accounts/333333333333/policies/'
        'arn:aws:iam::333333333333:policy/developer-boundary/">developer-boundary</a>'
    ) in bob
    assert _rows(ci, "access-keys")[1].startswith("key 1 active")


def test_group_detail_lists_members_and_policies(logged_in_client, imported_sample):
    body = logged_in_client.get("/accounts/333333333333/groups/developers/").content.decode()

    members = [row.split(" ")[0] for row in _rows(body, "members")[1:]]
    assert "alice" in members
    assert _rows(body, "policies")[1].startswith("PowerUserAccess AWS managed")


def test_role_detail_links_trust_principal_in_estate(logged_in_client, imported_sample):
    body = logged_in_client.get(DEPLOY).content.decode()

    assert (
        '<a href="/accounts/333333333333/users/ci-deploy/" class="principal-name">ci-deploy</a>'
        in body
    )
    assert "StringEquals sts:ExternalId" in body
    assert 'class="highlight"' in body


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            AUDIT,
            [
                '<a href="/accounts/222222222222/" class="principal-name">acme-security</a>',
                "account root",
            ],
            id="links-account-root-to-account-page",
        ),
        pytest.param(
            "/accounts/333333333333/roles/app-server/",
            [
                '<span class="badge service">ec2.amazonaws.com</span>',
                "arn:aws:iam::333333333333:instance-profile/app-server",
            ],
            id="shows-service-badge-and-instance-profile",
        ),
        pytest.param(
            "/accounts/333333333333/roles/public-reader/", ["* anyone"], id="marks-anyone-principal"
        ),
    ],
)
def test_role_detail_names_trust_principals(logged_in_client, imported_sample, url, expected):
    body = logged_in_client.get(url).content.decode()

    for text in expected:
        assert text in body


def test_policy_detail_lists_attachments_and_versions(logged_in_client, imported_sample):
    body = logged_in_client.get(CI_POLICY).content.decode()

    assert _rows(body, "attachments")[1:] == [
        "user ci-deploy arn:aws:iam::333333333333:user/ci-deploy What if detached…"
    ]
    assert _what_if_links(body, "attachments") == [
        {
            "edit": "detach",
            "target": "arn:aws:iam::333333333333:policy/ci-deploy-assume",
            "principal": "arn:aws:iam::333333333333:user/ci-deploy",
        }
    ]
    assert re.findall(r'hx-get="\?version=(v\d)"', body) == ["v3", "v2", "v1"]


def test_policy_detail_version_htmx_returns_version_partial(logged_in_client, imported_sample):
    response = htmx_get(logged_in_client, CI_POLICY, target="version", version="v1")

    body = assert_fragment(response)
    assert body.lstrip().startswith('<div id="version">')
    assert "Version <code>v1</code>" in body
    assert "Attached to" not in body


def test_policy_detail_unknown_version_is_404(logged_in_client, imported_sample):
    response = logged_in_client.get(CI_POLICY, {"version": "v9"})

    assert response.status_code == 404
    assert "has no version v9" in response.content.decode()


def test_aws_managed_policy_lists_boundary_and_other_accounts(logged_in_client, imported_sample):
    url = "/accounts/333333333333/policies/arn:aws:iam::333333333333:policy/developer-boundary/"

    body = logged_in_client.get(url).content.decode()

    assert 'user <a href="/accounts/333333333333/users/bob/">bob</a>' in body
    assert 'role <a href="/accounts/333333333333/roles/github-deploy/">github-deploy</a>' in body


def test_unknown_user_404_says_what_was_missing(logged_in_client, imported_sample):
    response = logged_in_client.get("/accounts/333333333333/users/ghost/")

    assert response.status_code == 404
    assert "No IAM user named “ghost” in account 333333333333." in response.content.decode()


def test_unknown_url_404_names_the_path(logged_in_client):
    response = logged_in_client.get("/no/such/page/")

    assert response.status_code == 404
    assert "There is no page at <code>/no/such/page/</code>." in response.content.decode()


def test_user_detail_keeps_the_nav_of_the_logged_in_reviewer(logged_in_client, imported_sample):
    body = logged_in_client.get(ALICE).content.decode()

    assert "Log out reviewer" in body
    assert '<a href="/users/" aria-current="page">Users</a>' in body
