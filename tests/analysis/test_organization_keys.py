"""The organisation condition keys answered from the stored organisation (issue 9, item 6):
aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:ResourceOrgID and aws:ResourceOrgPaths.

AWS global condition context keys: "aws:PrincipalOrgID ... This key is included in the request
context only if the principal is a member of an organization", likewise aws:ResourceOrgID for
the resource's account; the paths are ``o-…/r-…/ou-…/`` down to the account's parent.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid
"""

from __future__ import annotations

from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.queries.access import access_into
from tests.bundles import ASSUME_ANY, arn, estate_bundle, iam_role, iam_user, trusting

pytestmark = pytest.mark.django_db

ORG = "o-test12345"
ROOT, OU = "r-ab12", "ou-ab12-workload"
HOME, MEMBER, STRANGER = "555555555555", "666666666666", "777777777777"
ASSUME_IN_ORG = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceOrgID": ORG}},
        }
    ],
}


def organization(members: dict[str, str]) -> dict[str, Any]:
    """HOME's organisation; ``members``: account id -> parent (the root or the OU)."""
    return {
        "id": ORG,
        "management_account_id": HOME,
        "roots": [{"Id": ROOT, "Name": "Root"}],
        "organizational_units": [{"Id": OU, "Name": "Workloads", "ParentId": ROOT}],
        "accounts": [
            {"Id": member, "Name": f"acct-{member[:3]}", "ParentId": parent}
            for member, parent in members.items()
        ],
        "policies": [],
    }


def conditional_trust(principal: str, condition: dict) -> list[dict]:
    return [{**trusting({"AWS": principal})[0], "Condition": condition}]


def analyse_estate_with_org() -> None:
    in_org = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    in_ou = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/{ROOT}/{OU}/*"}}
    member_root = {"AWS": f"arn:aws:iam::{MEMBER}:root"}
    bundle = estate_bundle(
        {
            HOME: {
                "users": [iam_user(HOME, "neighbour")],
                "roles": [
                    iam_role(HOME, "org-only", conditional_trust("*", in_org)),
                    iam_role(HOME, "ou-only", conditional_trust("*", in_ou)),
                    iam_role(HOME, "named", trusting(member_root)),
                ],
            },
            MEMBER: {
                "users": [
                    iam_user(MEMBER, "member", inline={"assume": ASSUME_ANY}),
                    iam_user(MEMBER, "reader", inline={"assume": ASSUME_IN_ORG}),
                ]
            },
            STRANGER: {
                "users": [iam_user(STRANGER, "stranger", inline={"assume": ASSUME_ANY})],
                "roles": [iam_role(STRANGER, "outside", trusting(member_root))],
            },
        }
    )
    bundle["organization"] = organization({HOME: OU, MEMBER: ROOT})
    import_bundle(bundle, label="org.json")
    analyse_estate()


def sources_into(role_arn: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.source, a.outcome, a.condition_keys) for a in access_into(role_arn)]


def test_principal_org_id_trust_is_unconditional_for_members_and_closed_to_outsiders():
    analyse_estate_with_org()

    # The members of another account of the organisation have an identity-based Allow; the
    # synced account outside the organisation has no aws:PrincipalOrgID, so StringEquals is
    # false: no edge. Anyone else ("*") stays conditional on the key.
    assert sources_into(arn(HOME, "role", "org-only")) == [
        ("*", "conditional", ("aws:PrincipalOrgID",)),
        (arn(HOME, "role", "named"), "allow", ()),
        (arn(HOME, "role", "org-only"), "allow", ()),
        (arn(HOME, "role", "ou-only"), "allow", ()),
        (arn(HOME, "user", "neighbour"), "allow", ()),
        (arn(MEMBER, "user", "member"), "allow", ()),
        (arn(MEMBER, "user", "reader"), "allow", ()),
    ]


def test_principal_org_paths_follow_the_stored_ous():
    analyse_estate_with_org()

    # MEMBER sits directly under the root: its path o-…/r-ab12/ is not under the OU.
    assert [(s, o) for s, o, _ in sources_into(arn(HOME, "role", "ou-only"))] == [
        ("*", "conditional"),
        (arn(HOME, "role", "named"), "allow"),
        (arn(HOME, "role", "org-only"), "allow"),
        (arn(HOME, "role", "ou-only"), "allow"),
        (arn(HOME, "user", "neighbour"), "allow"),
    ]


def test_resource_org_id_in_identity_policy_is_answered_for_the_role():
    analyse_estate_with_org()

    # reader's Allow holds where the role's account is in the organisation (HOME), and is false
    # for a role of an account outside any organisation (STRANGER).
    assert (arn(MEMBER, "user", "reader"), "allow", ()) in sources_into(arn(HOME, "role", "named"))
    assert arn(MEMBER, "user", "reader") not in {
        source for source, _, _ in sources_into(arn(STRANGER, "role", "outside"))
    }
    assert (arn(MEMBER, "user", "member"), "allow", ()) in sources_into(
        arn(STRANGER, "role", "outside")
    )


def test_sample_org_inventory_is_unconditional_for_every_member_and_conditional_for_anyone(
    imported_sample,
):
    edges = access_into("arn:aws:iam::222222222222:role/org-inventory")

    by_source = {access.source: access for access in edges}
    assert by_source["*"].condition_keys == ("aws:PrincipalOrgID",)
    assert by_source["*"].condition_values == {
        "aws:PrincipalOrgID": "PrincipalOrgID = o-acme7x2k9q"
    }
    members = [access for access in edges if access.source != "*"]
    assert len(members) > 10
    assert {access.outcome for access in members} == {"allow"}
    assert "arn:aws:iam::333333333333:user/alice" in by_source
