"""Administrators of the sample organisation, how they are one, and who can reach one."""

from __future__ import annotations

from identities.queries.findings import admin_paths, administrators
from tests.acme import (
    ADMIN_ACCESS,
    ALICE,
    BREAK_GLASS,
    DEV,
    DEV_OPS,
    FRANK,
    KEY_ROTATOR,
    MGMT,
    PROD,
    PROD_OPS,
    SEC,
    SECOPS_ADMIN,
    TERRAFORM_BUILD,
)
from tests.bundles import arn


def test_administrators_with_their_basis(imported_sample):
    rows = [(admin.arn, admin.basis, admin.condition_keys) for admin in administrators()]

    assert rows == [
        (arn(MGMT, "role", "okta-admin"), "full", []),
        (arn(MGMT, "user", "carol"), "full", []),
        (arn(MGMT, "user", "dave"), "full", []),
        (arn(SEC, "role", "OrganizationAccountAccessRole"), "full", []),
        (SECOPS_ADMIN, "full", []),
        (arn(DEV, "role", "OrganizationAccountAccessRole"), "escalation", []),
        (TERRAFORM_BUILD, "escalation", []),
        (arn(PROD, "role", "OrganizationAccountAccessRole"), "escalation", []),
        (BREAK_GLASS, "escalation", []),
    ]


def test_scp_denying_iam_user_creation_makes_workload_admins_escalation_only(imported_sample):
    admin = administrators().get(arn=arn(PROD, "role", "OrganizationAccountAccessRole"))

    assert admin.statements == [ADMIN_ACCESS]
    assert admin.reason == (
        f"can grant itself full access: iam:PutRolePolicy on itself is allowed by {ADMIN_ACCESS}"
        " (not every action is allowed: iam:CreateUser: Deny by statement 'NoIamUsersOrKeys' "
        "(Statement[0]) of SCP DenyIAMUserCreation (p-diu7c4x9); iam:CreateAccessKey: Deny by "
        "statement 'NoIamUsersOrKeys' (Statement[0]) of SCP DenyIAMUserCreation (p-diu7c4x9))"
    )


def test_principals_that_can_reach_an_administrator(imported_sample):
    rows = [
        (path.source, path.administrator.arn, path.hops, path.condition_keys)
        for path in admin_paths()
    ]

    # frank and svc-key-rotator reach one through an escalation: frank passes terraform-build
    # to a new CodeBuild project, svc-key-rotator creates an access key for secops-admin.
    assert rows == [
        (KEY_ROTATOR, SECOPS_ADMIN, 1, []),
        (FRANK, TERRAFORM_BUILD, 1, []),
        (PROD_OPS, BREAK_GLASS, 1, []),
        (
            f"federated:arn:aws:iam::{MGMT}:saml-provider/Okta",
            arn(MGMT, "role", "okta-admin"),
            1,
            ["saml:aud"],
        ),
        ("service:codebuild.amazonaws.com", TERRAFORM_BUILD, 1, []),
        (DEV_OPS, BREAK_GLASS, 2, []),
        (ALICE, BREAK_GLASS, 3, ["aws:MultiFactorAuthPresent"]),
    ]
