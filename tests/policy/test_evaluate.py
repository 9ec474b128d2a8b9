"""Evaluation cases, one per documented AWS rule; each id names the documentation section.

Sections (IAM User Guide unless noted):
  eval-logic     "Policy evaluation logic" / "How AWS enforcement code logic evaluates requests"
  single-account "Policy evaluation for requests within a single account"
  cross-account  "Cross-account policy evaluation logic"
  trust          "Policy evaluation logic" (role trust policies exception) and "Roles terms and concepts"
  update-role-trust-policy  "Update a role trust policy" (a boundary must allow sts:AssumeRole)
  boundaries     "Permissions boundaries for IAM entities"
  scp / rcp      AWS Organizations User Guide "Service control policies" / "Resource control policies"
  conditions     "IAM JSON policy elements: Condition operators"
  multivalued    "Single-valued vs. multivalued context keys"
  variables      "IAM policy elements: Variables and tags"
  action/notaction/resource/notresource/principal/notprincipal  "IAM JSON policy elements: ..."
"""

from __future__ import annotations

from typing import Any

import pytest

from identities.policy import (
    Decision,
    Effect,
    Layer,
    Outcome,
    Policy,
    PolicySource,
    Principal,
    PrincipalKind,
    RequestContext,
    evaluate_policies,
    evaluate_request,
    parse_policy,
)

A = "111111111111"
B = "222222222222"
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{B}:user/bob"
CI_ROLE = f"arn:aws:iam::{A}:role/ci"
CI_SESSION = f"arn:aws:sts::{A}:assumed-role/ci/build-7"
DEPLOY = f"arn:aws:iam::{A}:role/deploy"
BUCKET_OBJECT = "arn:aws:s3:::reports/2024/q1.csv"


def stmt(effect: str = "Allow", action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, **extra}


def pol(
    layer: Layer, name: str, *statements: dict[str, Any], version: str = "2012-10-17"
) -> Policy:
    return parse_policy(
        {"Version": version, "Statement": list(statements)},
        PolicySource(layer, name, f"arn:aws:iam::{A}:policy/{name}"),
    )


def trust(*statements: dict[str, Any]) -> Policy:
    return pol(Layer.TRUST, "deploy-trust", *statements)


def identity(*statements: dict[str, Any]) -> Policy:
    return pol(Layer.IDENTITY, "identity", *statements)


def allow_assume(resource: str = "*", **extra: Any) -> dict[str, Any]:
    return stmt(Resource=resource, **extra)


def names(principal: Any) -> dict[str, Any]:
    return {"Principal": principal if principal == "*" else {"AWS": principal}}


FULL_ACCESS = pol(Layer.SCP, "FullAWSAccess", stmt(action="*", Resource="*"))
RCP_FULL = pol(Layer.RCP, "RCPFullAWSAccess", stmt(action="*", Resource="*", Principal="*"))


def decide(
    *,
    principal: Principal | None = None,
    action: str = "sts:AssumeRole",
    resource: str = DEPLOY,
    values: dict[str, tuple[str, ...]] | None = None,
    complete: bool = True,
    absent: frozenset[str] = frozenset(),
    **kwargs: Any,
) -> Decision:
    request = RequestContext(
        principal=principal or Principal.aws(ALICE),
        action=action,
        resource=resource,
        values=values or {},
        complete=complete,
        absent_keys=absent,
    )
    return evaluate_request(request=request, **kwargs)


def bucket_policy(*statements: dict[str, Any]) -> Policy:
    return pol(Layer.RESOURCE, "reports-bucket", *statements)


S3_GET = {"action": "s3:GetObject", "resource": BUCKET_OBJECT, "resource_account": A}

CASES = [
    # --- Policy evaluation logic: the order and default ------------------------------------------
    pytest.param(
        {"identity_policies": []},
        Outcome.IMPLICIT_DENY,
        id="eval-logic/default-implicit-deny",
    ),
    pytest.param(
        {"resource_policy": trust(names(ALICE) | allow_assume()), "identity_policies": []},
        Outcome.ALLOW,
        id="trust/same-account-user-arn-grants-alone",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [identity(stmt("Deny", Resource="*"))],
        },
        Outcome.EXPLICIT_DENY,
        id="eval-logic/explicit-deny-in-identity-overrides-trust-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume(), names(ALICE) | stmt("Deny")),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.EXPLICIT_DENY,
        id="eval-logic/explicit-deny-in-trust-policy",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "scp_levels": [
                [FULL_ACCESS],
                [pol(Layer.SCP, "deny-sts", stmt("Deny", "sts:*", Resource="*"))],
            ],
        },
        Outcome.EXPLICIT_DENY,
        id="scp/explicit-deny-at-ou-level",
    ),
    # --- Role trust policies: same account --------------------------------------------------------
    pytest.param(
        {
            "resource_policy": trust(names(f"arn:aws:iam::{A}:root") | allow_assume()),
            "identity_policies": [],
        },
        Outcome.IMPLICIT_DENY,
        id="trust/same-account-root-needs-identity-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(f"arn:aws:iam::{A}:root") | allow_assume()),
            "identity_policies": [identity(allow_assume(DEPLOY))],
        },
        Outcome.ALLOW,
        id="trust/same-account-root-delegates-to-identity",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(A) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.ALLOW,
        id="trust/bare-account-id-equals-root-arn",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(f"arn:aws:iam::{A}:user/carol") | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.IMPLICIT_DENY,
        id="trust/identity-allow-alone-is-not-enough",
    ),
    pytest.param(
        {
            **S3_GET,
            "resource_policy": bucket_policy(
                names(ALICE) | stmt(action="s3:GetObject", Resource="arn:aws:s3:::reports/*")
            ),
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="ec2:*", Resource="*")),
        },
        Outcome.ALLOW,
        id="boundaries/user-arn-in-resource-policy-not-limited-by-boundary",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="update-role-trust-policy/user-named-in-trust-still-needs-boundary-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="sts:AssumeRole", Resource="*")),
        },
        Outcome.ALLOW,
        id="update-role-trust-policy/user-named-in-trust-boundary-allows",
    ),
    pytest.param(
        {
            "principal": Principal.aws(CI_ROLE),
            "resource_policy": trust(names(CI_ROLE) | allow_assume()),
            "identity_policies": [],
        },
        Outcome.ALLOW,
        id="trust/role-arn-grants-alone-without-boundary",
    ),
    pytest.param(
        {
            "principal": Principal.aws(CI_ROLE),
            "resource_policy": trust(names(CI_ROLE) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="boundaries/role-arn-in-resource-policy-limited-by-boundary",
    ),
    pytest.param(
        {
            **S3_GET,
            "principal": Principal.aws(CI_ROLE, session_arn=CI_SESSION),
            "resource_policy": bucket_policy(
                names(CI_SESSION) | stmt(action="s3:GetObject", Resource="arn:aws:s3:::reports/*")
            ),
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="ec2:*", Resource="*")),
        },
        Outcome.ALLOW,
        id="boundaries/session-arn-in-resource-policy-not-limited-by-boundary",
    ),
    pytest.param(
        {
            "principal": Principal.aws(CI_ROLE, session_arn=CI_SESSION),
            "resource_policy": trust(names(CI_SESSION) | allow_assume()),
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="update-role-trust-policy/session-named-in-trust-needs-boundary-allow",
    ),
    pytest.param(
        {
            "principal": Principal.aws(CI_ROLE),
            "resource_policy": trust(names(CI_ROLE) | allow_assume()),
            "session_policies": [pol(Layer.SESSION, "session", stmt(action="s3:*", Resource="*"))],
        },
        Outcome.IMPLICIT_DENY,
        id="eval-logic/session-policy-limits-role-arn-grant",
    ),
    pytest.param(
        {
            "resource_policy": trust(names("*") | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.ALLOW,
        id="principal/wildcard-trust-with-identity-allow",
    ),
    pytest.param(
        {"resource_policy": trust(names("*") | allow_assume()), "identity_policies": []},
        Outcome.ALLOW,
        id="principal/wildcard-trust-same-account-needs-no-identity-allow",
    ),
    pytest.param(
        {"resource_policy": trust({"Principal": {"AWS": "*"}} | allow_assume())},
        Outcome.ALLOW,
        id="principal/aws-wildcard-trust-same-account-needs-no-identity-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names("*") | allow_assume()),
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="update-role-trust-policy/wildcard-trust-still-needs-boundary-allow",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names("*") | allow_assume()),
            "identity_policies": [],
        },
        Outcome.IMPLICIT_DENY,
        id="principal/wildcard-trust-other-account-needs-identity-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(f"arn:aws:iam::{A}:user/*") | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.IMPLICIT_DENY,
        id="principal/partial-wildcard-matches-nothing",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | stmt(action="sts:TagSession")),
            "identity_policies": [],
        },
        Outcome.IMPLICIT_DENY,
        id="action/trust-statement-for-other-action",
    ),
    # --- Cross-account ------------------------------------------------------------------------------
    pytest.param(
        {"principal": Principal.aws(BOB), "resource_policy": trust(names(BOB) | allow_assume())},
        Outcome.IMPLICIT_DENY,
        id="cross-account/trust-alone-not-enough",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(BOB) | allow_assume()),
            "identity_policies": [identity(allow_assume(DEPLOY))],
        },
        Outcome.ALLOW,
        id="cross-account/both-sides-allow",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(f"arn:aws:iam::{B}:root") | allow_assume()),
            "identity_policies": [identity(allow_assume(f"arn:aws:iam::{A}:role/*"))],
        },
        Outcome.ALLOW,
        id="cross-account/account-root-trust-plus-identity",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(f"arn:aws:iam::{A}:root") | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.IMPLICIT_DENY,
        id="cross-account/trust-names-other-account",
    ),
    pytest.param(
        {"principal": Principal.aws(BOB), "identity_policies": [identity(allow_assume())]},
        Outcome.IMPLICIT_DENY,
        id="cross-account/no-resource-policy",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(BOB) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="cross-account/boundary-applies-even-when-user-named",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names("*") | allow_assume()),
            "identity_policies": [identity(allow_assume())],
        },
        Outcome.ALLOW,
        id="cross-account/wildcard-trust-anyone-with-identity-allow",
    ),
    # --- Resource-based policies in one account (S3) --------------------------------------------------
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity(stmt(action="s3:GetObject", Resource="arn:aws:s3:::reports/*"))
            ],
        },
        Outcome.ALLOW,
        id="single-account/identity-allow-without-resource-policy",
    ),
    pytest.param(
        {
            **S3_GET,
            "resource_policy": bucket_policy(
                names(ALICE) | stmt(action="s3:GetObject", Resource="arn:aws:s3:::reports/*")
            ),
        },
        Outcome.ALLOW,
        id="single-account/resource-policy-allow-alone",
    ),
    pytest.param(
        {
            **S3_GET,
            "resource_policy": bucket_policy(
                names(f"arn:aws:iam::{A}:root")
                | stmt(action="s3:GetObject", Resource="arn:aws:s3:::reports/*")
            ),
        },
        Outcome.IMPLICIT_DENY,
        id="single-account/account-principal-delegates-to-identity",
    ),
    pytest.param(
        {
            **S3_GET,
            "resource_policy": bucket_policy(
                names("*") | stmt(action="s3:GetObject", Resource="*")
            ),
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="ec2:*", Resource="*")),
        },
        Outcome.CONDITIONAL_ALLOW,
        id="boundaries/wildcard-resource-grant-vs-boundary-undocumented",
    ),
    pytest.param(
        {
            **S3_GET,
            "principal": Principal(kind=PrincipalKind.ANONYMOUS, value=""),
            "resource_policy": bucket_policy(
                names("*") | stmt(action="s3:GetObject", Resource="*")
            ),
        },
        Outcome.ALLOW,
        id="principal/anonymous-matches-star",
    ),
    pytest.param(
        {
            **S3_GET,
            "principal": Principal.service("cloudtrail.amazonaws.com"),
            "resource_policy": bucket_policy(
                {"Principal": {"Service": "cloudtrail.amazonaws.com"}}
                | stmt(action="s3:GetObject", Resource="*")
            ),
        },
        Outcome.ALLOW,
        id="principal/service-principal",
    ),
    pytest.param(
        {
            **S3_GET,
            "principal": Principal.service("config.amazonaws.com"),
            "resource_policy": bucket_policy(
                {"Principal": {"Service": "cloudtrail.amazonaws.com"}}
                | stmt(action="s3:GetObject", Resource="*")
            ),
        },
        Outcome.IMPLICIT_DENY,
        id="principal/other-service-principal",
    ),
    # --- NotPrincipal ---------------------------------------------------------------------------------
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "resource_policy": bucket_policy(
                {"NotPrincipal": {"AWS": [ALICE, f"arn:aws:iam::{A}:root"]}}
                | stmt("Deny", "s3:*", Resource="*")
            ),
        },
        Outcome.ALLOW,
        id="notprincipal/deny-excludes-user-and-account",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "resource_policy": bucket_policy(
                {"NotPrincipal": {"AWS": [ALICE]}} | stmt("Deny", "s3:*", Resource="*")
            ),
        },
        Outcome.EXPLICIT_DENY,
        id="notprincipal/deny-without-account-arn-denies-user",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
            "resource_policy": bucket_policy(
                {"NotPrincipal": {"AWS": [ALICE, f"arn:aws:iam::{A}:root"]}}
                | stmt("Deny", "s3:*", Resource="*")
            ),
        },
        Outcome.EXPLICIT_DENY,
        id="notprincipal/deny-always-applies-with-boundary",
    ),
    # --- SCPs ---------------------------------------------------------------------------------------
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "scp_levels": [
                [FULL_ACCESS],
                [pol(Layer.SCP, "only-s3", stmt(action="s3:*", Resource="*"))],
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="scp/every-level-must-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "scp_levels": [[FULL_ACCESS], [FULL_ACCESS]],
        },
        Outcome.ALLOW,
        id="scp/all-levels-allow",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "scp_levels": [[pol(Layer.SCP, "only-s3", stmt(action="s3:*", Resource="*"))]],
            "is_management_account": True,
        },
        Outcome.ALLOW,
        id="scp/management-account-not-restricted",
    ),
    pytest.param(
        {
            "principal": Principal.aws(
                f"arn:aws:iam::{A}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"
            ),
            "action": "s3:GetObject",
            "resource": BUCKET_OBJECT,
            "resource_account": A,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "scp_levels": [[pol(Layer.SCP, "deny-s3", stmt("Deny", "s3:*", Resource="*"))]],
            "is_service_linked_role": True,
        },
        Outcome.ALLOW,
        id="scp/service-linked-role-not-restricted",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(BOB) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
            "scp_levels": [[pol(Layer.SCP, "only-s3", stmt(action="s3:*", Resource="*"))]],
        },
        Outcome.IMPLICIT_DENY,
        id="scp/applies-to-principal-account-cross-account",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": BUCKET_OBJECT,
            "resource_account": A,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "scp_levels": [
                [FULL_ACCESS, pol(Layer.SCP, "deny-ec2", stmt("Deny", "ec2:*", Resource="*"))]
            ],
        },
        Outcome.ALLOW,
        id="scp/deny-for-other-action-irrelevant",
    ),
    # --- RCPs ---------------------------------------------------------------------------------------
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(BOB) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
            "rcp_levels": [
                [RCP_FULL],
                [
                    pol(
                        Layer.RCP,
                        "org-only",
                        stmt(
                            "Deny",
                            "sts:*",
                            Resource="*",
                            Principal="*",
                            Condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}},
                        ),
                    )
                ],
            ],
            "values": {"aws:PrincipalOrgID": ("o-other",)},
        },
        Outcome.EXPLICIT_DENY,
        id="rcp/deny-external-principal",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(names(BOB) | allow_assume()),
            "identity_policies": [identity(allow_assume())],
            "rcp_levels": [
                [pol(Layer.RCP, "org-only", stmt("Deny", "sts:*", Resource="*", Principal="*"))],
            ],
            "resource_in_management_account": True,
        },
        Outcome.ALLOW,
        id="rcp/management-account-resources-not-restricted",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "rcp_levels": [
                [pol(Layer.RCP, "s3-only", stmt(action="s3:*", Resource="*", Principal="*"))]
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="rcp/level-without-allow-denies",
    ),
    pytest.param(
        {
            "principal": Principal.service("x.amazonaws.com"),
            "resource": f"arn:aws:iam::{A}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX",
            "resource_policy": trust(
                {"Principal": {"Service": "x.amazonaws.com"}} | allow_assume()
            ),
            "rcp_levels": [
                [pol(Layer.RCP, "deny-all", stmt("Deny", "sts:*", Resource="*", Principal="*"))]
            ],
            "is_service_linked_role": True,
        },
        Outcome.ALLOW,
        id="rcp/service-assuming-service-linked-role-not-restricted",
    ),
    # --- Conditions in trust policies: three-valued ---------------------------------------------------
    pytest.param(
        {
            "resource_policy": trust(
                names(ALICE)
                | allow_assume(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
            ),
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:MultiFactorAuthPresent"}),
        id="conditions/unknown-mfa-makes-conditional",
    ),
    pytest.param(
        {
            "resource_policy": trust(
                names(ALICE)
                | allow_assume(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
            ),
            "values": {"aws:MultiFactorAuthPresent": ("true",)},
        },
        Outcome.ALLOW,
        id="conditions/bool-true",
    ),
    pytest.param(
        {
            "resource_policy": trust(
                names(ALICE)
                | allow_assume(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
            ),
        },
        Outcome.IMPLICIT_DENY,
        id="conditions/bool-absent-key-is-false",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(
                names(BOB) | allow_assume(Condition={"StringEquals": {"sts:ExternalId": "x1"}})
            ),
            "identity_policies": [identity(allow_assume())],
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"sts:ExternalId"}),
        id="conditions/unknown-external-id",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [
                identity(
                    stmt(
                        "Deny",
                        Resource="*",
                        Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    )
                )
            ],
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:SourceIp"}),
        id="conditions/unknown-deny-makes-allow-conditional",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [
                identity(
                    stmt(
                        "Deny",
                        Resource="*",
                        Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    )
                )
            ],
            "values": {"aws:SourceIp": ("10.1.2.3",)},
        },
        Outcome.ALLOW,
        id="conditions/notipaddress-deny-not-applied-inside-range",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [
                identity(
                    stmt(
                        "Deny",
                        Resource="*",
                        Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    )
                )
            ],
            "values": {"aws:SourceIp": ("192.0.2.1",)},
        },
        Outcome.EXPLICIT_DENY,
        id="conditions/notipaddress-deny-applied-outside-range",
    ),
    pytest.param(
        {
            "resource_policy": trust(
                names(ALICE)
                | allow_assume(Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}})
            ),
        },
        Outcome.ALLOW,
        id="conditions/ifexists-absent-key-true",
    ),
    pytest.param(
        {
            "resource_policy": trust(
                names(ALICE)
                | allow_assume(Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}})
            ),
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:MultiFactorAuthPresent"}),
        id="conditions/ifexists-unknown-key-conditional",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [
                identity(
                    stmt(
                        "Deny", Resource="*", Condition={"Null": {"aws:MultiFactorAuthAge": "true"}}
                    )
                )
            ],
        },
        Outcome.EXPLICIT_DENY,
        id="conditions/null-true-on-absent-key-denies",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "identity_policies": [
                identity(
                    stmt(
                        "Deny", Resource="*", Condition={"Null": {"aws:MultiFactorAuthAge": "true"}}
                    )
                )
            ],
            "values": {"aws:MultiFactorAuthAge": ("30",)},
        },
        Outcome.ALLOW,
        id="conditions/null-true-on-present-key-no-deny",
    ),
    pytest.param(
        {
            "principal": Principal.federated(f"arn:aws:iam::{A}:saml-provider/okta"),
            "action": "sts:AssumeRoleWithSAML",
            "resource_policy": trust(
                {"Principal": {"Federated": f"arn:aws:iam::{A}:saml-provider/okta"}}
                | stmt(
                    action="sts:AssumeRoleWithSAML",
                    Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                )
            ),
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"SAML:aud"}),
        id="principal/federated-saml-conditional-on-aud",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(
                names("*")
                | allow_assume(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
            ),
            "identity_policies": [identity(allow_assume())],
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:PrincipalOrgID"}),
        id="conditions/org-id-unknown",
    ),
    pytest.param(
        {
            "principal": Principal.aws(BOB),
            "resource_policy": trust(
                names("*") | allow_assume(Condition={"StringEquals": {"aws:PrincipalAccount": B}})
            ),
            "identity_policies": [identity(allow_assume())],
            "complete": False,
        },
        Outcome.ALLOW,
        id="conditions/principal-account-derived-from-principal",
    ),
    pytest.param(
        {
            "resource_policy": trust(names(ALICE) | allow_assume()),
            "scp_levels": [
                [
                    pol(
                        Layer.SCP,
                        "mfa-or-nothing",
                        stmt(
                            action="*",
                            Resource="*",
                            Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                        ),
                    )
                ]
            ],
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:MultiFactorAuthPresent"}),
        id="scp/conditional-allow",
    ),
    # --- Action / NotAction / Resource / NotResource ----------------------------------------------------
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="S3:getobject", Resource="*"))],
        },
        Outcome.ALLOW,
        id="action/case-insensitive",
    ),
    pytest.param(
        {**S3_GET, "identity_policies": [identity(stmt(action="s3:Get*", Resource="*"))]},
        Outcome.ALLOW,
        id="wildcards/action-star",
    ),
    pytest.param(
        {**S3_GET, "identity_policies": [identity(stmt(action="s3:GetObjec?", Resource="*"))]},
        Outcome.ALLOW,
        id="wildcards/action-question-mark",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
            ],
        },
        Outcome.ALLOW,
        id="notaction/allow-everything-else",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="notaction/excluded-action-not-allowed",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity(
                    stmt(action="s3:*", Resource="*"),
                    {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"},
                )
            ],
        },
        Outcome.EXPLICIT_DENY,
        id="notaction/deny-with-notaction",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity(stmt(action="s3:GetObject", Resource="arn:aws:s3:::other/*"))
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="resource/other-bucket",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity(
                    {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}
                )
            ],
        },
        Outcome.ALLOW,
        id="notresource/allow-outside",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [
                identity(
                    {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::reports/*"}
                )
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="notresource/excluded-resource",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="arn:aws:s3:::Reports/*"))],
        },
        Outcome.IMPLICIT_DENY,
        id="resource/arn-case-sensitive",
    ),
    # --- Policy variables ---------------------------------------------------------------------------
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::home/alice/notes.txt",
            "resource_account": A,
            "identity_policies": [
                identity(stmt(action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*"))
            ],
        },
        Outcome.ALLOW,
        id="variables/aws-username-in-resource",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::home/bob/notes.txt",
            "resource_account": A,
            "identity_policies": [
                identity(stmt(action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*"))
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="variables/other-user-folder",
    ),
    pytest.param(
        {
            "principal": Principal.aws(CI_ROLE),
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::home/ci/notes.txt",
            "resource_account": A,
            "identity_policies": [
                identity(stmt(action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*"))
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="variables/missing-key-statement-does-not-match",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::teams/red/x",
            "resource_account": A,
            "identity_policies": [
                identity(
                    stmt(action="s3:*", Resource="arn:aws:s3:::teams/${aws:PrincipalTag/team}/*")
                )
            ],
            "complete": False,
        },
        (Outcome.CONDITIONAL_ALLOW, {"aws:PrincipalTag/team"}),
        id="variables/unknown-tag-conditional",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::teams/shared/x",
            "resource_account": A,
            "identity_policies": [
                identity(
                    stmt(
                        action="s3:*",
                        Resource="arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*",
                    )
                )
            ],
        },
        Outcome.ALLOW,
        id="variables/default-value-for-absent-key",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::home/${aws:username}/x",
            "resource_account": A,
            "identity_policies": [
                pol(
                    Layer.IDENTITY,
                    "old",
                    stmt(action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*"),
                    version="2008-10-17",
                )
            ],
        },
        Outcome.ALLOW,
        id="variables/version-2008-takes-variables-literally",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::star/a*b",
            "resource_account": A,
            "identity_policies": [
                identity(stmt(action="s3:*", Resource="arn:aws:s3:::star/a${*}b"))
            ],
        },
        Outcome.ALLOW,
        id="variables/literal-star",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::star/axxb",
            "resource_account": A,
            "identity_policies": [
                identity(stmt(action="s3:*", Resource="arn:aws:s3:::star/a${*}b"))
            ],
        },
        Outcome.IMPLICIT_DENY,
        id="variables/literal-star-is-not-a-wildcard",
    ),
    pytest.param(
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::home/alice/x",
            "resource_account": A,
            "identity_policies": [
                identity(
                    stmt(
                        action="s3:*",
                        Resource="*",
                        Condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
                    )
                )
            ],
            "values": {"s3:prefix": ("home/alice/docs",)},
        },
        Outcome.ALLOW,
        id="variables/in-condition-value",
    ),
    # --- Boundaries with identity policies -------------------------------------------------------------
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:GetObject", Resource="*")),
        },
        Outcome.ALLOW,
        id="boundaries/identity-and-boundary-allow",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="ec2:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="boundaries/boundary-without-allow-limits-identity",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="ec2:*", Resource="*"))],
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="s3:*", Resource="*")),
        },
        Outcome.IMPLICIT_DENY,
        id="boundaries/boundary-grants-nothing-alone",
    ),
    pytest.param(
        {
            **S3_GET,
            "identity_policies": [identity(stmt(action="s3:*", Resource="*"))],
            "boundary": pol(
                Layer.BOUNDARY,
                "pb",
                stmt(action="s3:*", Resource="*"),
                stmt("Deny", "s3:Get*", Resource="*"),
            ),
        },
        Outcome.EXPLICIT_DENY,
        id="boundaries/deny-in-boundary",
    ),
    pytest.param(
        {
            "principal": Principal.aws(f"arn:aws:iam::{A}:root"),
            **S3_GET,
            "boundary": pol(Layer.BOUNDARY, "pb", stmt(action="ec2:*", Resource="*")),
        },
        Outcome.ALLOW,
        id="eval-logic/account-root-user-full-access",
    ),
]


@pytest.mark.parametrize(("setup", "expected"), CASES)
def test_evaluate_request_documented_cases(setup: dict[str, Any], expected: Any) -> None:
    outcome, keys = expected if isinstance(expected, tuple) else (expected, set())

    decision = decide(**setup)

    assert (decision.outcome, set(decision.condition_keys)) == (outcome, keys), [
        r.text for r in decision.reasons
    ]


def test_evaluate_request_case_count_meets_floor() -> None:
    assert len(CASES) >= 60


def test_evaluate_request_reasons_name_statements_and_layers() -> None:
    deploy_access = parse_policy(
        {"Version": "2012-10-17", "Statement": [{"Sid": "AllowAssume", **allow_assume(DEPLOY)}]},
        PolicySource(
            Layer.IDENTITY,
            "DeployAccess",
            f"arn:aws:iam::{A}:policy/DeployAccess",
            "customer-managed policy",
        ),
    )
    role_trust = parse_policy(
        {"Version": "2012-10-17", "Statement": [{"Sid": "Acct", **names(A), **allow_assume()}]},
        PolicySource(Layer.TRUST, "deploy", DEPLOY),
    )

    decision = decide(identity_policies=[deploy_access], resource_policy=role_trust)

    assert decision.outcome is Outcome.ALLOW
    assert decision.deciding_layer is Layer.TRUST
    assert [(r.layer, r.sid, r.index, r.text) for r in decision.reasons] == [
        (
            Layer.TRUST,
            "Acct",
            0,
            "Allow by statement 'Acct' (Statement[0]) of trust policy deploy "
            f"({DEPLOY}), which names the principal's account (its identity-based policies must also allow)",
        ),
        (
            Layer.IDENTITY,
            "AllowAssume",
            0,
            "Allow by statement 'AllowAssume' (Statement[0]) of customer-managed policy DeployAccess "
            f"(arn:aws:iam::{A}:policy/DeployAccess)",
        ),
    ]


def test_evaluate_request_explicit_deny_names_deny_statement() -> None:
    scp = parse_policy(
        {"Statement": [{"Sid": "NoSts", "Effect": "Deny", "Action": "sts:*", "Resource": "*"}]},
        PolicySource(
            Layer.SCP,
            "deny-sts",
            "arn:aws:organizations::999999999999:policy/o-1/service_control_policy/p-1",
        ),
    )

    decision = decide(
        resource_policy=trust(names(ALICE) | allow_assume()), scp_levels=[[FULL_ACCESS, scp]]
    )

    assert (
        decision.outcome,
        decision.deciding_layer,
        [(r.sid, r.layer) for r in decision.reasons],
    ) == (
        Outcome.EXPLICIT_DENY,
        Layer.SCP,
        [("NoSts", Layer.SCP)],
    )


def test_evaluate_request_implicit_deny_names_missing_scp_level() -> None:
    only_s3 = pol(Layer.SCP, "only-s3", stmt(action="s3:*", Resource="*"))

    decision = decide(
        resource_policy=trust(names(ALICE) | allow_assume()), scp_levels=[[FULL_ACCESS], [only_s3]]
    )

    assert (decision.outcome, decision.deciding_layer, [r.text for r in decision.reasons]) == (
        Outcome.IMPLICIT_DENY,
        Layer.SCP,
        ["No SCP at level 1 (only-s3) allows sts:AssumeRole"],
    )


def test_evaluate_request_conditional_deny_listed_with_allow() -> None:
    deny = identity(
        {
            "Sid": "OffNet",
            **stmt(
                "Deny", Resource="*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
            ),
        }
    )

    decision = decide(
        resource_policy=trust(names(ALICE) | allow_assume()),
        identity_policies=[deny],
        complete=False,
    )

    assert [(r.layer, r.effect, r.sid, sorted(r.condition_keys)) for r in decision.reasons] == [
        (Layer.TRUST, Effect.ALLOW, None, []),
        (Layer.IDENTITY, Effect.DENY, "OffNet", ["aws:SourceIp"]),
    ]


def test_evaluate_request_wildcard_trust_same_account_grants_without_ambiguity() -> None:
    # Principal element page, "All principals": within the role's account no other
    # permission is required.
    decision = decide(resource_policy=trust(names("*") | allow_assume()))

    assert (decision.outcome, decision.ambiguities, [r.text for r in decision.reasons]) == (
        Outcome.ALLOW,
        (),
        [
            "Allow by statement (Statement[0]) of trust policy deploy-trust "
            f'(arn:aws:iam::{A}:policy/deploy-trust), which names every principal ("*")'
        ],
    )


def test_evaluate_request_reports_unresolved_variable() -> None:
    decision = decide(
        principal=Principal.aws(CI_ROLE),
        action="s3:GetObject",
        resource="arn:aws:s3:::home/ci/x",
        resource_account=A,
        identity_policies=[
            identity(stmt(action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*"))
        ],
    )

    assert decision.notes == (
        "statement (Statement[0]) of identity-based policy identity (arn:aws:iam::111111111111:policy/identity): "
        "policy variable ${aws:username} has no value in the request; "
        "Resource arn:aws:s3:::home/${aws:username}/* does not match",
    )


def test_evaluate_request_resource_account_required_for_s3() -> None:
    with pytest.raises(ValueError, match="resource_account is required"):
        decide(action="s3:GetObject", resource=BUCKET_OBJECT)


def test_evaluate_policies_single_layer_lists_applying_statements() -> None:
    policy = identity(
        {"Sid": "One", **stmt(action="s3:*", Resource="*")},
        {"Sid": "Two", **stmt(action="ec2:*", Resource="*")},
        {"Sid": "Three", **stmt("Deny", "s3:Delete*", Resource="*")},
    )
    request = RequestContext(
        principal=Principal.aws(ALICE), action="s3:GetObject", resource=BUCKET_OBJECT
    )

    result = evaluate_policies([policy], request)

    assert [r.statement.sid for r in result.results] == ["One"]


# --- Resource element: a `*` ending a segment spans colons ---------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
FOO_FUNCTION = f"arn:aws:lambda:us-east-1:{A}:function:foo"


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        pytest.param(
            [identity(stmt(action="lambda:*", Resource="arn:aws:lambda:*:function:foo"))],
            Outcome.ALLOW,
            id="resource/star-across-region-and-account-allows",
        ),
        pytest.param(
            [
                identity(
                    stmt(action="lambda:*", Resource="*"),
                    stmt("Deny", "lambda:*", Resource="arn:aws:lambda:*:function:foo"),
                )
            ],
            Outcome.EXPLICIT_DENY,
            id="resource/star-across-region-and-account-denies",
        ),
        pytest.param(
            [
                identity(
                    stmt(action="lambda:*", Resource="*"),
                    {
                        "Effect": "Deny",
                        "Action": "lambda:*",
                        "NotResource": "arn:aws:lambda:*:function:foo",
                    },
                )
            ],
            Outcome.ALLOW,
            id="notresource/star-across-region-and-account-exempts",
        ),
    ],
)
def test_evaluate_request_resource_wildcard_spans_segments(
    policies: list[Policy], expected: Outcome
) -> None:
    decision = decide(
        action="lambda:InvokeFunction", resource=FOO_FUNCTION, identity_policies=policies
    )

    assert decision.outcome is expected


# --- An operator the engine does not know: only its statement is unknown ----------------------
def test_evaluate_request_unknown_operator_makes_statement_conditional() -> None:
    policy = trust(
        names(ALICE) | allow_assume(Condition={"StringEqualz": {"aws:PrincipalTag/team": "x"}}),
    )

    decision = decide(resource_policy=policy)

    assert (decision.outcome, decision.condition_keys) == (
        Outcome.CONDITIONAL_ALLOW,
        frozenset({"iamviz:UnsupportedCondition/StringEqualz/aws:PrincipalTag/team"}),
    )


def test_evaluate_request_unknown_operator_leaves_other_statements() -> None:
    policy = trust(
        names(f"arn:aws:iam::{A}:user/carol")
        | allow_assume(Condition={"ForAnyValue:Frobnicate": {"k": "x"}}),
        names(ALICE) | allow_assume(),
    )

    assert decide(resource_policy=policy).outcome is Outcome.ALLOW


# --- Session requirements of trust policies ------------------------------------------------------
# Source identity: "the sts:SetSourceIdentity action must be allowed in the role trust policy";
# session tags: "the sts:TagSession action must be allowed in the role trust policy".
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
SOURCE_IDENTITY = {"StringLike": {"sts:SourceIdentity": "${aws:username}"}}
REQUEST_TAG = {"StringEquals": {"aws:RequestTag/project": "blue"}}


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        pytest.param(
            [names(ALICE) | allow_assume(Condition=SOURCE_IDENTITY)],
            Outcome.IMPLICIT_DENY,
            id="source-identity/required-without-set-source-identity",
        ),
        pytest.param(
            [
                names(ALICE)
                | stmt(
                    action=["sts:AssumeRole", "sts:SetSourceIdentity"],
                    Resource="*",
                    Condition=SOURCE_IDENTITY,
                )
            ],
            (Outcome.CONDITIONAL_ALLOW, {"sts:SourceIdentity"}),
            id="source-identity/required-with-set-source-identity",
        ),
        pytest.param(
            [names(ALICE) | allow_assume(Condition=REQUEST_TAG)],
            Outcome.IMPLICIT_DENY,
            id="session-tags/request-tag-required-without-tag-session",
        ),
        pytest.param(
            [
                names(ALICE) | allow_assume(Condition=REQUEST_TAG),
                names(ALICE) | stmt(action="sts:TagSession", Resource="*"),
            ],
            (Outcome.CONDITIONAL_ALLOW, {"aws:RequestTag/project"}),
            id="session-tags/request-tag-with-tag-session-statement",
        ),
        pytest.param(
            [names(ALICE) | allow_assume(Condition={"Null": {"sts:TransitiveTagKeys": "false"}})],
            Outcome.IMPLICIT_DENY,
            id="session-tags/transitive-tag-keys-required-without-tag-session",
        ),
        pytest.param(
            [
                names(ALICE)
                | allow_assume(Condition={"StringEqualsIfExists": {"sts:SourceIdentity": "alice"}})
            ],
            (Outcome.CONDITIONAL_ALLOW, {"sts:SourceIdentity"}),
            id="source-identity/optional-needs-nothing-more",
        ),
    ],
)
def test_evaluate_request_trust_session_requirements(
    statements: list[dict[str, Any]], expected: Any
) -> None:
    outcome, keys = expected if isinstance(expected, tuple) else (expected, set())

    decision = decide(resource_policy=trust(*statements), complete=False)

    assert (decision.outcome, set(decision.condition_keys)) == (outcome, keys), [
        r.text for r in decision.reasons
    ]


def test_evaluate_request_session_requirement_explained_in_notes() -> None:
    decision = decide(
        resource_policy=trust(names(ALICE) | allow_assume(Condition=SOURCE_IDENTITY)),
        complete=False,
    )

    assert decision.notes == (
        "statement (Statement[0]) of trust policy deploy-trust "
        f"(arn:aws:iam::{A}:policy/deploy-trust) holds only if the request sets a source "
        "identity, which needs sts:SetSourceIdentity; the trust policy does not allow it, so "
        "nobody can meet the statement",
    )
