from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import AccountFactory, IamRoleFactory, PolicyAttachmentFactory
from tests.views.conftest import csv_export, list_names


@pytest.fixture
def roles(db):
    account = AccountFactory(account_id="444444444444", name="prod")
    deploy = IamRoleFactory(
        account=account, name="deploy", last_used_date=dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    )
    IamRoleFactory(
        account=account, name="audit", last_used_date=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    )
    IamRoleFactory(account=account, name="AWSServiceRoleForSupport", path="/aws-service-role/")
    PolicyAttachmentFactory(role=deploy, policy__account=account)
    return account


def test_role_list_csv_export_is_exact(logged_in_client, roles):
    rows = csv_export(logged_in_client, "/roles/", q="audit")
    assert rows[0] == (
        "account_id,name,arn,unique_id,path,created,last_used,last_used_region,"
        "attached_policies,inline_policies,description"
    )
    assert rows[1].startswith("444444444444,audit,arn:aws:iam::444444444444:role/audit,AROA")
    assert rows[1].endswith(",/,,2025-06-01T00:00:00+00:00,,0,0,")
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["audit", "AWSServiceRoleForSupport", "deploy"]),
        ({"service_linked": "hide"}, ["audit", "deploy"]),
        ({"service_linked": "only"}, ["AWSServiceRoleForSupport"]),
        ({"sort": "-last_used"}, ["audit", "deploy", "AWSServiceRoleForSupport"]),
        ({"sort": "-policies"}, ["deploy", "audit", "AWSServiceRoleForSupport"]),
        ({"q": "arn:aws:iam::444444444444:role/deploy"}, ["deploy"]),
    ],
)
def test_role_list_filter_returns_exact_rows(logged_in_client, roles, params, expected):
    assert list_names(logged_in_client, "/roles/", params) == expected
