"""What the four estate lists share: the number of queries does not grow with the rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from identities.models import Account
from identities.queries import shared_cache
from identities.queries.estate import PAGE_SIZE
from identities.queries.paging import forget_kept
from tests.factories import (
    AccessKeyFactory,
    AccountFactory,
    GroupMembershipFactory,
    IamGroupFactory,
    IamRoleFactory,
    IamUserFactory,
    PolicyAttachmentFactory,
    SyncRunFactory,
)


def _user(account: Account) -> None:
    user = IamUserFactory(account=account, mfa_active=True)
    GroupMembershipFactory(user=user, group__account=account)
    AccessKeyFactory(user=user)


def _group(account: Account) -> None:
    GroupMembershipFactory(group=IamGroupFactory(account=account), user__account=account)


def _role(account: Account) -> None:
    PolicyAttachmentFactory(role=IamRoleFactory(account=account), policy__account=account)


def _policy(account: Account) -> None:
    PolicyAttachmentFactory(policy__account=account, user=IamUserFactory(account=account))


@pytest.mark.parametrize(
    ("url", "make_row"),
    [("/users/", _user), ("/groups/", _group), ("/roles/", _role), ("/policies/", _policy)],
)
@pytest.mark.parametrize("count", [1, 3])
def test_estate_list_query_count_is_constant(
    logged_in_client, django_assert_num_queries, url: str, make_row: Callable, count: int
):
    account = AccountFactory()
    for _ in range(count):
        make_row(account)

    # session, user, account choices, estate version, the list's order (nothing synced: read at
    # every request), page
    with django_assert_num_queries(6):
        response = logged_in_client.get(url)

    assert len(response.context["page"].object_list) == count


@pytest.mark.parametrize(
    ("url", "make_row"),
    [("/users/", _user), ("/groups/", _group), ("/roles/", _role), ("/policies/", _policy)],
)
def test_estate_list_order_is_kept_until_a_run_applies(
    logged_in_client, django_assert_num_queries, url: str, make_row: Callable
):
    account = AccountFactory(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    make_row(account)
    first = logged_in_client.get(url).context["page"].paginator.count
    make_row(account)  # not through ingest: the kept order stands

    # session, user, account choices, estate version, page (the order is kept)
    with django_assert_num_queries(5):
        kept = logged_in_client.get(url).context["page"].paginator.count
    Account.objects.update(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    after_run = logged_in_client.get(url).context["page"].paginator.count

    assert (first, kept, after_run) == (1, 1, 2)


def test_estate_list_pages_follow_the_sorted_order(logged_in_client):
    account = AccountFactory(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    names = [f"role-{number:03}" for number in range(PAGE_SIZE + 5)]
    for name in reversed(names):
        IamRoleFactory(account=account, name=name)

    pages = [
        [
            role.name
            for role in logged_in_client.get("/roles/", {"page": page, **sort}).context["page"]
        ]
        for page, sort in ((1, {}), (2, {}), (1, {"sort": "-name"}))
    ]

    assert pages == [names[:PAGE_SIZE], names[PAGE_SIZE:], names[::-1][:PAGE_SIZE]]


def test_estate_list_search_reads_its_rows_at_once(logged_in_client, django_assert_num_queries):
    account = AccountFactory(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    IamUserFactory(account=account, name="alice")
    IamUserFactory(account=account, name="bob")

    # session, user, account choices, count, page
    with django_assert_num_queries(5):
        response = logged_in_client.get("/users/", {"q": "ali"})

    assert [user.name for user in response.context["page"]] == ["alice"]


@pytest.mark.parametrize(
    ("url", "make_row"),
    [("/users/", _user), ("/groups/", _group), ("/roles/", _role), ("/policies/", _policy)],
)
def test_estate_list_order_warmed_is_read_by_a_fresh_process(
    logged_in_client, django_assert_num_queries, url: str, make_row: Callable
):
    account = AccountFactory(last_sync_run=SyncRunFactory(started_at=timezone.now()))
    make_row(account)
    make_row(account)
    took = shared_cache.warm_run()  # what the worker does when an analysis finishes
    forget_kept()  # a web process that has read nothing yet

    # session, user, account choices, estate version, page (the order comes from the cache)
    with django_assert_num_queries(5):
        page = logged_in_client.get(url).context["page"]

    assert "list-orders" in took
    assert page.paginator.count == 2
