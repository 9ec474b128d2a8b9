from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import (
    AccessKeyFactory,
    AccountFactory,
    GroupMembershipFactory,
    IamUserFactory,
)
from tests.views.conftest import assert_fragment, csv_lines, htmx_get, page_names


@pytest.fixture
def users(db):
    prod = AccountFactory(account_id="111111111111", name="prod")
    dev = AccountFactory(account_id="222222222222", name="dev")
    alice = IamUserFactory(account=dev, name="alice", mfa_active=True, password_enabled=True)
    bob = IamUserFactory(
        account=dev, name="bob", path="/ops/", mfa_active=False, password_enabled=True
    )
    ci = IamUserFactory(account=prod, name="ci-deploy", mfa_active=False, password_enabled=False)
    legacy = IamUserFactory(account=prod, name="legacy", unique_id="AIDALEGACY0000000001")
    AccessKeyFactory(user=ci, slot=1, active=True)
    AccessKeyFactory(user=alice, slot=1, active=False)
    GroupMembershipFactory(user=alice, group__account=dev, group__name="developers")
    return {"alice": alice, "bob": bob, "ci": ci, "legacy": legacy}


def test_user_list_search_matches_name_substring(logged_in_client, users):
    response = logged_in_client.get("/users/", {"q": "LI"})

    assert page_names(response) == ["alice"]


def test_user_list_search_matches_arn_and_exact_unique_id(logged_in_client, users):
    by_arn = logged_in_client.get("/users/", {"q": "111111111111:user/"})
    by_id = logged_in_client.get("/users/", {"q": "AIDALEGACY0000000001"})
    by_partial_id = logged_in_client.get("/users/", {"q": "AIDALEGACY"})

    assert page_names(by_arn) == ["ci-deploy", "legacy"]
    assert page_names(by_id) == ["legacy"]
    assert page_names(by_partial_id) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"account": "222222222222"}, ["alice", "bob"]),
        ({"path": "/ops/"}, ["bob"]),
        ({"mfa": "yes"}, ["alice"]),
        ({"mfa": "no"}, ["bob", "ci-deploy"]),
        ({"mfa": "unknown"}, ["legacy"]),
        ({"password": "yes"}, ["alice", "bob"]),
        ({"password": "no"}, ["ci-deploy"]),
        ({"keys": "yes"}, ["ci-deploy"]),
        ({"keys": "no"}, ["alice", "bob", "legacy"]),
        ({"mfa": "no", "account": "111111111111"}, ["ci-deploy"]),
        ({"sort": "-name"}, ["legacy", "ci-deploy", "bob", "alice"]),
        ({"sort": "groups"}, ["ci-deploy", "legacy", "bob", "alice"]),
        ({"account": "999999999999"}, ["alice", "bob", "ci-deploy", "legacy"]),
    ],
)
def test_user_list_filter_returns_exact_rows(logged_in_client, users, params, expected):
    assert page_names(logged_in_client.get("/users/", params)) == expected


def test_user_list_htmx_returns_results_partial_only(logged_in_client, users):
    response = htmx_get(logged_in_client, "/users/", q="bob")

    body = assert_fragment(response)
    assert body.lstrip().startswith('<section id="results"')
    assert page_names(response) == ["bob"]
    assert "<strong>1</strong> user<" in body


def test_user_list_full_page_has_active_search_and_varies(logged_in_client, users):
    response = logged_in_client.get("/users/")

    body = response.content.decode()
    assert 'hx-trigger="input changed delay:300ms, search"' in body
    assert 'hx-target="#results"' in body
    assert 'hx-push-url="true"' in body
    assert response["Vary"] == "HX-Request, HX-History-Restore-Request, Cookie"


def test_user_list_history_restore_gets_full_page(logged_in_client, users):
    response = logged_in_client.get(
        "/users/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()


def test_user_list_paginates_fifty_per_page_with_htmx_links(logged_in_client, db):
    account = AccountFactory(account_id="123456789012")
    for index in range(52):
        IamUserFactory(account=account, name=f"u{index:03d}")

    first = logged_in_client.get("/users/", {"q": "u0"})
    second = htmx_get(logged_in_client, "/users/", q="u0", page=2)

    assert len(first.context["page"].object_list) == 50
    assert page_names(second) == ["u050", "u051"]
    assert 'href="?q=u0&amp;page=2" hx-get="?q=u0&amp;page=2"' in first.content.decode()


def test_user_list_csv_export_is_exact(logged_in_client, users):
    users["ci"].create_date = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    users["ci"].save()

    response = logged_in_client.get("/users/", {"format": "csv", "account": "111111111111"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="iam-users.csv"'
    assert csv_lines(response) == [
        "account_id,name,arn,unique_id,path,created,groups,attached_policies,inline_policies,"
        "mfa_active,password_enabled,password_last_used,active_keys",
        f"111111111111,ci-deploy,arn:aws:iam::111111111111:user/ci-deploy,{users['ci'].unique_id},"
        "/,2024-01-02T03:04:05+00:00,0,0,0,false,false,,1",
        "111111111111,legacy,arn:aws:iam::111111111111:user/legacy,AIDALEGACY0000000001,/,,"
        "0,0,0,,,,0",
    ]
