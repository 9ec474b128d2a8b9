"""The sample organisation's vocabulary: names, teams, apps, role kinds, the OU layout, and
the plan of an account before it is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ORG_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
POLICY_VERSION = "2012-10-17"
START = int(datetime(2016, 1, 4, tzinfo=UTC).timestamp())
SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"
GITHUB_OIDC = "token.actions.githubusercontent.com"
REGIONS = ("us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2", "eu-central-1")
SERVICES_USED = ("s3", "sts", "ec2", "iam", "lambda", "dynamodb", "sqs", "logs", "ecr")


ORG_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "soylent", "tyrell")
TEAMS = (
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
APPS = (
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
FIRST_NAMES = (
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
LAST_NAMES = (
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
VENDORS = (
    ("datadog", "464622532012"),
    ("wiz", "197171649850"),
    ("lacework", "434813966438"),
    ("snyk", "370134896156"),
    ("vanta", "956993596390"),
    ("contractor", "210987654321"),
)

# Role kinds after the fixed ones, with their weights (a few real estates, averaged).
ROLE_KINDS = (
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
CHAIN_SOURCES = frozenset({"user", "saml", "chain", "app", "orgaccess", "cross"})

GROUPS = (
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
HUMAN_GROUPS = (
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
class PlannedPrincipal:
    name: str
    kind: str
    path: str
    arn: str
    trusts: list[str] = field(default_factory=list)  # principal ARNs a role's trust names


@dataclass
class AccountPlan:
    index: int
    id: str
    name: str
    parent: str  # key of OU_LAYOUT, or "root"
    users: list[PlannedPrincipal] = field(default_factory=list)
    roles: list[PlannedPrincipal] = field(default_factory=list)


# OU key -> parent key; two levels under the root. An OU's name is its key, capitalised.
OU_LAYOUT = {
    "security": "root",
    "infrastructure": "root",
    "workloads": "root",
    "prod": "workloads",
    "dev": "workloads",
    "sandbox": "root",
    "suspended": "root",
}


def older(document: dict[str, Any], age: int) -> dict[str, Any]:
    """An earlier version of a document: the first statement had fewer actions or resources."""
    statements = [dict(s) for s in document["Statement"]]
    first = statements[0]
    for key in ("Action", "Resource"):
        value = first.get(key)
        if isinstance(value, list) and len(value) > age:
            first[key] = value[: len(value) - age]
            return {"Version": POLICY_VERSION, "Statement": statements}
    if len(statements) > 1:
        return {"Version": POLICY_VERSION, "Statement": statements[:-1]}
    return document


def iam_arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
