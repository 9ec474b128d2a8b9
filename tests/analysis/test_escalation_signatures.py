"""The escalation stage asks the engine once per resource signature of a method's targets, not
once per target, and once per account, kind and statements about an action for the actions
that need no target, not once per escalation group: its results equal those of asking for
every target and group alone, on estates whose statements cover every resource, name some
resources, use policy variables, deny some targets or limit them by a boundary or an SCP.

IAM User Guide, "Policy evaluation logic" and "IAM policy elements: Variables and tags".
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from identities.analysis.admins import _AdminGroup, _Checker, find_administrators
from identities.analysis.edges import compute_edges
from identities.analysis.escalation_history import escalation_rows
from identities.analysis.escalation_methods import Method
from identities.analysis.escalations import (
    EscalationResult,
    _Evaluator,
    compute_escalations,
    load_escalation_facts,
)
from identities.analysis.estate import Actor, load_estate
from identities.analysis.evaluation import Evaluator
from identities.analysis.groups import group_principals
from identities.ingest.imports import import_bundle
from identities.policy.document import Layer, PolicySource, parse_policy
from identities.sample.generate import generate_bundle
from tests.analysis.test_escalations import HOME, _account, _organization
from tests.data.iam_vulnerable import allow, arn, document, group, policy, role, trusting, user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ACCOUNT = "123456789012"
DENY_ADMIN_ROLE = {
    "Effect": "Deny",
    "Action": "iam:UpdateAssumeRolePolicy",
    "Resource": arn("role", "app-admin", ACCOUNT),
}


def _scoped_bundle() -> dict[str, Any]:
    """One account whose escalation statements name resources: patterns, a policy variable,
    a Deny of one target, a boundary that leaves some targets out."""
    starter = arn("user", "starter", ACCOUNT)
    policies = [
        # Only its own access keys: a policy variable, decided member by member.
        policy(
            "own-keys",
            document(allow("iam:CreateAccessKey", arn("user", "${aws:username}", ACCOUNT))),
            account=ACCOUNT,
        ),
        policy(
            "dev-keys",
            document(
                allow(
                    ["iam:CreateAccessKey", "iam:UpdateLoginProfile"],
                    arn("user", "dev-*", ACCOUNT),
                )
            ),
            account=ACCOUNT,
        ),
        policy(
            "app-trust",
            document(
                allow(["iam:UpdateAssumeRolePolicy"], arn("role", "app-*", ACCOUNT)),
                DENY_ADMIN_ROLE,
            ),
            account=ACCOUNT,
        ),
        policy(
            "pass-lambda",
            document(
                allow("iam:PassRole", arn("role", "*-lambda", ACCOUNT)),
                allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
            ),
            account=ACCOUNT,
        ),
        policy(
            "every-key",
            document(allow(["iam:CreateAccessKey", "iam:CreateLoginProfile"])),
            account=ACCOUNT,
        ),
        policy(
            "dev-boundary",
            document(
                allow("iam:CreateAccessKey", arn("user", "dev-a*", ACCOUNT)),
                allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]),
            ),
            account=ACCOUNT,
        ),
    ]
    users = [user("starter", [], account=ACCOUNT)]
    for index in range(6):
        users.append(user(f"dev-{'ab'[index % 2]}{index}", ["own-keys"], account=ACCOUNT))
        users.append(user(f"ops-{index}", ["dev-keys"], ["keyholders"], account=ACCOUNT))
    bounded = user("bounded", ["every-key", "app-trust"], account=ACCOUNT)
    bounded["PermissionsBoundary"] = {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": arn("policy", "dev-boundary", ACCOUNT),
    }
    users.append(bounded)
    roles = [role("app-admin", [], trusting(starter), account=ACCOUNT)]
    for index in range(4):
        roles.append(role(f"app-{index}", ["app-trust"], trusting(starter), account=ACCOUNT))
        lambda_trust = {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
        roles.append(role(f"fn{index}-lambda", [], lambda_trust, account=ACCOUNT))
        roles.append(role(f"fn{index}-other", [], lambda_trust, account=ACCOUNT))
        roles.append(role(f"deployer-{index}", ["pass-lambda"], trusting(starter), account=ACCOUNT))
    return {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": ACCOUNT,
                "name": "scoped",
                "authorization_details": {
                    "UserDetailList": users,
                    "GroupDetailList": [group("keyholders", ["every-key"], account=ACCOUNT)],
                    "RoleDetailList": roles,
                    "Policies": policies,
                },
            }
        ],
    }


def _methods_bundle() -> dict[str, Any]:
    cases = ("holds", "missing", "denied", "boundary", "scoped", "mfa")
    return {
        "format": "iamviz-bundle/1",
        "accounts": [_account(HOME, cases)],
        "organization": _organization(),
    }


def _generated_bundle() -> dict[str, Any]:
    return generate_bundle(accounts=3, users=30, roles=60, seed=2)


def _escalations() -> EscalationResult:
    estate = load_estate()
    result = compute_edges(estate, group_principals(estate), Evaluator())
    admins = find_administrators(estate, result.edges)
    profiled, other_versions = load_escalation_facts()
    return compute_escalations(
        estate,
        result.edges,
        admins,
        now=NOW,
        profiled=profiled,
        other_versions=other_versions,
    )


def _each_target_alone(
    self: _Evaluator, group: _AdminGroup, actor: Actor, method: Method
) -> Callable[[str], tuple[object, ...]]:
    return lambda resource: (resource,)


def _own_group_only(self: _Evaluator, group: _AdminGroup, action: str) -> tuple[int, ...]:
    return (id(group),)


@pytest.mark.parametrize(
    "make_bundle", [_scoped_bundle, _methods_bundle, _generated_bundle], ids=lambda f: f.__name__
)
def test_escalations_by_signature_equal_those_asked_target_by_target(make_bundle, monkeypatch):
    import_bundle(make_bundle(), label="estate.json")
    by_signature = _escalations()
    monkeypatch.setattr(_Evaluator, "signature", _each_target_alone)
    monkeypatch.setattr(_Evaluator, "_about", _own_group_only)

    target_by_target = _escalations()

    assert escalation_rows(by_signature) == escalation_rows(target_by_target)
    assert escalation_rows(by_signature, by_principal=True) == escalation_rows(
        target_by_target, by_principal=True
    )
    calls = "escalation_engine_calls"
    assert by_signature.stats[calls] <= target_by_target.stats[calls]
    assert {k: v for k, v in by_signature.stats.items() if k != calls} == {
        k: v for k, v in target_by_target.stats.items() if k != calls
    }


def test_scoped_estate_keeps_the_targets_its_statements_name():
    import_bundle(_scoped_bundle(), label="scoped.json")

    found = _escalations()

    def targets(source: str, method: str) -> list[str]:
        return sorted(
            target
            for record in found.records
            if record.method.id == method and source in [a.arn for a in record.sources]
            for target, _ in record.targets
            if target != source  # a group's record leaves each member out of its targets
        )

    devs = [arn("user", f"dev-{'ab'[i % 2]}{i}", ACCOUNT) for i in range(6)]
    assert targets(arn("user", "ops-1", ACCOUNT), "IAM-CreateAccessKey") == sorted(
        [*devs, *(arn("user", f"ops-{i}", ACCOUNT) for i in range(6) if i != 1),
         arn("user", "bounded", ACCOUNT), arn("user", "starter", ACCOUNT)]
    )  # fmt: skip
    # The boundary leaves bounded only the dev-a* users' keys.
    assert targets(arn("user", "bounded", ACCOUNT), "IAM-CreateAccessKey") == [
        d for d in devs if "/dev-a" in d
    ]
    # The Deny keeps app-admin out; the Allow names the app-* roles only.
    assert targets(arn("role", "app-0", ACCOUNT), "IAM-UpdatingAssumeRolePolicy") == [
        arn("role", f"app-{i}", ACCOUNT) for i in range(1, 4)
    ]
    # The variable names the user itself: no other user is a target.
    assert targets(arn("user", "dev-a0", ACCOUNT), "IAM-CreateAccessKey") == []


def test_allows_every_holds_only_for_a_statement_covering_every_resource():
    statements = parse_policy(
        document(
            allow("iam:PassRole", arn("role", "*-lambda", ACCOUNT)),
            allow("iam:CreateAccessKey", ["*"]),
            {"Effect": "Allow", "Action": "iam:CreateLoginProfile", "NotResource": "x"},
        ),
        PolicySource(Layer.IDENTITY, "test policy"),
    ).statements
    checker = _Checker(load_estate())
    group = _AdminGroup([], statements, None)

    assert checker.allows_every(group, "iam:PassRole") is False
    assert checker.allows_every(group, "iam:CreateAccessKey") is True
    assert checker.allows_every(group, "iam:CreateLoginProfile") is True
    assert checker.allows_every(group, "iam:UpdateLoginProfile") is False


def test_groups_of_an_account_with_the_same_statements_share_their_answers(monkeypatch):
    import_bundle(_generated_bundle(), label="generated.json")
    shared = _escalations()
    monkeypatch.setattr(_Evaluator, "_about", _own_group_only)

    alone = _escalations()

    assert shared.stats["escalation_engine_calls"] < alone.stats["escalation_engine_calls"]
    assert escalation_rows(shared) == escalation_rows(alone)
