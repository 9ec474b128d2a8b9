from __future__ import annotations

import pytest

from tests.factories import (
    AccountFactory,
    IamUserFactory,
    ManagedPolicyFactory,
    PolicyAttachmentFactory,
)
from tests.views.conftest import assert_fragment, csv_export, htmx_get, page_names


@pytest.fixture
def policies(db):
    account = AccountFactory(account_id="333333333333", name="dev")
    admin = ManagedPolicyFactory(
        account=account,
        name="AdministratorAccess",
        arn="arn:aws:iam::aws:policy/AdministratorAccess",
        is_aws_managed=True,
    )
    ManagedPolicyFactory(account=account, name="ci-deploy-assume")
    ManagedPolicyFactory(account=account, name="developer-boundary", boundary_usage_count=2)
    ManagedPolicyFactory(account=account, name="unused")
    PolicyAttachmentFactory(policy=admin, user=IamUserFactory(account=account))
    return account


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"scope": "aws"}, ["AdministratorAccess"]),
        ({"scope": "customer"}, ["ci-deploy-assume", "developer-boundary", "unused"]),
        ({"usage": "attached"}, ["AdministratorAccess"]),
        ({"usage": "unattached"}, ["ci-deploy-assume", "unused"]),
        ({"q": "DEPLOY"}, ["ci-deploy-assume"]),
        (
            {"scope": "bogus"},
            ["AdministratorAccess", "ci-deploy-assume", "developer-boundary", "unused"],
        ),
    ],
)
def test_policy_list_filter_returns_exact_rows(logged_in_client, policies, params, expected):
    assert page_names(logged_in_client.get("/policies/", params)) == expected


def test_policy_list_htmx_returns_results_partial(logged_in_client, policies):
    response = htmx_get(logged_in_client, "/policies/", scope="aws")

    body = assert_fragment(response)
    assert page_names(response) == ["AdministratorAccess"]
    assert 'href="/policies/?scope=aws&amp;format=csv"' in body


def test_policy_list_csv_export_is_exact(logged_in_client, policies):
    assert csv_export(logged_in_client, "/policies/", scope="aws") == [
        "account_id,name,arn,policy_id,path,aws_managed,default_version,versions,attachments,"
        "boundary_uses,created,updated",
        "333333333333,AdministratorAccess,arn:aws:iam::aws:policy/AdministratorAccess,"
        f"{policies.managed_policies.get(is_aws_managed=True).policy_id},/,true,v1,0,1,0,,",
    ]
