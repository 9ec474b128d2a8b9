"""One generated account: users, roles with every kind of trust, the credential report."""

from __future__ import annotations

from typing import Any

from identities.sample.catalogue import allow, deny, make_document
from identities.sample.policies import AccountPolicies
from identities.sample.vocabulary import (
    APPS,
    CREDENTIAL_REPORT_HEADER,
    GITHUB_OIDC,
    GROUPS,
    HUMAN_GROUPS,
    REGIONS,
    SAML_AUDIENCE,
    SERVICES_USED,
    TEAMS,
    PlannedPrincipal,
    iso,
)


class AccountBuilder(AccountPolicies):
    """One account's authorization details, credential report and providers."""

    # the account -----------------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        plan = self.plan
        roles = [self.build_role(role) for role in plan.roles]
        users, report_rows = [], []
        for user in plan.users:
            detail, row = self.build_user(user)
            users.append(detail)
            report_rows.append(row)
        groups = [self.build_group(name) for name in GROUPS]
        policies = self.build_customer_policies() + self.build_aws_policies()
        details = {
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": policies,
        }
        saml_created = iso(self.gen.stamp(low=self.created))
        account = {
            "id": plan.id,
            "name": plan.name,
            "alias": f"{self.gen.org_name}-{plan.name}",
            "authorization_details": details,
            "credential_report": self.credential_report(report_rows),
            "saml_providers": [
                {
                    "Arn": f"arn:aws:iam::{plan.id}:saml-provider/Okta",
                    "ValidUntil": "2124-01-01T00:00:00+00:00",
                    "CreateDate": saml_created,
                }
            ],
            "oidc_providers": [{"Arn": f"arn:aws:iam::{plan.id}:oidc-provider/{GITHUB_OIDC}"}],
        }
        return account

    # roles -------------------------------------------------------------------------------------
    def trust_document(self, role: PlannedPrincipal) -> dict[str, Any]:
        rng, kind, account = self.rng, role.kind, self.plan.id
        statement: dict[str, Any] = {"Effect": "Allow"}
        condition: dict[str, dict[str, Any]] = {}
        action = "sts:AssumeRole"
        if kind in ("ec2", "lambda", "ecs", "slr"):
            service = {
                "ec2": "ec2.amazonaws.com",
                "lambda": "lambda.amazonaws.com",
                "ecs": "ecs-tasks.amazonaws.com",
                "slr": "support.amazonaws.com",
            }[kind]
            principal: dict[str, Any] = {"Service": service}
            if kind == "ecs" and rng.random() < 0.5:
                condition["StringEquals"] = {"aws:SourceAccount": account}
        elif kind == "saml":
            principal = {"Federated": f"arn:aws:iam::{account}:saml-provider/Okta"}
            action = "sts:AssumeRoleWithSAML"
            condition["StringEquals"] = {"SAML:aud": SAML_AUDIENCE}
        elif kind == "oidc":
            principal = {"Federated": f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC}"}
            action = "sts:AssumeRoleWithWebIdentity"
            repo = f"{self.gen.org_name}/{rng.choice(TEAMS)}-{rng.choice(APPS)}"
            ref = rng.choice(("ref:refs/heads/main", "environment:production", "*"))
            condition["StringEquals"] = {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"}
            condition["StringLike"] = {f"{GITHUB_OIDC}:sub": f"repo:{repo}:{ref}"}
        elif kind in ("org", "public"):
            principal = {"AWS": "*"}
            if kind == "org":
                condition["StringEquals"] = {"aws:PrincipalOrgID": self.org_id}
            elif rng.random() < 0.5:
                condition["IpAddress"] = {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"]}
        else:
            trusted = role.trusts
            principal = {"AWS": trusted[0] if len(trusted) == 1 else trusted}
            if kind == "vendor" or (kind in ("deploy", "cross") and rng.random() < 0.3):
                condition["StringEquals"] = {"sts:ExternalId": self.gen.org_token(12)}
            elif kind in ("user", "audit", "cross", "orgaccess", "chain") and rng.random() < 0.4:
                condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
            if kind == "app" and rng.random() < 0.15:
                condition["IpAddress"] = {"aws:SourceIp": "10.0.0.0/8"}
        if rng.random() < 0.2:
            statement["Sid"] = "TrustPolicy"
        statement["Principal"] = principal
        statement["Action"] = action
        if condition:
            statement["Condition"] = condition
        statements = [statement]
        if kind == "oidc" and rng.random() < 0.3:
            statements.append(
                {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            )
        return make_document(*statements)

    def role_permissions(
        self, role: PlannedPrincipal
    ) -> tuple[list[dict[str, str]], list[dict[str, Any]], bool]:
        """(attached managed policies, inline policies, has boundary) for one role."""
        rng, kind, account = self.rng, role.kind, self.plan.id
        attached: list[dict[str, str]] = []
        inline: list[dict[str, Any]] = []
        bucket = f"{self.gen.org_name}-{self.plan.name}-{rng.choice(APPS)}"
        if kind in ("orgaccess", "cross") and (kind == "orgaccess" or rng.random() < 0.3):
            attached.append(self.aws("AdministratorAccess"))
        elif kind == "cross":
            attached.append(self.aws(rng.choice(("ReadOnlyAccess", "ViewOnlyAccess"))))
        elif kind == "audit":
            attached.append(self.aws("SecurityAudit"))
        elif kind == "slr":
            attached.append(self.aws("AWSSupportServiceRolePolicy"))
        elif kind == "saml":
            level = role.name.rsplit("-", 1)[-1]
            attached.append(
                self.aws(
                    {"admin": "AdministratorAccess", "developer": "PowerUserAccess"}.get(
                        level, "ReadOnlyAccess"
                    )
                )
            )
        elif kind in ("vendor", "org"):
            attached.append(self.aws("SecurityAudit" if kind == "vendor" else "ViewOnlyAccess"))
        elif kind == "ec2":
            attached.append(self.aws("AmazonSSMManagedInstanceCore"))
            inline.append(
                self.allow_inline(
                    "app-bucket-read",
                    ["s3:GetObject", "s3:ListBucket"],
                    [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                )
            )
        elif kind == "lambda":
            attached.append(self.aws("AWSLambdaBasicExecutionRole"))
            table = f"arn:aws:dynamodb:us-east-1:{account}:table/{rng.choice(APPS)}"
            inline.append(
                self.allow_inline(
                    "table-access",
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    [table, f"{table}/index/*"],
                )
            )
        elif kind == "ecs":
            attached.append(self.aws("AmazonECSTaskExecutionRolePolicy"))
            if rng.random() < 0.5:
                attached.append(self.aws("AmazonSQSFullAccess"))
        elif kind == "oidc":
            attached.append(self.local("lambda-deployer"))
            inline.append(
                self.inline(
                    "artifacts",
                    allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}-artifacts/*"),
                    allow(
                        ["cloudformation:*"],
                        f"arn:aws:cloudformation:*:{account}:stack/{rng.choice(APPS)}-*/*",
                    ),
                )
            )
        elif kind == "deploy":
            attached.append(self.aws("PowerUserAccess"))
            if rng.random() < 0.3:
                attached.append(self.local("lambda-deployer"))
        elif kind == "chain":
            roll = rng.random()
            if roll < 0.3:
                attached.append(self.aws("AdministratorAccess"))
            elif roll < 0.5:
                attached.append(self.local("break-glass-admin"))
            else:
                attached.append(self.aws(rng.choice(("PowerUserAccess", "IAMFullAccess"))))
        elif kind == "user":
            attached.append(
                self.aws(rng.choice(("ReadOnlyAccess", "PowerUserAccess", "AmazonEC2FullAccess")))
            )
            attached.append(self.local("deny-sensitive-actions"))
        elif kind == "app":
            attached.append(self.aws("AmazonS3ReadOnlyAccess"))
            inline.append(
                self.allow_inline(
                    "queue-access",
                    ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                    f"arn:aws:sqs:us-east-1:{account}:{rng.choice(APPS)}-*",
                )
            )
        elif kind == "public":
            inline.append(
                self.inline(
                    "public-read",
                    allow("s3:GetObject", f"arn:aws:s3:::{bucket}-public/*"),
                )
            )
        inline.extend(self.assume_callees("assume-next-hop", role.arn))
        boundary = kind in ("user", "app", "deploy", "oidc") and rng.random() < 0.12
        return attached, inline, boundary

    def build_role(self, role: PlannedPrincipal) -> dict[str, Any]:
        rng = self.rng
        created = self.gen.stamp(low=self.created)
        trust = self.gen.encode(self.trust_document(role), 0.4)
        role_id = self.gen.unique_id("AROA")
        attached, inline, boundary = self.role_permissions(role)
        profiles = []
        if role.kind == "ec2":
            profiles.append(
                {
                    "Path": "/",
                    "InstanceProfileName": role.name,
                    "InstanceProfileId": self.gen.unique_id("AIPA"),
                    "Arn": f"arn:aws:iam::{self.plan.id}:instance-profile/{role.name}",
                    "CreateDate": iso(created),
                    "Roles": [
                        {
                            "Path": role.path,
                            "RoleName": role.name,
                            "RoleId": role_id,
                            "Arn": role.arn,
                            "CreateDate": iso(created),
                            "AssumeRolePolicyDocument": trust,
                        }
                    ],
                }
            )
        detail: dict[str, Any] = {
            "Path": role.path,
            "RoleName": role.name,
            "RoleId": role_id,
            "Arn": role.arn,
            "CreateDate": iso(created),
            "AssumeRolePolicyDocument": trust,
            "InstanceProfileList": profiles,
            "RolePolicyList": inline,
            "AttachedManagedPolicies": attached,
        }
        if boundary:
            detail["PermissionsBoundary"] = self.boundary()
        detail["Tags"] = self.tags()
        if rng.random() < 0.65:
            detail["RoleLastUsed"] = {
                "LastUsedDate": iso(self.gen.stamp(low=created)),
                "Region": rng.choice(REGIONS),
            }
        else:
            detail["RoleLastUsed"] = {}
        return detail

    # users ---------------------------------------------------------------------------------------
    def human_groups(self) -> list[str]:
        names, weights = zip(*HUMAN_GROUPS, strict=True)
        if self.plan.index == 1 and self.rng.random() < 0.5:
            groups = ["security-auditors"]
        else:
            groups = [self.rng.choices(names, weights)[0]]
        if self.rng.random() < 0.5:
            groups.append("mfa-required")
        if self.rng.random() < 0.25:
            extra = self.rng.choices(names, weights)[0]
            if extra not in groups:
                groups.append(extra)
        return groups

    def build_user(self, user: PlannedPrincipal) -> tuple[dict[str, Any], str]:
        rng, account = self.rng, self.plan.id
        created = self.gen.stamp(low=self.created)
        attached: list[dict[str, str]] = []
        inline: list[dict[str, Any]] = []
        boundary = False
        if user.kind == "human":
            groups = self.human_groups()
            roll = rng.random()
            if roll < 0.04:
                attached.append(
                    self.aws(rng.choice(("IAMReadOnlyAccess", "AmazonS3ReadOnlyAccess")))
                )
            elif roll < 0.08:
                attached.append(self.local("iam-self-service"))
            elif roll < 0.09:
                attached.append(self.local("iam-key-rotation"))
            boundary = rng.random() < 0.05
        elif user.kind == "ci":
            groups = ["ci-deployers"]
            attached.append(self.local("ci-deploy-assume"))
        else:
            groups = ["service-accounts"]
            if rng.random() < 0.5:
                groups.append("data-engineers")
            if rng.random() < 0.2:
                attached.append(self.local("iam-key-rotation"))
            queue = f"arn:aws:sqs:*:{account}:{rng.choice(APPS)}"
            inline.append(
                self.inline("app-queue", allow(["sqs:SendMessage", "sqs:GetQueueUrl"], queue))
            )
        inline.extend(self.assume_callees("assume-team-roles", user.arn))
        if rng.random() < 0.03:
            inline.append(
                self.inline(
                    "deny-delete-logs",
                    deny(["logs:DeleteLogGroup", "logs:DeleteLogStream"]),
                )
            )
        detail: dict[str, Any] = {
            "Path": user.path,
            "UserName": user.name,
            "UserId": self.gen.unique_id("AIDA"),
            "Arn": user.arn,
            "CreateDate": iso(created),
            "UserPolicyList": inline,
            "GroupList": groups,
            "AttachedManagedPolicies": attached,
        }
        if boundary:
            detail["PermissionsBoundary"] = self.boundary()
        if user.kind == "human" and rng.random() < 0.6:
            detail["Tags"] = [{"Key": "email", "Value": f"{user.name}@{self.gen.org_name}.example"}]
        else:
            detail["Tags"] = self.tags()
        return detail, self.report_row(user, created)

    def report_row(self, user: PlannedPrincipal, created: int) -> str:
        rng, now = self.rng, self.gen.now
        na = "N/A"
        if user.kind == "human":
            password = "true"
            changed = self.gen.stamp(low=created)
            roll = rng.random()
            if roll < 0.1:
                last_used = "no_information"
            elif roll < 0.25:  # stale: not used for more than a year
                last_used = iso(
                    self.gen.stamp(low=created, high=max(created + 1, now - 400 * 86400))
                )
            else:
                last_used = iso(self.gen.stamp(low=max(created, now - 60 * 86400)))
            password_cols = [password, last_used, iso(changed), na]
            mfa = "true" if rng.random() < 0.75 else "false"
            keys = 1 if rng.random() < 0.3 else 0
        else:
            password_cols = ["false", na, na, na]
            mfa = "false"
            keys = 2 if rng.random() < 0.15 else 1
        key_cols: list[str] = []
        for index in range(2):
            if index < keys:
                rotated = self.gen.stamp(low=created)
                if rng.random() < 0.15:
                    key_cols += ["true", iso(rotated), na, na, na]
                else:
                    used = self.gen.stamp(low=rotated)
                    key_cols += [
                        "true" if rng.random() < 0.9 else "false",
                        iso(rotated),
                        iso(used),
                        rng.choice(REGIONS),
                        rng.choice(SERVICES_USED),
                    ]
            else:
                key_cols += ["false", na, na, na, na]
        return ",".join(
            [
                user.name,
                user.arn,
                iso(created),
                *password_cols,
                mfa,
                *key_cols,
                "false",
                na,
                "false",
                na,
            ]
        )

    def credential_report(self, rows: list[str]) -> str:
        account = self.plan.id
        root_used = (
            "no_information" if self.rng.random() < 0.5 else iso(self.gen.stamp(low=self.created))
        )
        root_mfa = "true" if self.rng.random() < 0.9 else "false"
        root = ",".join(
            [
                "<root_account>",
                f"arn:aws:iam::{account}:root",
                iso(self.created),
                "not_supported",
                root_used,
                "not_supported",
                "not_supported",
                root_mfa,
                "false",
                "N/A",
                "N/A",
                "N/A",
                "N/A",
                "false",
                "N/A",
                "N/A",
                "N/A",
                "N/A",
                "false",
                "N/A",
                "false",
                "N/A",
            ]
        )
        return "\n".join([CREDENTIAL_REPORT_HEADER, root, *rows]) + "\n"

    # groups --------------------------------------------------------------------------------------
