"""The escalation pages on the sample organisation: Escalations (by method, by principal,
every escalation, CSV), the catalogue, "Can escalate" on user and role pages, "Who can…?"."""

from __future__ import annotations

import csv
import io

import pytest

from identities.analysis.escalation_methods import METHODS

pytestmark = pytest.mark.django_db

DEV, SEC = "333333333333", "222222222222"
FRANK = f"arn:aws:iam::{DEV}:user/frank"
KEY_ROTATOR = f"arn:aws:iam::{SEC}:user/service/svc-key-rotator"
AUDITOR = f"arn:aws:iam::{SEC}:user/auditor"
SECOPS_ADMIN = f"arn:aws:iam::{SEC}:user/secops-admin"


def test_escalations_by_method_counts_principals(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/escalations/")

    rows = {
        row.method.id: (row.principals, row.escalations) for row in response.context["by_method"]
    }
    assert rows["IAM-CreateAccessKey"] == (1, 2)
    assert rows["Lambda-PassExistingRoleToNewLambdaThenInvoke"] == (3, 3)
    assert b"IAM-CreateAccessKey" in response.content


def test_escalations_by_principal_lists_frank(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/escalations/", {"view": "principal", "q": "frank"})

    [row] = response.context["by_principal"].object_list
    assert (row.principal, row.escalations, row.proven) == (FRANK, 11, 5)


def test_escalations_csv_has_one_row_per_escalation(imported_sample, logged_in_client):
    response = logged_in_client.get(
        "/access/escalations/", {"method": "IAM-CreateAccessKey", "format": "csv"}
    )

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["principal", "method", "status", "target", "conditions", "granted_by"],
        *(
            [
                KEY_ROTATOR,
                "IAM-CreateAccessKey",
                "proven",
                target,
                "",
                "statement (Statement[0]) of customer-managed policy iam-key-rotation "
                f"(arn:aws:iam::{SEC}:policy/iam-key-rotation)",
            ]
            for target in (AUDITOR, SECOPS_ADMIN)
        ),
    ]


def test_escalations_htmx_returns_only_the_fragment(imported_sample, logged_in_client):
    response = logged_in_client.get(
        "/access/escalations/", {"view": "all"}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="escalations"')
    assert "HX-Request" in response["Vary"]


def test_catalogue_explains_every_method(logged_in_client):
    response = logged_in_client.get("/access/escalations/methods/")

    body = response.content.decode()
    assert [m.id for m in METHODS if f'id="{m.id}"' not in body] == []
    assert "CodeStar" in body


def test_user_page_embeds_can_escalate_and_the_fragment_lists_the_method(
    imported_sample, logged_in_client
):
    page = logged_in_client.get(f"/accounts/{SEC}/users/svc-key-rotator/")
    fragment = logged_in_client.get(
        f"/accounts/{SEC}/users/svc-key-rotator/escalations/",
        headers={"HX-Request": "true"},
    )

    assert b"Can escalate" in page.content
    assert [(e.method, e.target) for e in fragment.context["escalations"]] == [
        ("IAM-CreateAccessKey", AUDITOR),
        ("IAM-CreateAccessKey", SECOPS_ADMIN),
    ]
    assert fragment.content.decode().lstrip().startswith('<div id="can-escalate"')


def test_role_page_says_when_nothing_escalates(imported_sample, logged_in_client):
    response = logged_in_client.get(f"/accounts/{DEV}/roles/lambda-exec/escalations/")

    assert response.context["escalations"] == []
    assert b"No escalation" in response.content


def test_who_can_lists_the_principals_allowed(imported_sample, logged_in_client):
    response = logged_in_client.get(
        "/access/who-can/", {"action": "iam:CreateAccessKey", "resource": AUDITOR}
    )

    [row] = response.context["summary"].by_account
    assert (row.account_id, row.users, row.roles) == (SEC, 2, 1)


def test_escalations_csv_past_the_limit_asks_for_a_filter(
    imported_sample, logged_in_client, monkeypatch
):
    from identities.views import escalations

    every = sum(
        row.escalations for row in logged_in_client.get("/access/escalations/").context["by_method"]
    )
    monkeypatch.setattr(escalations, "CSV_LIMIT", every - 1)

    refused = logged_in_client.get("/access/escalations/", {"format": "csv"})
    page = logged_in_client.get("/access/escalations/").content.decode()
    narrowed = logged_in_client.get(
        "/access/escalations/", {"method": "IAM-CreateAccessKey", "format": "csv"}
    )

    assert refused.status_code == 422
    assert (
        f"would hold {every:,} escalations, more than the {every - 1:,}" in refused.content.decode()
    )
    assert 'id="csv-too-big"' in page and "format=csv" not in page
    assert narrowed.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(narrowed.streaming_content).decode())))) == 3
