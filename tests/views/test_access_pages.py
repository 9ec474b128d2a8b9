from __future__ import annotations

import html
import re

import pytest

pytestmark = pytest.mark.django_db

DEV = "333333333333"
PROD = "444444444444"
SEC = "222222222222"
ALICE = f"arn:aws:iam::{DEV}:user/alice"
CI = f"arn:aws:iam::{DEV}:user/ci-deploy"
DEPLOY = f"arn:aws:iam::{PROD}:role/deploy"


def test_role_access_lists_conditional_edge_with_both_statements(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{PROD}/roles/deploy/access/")

    direct = response.context["direct"]
    assert [(a.source, a.outcome, a.condition_keys) for a in direct] == [
        (CI, "conditional", ("sts:ExternalId",))
    ]
    assert len(direct[0].granted_by) == 2
    assert "trust policy deploy" in direct[0].granted_by[0]
    assert "ci-deploy-assume" in direct[0].granted_by[1]
    assert b"conditional" in response.content


def test_role_access_htmx_returns_only_the_fragment(imported_sample, logged_in_client):
    response = logged_in_client.get(
        f"/accounts/{PROD}/roles/deploy/access/", headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="who-can-assume"')
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_role_access_shows_the_three_hop_chain(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{PROD}/roles/prod-break-glass/access/")

    chains = {reached.node: reached.path for reached in response.context["chains"]}
    assert chains[ALICE] == (
        ALICE,
        f"arn:aws:iam::{DEV}:role/dev-ops",
        f"arn:aws:iam::{PROD}:role/prod-ops",
        f"arn:aws:iam::{PROD}:role/prod-break-glass",
    )


def test_role_access_csv_has_direct_edges_and_chains(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{PROD}/roles/prod-break-glass/access/?format=csv")

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "source,hops,outcome,conditions,condition_values,granted_by_or_chain"
    # Issue 9, item 7: the chain keeps hop 1's condition (dev-ops requires MFA).
    assert f"{ALICE},3,chain,aws:MultiFactorAuthPresent,hop 1: MFA = true," in "\n".join(lines)
    assert any(line.startswith(f"arn:aws:iam::{PROD}:role/prod-ops,1,allow,,,") for line in lines)


def test_role_access_chains_show_each_hops_condition(imported_sample, logged_in_client):
    # Issue 9, items 7 and 10: "Through role chains" shows alice's MFA hop with its value.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean
    response = logged_in_client.get(f"/accounts/{PROD}/roles/prod-break-glass/access/")

    chains = {chain.node: chain for chain in response.context["chains"]}
    assert chains[ALICE].condition_values == {"aws:MultiFactorAuthPresent": "MFA = true"}
    body = response.content.decode()
    assert "hop 1 only when" in body
    assert 'title="aws:MultiFactorAuthPresent">MFA = true</code>' in body


def test_role_access_direct_edges_show_what_conditions_require(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{PROD}/roles/deploy/access/")

    assert 'title="sts:ExternalId">ExternalId = acme-ci-7f3a9c</code>' in response.content.decode()


def test_user_reach_lists_direct_role_and_chain_ends(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{DEV}/users/alice/reach/")

    # dev-ops names alice; the others trust "*" and her group's PowerUserAccess allows them.
    assert [a.target for a in response.context["direct"]] == [
        f"arn:aws:iam::{SEC}:role/org-inventory",
        f"arn:aws:iam::{DEV}:role/dev-ops",
        f"arn:aws:iam::{DEV}:role/public-reader",
        f"arn:aws:iam::{PROD}:role/partner-gateway",
    ]
    assert {(r.node, r.hops) for r in response.context["chains"]} >= {
        (f"arn:aws:iam::{PROD}:role/prod-ops", 2),
        (f"arn:aws:iam::{PROD}:role/prod-break-glass", 3),
    }


def test_user_reach_links_its_rows_of_the_api(imported_sample, logged_in_client):
    page = logged_in_client.get(f"/accounts/{DEV}/users/alice/reach/")
    link = re.search(r'id="reach-json" href="([^"]+)"', page.content.decode())
    assert link is not None

    found = logged_in_client.get(html.unescape(link.group(1))).json()

    # What the page counts: her direct roles and the ends of her chains, each once.
    reached = {row["target"] for row in found["results"]}
    shown = {a.target for a in page.context["direct"]} | {r.node for r in page.context["chains"]}
    assert (
        found["count"]
        == len(found["results"])
        == page.context["direct_count"] + page.context["chain_count"]
    )
    assert reached == shown
    assert {row["source"] for row in found["results"]} == {ALICE}


def test_explain_refused_pair_names_the_deciding_layer(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/explain/", {"source": ALICE, "target": DEPLOY})

    explanation = response.context["explanation"]
    assert explanation.possible is False
    assert "decided by the trust layer" in explanation.text
    assert b"cannot assume it" in response.content


def test_explain_conditional_pair_lists_the_condition(imported_sample, logged_in_client):
    response = logged_in_client.get(
        "/access/explain/", {"source": CI, "target": DEPLOY}, headers={"HX-Request": "true"}
    )

    assert response.context["explanation"].condition_keys == ("sts:ExternalId",)
    assert response.content.decode().lstrip().startswith('<div id="explanation">')
    assert b"under conditions" in response.content


def test_explain_unknown_principal_is_a_clear_error(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/explain/", {"source": "nobody", "target": DEPLOY})

    assert response.status_code == 200
    assert response.context["error"] == "'nobody' is neither an ARN nor account/name"


def test_administrators_page_lists_admins_with_reasons(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/administrators/")

    shown = {listed["list"]: listed["rows"] for listed in response.context["shown"]}
    admins = {admin.arn: admin for admin in shown["admins"]}
    okta = admins["arn:aws:iam::111111111111:role/okta-admin"]
    assert okta.basis == "full"
    assert "AdministratorAccess" in okta.reason or any(
        "AdministratorAccess" in ref for ref in okta.statements
    )
    assert len(shown["paths"]) >= 1


def test_findings_page_filters_by_kind(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/findings/", {"kind": "public_role"})

    rows = list(response.context["page"])
    assert [(finding.principal_arn, finding.severity) for finding in rows] == [
        (f"arn:aws:iam::{DEV}:role/public-reader", "high"),
        (f"arn:aws:iam::{SEC}:role/org-inventory", "medium"),
        (f"arn:aws:iam::{PROD}:role/partner-gateway", "medium"),
    ]


@pytest.mark.parametrize(
    "url",
    [
        f"/accounts/{PROD}/roles/deploy/access/",
        f"/accounts/{DEV}/users/alice/reach/",
        "/access/administrators/",
        "/access/findings/",
        "/access/explain/",
    ],
)
def test_access_pages_need_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_access_pages_without_analysis_say_how_to_run_it(db, logged_in_client, sample_bundle):
    from identities.ingest.imports import import_bundle

    import_bundle(sample_bundle)

    response = logged_in_client.get(f"/accounts/{PROD}/roles/deploy/access/")

    assert b"No access analysis yet" in response.content
