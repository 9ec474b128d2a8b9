"""Role classes: the group edges of roles trusting "*" stored once per class (issue 9, item 1 at
the 50-account size) and written out by the AccessEdge view, the reach graph and the history,
so every principal the wildcard trust allows can still assume each role.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
"""

from __future__ import annotations

import pytest
from django.db import connection

from identities.analysis import analyse_estate
from identities.analysis.history import AccessSnapshot, diff_edges, edge_line
from identities.ingest.imports import import_bundle
from identities.models import (
    AccessEdge,
    IamUser,
    RoleClassGrant,
    RoleClassMember,
    StoredAccessEdge,
)
from identities.queries.access import access_into, access_out_of, chain_between, reach_to
from tests.acme import trust_ref
from tests.bundles import ASSUME_ANY, arn, estate_bundle, iam_role, iam_user

HOME, OTHER = "555555555555", "666666666666"
WILDCARD = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
MFA = WILDCARD | {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
OPEN_A, OPEN_B, OPEN_MFA = (arn(HOME, "role", name) for name in ("open-a", "open-b", "open-mfa"))
NEIGHBOUR, ALLOWED = arn(HOME, "user", "neighbour"), arn(OTHER, "user", "allowed")
NEXT = arn(HOME, "role", "next")


@pytest.fixture
def estate(db):
    bundle = estate_bundle(
        {
            HOME: {
                "users": [iam_user(HOME, "neighbour")],
                "roles": [
                    iam_role(HOME, "open-a", [WILDCARD]),
                    iam_role(HOME, "open-b", [WILDCARD]),
                    iam_role(HOME, "open-mfa", [MFA]),
                    # Trusts open-b by ARN; of the same account, it needs no other permission.
                    iam_role(
                        HOME,
                        "next",
                        [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": OPEN_B},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    ),
                ],
            },
            OTHER: {
                "users": [
                    iam_user(OTHER, "allowed", inline={"inline": ASSUME_ANY}),
                    iam_user(OTHER, "plain"),
                ],
            },
        }
    )
    import_bundle(bundle, label="estate.json")
    return analyse_estate()


def test_roles_trusting_star_alike_share_one_class_stored_once(estate):
    classes = dict(RoleClassMember.objects.values_list("role__arn", "role_class"))
    assert classes[OPEN_A] == classes[OPEN_B] != classes[OPEN_MFA]
    shared = RoleClassGrant.objects.filter(role_class=classes[OPEN_A])
    # One row per group for both roles; the view writes one out per role.
    assert (
        shared.count() == AccessEdge.objects.filter(target__arn=OPEN_A, source_kind="group").count()
    )
    assert not StoredAccessEdge.objects.filter(target__arn=OPEN_A, source_kind="group").exists()
    assert estate["access_edges"] == AccessEdge.objects.count()


def test_every_principal_the_trust_allows_is_listed_for_each_role_of_a_class(estate):
    for role, name in ((OPEN_A, "open-a"), (OPEN_B, "open-b")):
        found = {access.source: access for access in access_into(role)}
        assert {NEIGHBOUR, ALLOWED, OPEN_A, OPEN_B, OPEN_MFA, "*"} <= found.keys()
        assert arn(OTHER, "user", "plain") not in found  # no identity-based Allow
        # Each role's own trust policy is cited, not the first role's of its class.
        assert found[ALLOWED].granted_by[0] == trust_ref(HOME, name)
        assert found[NEIGHBOUR].granted_by == (trust_ref(HOME, name),)
    mfa = {access.source: access for access in access_into(OPEN_MFA)}
    assert mfa[ALLOWED].condition_keys == ("aws:MultiFactorAuthPresent",)
    assert {OPEN_A, OPEN_B, OPEN_MFA} <= {
        access.target for access in access_out_of(IamUser.objects.get(arn=ALLOWED))
    }


def test_chains_and_reach_go_through_a_class(estate):
    # neighbour -> open-b (anyone of the account) -> next (trusts open-b by ARN)
    reached = {r.node: r for r in reach_to(NEXT)}
    assert reached[NEIGHBOUR].path == (NEIGHBOUR, OPEN_B, NEXT)
    assert reached[ALLOWED].hops == 2
    assert chain_between(ALLOWED, OPEN_A) == (ALLOWED, OPEN_A)
    assert {r.node for r in reach_to(OPEN_A)} >= {NEIGHBOUR, ALLOWED, OPEN_B}


def test_path_finder_explains_a_hop_through_a_class(estate):
    from identities.graph.build import arn_node_id
    from identities.graph.paths import find_paths

    found = find_paths(source=arn_node_id(NEIGHBOUR), target=arn_node_id(NEXT))

    hops = found["paths"][0]["hops"]
    assert [(hop["source_arn"], hop["target_arn"]) for hop in hops] == [
        (NEIGHBOUR, OPEN_B),
        (OPEN_B, NEXT),
    ]
    assert hops[0]["granted_by"] == [trust_ref(HOME, "open-b")]


@pytest.mark.django_db
def test_view_has_every_column_of_an_edge():
    with connection.cursor() as cursor:
        columns = {
            column.name
            for column in connection.introspection.get_table_description(
                cursor, AccessEdge._meta.db_table
            )
        }
    assert columns == {field.column for field in AccessEdge._meta.concrete_fields}


GRANT = "statement (Statement[0]) of {trust policy}"


def _class_state(node: str, roles: list[str]) -> AccessSnapshot:
    return AccessSnapshot(
        rows={edge_line("group:g", node, "sts:AssumeRole", "allow", (), (GRANT,))},
        members={NEIGHBOUR: "group:g"},
        classes={node: [[role, f"trust policy {role}"] for role in roles]},
    )


def test_history_writes_out_only_what_a_class_change_changed():
    old = _class_state("class:one", [OPEN_A])
    new = _class_state("class:two", [OPEN_A, OPEN_B])

    changes = diff_edges(old, new)

    assert [
        (source, before, after.target if after else None) for source, before, after in changes
    ] == [(NEIGHBOUR, None, OPEN_B)]
    assert changes[0][2].granted_by == (f"statement (Statement[0]) of trust policy {OPEN_B}",)
    again = AccessSnapshot.from_bytes(new.to_bytes())
    assert again is not None and again.classes == new.classes
