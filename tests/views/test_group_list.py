from __future__ import annotations

import pytest

from tests.factories import AccountFactory, GroupMembershipFactory, IamGroupFactory, IamUserFactory
from tests.views.conftest import csv_export, list_names


@pytest.fixture
def groups(db):
    account = AccountFactory(account_id="222222222222", name="dev")
    admins = IamGroupFactory(account=account, name="admins", path="/ops/")
    developers = IamGroupFactory(account=account, name="developers")
    IamGroupFactory(account=account, name="empty")
    for name in ("alice", "bob"):
        GroupMembershipFactory(group=developers, user=IamUserFactory(account=account, name=name))
    GroupMembershipFactory(group=admins, user=IamUserFactory(account=account, name="carol"))
    return account


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "dev"}, ["developers"]),
        ({"path": "/ops/"}, ["admins"]),
        ({"sort": "-members"}, ["developers", "admins", "empty"]),
        ({"sort": "members"}, ["empty", "admins", "developers"]),
    ],
)
def test_group_list_filter_returns_exact_rows(logged_in_client, groups, params, expected):
    assert list_names(logged_in_client, "/groups/", params) == expected


def test_group_list_csv_export_is_exact(logged_in_client, groups):
    rows = csv_export(logged_in_client, "/groups/", q="developers")
    assert rows[0] == (
        "account_id,name,arn,unique_id,path,created,members,attached_policies,inline_policies"
    )
    assert rows[1].startswith("222222222222,developers,arn:aws:iam::222222222222:group/developers,")
    assert rows[1].endswith(",/,,2,0,0")
    assert len(rows) == 2
