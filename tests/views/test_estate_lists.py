"""What the four estate lists share: the number of queries does not grow with the rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from identities.models import Account
from tests.factories import (
    AccessKeyFactory,
    AccountFactory,
    GroupMembershipFactory,
    IamGroupFactory,
    IamRoleFactory,
    IamUserFactory,
    PolicyAttachmentFactory,
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
