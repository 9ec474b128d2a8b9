"""Access edges on small hand-made estates (issue 9, items 1, 2, 4, 5), each citing the AWS page
it follows."""

from __future__ import annotations

from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import AnalysisRun
from identities.queries.access import access_into

HOME, OTHER = "555555555555", "666666666666"
ASSUME_ANY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}
S3_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def user(account: str, name: str, *, inline: Any = None, boundary: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().replace("-", "")[:10].ljust(17, "X"),
        "Arn": arn(account, "user", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": inline}] if inline else [],
        "GroupList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
    }
    if boundary:
        entry["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": boundary,
        }
    return entry


def role(account: str, name: str, statements: list[dict]) -> dict:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + name.upper().replace("-", "")[:10].ljust(17, "X"),
        "Arn": arn(account, "role", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {},
    }


def managed(account: str, name: str, document: dict) -> dict:
    return {
        "PolicyName": name,
        "PolicyId": "ANPA" + name.upper()[:10].ljust(17, "X"),
        "Arn": f"arn:aws:iam::{account}:policy/{name}",
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "IsAttachable": True,
        "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
    }


def analyse(accounts: dict[str, dict[str, list[dict]]]) -> None:
    bundle = {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": account,
                "name": f"acct-{account[:3]}",
                "authorization_details": {
                    "UserDetailList": parts.get("users", []),
                    "GroupDetailList": [],
                    "RoleDetailList": parts.get("roles", []),
                    "Policies": parts.get("policies", []),
                },
            }
            for account, parts in accounts.items()
        ],
    }
    import_bundle(bundle, label="estate.json")
    analyse_estate()


def sources_into(role_arn: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.source, a.outcome, a.condition_keys) for a in access_into(role_arn)]


WILDCARD = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}


@pytest.mark.django_db
def test_wildcard_trust_gives_every_estate_principal_its_edge():
    # Principal element page, "All principals": within the role's account no other permission
    # is required; principals of other accounts need an identity-based Allow.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
    analyse(
        {
            HOME: {"users": [user(HOME, "neighbour")], "roles": [role(HOME, "open", [WILDCARD])]},
            OTHER: {
                "users": [user(OTHER, "allowed", inline=ASSUME_ANY), user(OTHER, "plain")],
            },
        }
    )

    assert sources_into(arn(HOME, "role", "open")) == [
        ("*", "allow", ()),
        (arn(HOME, "role", "open"), "allow", ()),
        (arn(HOME, "user", "neighbour"), "allow", ()),
        (arn(OTHER, "user", "allowed"), "allow", ()),
    ]


@pytest.mark.django_db
def test_wildcard_trust_conditions_stay_on_estate_edges():
    conditional = WILDCARD | {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    analyse(
        {HOME: {"users": [user(HOME, "neighbour")], "roles": [role(HOME, "mfa", [conditional])]}}
    )

    assert sources_into(arn(HOME, "role", "mfa")) == [
        ("*", "conditional", ("aws:MultiFactorAuthPresent",)),
        (arn(HOME, "role", "mfa"), "conditional", ("aws:MultiFactorAuthPresent",)),
        (arn(HOME, "user", "neighbour"), "conditional", ("aws:MultiFactorAuthPresent",)),
    ]


@pytest.mark.django_db
def test_user_named_in_trust_needs_its_boundary_to_allow_assume_role():
    # "Update a role trust policy": "If a permissions boundary is set for the user, then it
    # must allow the sts:AssumeRole action."
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html
    boundary = f"arn:aws:iam::{HOME}:policy/s3-only"
    names = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": arn(HOME, "user", name)},
            "Action": "sts:AssumeRole",
        }
        for name in ("bounded", "free")
    ]
    analyse(
        {
            HOME: {
                "users": [user(HOME, "bounded", boundary=boundary), user(HOME, "free")],
                "roles": [role(HOME, "named", names)],
                "policies": [managed(HOME, "s3-only", S3_ONLY)],
            }
        }
    )

    assert sources_into(arn(HOME, "role", "named")) == [(arn(HOME, "user", "free"), "allow", ())]


@pytest.mark.django_db
def test_unknown_operator_keeps_the_trust_policy_and_names_the_key():
    # The simulator accepts ForAllValues:Null; an operator iamviz does not know makes only its
    # statement conditional.
    odd = {
        "Effect": "Allow",
        "Principal": {"AWS": arn(HOME, "user", "neighbour")},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEqualsSometimes": {"aws:PrincipalTag/team": "x"}},
    }
    null_set = odd | {"Condition": {"ForAllValues:Null": {"aws:TagKeys": "false"}}}
    analyse(
        {
            HOME: {
                "users": [user(HOME, "neighbour")],
                "roles": [role(HOME, "odd", [odd]), role(HOME, "null-set", [null_set])],
            }
        }
    )

    assert (
        sources_into(arn(HOME, "role", "odd")),
        sources_into(arn(HOME, "role", "null-set")),
    ) == (
        [
            (
                arn(HOME, "user", "neighbour"),
                "conditional",
                ("iamviz:UnsupportedCondition/StringEqualsSometimes/aws:PrincipalTag/team",),
            )
        ],
        [(arn(HOME, "user", "neighbour"), "conditional", ("aws:TagKeys",))],
    )
    assert not any("trust policy unknown" in note for note in AnalysisRun.objects.get().notes)


@pytest.mark.django_db
def test_source_identity_trust_without_set_source_identity_has_no_edge():
    # Source identity page: "sts:SetSourceIdentity" must be allowed in the role trust policy.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html
    needs = {
        "Effect": "Allow",
        "Principal": {"AWS": arn(HOME, "user", "neighbour")},
        "Action": "sts:AssumeRole",
        "Condition": {"StringLike": {"sts:SourceIdentity": "*"}},
    }
    allowed = needs | {"Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}
    analyse(
        {
            HOME: {
                "users": [user(HOME, "neighbour")],
                "roles": [role(HOME, "without", [needs]), role(HOME, "with", [allowed])],
            }
        }
    )

    assert (
        sources_into(arn(HOME, "role", "without")),
        sources_into(arn(HOME, "role", "with")),
    ) == (
        [],
        [(arn(HOME, "user", "neighbour"), "conditional", ("sts:SourceIdentity",))],
    )
