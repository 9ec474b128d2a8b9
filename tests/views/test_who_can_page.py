"""The "Who can…?" page on the sample organisation: counts per account and per granting
statements, each opening its principals a page at a time, the CSV of every principal (the same
answer as the `who_can` command), and the answer kept for the analysis run."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identities.analysis import analyse_estate
from identities.models import IamUser
from identities.queries.shared_cache import warm_run
from identities.queries.who_can import answer_who_can, grant_key, select_allowed, summarise
from identities.views import escalations

pytestmark = pytest.mark.django_db

ORG, SEC, DEV, PROD = "111111111111", "222222222222", "333333333333", "444444444444"
AUDITOR = f"arn:aws:iam::{SEC}:user/auditor"
SECOPS_ADMIN = f"arn:aws:iam::{SEC}:user/secops-admin"
KEY_ROTATOR = f"arn:aws:iam::{SEC}:user/service/svc-key-rotator"
SEC_OAAR = f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole"
ADMIN_ACCESS = (
    "statement (Statement[0]) of AWS-managed policy AdministratorAccess "
    "(arn:aws:iam::aws:policy/AdministratorAccess)",
)
LAMBDA_DEPLOYER = (
    "statement (Statement[0]) of customer-managed policy lambda-deployer "
    f"(arn:aws:iam::{DEV}:policy/lambda-deployer)",
)
PASS_ROLE = {"action": "iam:PassRole", "resource": "*"}
HTMX = {"HX-Request": "true"}


def test_who_can_counts_principals_per_account_and_granting_statements(
    imported_sample, logged_in_client
):
    response = logged_in_client.get("/access/who-can/", PASS_ROLE)

    summary = response.context["summary"]
    assert (summary.total, summary.users, summary.roles, summary.conditional) == (10, 4, 6, 0)
    assert [(r.account_id, r.users, r.roles) for r in summary.by_account] == [
        (ORG, 2, 1),
        (DEV, 1, 2),
        (SEC, 1, 1),
        (PROD, 0, 2),
    ]
    assert [(r.granted_by, r.principals, r.accounts) for r in summary.by_grant] == [
        (ADMIN_ACCESS, 9, 4),
        (LAMBDA_DEPLOYER, 1, 1),
    ]
    body = response.content.decode()
    assert "10 principals may <code>iam:PassRole</code>" in body
    assert "List the 3 principals of this account" in body
    assert (
        'hx-get="/access/who-can/?action=iam%3APassRole&amp;resource=%2A&amp;account=111111111111"'
        in body
    )
    assert "arn:aws:iam::111111111111:user/carol" not in body  # lists open on demand


def test_who_can_opens_one_accounts_principals_a_page_at_a_time(
    imported_sample, logged_in_client, monkeypatch
):
    monkeypatch.setattr(escalations, "WHO_CAN_PAGE_SIZE", 2)

    first = logged_in_client.get("/access/who-can/", {**PASS_ROLE, "account": ORG}, headers=HTMX)
    second = logged_in_client.get(
        "/access/who-can/", {**PASS_ROLE, "account": ORG, "page": 2}, headers=HTMX
    )

    assert [a.principal for a in first.context["page"]] == [
        f"arn:aws:iam::{ORG}:role/okta-admin",
        f"arn:aws:iam::{ORG}:user/carol",
    ]
    assert [a.principal for a in second.context["page"]] == [f"arn:aws:iam::{ORG}:user/dave"]
    assert first.content.decode().lstrip().startswith('<div class="who-can-list access-list">')
    assert "3 principals; 1–2 shown" in first.content.decode()


def test_who_can_searches_the_list_of_one_grant(imported_sample, logged_in_client):
    grant = grant_key(ADMIN_ACCESS)

    response = logged_in_client.get(
        "/access/who-can/",
        {**PASS_ROLE, "grant": grant, "q": "organizationaccount"},
        headers={**HTMX, "HX-Target": f"rows-grant-{grant}"},
    )

    assert [a.principal for a in response.context["page"]] == [
        f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole" for account in (SEC, DEV, PROD)
    ]
    assert response.content.decode().lstrip().startswith(f'<div id="rows-grant-{grant}"')


def test_who_can_page_without_htmx_shows_the_opened_list_under_its_row(
    imported_sample, logged_in_client
):
    response = logged_in_client.get("/access/who-can/", {**PASS_ROLE, "account": DEV})

    body = response.content.decode()
    assert f'<tbody class="bunch" data-account="{DEV}">' in body
    assert f"arn:aws:iam::{DEV}:user/frank" in body
    assert f"arn:aws:iam::{ORG}:user/carol" not in body


def test_who_can_rejects_an_action_without_a_service(logged_in_client):
    response = logged_in_client.get(
        "/access/who-can/", {"action": "CreateAccessKey", "resource": "*"}
    )

    assert response.context["error"] == "Give an action as service:Name, e.g. iam:CreateAccessKey."
    assert response.context["summary"] is None


def test_who_can_csv_is_the_commands_answer(imported_sample, logged_in_client):
    question = ["iam:PassRole", f"arn:aws:iam::{DEV}:role/lambda-exec"]
    out = io.StringIO()
    call_command("who_can", *question, "--format", "json", stdout=out)

    response = logged_in_client.get(
        "/access/who-can/", {"action": question[0], "resource": question[1], "format": "csv"}
    )

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = json.loads(out.getvalue())
    assert [row["principal"] for row in rows] == [row["principal"] for row in expected]
    assert [(r["kind"], r["account"], r["conditional"], r["conditions"]) for r in rows] == [
        (e["kind"], e["account"], str(e["conditional"]).lower(), " | ".join(e["conditions"]))
        for e in expected
    ]
    assert any(row["conditional"] == "true" for row in rows)
    assert response["Content-Disposition"] == 'attachment; filename="who-can.csv"'


def test_who_can_csv_reads_the_answer_only_once_streamed(imported_sample, logged_in_client):
    with CaptureQueriesContext(connection) as asked:
        response = logged_in_client.get("/access/who-can/", {**PASS_ROLE, "format": "csv"})
    with CaptureQueriesContext(connection) as streamed:
        chunks = list(response.streaming_content)

    assert not any("identities_iamuser" in query["sql"] for query in asked.captured_queries)
    assert any("identities_iamuser" in query["sql"] for query in streamed.captured_queries)
    assert chunks[0] == b"principal,kind,account,conditional,conditions,granted_by\r\n"
    assert len(b"".join(chunks).splitlines()) == 11


def test_who_can_answer_is_kept_until_the_next_analysis(imported_sample):
    question = ("iam:CreateAccessKey", AUDITOR)
    first = answer_who_can(*question, now=timezone.now())
    IamUser.objects.filter(arn=SECOPS_ADMIN).delete()

    kept = answer_who_can(*question, now=timezone.now())
    analyse_estate()
    after = answer_who_can(*question, now=timezone.now())

    assert [a.principal for a in first] == [SEC_OAAR, SECOPS_ADMIN, KEY_ROTATOR]
    assert kept == first
    assert [a.principal for a in after] == [SEC_OAAR, KEY_ROTATOR]


def test_who_can_summary_and_selection_are_plain_functions_of_the_answer(imported_sample):
    found = answer_who_can("iam:CreateAccessKey", AUDITOR, now=timezone.now())

    summary = summarise(found)
    rotator = select_allowed(found, grant=summary.by_grant[1].key)

    assert [(r.principals, r.accounts) for r in summary.by_grant] == [(2, 1), (1, 1)]
    assert [a.principal for a in rotator] == [KEY_ROTATOR]
    assert [a.principal for a in select_allowed(found, account=SEC, q="ADMIN")] == [SECOPS_ADMIN]
    assert select_allowed(found, account=DEV) == []


def test_who_can_pass_role_is_answered_when_the_run_is_warmed(imported_sample, logged_in_client):
    warm_run()

    with CaptureQueriesContext(connection) as asked:
        response = logged_in_client.get("/access/who-can/", PASS_ROLE)

    assert response.context["summary"].total == 10
    assert not any("identities_iamuser" in query["sql"] for query in asked.captured_queries)


def test_who_can_assume_a_role_is_its_stored_access_edges(imported_sample, logged_in_client):
    deploy = f"arn:aws:iam::{PROD}:role/deploy"
    out = io.StringIO()
    call_command("who_can", "sts:AssumeRole", deploy, "--format", "json", stdout=out)

    response = logged_in_client.get(
        "/access/who-can/", {"action": "sts:AssumeRole", "resource": deploy}
    )

    # The trust policy names ci-deploy of another account, on condition of an ExternalId.
    assert json.loads(out.getvalue()) == [
        {
            "principal": f"arn:aws:iam::{DEV}:user/ci-deploy",
            "kind": "user",
            "account": DEV,
            "conditional": True,
            "conditions": ["sts:ExternalId"],
            "granted_by": list(
                answer_who_can("sts:AssumeRole", deploy, now=timezone.now())[0].granted_by
            ),
        }
    ]
    summary = response.context["summary"]
    assert [(r.account_id, r.users, r.conditional) for r in summary.by_account] == [(DEV, 1, 1)]
    assert len(summary.by_grant[0].granted_by) == 2  # the trust statement and the identity one


@pytest.mark.parametrize("shown", [1, 3])
def test_who_can_list_costs_the_same_queries_for_1_and_3_principals(
    imported_sample, logged_in_client, monkeypatch, shown
):
    url = "/access/who-can/"
    logged_in_client.get(url, {**PASS_ROLE, "account": ORG}, headers=HTMX)  # the answer kept
    monkeypatch.setattr(escalations, "WHO_CAN_PAGE_SIZE", shown)

    with CaptureQueriesContext(connection) as asked:
        response = logged_in_client.get(url, {**PASS_ROLE, "account": ORG}, headers=HTMX)

    assert len(response.context["page"].object_list) == shown
    # the session, the user and the current run (whose answer is read from the cache)
    assert len(asked.captured_queries) == 3


def test_who_can_shows_the_sets_of_statements_granting_the_most(
    imported_sample, logged_in_client, monkeypatch
):
    monkeypatch.setattr(escalations, "WHO_CAN_GRANT_ROWS", 1)

    response = logged_in_client.get("/access/who-can/", PASS_ROLE)

    assert [row.granted_by for row in response.context["grants"]] == [ADMIN_ACCESS]
    body = response.content.decode()
    assert body.count('<tbody class="bunch" data-grant=') == 1
    assert "And 1 more set of statements, granting the fewest principals" in body
