"""Walls of rows become summaries (issue 11, item 3): a role's "who can assume" one row per trust
statement and account, Administrators per account, each opening a searchable list a page at a
time; the counts add up to the rows they summarise, and the CSV keeps every row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from identities.arns import account_of
from identities.models import AccessEdge, IamRole
from identities.queries import access, summaries
from identities.queries.findings import admin_paths, administrators
from identities.views.access import LIST_PAGE_SIZE

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated_estate(db: None) -> None:
    """Three generated accounts: roles that trust whole accounts, so walls of rows."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def _busiest_role() -> IamRole:
    """The role the most principals can assume directly (groups expanded)."""
    targets = AccessEdge.objects.filter(outcome__in=access.POSSIBLE).values_list(
        "target_id", flat=True
    )
    roles = IamRole.objects.select_related("account").filter(pk__in=set(targets))
    return max(roles, key=lambda role: (len(access.access_into(role)), role.arn))


def _htmx(client: Any, url: str, params: dict[str, str], target: str) -> Any:
    return client.get(url, params, headers={"HX-Request": "true", "HX-Target": target})


def test_role_access_summary_counts_add_up_to_every_direct_edge(generated_estate, logged_in_client):
    role = _busiest_role()
    every = access.access_into(role)
    assert len(every) > LIST_PAGE_SIZE  # a wall of rows, or this test proves nothing

    response = logged_in_client.get(
        reverse("identities:role-access", args=[role.account.account_id, role.name])
    )

    bunches = response.context["direct_bunches"]
    assert response.context["direct"] == []
    assert sum(bunch.count for bunch in bunches) == len(every) == response.context["direct_count"]
    assert sum(n for bunch in bunches for _, n in bunch.kinds) == len(every)
    assert len({(bunch.label, bunch.account) for bunch in bunches}) == len(bunches)
    assert len(bunches) < len(every)
    body = response.content.decode()
    assert body.count('<tbody class="bunch"') == len(bunches) + len(
        response.context["chain_bunches"]
    )


def test_role_access_list_pages_through_one_bunch_exactly(generated_estate, logged_in_client):
    role = _busiest_role()
    url = reverse("identities:role-access-list", args=[role.account.account_id, role.name])
    bunch = summaries.direct_bunches(access.access_into(role))[0]

    seen: list[str] = []
    for number in range(1, bunch.count // LIST_PAGE_SIZE + 2):
        response = _htmx(
            logged_in_client,
            url,
            {"part": "direct", "bunch": bunch.key, "page": str(number)},
            f"rows-direct-{bunch.key}",
        )
        assert response.status_code == 200
        seen.extend(row.source for row in response.context["rows"])

    expected = [
        row.source
        for row in access.access_into(role)
        if summaries.trust_statement(row) == bunch.label
    ]
    expected = [source for source in expected if account_of(source) == bunch.account]
    assert seen == expected
    assert len(seen) == bunch.count


def test_role_access_list_search_narrows_and_keeps_the_box(generated_estate, logged_in_client):
    role = _busiest_role()
    url = reverse("identities:role-access-list", args=[role.account.account_id, role.name])
    bunch = summaries.direct_bunches(access.access_into(role))[0]
    first = summaries.direct_in_bunch(access.access_into(role), bunch.key)[0].source
    name = first.rsplit("/", 1)[-1]

    opened = _htmx(logged_in_client, url, {"part": "direct", "bunch": bunch.key}, "")
    searched = _htmx(
        logged_in_client,
        url,
        {"part": "direct", "bunch": bunch.key, "q": name},
        f"rows-direct-{bunch.key}",
    )

    assert 'type="search"' in opened.content.decode()
    rows = searched.context["rows"]
    assert first in [row.source for row in rows]
    assert all(name.lower() in row.source.lower() for row in rows)
    assert 'type="search"' not in searched.content.decode()  # only the rows swap
    assert searched.content.decode().lstrip().startswith(f'<div id="rows-direct-{bunch.key}"')


def test_role_access_chain_summary_counts_add_up(generated_estate, logged_in_client):
    role = _busiest_role()

    response = logged_in_client.get(
        reverse("identities:role-access", args=[role.account.account_id, role.name])
    )

    count = response.context["chain_count"]
    shown = response.context["chains"] or response.context["chain_bunches"]
    if response.context["chain_bunches"]:
        assert sum(bunch.count for bunch in shown) == count
    else:
        assert len(shown) == count


def test_role_access_csv_keeps_every_row_when_summarised(generated_estate, logged_in_client):
    role = _busiest_role()
    url = reverse("identities:role-access", args=[role.account.account_id, role.name])

    page = logged_in_client.get(url)
    csv = logged_in_client.get(url, {"format": "csv"})

    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert len(lines) - 1 == page.context["direct_count"] + page.context["chain_count"]


def test_role_access_list_unknown_part_is_a_404(generated_estate, logged_in_client):
    role = _busiest_role()
    url = reverse("identities:role-access-list", args=[role.account.account_id, role.name])

    response = logged_in_client.get(url, {"part": "sideways", "bunch": "x"})

    assert response.status_code == 404


def test_administrators_grouped_by_account_add_up(generated_estate, logged_in_client):
    response = logged_in_client.get(reverse("identities:administrators"))

    rows = response.context["by_account"]
    assert len(rows) >= 2
    assert sum(row.administrators for row in rows) == administrators().count()
    assert sum(row.paths for row in rows) == admin_paths().count()
    assert sum(row.full + row.can_grant for row in rows) == administrators().count()
    body = response.content.decode()
    assert body.count('<tbody class="bunch"') == len(rows)


def test_administrators_list_of_one_account_pages_exactly(generated_estate, logged_in_client):
    rows = logged_in_client.get(reverse("identities:administrators")).context["by_account"]
    account = max(rows, key=lambda row: row.paths)
    url = reverse("identities:administrators")

    seen: dict[str, list[str]] = {"admins": [], "paths": []}
    for listing, total in (("admins", account.administrators), ("paths", account.paths)):
        for number in range(1, total // 50 + 2):
            response = _htmx(
                logged_in_client,
                url,
                {"account": account.account_id, "list": listing, "page": str(number)},
                "",
            )
            body = response.content.decode()
            assert body.lstrip().startswith(f'<div class="admin-list {listing}">')
            items = response.context["rows"]
            seen[listing].extend(
                item.arn if listing == "admins" else item[0].source for item in items
            )

    assert seen["admins"] == [a.arn for a in administrators(account.account_id)]
    paths = admin_paths().filter(administrator__account__account_id=account.account_id)
    assert seen["paths"] == [path.source for path in paths]
    assert len(seen["paths"]) == account.paths


def test_administrators_page_is_small_at_scale(generated_estate, logged_in_client):
    response = logged_in_client.get(reverse("identities:administrators"))

    # No principal listed on the page itself past one page of rows: only counts.
    listed = len(re.findall(r'class="principal-name"', response.content.decode()))
    assert listed <= 2 * 50


def test_role_access_list_is_a_page_of_its_own_without_htmx(generated_estate, logged_in_client):
    role = _busiest_role()
    bunch = summaries.direct_bunches(access.access_into(role))[0]
    url = reverse("identities:role-access-list", args=[role.account.account_id, role.name])

    response = logged_in_client.get(url, {"part": "direct", "bunch": bunch.key})

    body = response.content.decode()
    assert "<html" in body
    assert 'type="search"' in body
    assert "Directly: one row of the" in body
    assert response.context["page"].paginator.count == bunch.count


def _widest_user() -> Any:
    """The user that can end up in the most roles."""
    from identities.models import IamUser

    users = IamUser.objects.select_related("account").order_by("name")[:20]
    return max(users, key=lambda user: (len(access.reach_from(user.arn)), user.arn))


def test_user_reach_summary_counts_add_up_and_each_row_lists_its_rows(
    generated_estate, logged_in_client
):
    user = _widest_user()
    args = [user.account.account_id, user.name]

    response = logged_in_client.get(reverse("identities:user-reach", args=args))

    summarised = 0
    for part, count in (("direct", "direct_count"), ("chains", "chain_count")):
        bunches = response.context["direct_bunches" if part == "direct" else "chain_bunches"]
        if not bunches:
            continue
        summarised += 1
        listed: list[str] = []
        for bunch in bunches:
            for number in range(1, bunch.count // LIST_PAGE_SIZE + 2):
                opened = _htmx(
                    logged_in_client,
                    reverse("identities:user-reach-list", args=args),
                    {"part": part, "bunch": bunch.key, "page": str(number)},
                    f"rows-{part}-{bunch.key}",
                )
                listed.extend(
                    row.target if part == "direct" else row.node for row in opened.context["rows"]
                )
        assert sum(bunch.count for bunch in bunches) == response.context[count] == len(listed)
        assert len(set(listed)) == len(listed)
    assert summarised >= 1
