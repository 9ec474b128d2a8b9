from __future__ import annotations

import re

import pytest

from tests.factories import (
    AccountFactory,
    IamGroupFactory,
    IamRoleFactory,
    IamUserFactory,
    ManagedPolicyFactory,
    SyncRunFactory,
)


def test_dashboard_without_accounts_says_how_to_import(logged_in_client):
    body = logged_in_client.get("/").content.decode()

    assert "No accounts yet" in body
    assert "<code>python manage.py import_authz FILE</code>" in body


def test_dashboard_lists_sample_accounts_with_counts(logged_in_client, imported_sample):
    body = logged_in_client.get("/").content.decode()

    names = re.findall(r'class="principal-name">([^<]+)</a>', body)
    assert names == ["acme-dev", "acme-management", "acme-prod", "acme-security"]
    assert '<span class="badge management" title="Organizations management account">' in body
    assert "Succeeded" in body


def test_dashboard_counts_do_not_multiply_across_relations(logged_in_client, db):
    account = AccountFactory(name="prod")
    for _ in range(2):
        IamUserFactory(account=account)
    for _ in range(3):
        IamGroupFactory(account=account)
    IamRoleFactory(account=account)
    ManagedPolicyFactory(account=account)
    ManagedPolicyFactory(account=account, is_aws_managed=True)

    response = logged_in_client.get("/")

    row = response.context["accounts"][0]
    counts = (row.user_count, row.group_count, row.role_count)
    assert counts + (row.customer_policy_count, row.aws_policy_count) == (2, 3, 1, 1, 1)


@pytest.mark.parametrize("count", [1, 3])
def test_dashboard_query_count_is_constant(logged_in_client, django_assert_num_queries, count):
    for _ in range(count):
        run = SyncRunFactory()
        AccountFactory(last_sync_run=run)

    # session, user, accounts, 5 totals, runs and their child runs (one prefetch); risk: latest
    # diff, administrators, paths, trend, open findings, last sync
    with django_assert_num_queries(16):
        response = logged_in_client.get("/")

    assert len(response.context["accounts"]) == count
