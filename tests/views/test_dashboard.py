from __future__ import annotations

import re

import pytest
from django.utils import timezone

from identities.models import Account
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

    # session, user, accounts, estate version and per-account counts (twice: no run started,
    # nothing kept), runs and their child runs (one prefetch); risk: latest diff,
    # administrators, paths, trend, open findings, last sync
    with django_assert_num_queries(15):
        response = logged_in_client.get("/")

    assert len(response.context["accounts"]) == count


def test_dashboard_counts_are_kept_until_a_run_applies(logged_in_client, django_assert_num_queries):
    account = AccountFactory(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    IamUserFactory(account=account)
    first = logged_in_client.get("/").context["totals"]["users"]
    IamUserFactory(account=account)  # not through ingest: the kept counts stand
    with django_assert_num_queries(13):  # the counts are not read again
        kept = logged_in_client.get("/").context["totals"]["users"]
    Account.objects.filter(pk=account.pk).update(
        last_sync_run=SyncRunFactory(started_at=timezone.now())
    )

    response = logged_in_client.get("/")

    assert (first, kept, response.context["totals"]["users"]) == (1, 1, 2)
    assert response.context["accounts"][0].user_count == 2
