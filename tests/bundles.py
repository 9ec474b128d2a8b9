"""Small hand-made bundles for tests: users, roles and customer-managed policies in the shapes
of GetAccountAuthorizationDetails, and the `iamviz-bundle/1` envelope around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ASSUME_ANY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


def arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def _unique_id(prefix: str, name: str) -> str:
    return prefix + name.upper().replace("-", "")[:10].ljust(17, "X")


def iam_user(
    account: str,
    name: str,
    *,
    inline: Mapping[str, dict] | None = None,
    attached: Sequence[str] = (),
    boundary: str | None = None,
) -> dict[str, Any]:
    """A UserDetailList entry; ``inline`` maps policy names to documents, ``attached`` holds
    managed policy ARNs."""
    entry: dict[str, Any] = {
        "Path": "/",
        "UserName": name,
        "UserId": _unique_id("AIDA", name),
        "Arn": arn(account, "user", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "UserPolicyList": [
            {"PolicyName": policy, "PolicyDocument": document}
            for policy, document in (inline or {}).items()
        ],
        "GroupList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": policy_arn.rsplit("/", 1)[-1], "PolicyArn": policy_arn}
            for policy_arn in attached
        ],
        "Tags": [],
    }
    if boundary:
        entry["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": boundary,
        }
    return entry


def iam_role(account: str, name: str, statements: list[dict]) -> dict[str, Any]:
    """A RoleDetailList entry whose trust policy holds ``statements``."""
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": _unique_id("AROA", name),
        "Arn": arn(account, "role", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {},
    }


def trusting(principal: dict[str, Any], **extra: Any) -> list[dict]:
    """The trust statements of a role that lets ``principal`` call sts:AssumeRole; ``extra``
    adds statement elements (a Condition)."""
    return [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}]


def trust_policy(principal: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A trust policy document that lets ``principal`` call sts:AssumeRole."""
    return {"Version": "2012-10-17", "Statement": trusting(principal, **extra)}


TRUST_EC2 = trust_policy({"Service": "ec2.amazonaws.com"})


def managed_policy(account: str, name: str, document: dict) -> dict[str, Any]:
    """A Policies entry: a customer-managed policy with one (default) version."""
    return {
        "PolicyName": name,
        "PolicyId": _unique_id("ANPA", name),
        "Arn": arn(account, "policy", name),
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "IsAttachable": True,
        "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
    }


def estate_bundle(
    accounts: Mapping[str, Mapping[str, list[dict]]], names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A bundle of ``{account id: {"users": [...], "roles": [...], "policies": [...]}}``;
    an account is named ``names[id]``, or ``acct-`` and its first three digits."""
    return {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": account,
                "name": (names or {}).get(account, f"acct-{account[:3]}"),
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
