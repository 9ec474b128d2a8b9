from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from identities.bundle import read_bundle
from identities.sample import SAMPLE_BUNDLE_PATH

MGMT, SEC, DEV, PROD = "111111111111", "222222222222", "333333333333", "444444444444"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE_BUNDLE_PATH.read_text())
    return loaded


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    # read_bundle decodes the URL-encoded documents, so lookups see objects only
    return read_bundle(SAMPLE_BUNDLE_PATH)


def _entries(bundle: dict[str, Any], list_name: str) -> dict[str, dict[str, Any]]:
    return {
        entry["Arn"]: entry
        for account in bundle["accounts"]
        for entry in account["authorization_details"][list_name]
    }


def _policy_document(bundle: dict[str, Any], arn: str) -> dict[str, Any]:
    policy = _entries(bundle, "Policies")[arn]
    return next(
        v["Document"]
        for v in policy["PolicyVersionList"]
        if v["VersionId"] == policy["DefaultVersionId"]
    )


def _report_row(bundle: dict[str, Any], account_id: str, user: str) -> dict[str, str]:
    account = next(a for a in bundle["accounts"] if a["id"] == account_id)
    rows = csv.DictReader(io.StringIO(account["credential_report"]))
    return next(row for row in rows if row["user"] == user)


def test_sample_bundle_is_an_iamviz_bundle(raw: dict[str, Any]) -> None:
    assert raw["format"] == "iamviz-bundle/1"
    assert [(a["id"], a["name"]) for a in raw["accounts"]] == [
        (MGMT, "acme-management"),
        (SEC, "acme-security"),
        (DEV, "acme-dev"),
        (PROD, "acme-prod"),
    ]


def test_sample_bundle_keeps_some_documents_url_encoded(raw: dict[str, Any]) -> None:
    roles = _entries(raw, "RoleDetailList")
    policy = _entries(raw, "Policies")[f"arn:aws:iam::{DEV}:policy/ci-deploy-assume"]

    assert roles[f"arn:aws:iam::{DEV}:role/public-reader"]["AssumeRolePolicyDocument"].startswith(
        "%7B%22Version%22"
    )
    assert [isinstance(v["Document"], str) for v in policy["PolicyVersionList"]] == [
        False,
        True,
        False,
    ]


def test_sample_organization_tree_consistent(raw: dict[str, Any]) -> None:
    org = raw["organization"]
    nodes = {r["Id"] for r in org["roots"]} | {ou["Id"] for ou in org["organizational_units"]}
    targets = nodes | {a["Id"] for a in org["accounts"]}
    names = {ou["Id"]: ou["Name"] for ou in org["organizational_units"]} | {"r-ac3e": "Root"}
    parents = {ou["Name"]: names[ou["ParentId"]] for ou in org["organizational_units"]}
    placement = {a["Id"]: names[a["ParentId"]] for a in org["accounts"]}

    assert parents == {
        "Security": "Root",
        "Workloads": "Root",
        "Dev": "Workloads",
        "Prod": "Workloads",
    }
    assert placement == {MGMT: "Root", SEC: "Security", DEV: "Dev", PROD: "Prod"}
    assert org["management_account_id"] == MGMT
    assert [t for p in org["policies"] for t in p["Targets"] if t not in targets] == []


def test_sample_scps_attached_as_documented(sample: dict[str, Any]) -> None:
    policies = {p["Name"]: p for p in sample["organization"]["policies"]}
    deny_users = policies["DenyIAMUserCreation"]["Content"]["Statement"][0]

    assert sorted(policies) == ["DenyIAMUserCreation", "DenyLeaveOrganization", "FullAWSAccess"]
    assert "r-ac3e" in policies["FullAWSAccess"]["Targets"]
    assert policies["DenyLeaveOrganization"]["Targets"] == ["ou-ac3e-workload"]
    assert (deny_users["Effect"], deny_users["Action"]) == (
        "Deny",
        ["iam:CreateUser", "iam:CreateAccessKey"],
    )
    assert policies["DenyIAMUserCreation"]["Targets"] == ["ou-ac3e-workload"]


def test_sample_ci_deploy_can_reach_prod_deploy_role(sample: dict[str, Any]) -> None:
    user = _entries(sample, "UserDetailList")[f"arn:aws:iam::{DEV}:user/ci-deploy"]
    role = _entries(sample, "RoleDetailList")[f"arn:aws:iam::{PROD}:role/deploy"]
    policy_arn = f"arn:aws:iam::{DEV}:policy/ci-deploy-assume"
    row = _report_row(sample, DEV, "ci-deploy")

    assert [p["PolicyArn"] for p in user["AttachedManagedPolicies"]] == [policy_arn]
    assert _policy_document(sample, policy_arn)["Statement"][0]["Resource"] == (
        f"arn:aws:iam::{PROD}:role/deploy"
    )
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{DEV}:user/ci-deploy"
    }
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": "acme-ci-7f3a9c"}
    }
    assert (row["access_key_1_active"], row["mfa_active"], row["password_enabled"]) == (
        "true",
        "false",
        "false",
    )
    assert len(_entries(sample, "Policies")[policy_arn]["PolicyVersionList"]) == 3


def test_sample_audit_roles_trust_security_account(sample: dict[str, Any]) -> None:
    roles = _entries(sample, "RoleDetailList")
    audit = [roles[f"arn:aws:iam::{a}:role/audit"] for a in (MGMT, DEV, PROD)]

    assert [r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] for r in audit] == [
        {"AWS": f"arn:aws:iam::{SEC}:root"}
    ] * 3
    assert [[p["PolicyName"] for p in r["AttachedManagedPolicies"]] for r in audit] == [
        ["SecurityAudit"]
    ] * 3


def test_sample_auditor_may_assume_every_audit_role_with_mfa(sample: dict[str, Any]) -> None:
    user = _entries(sample, "UserDetailList")[f"arn:aws:iam::{SEC}:user/auditor"]
    group = _entries(sample, "GroupDetailList")[f"arn:aws:iam::{SEC}:group/auditors"]

    assert user["GroupList"] == ["auditors"]
    assert group["GroupPolicyList"][0]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AssumeAuditRolesWithMFA",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::*:role/audit",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ]


def test_sample_okta_admin_is_saml_federated(sample: dict[str, Any]) -> None:
    role = _entries(sample, "RoleDetailList")[f"arn:aws:iam::{MGMT}:role/okta-admin"]
    management = sample["accounts"][0]

    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{MGMT}:saml-provider/Okta"},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }
    ]
    assert [p["PolicyName"] for p in role["AttachedManagedPolicies"]] == ["AdministratorAccess"]
    assert [p["Arn"] for p in management["saml_providers"]] == [
        f"arn:aws:iam::{MGMT}:saml-provider/Okta"
    ]


def test_sample_role_chain_allowed_on_both_sides_of_each_hop(sample: dict[str, Any]) -> None:
    users, roles = _entries(sample, "UserDetailList"), _entries(sample, "RoleDetailList")
    hops = [
        f"arn:aws:iam::{DEV}:user/alice",
        f"arn:aws:iam::{DEV}:role/dev-ops",
        f"arn:aws:iam::{PROD}:role/prod-ops",
        f"arn:aws:iam::{PROD}:role/prod-break-glass",
    ]
    principals = {**users, **roles}
    trusted = [
        roles[arn]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] for arn in hops[1:]
    ]
    allowed = [
        [
            s["Resource"]
            for inline in principals[arn].get(
                "UserPolicyList", principals[arn].get("RolePolicyList", [])
            )
            for s in inline["PolicyDocument"]["Statement"]
            if s["Action"] == "sts:AssumeRole"
        ]
        for arn in hops[:-1]
    ]

    assert users[hops[0]]["GroupList"] == ["developers"]
    assert trusted == [{"AWS": arn} for arn in hops[:-1]]
    assert allowed == [[arn] for arn in hops[1:]]


def test_sample_public_reader_trusts_anyone(sample: dict[str, Any]) -> None:
    role = _entries(sample, "RoleDetailList")[f"arn:aws:iam::{DEV}:role/public-reader"]

    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    ]


def test_sample_ordinary_items_present(sample: dict[str, Any]) -> None:
    users, roles = _entries(sample, "UserDetailList"), _entries(sample, "RoleDetailList")
    groups = _entries(sample, "GroupDetailList")
    github = roles[f"arn:aws:iam::{DEV}:role/github-deploy"]
    boundary = f"arn:aws:iam::{DEV}:policy/developer-boundary"
    frank_policy = _policy_document(sample, f"arn:aws:iam::{DEV}:policy/lambda-deployer")

    assert [
        p["PolicyName"]
        for p in groups[f"arn:aws:iam::{MGMT}:group/admins"]["AttachedManagedPolicies"]
    ] == ["AdministratorAccess"]
    developers = groups[f"arn:aws:iam::{DEV}:group/developers"]
    assert [p["PolicyName"] for p in developers["AttachedManagedPolicies"]] == ["PowerUserAccess"]
    assert [p["PolicyName"] for p in developers["GroupPolicyList"]] == [
        "developers-pass-lambda-roles"
    ]
    assert [_report_row(sample, MGMT, u)["mfa_active"] for u in ("carol", "dave")] == [
        "true",
        "false",
    ]
    erin = _report_row(sample, DEV, "erin")
    assert (erin["password_enabled"], erin["password_last_used"], erin["mfa_active"]) == (
        "true",
        "2023-02-11T16:20:00+00:00",
        "false",
    )
    app_server = roles[f"arn:aws:iam::{DEV}:role/app-server"]
    assert [p["Arn"] for p in app_server["InstanceProfileList"]] == [
        f"arn:aws:iam::{DEV}:instance-profile/app-server"
    ]
    assert app_server["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    lambda_exec = roles[f"arn:aws:iam::{DEV}:role/lambda-exec"]
    assert lambda_exec["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    statement = github["AssumeRolePolicyDocument"]["Statement"][0]
    assert (statement["Principal"], statement["Action"], statement["Condition"]["StringLike"]) == (
        {"Federated": f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"},
        "sts:AssumeRoleWithWebIdentity",
        {"token.actions.githubusercontent.com:sub": "repo:acme/webapp:ref:refs/heads/main"},
    )
    assert (
        users[f"arn:aws:iam::{DEV}:user/bob"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == boundary
    )
    assert github["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert [s["Action"] for s in frank_policy["Statement"]] == [
        "iam:PassRole",
        ["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
    ]
    assert [
        p["PolicyName"] for p in users[f"arn:aws:iam::{DEV}:user/frank"]["AttachedManagedPolicies"]
    ] == ["lambda-deployer"]
    rotator = _policy_document(sample, f"arn:aws:iam::{SEC}:policy/iam-key-rotation")
    assert rotator["Statement"][0]["Resource"] == "*"
    assert roles[f"arn:aws:iam::{PROD}:role/prod-break-glass"]["RoleLastUsed"] == {}
    assert roles[f"arn:aws:iam::{PROD}:role/deploy"]["RoleLastUsed"]["LastUsedDate"] == (
        "2026-11-28T02:14:09+00:00"
    )


def test_sample_references_resolve(sample: dict[str, Any]) -> None:
    missing = []
    for account in sample["accounts"]:
        details = account["authorization_details"]
        groups = {g["GroupName"] for g in details["GroupDetailList"]}
        policies = {p["Arn"] for p in details["Policies"]}
        for user in details["UserDetailList"]:
            missing += [g for g in user["GroupList"] if g not in groups]
        for key in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
            for entry in details[key]:
                missing += [
                    p["PolicyArn"]
                    for p in entry["AttachedManagedPolicies"]
                    if p["PolicyArn"] not in policies
                ]
                boundary = entry.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
                if boundary is not None and boundary not in policies:
                    missing.append(boundary)

    assert missing == []
