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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from identities.bundle import make_bundle
from identities.sample.account import AccountBuilder
from identities.sample.catalogue import allow, deny, make_document
from identities.sample.vocabulary import (
    APPS,
    CHAIN_SOURCES,
    FIRST_NAMES,
    ID_ALPHABET,
    LAST_NAMES,
    ORG_ALPHABET,
    ORG_NAMES,
    OU_LAYOUT,
    ROLE_KINDS,
    START,
    TEAMS,
    VENDORS,
    AccountPlan,
    PlannedPrincipal,
    iam_arn,
    iso,
    root_arn,
)

logger = logging.getLogger(__name__)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen_ids: set[str] = set()
        # A fixed-looking "now" derived from the seed, never from the clock.
        self.now = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) + self.rng.randrange(
            0, 365 * 86400
        )
        self.org_name = self.rng.choice(ORG_NAMES)

    # small helpers -------------------------------------------------------------------------
    def unique_id(self, prefix: str) -> str:
        while True:
            value = prefix + "".join(self.rng.choices(ID_ALPHABET, k=17))
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def org_token(self, length: int) -> str:
        while True:
            value = "".join(self.rng.choices(ORG_ALPHABET, k=length))
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def stamp(self, low: int | None = None, high: int | None = None) -> int:
        low = START if low is None else low
        high = self.now - 86400 if high is None else high
        return self.rng.randrange(low, max(low + 1, high))

    def encode(self, document: dict[str, Any], probability: float) -> dict[str, Any] | str:
        """Some documents as the raw IAM API returns them: URL-encoded compact JSON."""
        if self.rng.random() < probability:
            return quote(json.dumps(document, separators=(",", ":")))
        return document

    # planning --------------------------------------------------------------------------------
    def plan_accounts(self, count: int, users: int, roles: int) -> list[AccountPlan]:
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
            plans.append(AccountPlan(index, account_id, name, parent))
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
            return f"sandbox-{self.rng.choice(FIRST_NAMES)}", "sandbox"
        k -= k // 6
        team = TEAMS[(k // 3) % len(TEAMS)]
        env = ("prod", "staging", "dev")[k % 3]
        return f"{team}-{env}", "prod" if env == "prod" else "dev"

    def plan_users(self, plan: AccountPlan, count: int) -> None:
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
            name = unique(f"{self.rng.choice(FIRST_NAMES)}.{self.rng.choice(LAST_NAMES)}")
            path = "/" if self.rng.random() < 0.7 else "/people/"
            plan.users.append(
                PlannedPrincipal(name, "human", path, iam_arn(plan.id, "user", path, name))
            )
        for kind, prefix, share in (("ci", "ci-", n_ci), ("svc", "svc-", n_svc)):
            for _ in range(share):
                name = unique(prefix + self.rng.choice(APPS))
                plan.users.append(
                    PlannedPrincipal(
                        name, kind, "/service/", iam_arn(plan.id, "user", "/service/", name)
                    )
                )

    def core_role_kinds(self, plan: AccountPlan, single: bool) -> list[tuple[str, str]]:
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

    def plan_roles(self, plan: AccountPlan, plans: list[AccountPlan], count: int) -> None:
        kinds, weights = zip(*ROLE_KINDS, strict=True)
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
            role = PlannedPrincipal(name, kind, path, iam_arn(plan.id, "role", path, name))
            role.trusts = self.plan_trust(plan, plans, role)
            plan.roles.append(role)

    def role_name(self, kind: str) -> str:
        app = f"{self.rng.choice(TEAMS)}-{self.rng.choice(APPS)}"
        if kind == "saml":
            return f"okta-{self.rng.choice(TEAMS)}-" + self.rng.choice(
                ("readonly", "developer", "developer", "admin")
            )
        if kind == "vendor":
            return f"{self.rng.choice(VENDORS)[0]}-integration"
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
        self, plan: AccountPlan, plans: list[AccountPlan], role: PlannedPrincipal
    ) -> list[str]:
        """The principal ARNs a role's trust policy will name (kinds that name any)."""
        rng = self.rng
        others = [p for p in plans if p is not plan]
        kind = role.kind
        if kind == "orgaccess":
            return [root_arn(plans[0].id)]
        if kind == "audit":
            return [root_arn(plans[1].id if len(plans) > 1 else plan.id)]
        if kind == "app":
            return [root_arn(plan.id)]
        if kind == "user":
            humans = [u for u in plan.users if u.kind == "human"]
            if not humans:
                return [root_arn(plan.id)]
            return sorted({u.arn for u in rng.sample(humans, min(len(humans), rng.randint(1, 3)))})
        if kind == "deploy":
            ci = [u.arn for u in plan.users if u.kind == "ci"]
            tooling = plans[3] if len(plans) > 3 else None
            if tooling is not None and tooling is not plan:
                ci += [u.arn for u in tooling.users if u.kind == "ci"][:1]
            return sorted(set(ci[-2:])) or [root_arn(plan.id)]
        if kind == "chain":
            same = [r.arn for r in plan.roles if r.kind in CHAIN_SOURCES]
            if others and (rng.random() < 0.3 or not same):
                other = rng.choice(others)
                same = [r.arn for r in other.roles if r.kind in CHAIN_SOURCES] or same
            return [rng.choice(same)] if same else [root_arn(plan.id)]
        if kind == "cross":
            if others:
                return [root_arn(rng.choice(others).id)]
            return [root_arn(str(rng.randrange(10**11, 10**12)))]
        if kind == "vendor":
            vendor = dict(VENDORS).get(role.name.split("-integration")[0])
            return [root_arn(vendor or VENDORS[0][1])]
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
        return make_bundle(
            built, organization=org, generated_at=datetime.fromtimestamp(self.now, UTC)
        )

    def build_organization(self, plans: list[AccountPlan]) -> dict[str, Any]:
        mgmt = plans[0].id
        org_id = "o-" + self.org_token(10)
        root_id = "r-" + self.org_token(4)
        ids = {"root": root_id}
        units = []
        for key, parent in OU_LAYOUT.items():
            ids[key] = f"ou-{root_id[2:]}-{self.org_token(8)}"
            units.append(
                {
                    "Id": ids[key],
                    "Arn": f"arn:aws:organizations::{mgmt}:ou/{org_id}/{ids[key]}",
                    "Name": key.capitalize(),
                    "ParentId": ids[parent],
                }
            )
        members = []
        for plan in plans:
            joined = self.stamp(high=START + 400 * 86400 * (1 + plan.index // 10))
            members.append(
                {
                    "Id": plan.id,
                    "Arn": f"arn:aws:organizations::{mgmt}:account/{org_id}/{plan.id}",
                    "Email": f"aws+{plan.name}@{self.org_name}.example",
                    "Name": plan.name,
                    "Status": "ACTIVE",
                    "JoinedMethod": "INVITED" if plan.index == 0 else "CREATED",
                    "JoinedTimestamp": iso(joined),
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
                "Content": make_document(allow("*")),
                "Targets": everything,
            },
            scp(
                "DenyLeaveOrganization",
                "Member accounts cannot leave the organisation",
                make_document(deny("organizations:LeaveOrganization") | {"Sid": "DenyLeave"}),
                [root_id],
            ),
            scp(
                "DenyIAMUserCreation",
                "No long-lived IAM users or keys in workload accounts",
                make_document(
                    deny(["iam:CreateUser", "iam:CreateAccessKey"]) | {"Sid": "NoIamUsers"}
                ),
                [ids["workloads"], ids["sandbox"]],
            ),
            scp(
                "DenyOutsideApprovedRegions",
                "Regional services only in approved regions",
                json.dumps(
                    make_document(
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
                make_document(
                    deny(["s3:DeleteBucket", "s3:DeleteBucketPolicy"])
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
                "Content": make_document(
                    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
                ),
                "Targets": everything,
            },
            scp(
                "EnforceOrgIdentitiesOnS3",
                "Only principals of the organisation reach S3 data",
                make_document(
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
        plan: AccountPlan,
        org_id: str,
        callers: dict[str, list[str]],
        cross_targets: list[str],
    ) -> dict[str, Any]:
        acct = AccountBuilder(self, plan, org_id, callers, cross_targets)
        return acct.build()


def generate_bundle(*, accounts: int, users: int, roles: int, seed: int) -> dict[str, Any]:
    """A synthetic organisation as an `iamviz-bundle/1` dict; `users`/`roles` are per account.

    Deterministic: everything (ids, names, dates, `generated_at`) comes from
    `random.Random(seed)`, never from the clock or the global generator. The first roles of each
    account are a fixed set covering every kind of trust (see `Generator.core_role_kinds`); the
    rest are drawn by weight. Document shapes follow
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
    """
    if accounts < 1:
        raise ValueError("an estate has at least one account")
    if users < 0 or roles < 0:
        raise ValueError("users and roles per account cannot be negative")
    bundle = Generator(seed).build(accounts, users, roles)
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
