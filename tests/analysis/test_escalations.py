"""Every escalation method of the catalogue on one hand-made estate: it holds with its
permissions; it does not when one permission is missing, when a Deny, a permissions boundary
or an SCP removes one, or when the resource scope leaves the target out; conditions make it
conditional; its status is the catalogue's. Plus the sample organisation's escalations.

IAM User Guide, "Policy evaluation logic" (explicit deny, boundaries, SCPs) and "Granting a
user permissions to pass a role to an AWS service" (iam:PassedToService).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.analysis.escalation_methods import EVALUATED, Method, Targets
from identities.ingest.imports import import_bundle
from identities.models import IamRole
from identities.queries.escalations import escalations_of, iter_escalations
from identities.queries.findings import admin_paths
from tests.data.iam_vulnerable import allow, document, group, policy, role, trusting, user

HOME, FENCED = "111122223333", "444455556666"
CASES = ("holds", "missing", "denied", "boundary", "scp", "scoped", "mfa")
SERVICES = sorted({m.service for m in EVALUATED if m.service})
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def _arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def _name(index: int, case: str, method: Method) -> str:
    return f"m{index:02d}-{case}-{'user' if 'user' in method.kinds else 'role'}"


def _statements(method: Method, case: str, account: str, name: str) -> list[dict[str, Any]]:
    actions = list(method.actions)
    if case == "missing":
        # The last permission its own policies must grant (a rewritten trust policy grants
        # sts:AssumeRole by itself).
        needed = [p.action for p in method.permissions if p.on != "trust"]
        actions.remove(needed[-1])
        actions = actions or ["s3:GetObject"]
    if case != "scoped":
        statements = [allow(actions, Condition=MFA) if case == "mfa" else allow(actions)]
    else:
        # The permissions that act on the target are limited to a resource that is not it.
        on_target = [p.action for p in method.permissions if p.on == "target"]
        others = [a for a in actions if a not in on_target]
        statements = [allow(on_target, _arn(account, "user", "nobody"))]
        if others:
            statements.append(allow(others))
    if case == "denied":
        statements.append({"Effect": "Deny", "Action": actions[0], "Resource": "*"})
    return statements


def _account(account: str, cases: tuple[str, ...]) -> dict[str, Any]:
    starter = _arn(account, "user", "starter")
    users = [user("starter", [], account=account), user("victim", [], account=account)]
    roles = [role("victim-role", [], trusting(starter), account=account)]
    groups = [group("other-group", ["reader"], account=account)]
    policies = [policy("reader", document(allow("s3:GetObject")), account=account)]
    for service in SERVICES:
        short = service.split(".")[0]
        trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        roles.append(role(f"svc-{short}", [], trust, profile=True, account=account))
    for index, method in enumerate(EVALUATED):
        for case in cases:
            if case == "scoped" and not any(p.on == "target" for p in method.permissions):
                continue
            name = _name(index, case, method)
            other = document(allow("*")) if method.targets is Targets.OWN_POLICY else None
            doc = document(*_statements(method, case, account, name))
            policies.append(policy(f"{name}-policy", doc, other_version=other, account=account))
            if case == "boundary":
                first = method.actions[0]
                bound = {"Effect": "Allow", "NotAction": [first], "Resource": "*"}
                policies.append(policy(f"{name}-boundary", document(bound), account=account))
            if "user" in method.kinds:
                groups.append(group(f"{name}-grp", [], account=account))
                entry = user(name, [f"{name}-policy"], [f"{name}-grp"], account=account)
            else:
                entry = role(name, [f"{name}-policy"], trusting(starter), account=account)
            if case == "boundary":
                entry["PermissionsBoundary"] = {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": _arn(account, "policy", f"{name}-boundary"),
                }
            (users if "user" in method.kinds else roles).append(entry)
    return {
        "id": account,
        "name": f"acct-{account[:4]}",
        "authorization_details": {
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": policies,
        },
    }


def _organization() -> dict[str, Any]:
    org = "o-test000001"
    full = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    firsts = sorted({method.actions[0] for method in EVALUATED})
    deny = {"Effect": "Deny", "Action": firsts, "Resource": "*"}
    return {
        "id": org,
        "arn": f"arn:aws:organizations::{HOME}:organization/{org}",
        "management_account_id": HOME,
        "roots": [{"Id": "r-test", "Arn": "arn:aws:organizations::x:root/r-test", "Name": "Root"}],
        "organizational_units": [],
        "accounts": [
            {"Id": account, "Name": f"acct-{account[:4]}", "Status": "ACTIVE", "ParentId": "r-test"}
            for account in (HOME, FENCED)
        ],
        "policies": [
            {
                "Id": "p-FullAWSAccess",
                "Name": "FullAWSAccess",
                "Type": "SERVICE_CONTROL_POLICY",
                "AwsManaged": True,
                "Content": document(full),
                "Targets": ["r-test", HOME, FENCED],
            },
            {
                "Id": "p-noescalation",
                "Name": "NoEscalation",
                "Type": "SERVICE_CONTROL_POLICY",
                "AwsManaged": False,
                "Content": document(deny),
                "Targets": [FENCED],
            },
        ],
    }


@pytest.fixture
def flagged(db: None) -> dict[tuple[str, str], dict[str, tuple[str, tuple[str, ...]]]]:
    """(account, principal name) -> method -> (status, conditions)."""
    home_cases = tuple(c for c in CASES if c != "scp")
    bundle = {
        "format": "iamviz-bundle/1",
        "accounts": [_account(HOME, home_cases), _account(FENCED, ("scp",))],
        "organization": _organization(),
    }
    import_bundle(bundle, label="methods.json")
    analyse_estate()
    found: dict[tuple[str, str], dict[str, tuple[str, tuple[str, ...]]]] = defaultdict(dict)
    for escalation in iter_escalations():
        account = escalation.principal.split(":")[4]
        name = escalation.principal.rsplit("/", 1)[-1]
        found[(account, name)][escalation.method] = (escalation.status, escalation.conditions)
    return found


def _outcome(flagged: dict, case: str) -> dict[str, tuple[str, tuple[str, ...]] | None]:
    account = FENCED if case == "scp" else HOME
    return {
        method.id: flagged.get((account, _name(index, case, method)), {}).get(method.id)
        for index, method in enumerate(EVALUATED)
        if case != "scoped" or any(p.on == "target" for p in method.permissions)
    }


def test_every_method_holds_with_its_permissions_and_its_status(flagged):
    assert _outcome(flagged, "holds") == {m.id: (m.status.value, ()) for m in EVALUATED}


@pytest.mark.parametrize("case", ["missing", "denied", "boundary", "scp", "scoped"])
def test_no_method_holds_when_a_permission_is_taken_away(flagged, case):
    outcome = _outcome(flagged, case)

    assert outcome == dict.fromkeys(outcome)


def test_conditions_make_every_method_conditional_with_their_keys(flagged):
    expected = {m.id: (m.status.value, ("aws:MultiFactorAuthPresent",)) for m in EVALUATED}

    assert _outcome(flagged, "mfa") == expected


# -- the sample organisation ---------------------------------------------------------------------

DEV, SEC = "333333333333", "222222222222"
FRANK = _arn(DEV, "user", "frank")
KEY_ROTATOR = _arn(SEC, "user", "service/svc-key-rotator")


def test_frank_passes_lambda_exec_to_a_new_function(imported_sample):
    rows = [(e.method, e.status, e.target) for e in escalations_of(FRANK) if e.status == "proven"]

    assert rows == [
        (
            "AutoScaling-PassExistingRoleToNewLaunchConfiguration",
            "proven",
            _arn(DEV, "role", "app-server"),
        ),
        ("CodeBuild-CreateProjectPassRole", "proven", _arn(DEV, "role", "terraform-build")),
        ("EC2-CreateInstanceWithExistingProfile", "proven", _arn(DEV, "role", "app-server")),
        (
            "Lambda-PassExistingRoleToNewLambdaThenInvoke",
            "proven",
            _arn(DEV, "role", "lambda-exec"),
        ),
        (
            "Lambda-PassRoleToNewLambdaThenInvokeCrossAccount",
            "proven",
            _arn(DEV, "role", "lambda-exec"),
        ),
    ]


def test_svc_key_rotator_creates_keys_for_the_other_users_of_its_account(imported_sample):
    rows = [e.as_row() for e in escalations_of(KEY_ROTATOR)]

    assert rows == [
        {
            "principal": KEY_ROTATOR,
            "method": "IAM-CreateAccessKey",
            "status": "proven",
            "target": _arn(SEC, "user", target),
            "conditions": [],
            "granted_by": [
                "statement (Statement[0]) of customer-managed policy iam-key-rotation "
                f"(arn:aws:iam::{SEC}:policy/iam-key-rotation)"
            ],
        }
        for target in ("auditor", "secops-admin")
    ]


def test_an_escalation_to_an_administrator_role_is_a_path_to_an_administrator(imported_sample):
    # Give lambda-exec administrator access: frank, who can pass it to a new function, reaches
    # an administrator through that escalation and is not one himself.
    from identities.models import ManagedPolicy, PolicyAttachment

    lambda_exec = IamRole.objects.get(arn=_arn(DEV, "role", "lambda-exec"))
    admin_policy = ManagedPolicy.objects.filter(
        account=lambda_exec.account, name="AdministratorAccess"
    ).first()
    assert admin_policy is not None
    PolicyAttachment.objects.create(policy=admin_policy, role=lambda_exec)

    analyse_estate()

    chains = {path.source: (path.path, path.hops) for path in admin_paths()}
    assert chains[FRANK] == ([FRANK, lambda_exec.arn], 1)
