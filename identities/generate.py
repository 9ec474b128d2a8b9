"""Synthetic AWS estates in the iamviz bundle format (`iamviz-bundle/1`), for demos and benchmarks.

`generate_bundle` builds an organisation that reads like a real one: a management account, OUs two
levels deep, SCPs and an RCP, and per account the output of `GetAccountAuthorizationDetails`
(users in groups, AWS-managed and customer-managed policies with several versions, inline
policies, permission boundaries, roles with every kind of trust: same-account users, role chains,
account roots inside and outside the estate, services, SAML, GitHub OIDC and `*`), a credential
report and the SAML/OIDC providers. Everything comes from one `random.Random(seed)`: the same
arguments give a byte-identical file from `write_bundle`.

Shapes follow the IAM API reference:
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html#id_credentials_understanding_the_report_format
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "iamviz-bundle/1"
CREDENTIAL_REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)

# IAM unique ids are four-letter type prefixes plus 17 base32 characters
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids).
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ORG_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_V = "2012-10-17"
_START = int(datetime(2016, 1, 4, tzinfo=UTC).timestamp())
_SAML_AUD = "https://signin.aws.amazon.com/saml"
_GITHUB = "token.actions.githubusercontent.com"
_REGIONS = ("us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2", "eu-central-1")
_SERVICES_USED = ("s3", "sts", "ec2", "iam", "lambda", "dynamodb", "sqs", "logs", "ecr")


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": _V, "Statement": list(statements)}


def _allow(
    action: str | list[str], resource: str | list[str] = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@dataclass(frozen=True)
class _AwsPolicy:
    path: str
    policy_id: str
    version_id: str
    created: str
    updated: str
    document: dict[str, Any]


# Real names, paths, ids and version ids; documents are the real ones or a faithful abridgement
# (ReadOnlyAccess and the service-linked policies run to tens of kilobytes).
AWS_MANAGED_POLICIES: dict[str, _AwsPolicy] = {
    "AdministratorAccess": _AwsPolicy(
        "/",
        "ANPAIWMBCKSKIEE64ZLYK",
        "v1",
        "2015-02-06T18:39:46+00:00",
        "2015-02-06T18:39:46+00:00",
        _doc(_allow("*")),
    ),
    "PowerUserAccess": _AwsPolicy(
        "/",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "v4",
        "2015-02-06T18:39:47+00:00",
        "2019-03-20T22:19:03+00:00",
        _doc(
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            _allow(
                [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:ListRegions",
                ]
            ),
        ),
    ),
    "ReadOnlyAccess": _AwsPolicy(
        "/",
        "ANPAILL3HVNFSB6DCOWYQ",
        "v98",
        "2015-02-06T18:39:48+00:00",
        "2023-03-13T18:25:39+00:00",
        _doc(
            _allow(
                [
                    "acm:Describe*",
                    "acm:Get*",
                    "acm:List*",
                    "cloudformation:Describe*",
                    "cloudformation:Get*",
                    "cloudformation:List*",
                    "cloudtrail:Describe*",
                    "cloudtrail:Get*",
                    "cloudtrail:List*",
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "dynamodb:BatchGet*",
                    "dynamodb:Describe*",
                    "dynamodb:Get*",
                    "dynamodb:List*",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "ec2:Describe*",
                    "ec2:Get*",
                    "ecr:BatchGetImage",
                    "ecr:Describe*",
                    "ecr:Get*",
                    "ecr:List*",
                    "ecs:Describe*",
                    "ecs:List*",
                    "iam:Generate*",
                    "iam:Get*",
                    "iam:List*",
                    "iam:Simulate*",
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "lambda:Get*",
                    "lambda:List*",
                    "logs:Describe*",
                    "logs:Get*",
                    "logs:FilterLogEvents",
                    "logs:StartQuery",
                    "organizations:Describe*",
                    "organizations:List*",
                    "rds:Describe*",
                    "rds:List*",
                    "s3:Get*",
                    "s3:List*",
                    "sns:Get*",
                    "sns:List*",
                    "sqs:Get*",
                    "sqs:List*",
                    "sqs:Receive*",
                    "ssm:Describe*",
                    "ssm:Get*",
                    "ssm:List*",
                    "sts:GetCallerIdentity",
                    "tag:Get*",
                ]
            )
        ),
    ),
    "ViewOnlyAccess": _AwsPolicy(
        "/job-function/",
        "ANPAID22R6XPJATWOFDK6",
        "v17",
        "2016-11-10T17:20:15+00:00",
        "2023-03-06T15:59:28+00:00",
        _doc(
            _allow(
                [
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStacks",
                    "cloudtrail:DescribeTrails",
                    "cloudwatch:ListMetrics",
                    "dynamodb:ListTables",
                    "ec2:DescribeInstances",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeVpcs",
                    "iam:ListGroups",
                    "iam:ListRoles",
                    "iam:ListUsers",
                    "lambda:ListFunctions",
                    "rds:DescribeDBInstances",
                    "s3:ListAllMyBuckets",
                    "sns:ListTopics",
                    "sqs:ListQueues",
                ]
            )
        ),
    ),
    "SecurityAudit": _AwsPolicy(
        "/",
        "ANPAIX2T3QCXHR2OGGCTO",
        "v32",
        "2015-02-06T18:41:01+00:00",
        "2020-02-25T16:08:50+00:00",
        _doc(
            _allow(
                [
                    "access-analyzer:GetAnalyzer",
                    "access-analyzer:List*",
                    "acm:Describe*",
                    "acm:List*",
                    "cloudtrail:DescribeTrails",
                    "cloudtrail:GetEventSelectors",
                    "cloudtrail:GetTrailStatus",
                    "cloudtrail:ListTags",
                    "cloudtrail:LookupEvents",
                    "config:Deliver*",
                    "config:Describe*",
                    "config:Get*",
                    "config:List*",
                    "ec2:Describe*",
                    "ec2:GetEbsEncryptionByDefault",
                    "guardduty:Get*",
                    "guardduty:List*",
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "lambda:GetFunctionConfiguration",
                    "lambda:GetPolicy",
                    "lambda:ListFunctions",
                    "organizations:Describe*",
                    "organizations:List*",
                    "s3:GetAccountPublicAccessBlock",
                    "s3:GetBucket*",
                    "s3:GetEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "s3:ListAllMyBuckets",
                    "s3:ListBucket",
                    "securityhub:Describe*",
                    "securityhub:Get*",
                    "securityhub:List*",
                    "sns:GetTopicAttributes",
                    "sns:ListTopics",
                    "sqs:GetQueueAttributes",
                    "sqs:ListQueues",
                    "sts:GetCallerIdentity",
                ]
            )
        ),
    ),
    "IAMFullAccess": _AwsPolicy(
        "/",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "v2",
        "2015-02-06T18:40:38+00:00",
        "2019-06-21T19:40:00+00:00",
        _doc(
            _allow(
                [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ]
            )
        ),
    ),
    "IAMReadOnlyAccess": _AwsPolicy(
        "/",
        "ANPAJKSO7NDY4T57MWDSQ",
        "v4",
        "2015-02-06T18:40:39+00:00",
        "2018-01-25T19:11:27+00:00",
        _doc(
            _allow(
                [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ]
            )
        ),
    ),
    "AmazonS3ReadOnlyAccess": _AwsPolicy(
        "/",
        "ANPAIZTJ4DXE7G6AGAE6M",
        "v1",
        "2015-02-06T18:40:59+00:00",
        "2015-02-06T18:40:59+00:00",
        _doc(_allow(["s3:Get*", "s3:List*"])),
    ),
    "AmazonS3FullAccess": _AwsPolicy(
        "/",
        "ANPAIFIR6V6BVTRAHWINE",
        "v1",
        "2015-02-06T18:40:58+00:00",
        "2015-02-06T18:40:58+00:00",
        _doc(_allow("s3:*")),
    ),
    "AmazonEC2FullAccess": _AwsPolicy(
        "/",
        "ANPAI3VAJF5ZCRZ7MCQE6",
        "v5",
        "2015-02-06T18:40:15+00:00",
        "2018-11-27T02:16:56+00:00",
        _doc(
            _allow("ec2:*"),
            _allow("elasticloadbalancing:*"),
            _allow("cloudwatch:*"),
            _allow("autoscaling:*"),
            _allow(
                "iam:CreateServiceLinkedRole",
                Condition={
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "autoscaling.amazonaws.com",
                            "ec2scheduled.amazonaws.com",
                            "elasticloadbalancing.amazonaws.com",
                            "spot.amazonaws.com",
                            "spotfleet.amazonaws.com",
                            "transitgateway.amazonaws.com",
                        ]
                    }
                },
            ),
        ),
    ),
    "AmazonVPCFullAccess": _AwsPolicy(
        "/",
        "ANPAJBWPGNOVKZD3JI2P2",
        "v7",
        "2015-02-06T18:41:16+00:00",
        "2018-03-15T18:30:25+00:00",
        _doc(
            _allow(
                [
                    "ec2:AcceptVpcPeeringConnection",
                    "ec2:AssociateRouteTable",
                    "ec2:AttachInternetGateway",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:CreateRoute",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateSubnet",
                    "ec2:CreateVpc",
                    "ec2:DeleteVpc",
                    "ec2:Describe*",
                    "ec2:ModifyVpcAttribute",
                    "ec2:RevokeSecurityGroupIngress",
                ]
            )
        ),
    ),
    "CloudWatchFullAccess": _AwsPolicy(
        "/",
        "ANPAIKEABORKUXN6DEAZU",
        "v3",
        "2015-02-06T18:40:00+00:00",
        "2018-08-09T19:10:43+00:00",
        _doc(
            _allow(
                [
                    "autoscaling:Describe*",
                    "cloudwatch:*",
                    "logs:*",
                    "sns:*",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                ]
            )
        ),
    ),
    "AmazonSQSFullAccess": _AwsPolicy(
        "/",
        "ANPAI65L554VRJ33ECQS6",
        "v1",
        "2015-02-06T18:41:07+00:00",
        "2015-02-06T18:41:07+00:00",
        _doc(_allow("sqs:*")),
    ),
    "AmazonSSMManagedInstanceCore": _AwsPolicy(
        "/",
        "ANPAIXSHM2BNB2D3AXXRU",
        "v2",
        "2019-03-15T17:22:12+00:00",
        "2019-05-23T16:54:21+00:00",
        _doc(
            _allow(
                [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ]
            ),
            _allow(
                [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ]
            ),
            _allow(
                [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ]
            ),
        ),
    ),
    "AWSLambdaBasicExecutionRole": _AwsPolicy(
        "/service-role/",
        "ANPAJNCQGXC42545SKXIK",
        "v1",
        "2015-04-09T15:03:43+00:00",
        "2015-04-09T15:03:43+00:00",
        _doc(_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])),
    ),
    "AmazonECSTaskExecutionRolePolicy": _AwsPolicy(
        "/service-role/",
        "ANPAJG4T4G4PV56DE72PY",
        "v1",
        "2017-11-16T18:48:22+00:00",
        "2017-11-16T18:48:22+00:00",
        _doc(
            _allow(
                [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ]
            )
        ),
    ),
    "AWSSupportServiceRolePolicy": _AwsPolicy(
        "/aws-service-role/",
        "ANPAJ7W6266ELXF5MISDS",
        "v28",
        "2018-04-19T18:04:44+00:00",
        "2023-03-16T20:29:42+00:00",
        _doc(
            _allow(
                [
                    "apigateway:GET",
                    "autoscaling:Describe*",
                    "cloudformation:Describe*",
                    "cloudtrail:DescribeTrails",
                    "ec2:Describe*",
                    "iam:GetAccountSummary",
                    "iam:ListRoles",
                    "lambda:List*",
                    "rds:Describe*",
                    "s3:GetBucketPolicy",
                    "s3:ListAllMyBuckets",
                ]
            )
        ),
    ),
}


def aws_managed_arn(name: str) -> str:
    """The ARN of an AWS-managed policy (its path is part of the ARN)."""
    return f"arn:aws:iam::aws:policy{AWS_MANAGED_POLICIES[name].path}{name}"


_ORG_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "soylent", "tyrell")
_TEAMS = (
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "analytics",
    "mobile",
    "platform",
    "billing",
    "risk",
    "growth",
    "media",
    "logistics",
    "support",
)
_APPS = (
    "api",
    "web",
    "worker",
    "ingest",
    "etl",
    "reports",
    "orders",
    "ledger",
    "notify",
    "images",
    "auth",
    "cart",
    "pricing",
    "inventory",
    "events",
    "export",
    "scheduler",
    "gateway",
    "audit-log",
    "mailer",
    "recommender",
    "fraud",
    "crm",
    "backoffice",
    "metrics",
    "sync",
    "uploads",
    "thumbnails",
    "webhooks",
    "feeds",
)
_FIRST = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "uma",
    "victor",
    "wendy",
    "xavier",
    "yara",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dmitri",
    "elena",
    "fatima",
    "goran",
    "hana",
    "ines",
    "jonas",
    "kenji",
    "lena",
    "marco",
    "nadia",
    "oscar",
    "priya",
    "quentin",
    "rosa",
    "sven",
    "tariq",
    "ulla",
    "vera",
    "wei",
    "yusuf",
    "zara",
)
_LAST = (
    "smith",
    "jones",
    "garcia",
    "muller",
    "rossi",
    "kim",
    "nguyen",
    "silva",
    "kowalski",
    "novak",
    "ivanova",
    "tanaka",
    "okafor",
    "haddad",
    "larsen",
    "dubois",
    "costa",
    "fischer",
    "schmidt",
    "weber",
    "lopez",
    "martin",
    "bernard",
    "petit",
    "moreau",
    "khan",
    "patel",
    "singh",
    "chen",
    "wang",
    "sato",
    "suzuki",
    "berg",
    "lind",
    "andersen",
    "hansen",
    "nielsen",
    "horvat",
    "popescu",
    "nagy",
)
# Well-known third-party monitoring accounts and made-up ones, all outside any generated estate.
_VENDORS = (
    ("datadog", "464622532012"),
    ("wiz", "197171649850"),
    ("lacework", "434813966438"),
    ("snyk", "370134896156"),
    ("vanta", "956993596390"),
    ("contractor", "210987654321"),
)

# Role kinds after the fixed ones, with their weights (a few real estates, averaged).
_ROLE_KINDS = (
    ("ec2", 12),
    ("lambda", 13),
    ("ecs", 8),
    ("app", 10),
    ("user", 10),
    ("chain", 10),
    ("cross", 9),
    ("vendor", 4),
    ("saml", 10),
    ("oidc", 6),
    ("deploy", 6),
    ("org", 2),
)
_CHAIN_SOURCES = frozenset({"user", "saml", "chain", "app", "orgaccess", "cross"})

_GROUPS = (
    "admins",
    "developers",
    "readonly",
    "security-auditors",
    "ops",
    "data-engineers",
    "iam-admins",
    "network-admins",
    "billing",
    "mfa-required",
    "ci-deployers",
    "service-accounts",
)
_HUMAN_GROUPS = (
    ("developers", 40),
    ("readonly", 18),
    ("ops", 10),
    ("data-engineers", 9),
    ("security-auditors", 6),
    ("network-admins", 5),
    ("billing", 4),
    ("admins", 3),
    ("iam-admins", 2),
)


@dataclass
class _Principal:
    name: str
    kind: str
    path: str
    arn: str
    trusts: list[str] = field(default_factory=list)  # principal ARNs a role's trust names


@dataclass
class _AccountPlan:
    index: int
    id: str
    name: str
    parent: str  # key of _OU_LAYOUT, or "root"
    users: list[_Principal] = field(default_factory=list)
    roles: list[_Principal] = field(default_factory=list)


# OU key -> (name, parent key); two levels under the root.
_OU_LAYOUT = {
    "security": ("Security", "root"),
    "infrastructure": ("Infrastructure", "root"),
    "workloads": ("Workloads", "root"),
    "prod": ("Prod", "workloads"),
    "dev": ("Dev", "workloads"),
    "sandbox": ("Sandbox", "root"),
    "suspended": ("Suspended", "root"),
}


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen_ids: set[str] = set()
        # A fixed-looking "now" derived from the seed, never from the clock.
        self.now = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) + self.rng.randrange(
            0, 365 * 86400
        )
        self.org_name = self.rng.choice(_ORG_NAMES)

    # small helpers -------------------------------------------------------------------------
    def unique_id(self, prefix: str) -> str:
        while True:
            value = prefix + "".join(self.rng.choices(_ID_ALPHABET, k=17))
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def org_token(self, length: int) -> str:
        while True:
            value = "".join(self.rng.choices(_ORG_ALPHABET, k=length))
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def stamp(self, low: int | None = None, high: int | None = None) -> int:
        low = _START if low is None else low
        high = self.now - 86400 if high is None else high
        return self.rng.randrange(low, max(low + 1, high))

    def encode(self, document: dict[str, Any], probability: float) -> dict[str, Any] | str:
        """Some documents as the raw IAM API returns them: URL-encoded compact JSON."""
        if self.rng.random() < probability:
            return quote(json.dumps(document, separators=(",", ":")))
        return document

    # planning --------------------------------------------------------------------------------
    def plan_accounts(self, count: int, users: int, roles: int) -> list[_AccountPlan]:
        ordered: list[str] = []
        while len(ordered) < count:
            # a list, not a set: set order follows PYTHONHASHSEED and would break determinism
            candidate = str(self.rng.randrange(10**11, 10**12))
            if candidate not in ordered:
                ordered.append(candidate)
        plans = []
        names: set[str] = set()
        for index, account_id in enumerate(ordered):
            name, parent = self.account_name(index)
            base, n = name, 2
            while name in names:
                name, n = f"{base}-{n}", n + 1
            names.add(name)
            plans.append(_AccountPlan(index, account_id, name, parent))
        for plan in plans:
            self.plan_users(plan, users)
        for plan in plans:
            self.plan_roles(plan, plans, roles)
        return plans

    def account_name(self, index: int) -> tuple[str, str]:
        fixed = {
            0: ("management", "root"),
            1: ("security", "security"),
            2: ("log-archive", "security"),
            3: ("shared-services", "infrastructure"),
        }
        if index in fixed:
            return fixed[index]
        k = index - 4
        if k % 6 == 5:
            return f"sandbox-{self.rng.choice(_FIRST)}", "sandbox"
        k -= k // 6
        team = _TEAMS[(k // 3) % len(_TEAMS)]
        env = ("prod", "staging", "dev")[k % 3]
        return f"{team}-{env}", "prod" if env == "prod" else "dev"

    def plan_users(self, plan: _AccountPlan, count: int) -> None:
        n_ci = 0 if count < 3 else max(1, count // 40)
        n_svc = count // 25
        n_human = count - n_ci - n_svc
        taken: set[str] = set()

        def unique(base: str) -> str:
            name, n = base, 2
            while name in taken:
                name, n = f"{base}{n}", n + 1
            taken.add(name)
            return name

        for _ in range(n_human):
            name = unique(f"{self.rng.choice(_FIRST)}.{self.rng.choice(_LAST)}")
            path = "/" if self.rng.random() < 0.7 else "/people/"
            plan.users.append(_Principal(name, "human", path, _arn(plan.id, "user", path, name)))
        for kind, prefix, share in (("ci", "ci-", n_ci), ("svc", "svc-", n_svc)):
            for _ in range(share):
                name = unique(prefix + self.rng.choice(_APPS))
                plan.users.append(
                    _Principal(name, kind, "/service/", _arn(plan.id, "user", "/service/", name))
                )

    def core_role_kinds(self, plan: _AccountPlan, single: bool) -> list[tuple[str, str]]:
        first = (
            [("okta-admin", "saml")]
            if plan.index == 0
            else [("OrganizationAccountAccessRole", "orgaccess")]
        )
        core = [
            *first,
            ("audit", "audit"),
            ("AWSServiceRoleForSupport", "slr"),
            ("okta-readonly", "saml"),
            ("github-actions-deploy", "oidc"),
            ("app-server", "ec2"),
            ("app-functions", "lambda"),
            ("deploy-platform", "deploy"),
            ("ops", "user"),
            ("ops-break-glass", "chain"),
            ("datadog-integration", "vendor"),
            ("org-readonly", "org"),
            ("app-tasks", "ecs"),
            ("cross-account-admin", "cross"),
        ]
        if plan.index == 1 or single:
            core.insert(4, ("public-assets-reader", "public"))
        return core

    def plan_roles(self, plan: _AccountPlan, plans: list[_AccountPlan], count: int) -> None:
        kinds, weights = zip(*_ROLE_KINDS, strict=True)
        core = self.core_role_kinds(plan, len(plans) == 1)
        taken: set[str] = set()
        for index in range(count):
            if index < len(core):
                name, kind = core[index]
            else:
                kind = self.rng.choices(kinds, weights)[0]
                name = self.role_name(kind)
            base, n = name, 2
            while name.lower() in taken:
                name, n = f"{base}-{n}", n + 1
            taken.add(name.lower())
            path = "/"
            if kind == "slr":
                path = "/aws-service-role/support.amazonaws.com/"
            elif kind in ("lambda", "ecs") and self.rng.random() < 0.4:
                path = "/service-role/"
            role = _Principal(name, kind, path, _arn(plan.id, "role", path, name))
            role.trusts = self.plan_trust(plan, plans, role)
            plan.roles.append(role)

    def role_name(self, kind: str) -> str:
        app = f"{self.rng.choice(_TEAMS)}-{self.rng.choice(_APPS)}"
        if kind == "saml":
            return f"okta-{self.rng.choice(_TEAMS)}-" + self.rng.choice(
                ("readonly", "developer", "developer", "admin")
            )
        if kind == "vendor":
            return f"{self.rng.choice(_VENDORS)[0]}-integration"
        return {
            "ec2": f"{app}-ec2",
            "lambda": f"{app}-lambda",
            "ecs": f"{app}-task",
            "app": f"{app}-app",
            "user": f"{app}-operator",
            "chain": f"{app}-admin",
            "cross": f"{app}-cross-account",
            "oidc": f"github-{app}",
            "deploy": f"deploy-{app}",
            "org": f"{app}-org-reader",
            "public": f"{app}-public",
        }[kind]

    def plan_trust(
        self, plan: _AccountPlan, plans: list[_AccountPlan], role: _Principal
    ) -> list[str]:
        """The principal ARNs a role's trust policy will name (kinds that name any)."""
        rng = self.rng
        others = [p for p in plans if p is not plan]
        kind = role.kind
        if kind == "orgaccess":
            return [_root(plans[0].id)]
        if kind == "audit":
            return [_root(plans[1].id if len(plans) > 1 else plan.id)]
        if kind == "app":
            return [_root(plan.id)]
        if kind == "user":
            humans = [u for u in plan.users if u.kind == "human"]
            if not humans:
                return [_root(plan.id)]
            return sorted({u.arn for u in rng.sample(humans, min(len(humans), rng.randint(1, 3)))})
        if kind == "deploy":
            ci = [u.arn for u in plan.users if u.kind == "ci"]
            tooling = plans[3] if len(plans) > 3 else None
            if tooling is not None and tooling is not plan:
                ci += [u.arn for u in tooling.users if u.kind == "ci"][:1]
            return sorted(set(ci[-2:])) or [_root(plan.id)]
        if kind == "chain":
            same = [r.arn for r in plan.roles if r.kind in _CHAIN_SOURCES]
            if others and (rng.random() < 0.3 or not same):
                other = rng.choice(others)
                same = [r.arn for r in other.roles if r.kind in _CHAIN_SOURCES] or same
            return [rng.choice(same)] if same else [_root(plan.id)]
        if kind == "cross":
            if others:
                return [_root(rng.choice(others).id)]
            return [_root(str(rng.randrange(10**11, 10**12)))]
        if kind == "vendor":
            vendor = dict(_VENDORS).get(role.name.split("-integration")[0])
            return [_root(vendor or _VENDORS[0][1])]
        return []

    # building ----------------------------------------------------------------------------------
    def build(self, accounts: int, users: int, roles: int) -> dict[str, Any]:
        plans = self.plan_accounts(accounts, users, roles)
        org = self.build_organization(plans)
        # Reverse of the trust plans, so that each hop is also allowed on the caller's side.
        callers: dict[str, list[str]] = {}
        root_trusts: dict[str, list[str]] = {}
        for plan in plans:
            for role in plan.roles:
                if role.kind in ("user", "chain"):
                    for arn in role.trusts:
                        callers.setdefault(arn, []).append(role.arn)
                elif role.kind == "cross":
                    root_trusts.setdefault(role.trusts[0].split(":")[4], []).append(role.arn)
        built = [
            self.build_account(plan, org["id"], callers, root_trusts.get(plan.id, []))
            for plan in plans
        ]
        generated_at = datetime.fromtimestamp(self.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "format": BUNDLE_FORMAT,
            "generated_at": generated_at,
            "accounts": built,
            "organization": org,
        }

    def build_organization(self, plans: list[_AccountPlan]) -> dict[str, Any]:
        mgmt = plans[0].id
        org_id = "o-" + self.org_token(10)
        root_id = "r-" + self.org_token(4)
        ids = {"root": root_id}
        units = []
        for key, (name, parent) in _OU_LAYOUT.items():
            ids[key] = f"ou-{root_id[2:]}-{self.org_token(8)}"
            units.append(
                {
                    "Id": ids[key],
                    "Arn": f"arn:aws:organizations::{mgmt}:ou/{org_id}/{ids[key]}",
                    "Name": name,
                    "ParentId": ids[parent],
                }
            )
        members = []
        for plan in plans:
            joined = self.stamp(high=_START + 400 * 86400 * (1 + plan.index // 10))
            members.append(
                {
                    "Id": plan.id,
                    "Arn": f"arn:aws:organizations::{mgmt}:account/{org_id}/{plan.id}",
                    "Email": f"aws+{plan.name}@{self.org_name}.example",
                    "Name": plan.name,
                    "Status": "ACTIVE",
                    "JoinedMethod": "INVITED" if plan.index == 0 else "CREATED",
                    "JoinedTimestamp": _iso(joined),
                    "ParentId": ids[plan.parent],
                }
            )
        everything = [root_id, *(u["Id"] for u in units), *(p.id for p in plans)]
        by_parent = {key: [p.id for p in plans if p.parent == key] for key in ids}
        prod_accounts = by_parent["prod"]

        def scp(
            name: str,
            description: str,
            content: dict[str, Any] | str,
            targets: list[str],
            policy_type: str = "SERVICE_CONTROL_POLICY",
        ) -> dict[str, Any]:
            policy_id = "p-" + self.org_token(8)
            return {
                "Id": policy_id,
                "Arn": f"arn:aws:organizations::{mgmt}:policy/{org_id}/{policy_type.lower()}/"
                f"{policy_id}",
                "Name": name,
                "Description": description,
                "Type": policy_type,
                "AwsManaged": False,
                "Content": content,
                "Targets": targets,
            }

        # SCPs only ever allow through an Allow at every level from the root down to the
        # account, which is why AWS attaches FullAWSAccess to every root, OU and account.
        # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
        policies = [
            {
                "Id": "p-FullAWSAccess",
                "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
                "Name": "FullAWSAccess",
                "Description": "Allows access to every operation",
                "Type": "SERVICE_CONTROL_POLICY",
                "AwsManaged": True,
                "Content": _doc(_allow("*")),
                "Targets": everything,
            },
            scp(
                "DenyLeaveOrganization",
                "Member accounts cannot leave the organisation",
                _doc(_deny("organizations:LeaveOrganization") | {"Sid": "DenyLeave"}),
                [root_id],
            ),
            scp(
                "DenyIAMUserCreation",
                "No long-lived IAM users or keys in workload accounts",
                _doc(_deny(["iam:CreateUser", "iam:CreateAccessKey"]) | {"Sid": "NoIamUsers"}),
                [ids["workloads"], ids["sandbox"]],
            ),
            scp(
                "DenyOutsideApprovedRegions",
                "Regional services only in approved regions",
                json.dumps(
                    _doc(
                        {
                            "Sid": "DenyAllOutsideApprovedRegions",
                            "Effect": "Deny",
                            "NotAction": [
                                "iam:*",
                                "organizations:*",
                                "sts:*",
                                "support:*",
                                "cloudfront:*",
                                "route53:*",
                                "budgets:*",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "StringNotEquals": {
                                    "aws:RequestedRegion": ["us-east-1", "eu-west-1"]
                                }
                            },
                        }
                    )
                ),
                [ids["workloads"], ids["sandbox"]],
            ),
            scp(
                "DenyS3BucketDeletion",
                "Production buckets are not deleted by hand",
                _doc(
                    _deny(["s3:DeleteBucket", "s3:DeleteBucketPolicy"])
                    | {
                        "Condition": {
                            "ArnNotLike": {
                                "aws:PrincipalArn": "arn:aws:iam::*:role/OrganizationAccountAccessRole"
                            }
                        }
                    }
                ),
                [ids["prod"], *prod_accounts[:1]],
            ),
            {
                "Id": "p-RCPFullAWSAccess",
                "Arn": "arn:aws:organizations::aws:policy/resource_control_policy/"
                "p-RCPFullAWSAccess",
                "Name": "RCPFullAWSAccess",
                "Description": "Allows access to every operation",
                "Type": "RESOURCE_CONTROL_POLICY",
                "AwsManaged": True,
                "Content": _doc(
                    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
                ),
                "Targets": everything,
            },
            scp(
                "EnforceOrgIdentitiesOnS3",
                "Only principals of the organisation reach S3 data",
                _doc(
                    {
                        "Sid": "EnforceOrgIdentities",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": ["s3:*"],
                        "Resource": "*",
                        "Condition": {
                            "StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                        },
                    }
                ),
                [ids["prod"]],
                "RESOURCE_CONTROL_POLICY",
            ),
        ]
        return {
            "id": org_id,
            "arn": f"arn:aws:organizations::{mgmt}:organization/{org_id}",
            "management_account_id": mgmt,
            "roots": [
                {
                    "Id": root_id,
                    "Arn": f"arn:aws:organizations::{mgmt}:root/{org_id}/{root_id}",
                    "Name": "Root",
                    "PolicyTypes": [
                        {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"},
                        {"Type": "RESOURCE_CONTROL_POLICY", "Status": "ENABLED"},
                    ],
                }
            ],
            "organizational_units": units,
            "accounts": members,
            "policies": policies,
        }

    def build_account(
        self,
        plan: _AccountPlan,
        org_id: str,
        callers: dict[str, list[str]],
        cross_targets: list[str],
    ) -> dict[str, Any]:
        acct = _AccountBuilder(self, plan, org_id, callers, cross_targets)
        return acct.build()


class _AccountBuilder:
    """One account's authorization details, credential report and providers."""

    def __init__(
        self,
        gen: _Generator,
        plan: _AccountPlan,
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
            high=min(_START + 300 * 86400 * (1 + plan.index // 10), gen.now - 90 * 86400)
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

    def inline(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        return {"PolicyName": name, "PolicyDocument": self.gen.encode(document, 0.3)}

    def tags(self, *, env: str | None = None) -> list[dict[str, str]]:
        if self.rng.random() < 0.45:
            return []
        tags = [{"Key": "team", "Value": self.rng.choice(_TEAMS)}]
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

    # the account -----------------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        plan = self.plan
        roles = [self.build_role(role) for role in plan.roles]
        users, report_rows = [], []
        for user in plan.users:
            detail, row = self.build_user(user)
            users.append(detail)
            report_rows.append(row)
        groups = [self.build_group(name) for name in _GROUPS]
        policies = self.build_customer_policies() + self.build_aws_policies()
        details = {
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": policies,
        }
        saml_created = _iso(self.gen.stamp(low=self.created))
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
            "oidc_providers": [{"Arn": f"arn:aws:iam::{plan.id}:oidc-provider/{_GITHUB}"}],
        }
        return account

    # roles -------------------------------------------------------------------------------------
    def trust_document(self, role: _Principal) -> dict[str, Any]:
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
            condition["StringEquals"] = {"SAML:aud": _SAML_AUD}
        elif kind == "oidc":
            principal = {"Federated": f"arn:aws:iam::{account}:oidc-provider/{_GITHUB}"}
            action = "sts:AssumeRoleWithWebIdentity"
            repo = f"{self.gen.org_name}/{rng.choice(_TEAMS)}-{rng.choice(_APPS)}"
            ref = rng.choice(("ref:refs/heads/main", "environment:production", "*"))
            condition["StringEquals"] = {f"{_GITHUB}:aud": "sts.amazonaws.com"}
            condition["StringLike"] = {f"{_GITHUB}:sub": f"repo:{repo}:{ref}"}
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
        return _doc(*statements)

    def role_permissions(
        self, role: _Principal
    ) -> tuple[list[dict[str, str]], list[dict[str, Any]], bool]:
        """(attached managed policies, inline policies, has boundary) for one role."""
        rng, kind, account = self.rng, role.kind, self.plan.id
        attached: list[dict[str, str]] = []
        inline: list[dict[str, Any]] = []
        bucket = f"{self.gen.org_name}-{self.plan.name}-{rng.choice(_APPS)}"
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
                self.inline(
                    "app-bucket-read",
                    _doc(
                        _allow(
                            ["s3:GetObject", "s3:ListBucket"],
                            [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                        )
                    ),
                )
            )
        elif kind == "lambda":
            attached.append(self.aws("AWSLambdaBasicExecutionRole"))
            table = f"arn:aws:dynamodb:us-east-1:{account}:table/{rng.choice(_APPS)}"
            inline.append(
                self.inline(
                    "table-access",
                    _doc(
                        _allow(
                            [
                                "dynamodb:GetItem",
                                "dynamodb:PutItem",
                                "dynamodb:Query",
                                "dynamodb:UpdateItem",
                            ],
                            [table, f"{table}/index/*"],
                        )
                    ),
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
                    _doc(
                        _allow(
                            ["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}-artifacts/*"
                        ),
                        _allow(
                            ["cloudformation:*"],
                            f"arn:aws:cloudformation:*:{account}:stack/{rng.choice(_APPS)}-*/*",
                        ),
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
                self.inline(
                    "queue-access",
                    _doc(
                        _allow(
                            ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                            f"arn:aws:sqs:us-east-1:{account}:{rng.choice(_APPS)}-*",
                        )
                    ),
                )
            )
        elif kind == "public":
            inline.append(
                self.inline(
                    "public-read", _doc(_allow("s3:GetObject", f"arn:aws:s3:::{bucket}-public/*"))
                )
            )
        targets = self.callers.get(role.arn)
        if targets:
            inline.append(
                self.inline(
                    "assume-next-hop",
                    _doc(
                        _allow(
                            "sts:AssumeRole",
                            targets[0] if len(targets) == 1 else sorted(set(targets)),
                        )
                    ),
                )
            )
        boundary = kind in ("user", "app", "deploy", "oidc") and rng.random() < 0.12
        return attached, inline, boundary

    def build_role(self, role: _Principal) -> dict[str, Any]:
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
                    "CreateDate": _iso(created),
                    "Roles": [
                        {
                            "Path": role.path,
                            "RoleName": role.name,
                            "RoleId": role_id,
                            "Arn": role.arn,
                            "CreateDate": _iso(created),
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
            "CreateDate": _iso(created),
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
                "LastUsedDate": _iso(self.gen.stamp(low=created)),
                "Region": rng.choice(_REGIONS),
            }
        else:
            detail["RoleLastUsed"] = {}
        return detail

    # users ---------------------------------------------------------------------------------------
    def human_groups(self) -> list[str]:
        names, weights = zip(*_HUMAN_GROUPS, strict=True)
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

    def build_user(self, user: _Principal) -> tuple[dict[str, Any], str]:
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
            queue = f"arn:aws:sqs:*:{account}:{rng.choice(_APPS)}"
            inline.append(
                self.inline(
                    "app-queue", _doc(_allow(["sqs:SendMessage", "sqs:GetQueueUrl"], queue))
                )
            )
        targets = self.callers.get(user.arn)
        if targets:
            inline.append(
                self.inline(
                    "assume-team-roles",
                    _doc(
                        _allow(
                            "sts:AssumeRole",
                            targets[0] if len(targets) == 1 else sorted(set(targets)),
                        )
                    ),
                )
            )
        if rng.random() < 0.03:
            inline.append(
                self.inline(
                    "deny-delete-logs", _doc(_deny(["logs:DeleteLogGroup", "logs:DeleteLogStream"]))
                )
            )
        detail: dict[str, Any] = {
            "Path": user.path,
            "UserName": user.name,
            "UserId": self.gen.unique_id("AIDA"),
            "Arn": user.arn,
            "CreateDate": _iso(created),
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

    def report_row(self, user: _Principal, created: int) -> str:
        rng, now = self.rng, self.gen.now
        na = "N/A"
        if user.kind == "human":
            password = "true"
            changed = self.gen.stamp(low=created)
            roll = rng.random()
            if roll < 0.1:
                last_used = "no_information"
            elif roll < 0.25:  # stale: not used for more than a year
                last_used = _iso(
                    self.gen.stamp(low=created, high=max(created + 1, now - 400 * 86400))
                )
            else:
                last_used = _iso(self.gen.stamp(low=max(created, now - 60 * 86400)))
            password_cols = [password, last_used, _iso(changed), na]
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
                    key_cols += ["true", _iso(rotated), na, na, na]
                else:
                    used = self.gen.stamp(low=rotated)
                    key_cols += [
                        "true" if rng.random() < 0.9 else "false",
                        _iso(rotated),
                        _iso(used),
                        rng.choice(_REGIONS),
                        rng.choice(_SERVICES_USED),
                    ]
            else:
                key_cols += ["false", na, na, na, na]
        return ",".join(
            [
                user.name,
                user.arn,
                _iso(created),
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
            "no_information" if self.rng.random() < 0.5 else _iso(self.gen.stamp(low=self.created))
        )
        root_mfa = "true" if self.rng.random() < 0.9 else "false"
        root = ",".join(
            [
                "<root_account>",
                f"arn:aws:iam::{account}:root",
                _iso(self.created),
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
    def build_group(self, name: str) -> dict[str, Any]:
        account = self.plan.id
        attached: list[dict[str, str]] = []
        inline: list[dict[str, Any]] = []
        if name == "admins":
            attached.append(self.aws("AdministratorAccess"))
        elif name == "developers":
            attached += [self.aws("PowerUserAccess"), self.local("deny-sensitive-actions")]
            inline.append(
                self.inline(
                    "developers-pass-app-roles",
                    _doc(
                        _allow(
                            "iam:PassRole",
                            f"arn:aws:iam::{account}:role/*-lambda",
                            Condition={
                                "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
                            },
                        )
                    ),
                )
            )
        elif name == "readonly":
            attached.append(self.aws("ReadOnlyAccess"))
        elif name == "security-auditors":
            attached.append(self.aws("SecurityAudit"))
            inline.append(
                self.inline(
                    "assume-audit-roles",
                    _doc(
                        _allow(
                            "sts:AssumeRole",
                            "arn:aws:iam::*:role/audit",
                            Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                        )
                    ),
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
                    _doc(
                        _allow(
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
                    ),
                )
            )
        elif name == "ci-deployers":
            attached += [self.local("ci-deploy-assume"), self.local("lambda-deployer")]
        elif name == "service-accounts":
            inline.append(
                self.inline(
                    "deny-console",
                    _doc(
                        _deny(
                            [
                                "iam:ChangePassword",
                                "iam:CreateLoginProfile",
                                "iam:UpdateLoginProfile",
                            ]
                        )
                    ),
                )
            )
        return {
            "Path": "/",
            "GroupName": name,
            "GroupId": self.gen.unique_id("AGPA"),
            "Arn": f"arn:aws:iam::{account}:group/{name}",
            "CreateDate": _iso(self.gen.stamp(low=self.created)),
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
                _doc(
                    _allow("sts:AssumeRole", "arn:aws:iam::*:role/deploy-*")
                    | {"Sid": "AssumeDeploy"},
                ),
            ),
            "ops-assume-roles": (
                "Operators assume the cross-account roles that trust us",
                _doc(
                    _allow(
                        "sts:AssumeRole",
                        cross[0] if len(cross) == 1 else cross[:40],
                        Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                    ),
                ),
            ),
            "developer-boundary": (
                "Permissions boundary for developer-created principals",
                _doc(
                    _allow(
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
                    _deny(
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
            "break-glass-admin": ("Emergency administrator access", _doc(_allow("*"))),
            "deny-sensitive-actions": (
                "Guardrail against turning off detection",
                _doc(
                    _deny(
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
                _doc(
                    _allow(["s3:ListBucket", "s3:GetBucketLocation"], lake),
                    _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"{lake}/*"),
                ),
            ),
            "lambda-deployer": (
                "Deploy Lambda functions with their execution roles",
                _doc(
                    _allow("iam:PassRole", f"arn:aws:iam::{account}:role/*"),
                    _allow(
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
                _doc(
                    _allow(
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
                _doc(
                    _allow(
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
                    _allow("iam:GetAccountPasswordPolicy"),
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
                doc = document if index == count - 1 else _older(document, count - 1 - index)
                versions.append(
                    {
                        "Document": self.gen.encode(doc, 0.3),
                        "VersionId": f"v{first + index}",
                        "IsDefaultVersion": index == default_index,
                        "CreateDate": _iso(stamps[index]),
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
                    "CreateDate": _iso(created),
                    "UpdateDate": _iso(stamps[-1]),
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


def _older(document: dict[str, Any], age: int) -> dict[str, Any]:
    """An earlier version of a document: the first statement had fewer actions or resources."""
    statements = [dict(s) for s in document["Statement"]]
    first = statements[0]
    for key in ("Action", "Resource"):
        value = first.get(key)
        if isinstance(value, list) and len(value) > age:
            first[key] = value[: len(value) - age]
            return {"Version": _V, "Statement": statements}
    if len(statements) > 1:
        return {"Version": _V, "Statement": statements[:-1]}
    return document


def _arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def generate_bundle(*, accounts: int, users: int, roles: int, seed: int) -> dict[str, Any]:
    """A synthetic organisation as an `iamviz-bundle/1` dict; `users`/`roles` are per account.

    Deterministic: everything (ids, names, dates, `generated_at`) comes from
    `random.Random(seed)`, never from the clock or the global generator. The first roles of each
    account are a fixed set covering every kind of trust (see `_Generator.core_role_kinds`); the
    rest are drawn by weight. Document shapes follow
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
    """
    if accounts < 1:
        raise ValueError("an estate has at least one account")
    if users < 0 or roles < 0:
        raise ValueError("users and roles per account cannot be negative")
    bundle = _Generator(seed).build(accounts, users, roles)
    logger.info(
        "generated %d accounts with %d users and %d roles each (seed %d)",
        accounts,
        users,
        roles,
        seed,
    )
    return bundle


def write_bundle(bundle: dict[str, Any], path: str | Path) -> int:
    """Write a bundle as compact JSON, one account at a time; returns the size in bytes.

    Each account is encoded in one call (the C encoder's fast path) and written before the next,
    so memory stays at one account's text. The output equals `json.dumps(bundle)` with compact
    separators, so the same bundle always gives the same bytes.
    """
    path = Path(path)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("{")
        for position, (key, value) in enumerate(bundle.items()):
            if position:
                out.write(",")
            out.write(encode(key) + ":")
            if key == "accounts" and isinstance(value, list):
                out.write("[")
                for index, account in enumerate(value):
                    if index:
                        out.write(",")
                    out.write(encode(account))
                out.write("]")
            else:
                out.write(encode(value))
        out.write("}\n")
    return path.stat().st_size
