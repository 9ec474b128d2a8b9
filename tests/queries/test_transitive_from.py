"""`TransitiveFrom`: one source's rows of `iter_transitive_edges`, a slice at a time."""

from __future__ import annotations

import pytest

from identities.queries import access


@pytest.fixture
def generated_estate(db: None) -> None:
    """Ten generated accounts, analysed: chains of several hops, through access groups and
    escalations."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def _by_source(account_id: str | None) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in access.iter_transitive_edges(account_id):
        found.setdefault(item.source, []).append(item.as_row())
    return found


def test_each_sources_rows_are_those_of_the_whole_list(generated_estate: None) -> None:
    whole = _by_source(None)
    chained = [source for source, rows in whole.items() if any(r["transitive"] for r in rows)]
    assert len(chained) > 20
    for source in chained[:: max(len(chained) // 25, 1)]:
        rows = access.TransitiveFrom(source)
        assert [item.as_row() for item in rows] == whole[source]
        assert len(rows) == len(whole[source])
        # A slice reads the edges of its own rows only, and gives the same rows.
        assert [item.as_row() for item in rows[3:7]] == whole[source][3:7]


def test_one_accounts_rows_of_a_source(generated_estate: None) -> None:
    every = _by_source(None)
    source = max(every, key=lambda s: len({r["target"].split(":")[4] for r in every[s]}))
    account = every[source][-1]["target"].split(":")[4]
    expected = _by_source(account)[source]
    assert 0 < len(expected) < len(every[source])
    assert [item.as_row() for item in access.TransitiveFrom(source, account)] == expected


def test_a_source_of_no_direct_edge_has_no_rows(db: None) -> None:
    """mallory can only create an access key for bob, who can assume deploy: she reaches deploy
    through that escalation, but no direct edge starts at her, so the list has no row of hers.
    """
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from tests.bundles import ASSUME_ANY, arn, estate_bundle, iam_role, iam_user, trusting

    solo = "555555555555"
    keys_for_bob = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:CreateAccessKey",
                "Resource": arn(solo, "user", "bob"),
            }
        ],
    }
    bundle = estate_bundle(
        {
            solo: {
                "users": [
                    iam_user(solo, "bob", inline={"assume-anything": ASSUME_ANY}),
                    iam_user(solo, "mallory", inline={"keys-for-bob": keys_for_bob}),
                ],
                "roles": [iam_role(solo, "deploy", trusting({"AWS": f"arn:aws:iam::{solo}:root"}))],
            }
        },
        names={solo: "solo"},
    )
    import_bundle(bundle, label="solo.json")
    analyse_estate()
    mallory, bob = arn(solo, "user", "mallory"), arn(solo, "user", "bob")
    graph = access.reach_graph()
    assert graph is not None
    assert arn(solo, "role", "deploy") in {item.node for item in graph.reach_from(mallory)}
    assert mallory not in _by_source(None)
    assert list(access.TransitiveFrom(mallory)) == []
    assert [item.as_row() for item in access.TransitiveFrom(bob)] == _by_source(None)[bob]
    assert list(access.TransitiveFrom(arn(solo, "user", "nobody"))) == []
