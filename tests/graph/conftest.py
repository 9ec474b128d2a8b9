"""A small estate where a member's own refused edge replaces its access group's edge."""

from __future__ import annotations

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle

SOLO = "555555555555"


def solo_arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{SOLO}:{kind}/{name}"


ASSUME_ANYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


def _user(name: str) -> dict:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper()[:10].ljust(17, "X"),
        "Arn": solo_arn("user", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "UserPolicyList": [{"PolicyName": "assume-anything", "PolicyDocument": ASSUME_ANYTHING}],
        "GroupList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
    }


def _role(name: str, statements: list[dict]) -> dict:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + name.upper()[:10].ljust(17, "X"),
        "Arn": solo_arn("role", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {},
    }


@pytest.fixture
def denied_member_estate(db):
    """alice and bob share an access group (the same inline policy); ``deploy`` trusts the
    account root but denies alice by ARN, so only bob can assume it; both can assume ``audit``."""
    root = {"AWS": f"arn:aws:iam::{SOLO}:root"}
    bundle = {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": SOLO,
                "name": "solo",
                "authorization_details": {
                    "UserDetailList": [_user("alice"), _user("bob")],
                    "GroupDetailList": [],
                    "RoleDetailList": [
                        _role(
                            "deploy",
                            [
                                {"Effect": "Allow", "Principal": root, "Action": "sts:AssumeRole"},
                                {
                                    "Effect": "Deny",
                                    "Principal": {"AWS": solo_arn("user", "alice")},
                                    "Action": "sts:AssumeRole",
                                },
                            ],
                        ),
                        _role(
                            "audit",
                            [{"Effect": "Allow", "Principal": root, "Action": "sts:AssumeRole"}],
                        ),
                    ],
                    "Policies": [],
                },
            }
        ],
    }
    import_bundle(bundle, label="solo.json")
    return analyse_estate()


def node_ids(data: dict) -> list[str]:
    """The ids of a view's nodes, boxes and column headers left out."""
    return sorted(node["id"] for node in data["nodes"] if node["kind"] not in {"box", "column"})


def edge_tuples(data: dict) -> list[tuple[str, str, str, str]]:
    """A view's edges as sorted (source, target, kind, outcome)."""
    return sorted(
        (edge["source"], edge["target"], edge["kind"], edge.get("outcome", ""))
        for edge in data["edges"]
    )


def labels(data: dict) -> dict[str, str]:
    return {node["id"]: node["label"] for node in data["nodes"]}
