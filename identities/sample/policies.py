"""One generated account's customer-managed policies and groups (the base of `AccountBuilder`)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from identities.sample.catalogue import (
    AWS_MANAGED_POLICIES,
    allow,
    aws_managed_arn,
    deny,
    make_document,
)
from identities.sample.vocabulary import START, TEAMS, AccountPlan, iso, older

if TYPE_CHECKING:
    from identities.sample.generate import Generator


class AccountPolicies:
    """One account's policies and groups, and the attachments they count; `AccountBuilder`
    adds the users, roles and credential report."""

    def __init__(
        self,
        gen: Generator,
        plan: AccountPlan,
        org_id: str,
        callers: dict[str, list[str]],
        cross_targets: list[str],
    ) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.plan = plan
        self.org_id = org_id
        self.callers = callers
        self.cross_targets = cross_targets
        self.attachments: Counter[str] = Counter()
        self.boundaries: Counter[str] = Counter()
        self.created = gen.stamp(
            high=min(START + 300 * 86400 * (1 + plan.index // 10), gen.now - 90 * 86400)
        )
        self.customer: dict[str, dict[str, Any]] = {}

    # attachments ----------------------------------------------------------------------------------
    def aws(self, name: str) -> dict[str, str]:
        arn = aws_managed_arn(name)
        self.attachments[arn] += 1
        return {"PolicyName": name, "PolicyArn": arn}

    def local(self, name: str) -> dict[str, str]:
        arn = f"arn:aws:iam::{self.plan.id}:policy/{name}"
        self.attachments[arn] += 1
        return {"PolicyName": name, "PolicyArn": arn}

    def boundary(self, name: str = "developer-boundary") -> dict[str, str]:
        arn = f"arn:aws:iam::{self.plan.id}:policy/{name}"
        self.boundaries[arn] += 1
        return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}

    def inline(self, name: str, *statements: dict[str, Any]) -> dict[str, Any]:
        document = make_document(*statements)
        return {"PolicyName": name, "PolicyDocument": self.gen.encode(document, 0.3)}

    def allow_inline(
        self, name: str, action: str | list[str], resource: str | list[str] = "*", **extra: Any
    ) -> dict[str, Any]:
        """The inline policy `name` of one statement allowing `action` on `resource`."""
        return self.inline(name, allow(action, resource, **extra))

    def assume_callees(self, name: str, arn: str) -> list[dict[str, Any]]:
        """The inline policy that lets ``arn`` assume the roles planned to trust it, if any."""
        targets = self.callers.get(arn)
        if not targets:
            return []
        resource = targets[0] if len(targets) == 1 else sorted(set(targets))
        return [self.inline(name, allow("sts:AssumeRole", resource))]

    def tags(self, *, env: str | None = None) -> list[dict[str, str]]:
        if self.rng.random() < 0.45:
            return []
        tags = [{"Key": "team", "Value": self.rng.choice(TEAMS)}]
        if env or self.rng.random() < 0.5:
            tags.append({"Key": "env", "Value": env or self.env})
        if self.rng.random() < 0.3:
            tags.append({"Key": "cost-center", "Value": f"cc-{self.rng.randrange(1000, 9999)}"})
        return tags

    @property
    def env(self) -> str:
        name = self.plan.name
        for env in ("prod", "staging", "dev", "sandbox"):
            if env in name:
                return env
        return "shared"

    def build_group(self, name: str) -> dict[str, Any]:
        account = self.plan.id
        attached: list[dict[str, str]] = []
        inline: list[dict[str, Any]] = []
        if name == "admins":
            attached.append(self.aws("AdministratorAccess"))
        elif name == "developers":
            attached += [self.aws("PowerUserAccess"), self.local("deny-sensitive-actions")]
            inline.append(
                self.allow_inline(
                    "developers-pass-app-roles",
                    "iam:PassRole",
                    f"arn:aws:iam::{account}:role/*-lambda",
                    Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
                )
            )
        elif name == "readonly":
            attached.append(self.aws("ReadOnlyAccess"))
        elif name == "security-auditors":
            attached.append(self.aws("SecurityAudit"))
            inline.append(
                self.allow_inline(
                    "assume-audit-roles",
                    "sts:AssumeRole",
                    "arn:aws:iam::*:role/audit",
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                )
            )
        elif name == "ops":
            attached += [self.aws("AmazonEC2FullAccess"), self.local("ops-assume-roles")]
        elif name == "data-engineers":
            attached += [self.aws("AmazonS3FullAccess"), self.local("s3-data-lake-rw")]
        elif name == "iam-admins":
            attached.append(self.aws("IAMFullAccess"))
        elif name == "network-admins":
            attached += [self.aws("AmazonVPCFullAccess"), self.aws("CloudWatchFullAccess")]
        elif name == "billing":
            attached.append(self.aws("ViewOnlyAccess"))
        elif name == "mfa-required":
            # AWS's documented "allow only with MFA" pattern.
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html
            inline.append(
                self.inline(
                    "force-mfa",
                    allow(
                        [
                            "iam:CreateVirtualMFADevice",
                            "iam:EnableMFADevice",
                            "iam:ListMFADevices",
                            "iam:ResyncMFADevice",
                        ],
                        f"arn:aws:iam::{account}:*/${{aws:username}}",
                    ),
                    {
                        "Sid": "DenyAllExceptListedIfNoMFA",
                        "Effect": "Deny",
                        "NotAction": [
                            "iam:CreateVirtualMFADevice",
                            "iam:EnableMFADevice",
                            "iam:GetUser",
                            "iam:ListMFADevices",
                            "iam:ListVirtualMFADevices",
                            "iam:ResyncMFADevice",
                            "sts:GetSessionToken",
                        ],
                        "Resource": "*",
                        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                    },
                )
            )
        elif name == "ci-deployers":
            attached += [self.local("ci-deploy-assume"), self.local("lambda-deployer")]
        elif name == "service-accounts":
            inline.append(
                self.inline(
                    "deny-console",
                    deny(
                        [
                            "iam:ChangePassword",
                            "iam:CreateLoginProfile",
                            "iam:UpdateLoginProfile",
                        ]
                    ),
                )
            )
        return {
            "Path": "/",
            "GroupName": name,
            "GroupId": self.gen.unique_id("AGPA"),
            "Arn": f"arn:aws:iam::{account}:group/{name}",
            "CreateDate": iso(self.gen.stamp(low=self.created)),
            "GroupPolicyList": inline,
            "AttachedManagedPolicies": attached,
        }

    # managed policies ----------------------------------------------------------------------------
    def customer_documents(self) -> dict[str, tuple[str, dict[str, Any]]]:
        account, org = self.plan.id, self.gen.org_name
        lake = f"arn:aws:s3:::{org}-{self.plan.name}-data-lake"
        cross = sorted(set(self.cross_targets)) or [f"arn:aws:iam::{account}:role/ops"]
        return {
            "ci-deploy-assume": (
                "Lets CI assume the deploy roles of every account",
                make_document(
                    allow("sts:AssumeRole", "arn:aws:iam::*:role/deploy-*")
                    | {"Sid": "AssumeDeploy"},
                ),
            ),
            "ops-assume-roles": (
                "Operators assume the cross-account roles that trust us",
                make_document(
                    allow(
                        "sts:AssumeRole",
                        cross[0] if len(cross) == 1 else cross[:40],
                        Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                    ),
                ),
            ),
            "developer-boundary": (
                "Permissions boundary for developer-created principals",
                make_document(
                    allow(
                        [
                            "s3:*",
                            "dynamodb:*",
                            "lambda:*",
                            "logs:*",
                            "cloudwatch:*",
                            "sqs:*",
                            "sns:*",
                            "ec2:Describe*",
                            "sts:AssumeRole",
                            "xray:*",
                        ]
                    ),
                    deny(
                        [
                            "iam:CreateUser",
                            "iam:CreateAccessKey",
                            "iam:PutRolePolicy",
                            "iam:AttachRolePolicy",
                            "iam:DeleteRolePermissionsBoundary",
                        ]
                    )
                    | {"Sid": "NoEscalation"},
                ),
            ),
            "break-glass-admin": ("Emergency administrator access", make_document(allow("*"))),
            "deny-sensitive-actions": (
                "Guardrail against turning off detection",
                make_document(
                    deny(
                        [
                            "cloudtrail:StopLogging",
                            "cloudtrail:DeleteTrail",
                            "guardduty:DeleteDetector",
                            "kms:ScheduleKeyDeletion",
                            "config:StopConfigurationRecorder",
                        ]
                    )
                    | {"Sid": "ProtectDetection"},
                ),
            ),
            "s3-data-lake-rw": (
                "Read and write the data lake",
                make_document(
                    allow(["s3:ListBucket", "s3:GetBucketLocation"], lake),
                    allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"{lake}/*"),
                ),
            ),
            "lambda-deployer": (
                "Deploy Lambda functions with their execution roles",
                make_document(
                    allow("iam:PassRole", f"arn:aws:iam::{account}:role/*"),
                    allow(
                        [
                            "lambda:CreateFunction",
                            "lambda:UpdateFunctionCode",
                            "lambda:UpdateFunctionConfiguration",
                            "lambda:InvokeFunction",
                            "lambda:AddPermission",
                        ]
                    ),
                ),
            ),
            "iam-key-rotation": (
                "Rotate access keys (written too broadly)",
                make_document(
                    allow(
                        [
                            "iam:CreateAccessKey",
                            "iam:DeleteAccessKey",
                            "iam:UpdateAccessKey",
                            "iam:ListAccessKeys",
                        ]
                    ),
                ),
            ),
            "iam-self-service": (
                "Manage one's own credentials",
                make_document(
                    allow(
                        [
                            "iam:ChangePassword",
                            "iam:CreateAccessKey",
                            "iam:DeleteAccessKey",
                            "iam:GetUser",
                            "iam:ListAccessKeys",
                            "iam:UpdateAccessKey",
                        ],
                        f"arn:aws:iam::{account}:user/${{aws:username}}",
                    ),
                    allow("iam:GetAccountPasswordPolicy"),
                ),
            ),
        }

    def build_customer_policies(self) -> list[dict[str, Any]]:
        rng, account = self.rng, self.plan.id
        policies = []
        for name, (description, document) in self.customer_documents().items():
            arn = f"arn:aws:iam::{account}:policy/{name}"
            created = self.gen.stamp(low=self.created)
            first = rng.randint(1, 4)
            count = rng.randint(1, 4)
            default_index = count - 1 if rng.random() < 0.9 else rng.randrange(count)
            stamps = sorted(self.gen.stamp(low=created) for _ in range(count - 1))
            stamps = [created, *stamps]
            versions = []
            for index in range(count):
                doc = document if index == count - 1 else older(document, count - 1 - index)
                versions.append(
                    {
                        "Document": self.gen.encode(doc, 0.3),
                        "VersionId": f"v{first + index}",
                        "IsDefaultVersion": index == default_index,
                        "CreateDate": iso(stamps[index]),
                    }
                )
            policies.append(
                {
                    "PolicyName": name,
                    "PolicyId": self.gen.unique_id("ANPA"),
                    "Arn": arn,
                    "Path": "/",
                    "DefaultVersionId": f"v{first + default_index}",
                    "AttachmentCount": self.attachments[arn],
                    "PermissionsBoundaryUsageCount": self.boundaries[arn],
                    "IsAttachable": True,
                    "Description": description,
                    "CreateDate": iso(created),
                    "UpdateDate": iso(stamps[-1]),
                    "PolicyVersionList": versions,
                }
            )
        return policies

    def build_aws_policies(self) -> list[dict[str, Any]]:
        # GetAccountAuthorizationDetails lists an AWS-managed policy only where it is in use.
        policies = []
        for name, policy in AWS_MANAGED_POLICIES.items():
            arn = aws_managed_arn(name)
            if not self.attachments[arn]:
                continue
            policies.append(
                {
                    "PolicyName": name,
                    "PolicyId": policy.policy_id,
                    "Arn": arn,
                    "Path": policy.path,
                    "DefaultVersionId": policy.version_id,
                    "AttachmentCount": self.attachments[arn],
                    "PermissionsBoundaryUsageCount": 0,
                    "IsAttachable": True,
                    "CreateDate": policy.created,
                    "UpdateDate": policy.updated,
                    "PolicyVersionList": [
                        {
                            "Document": policy.document,
                            "VersionId": policy.version_id,
                            "IsDefaultVersion": True,
                            "CreateDate": policy.updated,
                        }
                    ],
                }
            )
        return policies
