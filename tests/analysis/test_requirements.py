"""What a conditional edge requires, stored with the edge (issue 9, item 10).

The display forms follow the condition operators page; several granting Allow statements mean
any one suffices, and a Deny's condition must not hold ("Policy evaluation logic": an explicit
deny overrides any allow).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
"""

from __future__ import annotations

from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import AccessEdge
from identities.queries.access import access_into
from tests.bundles import ASSUME_ANY, arn, estate_bundle, iam_role, iam_user

pytestmark = pytest.mark.django_db

HOME, OTHER = "555555555555", "666666666666"
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def trust(principal: str, condition: dict | None = None, effect: str = "Allow") -> dict:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def analyse(accounts: dict[str, dict[str, list[dict]]]) -> None:
    import_bundle(estate_bundle(accounts), label="estate.json")
    analyse_estate()


def values_into(role_name: str) -> dict[str, dict[str, str]]:
    return {
        access.source: access.condition_values
        for access in access_into(arn(HOME, "role", role_name))
        if access.conditional
    }


def test_requirements_come_from_the_granting_statements():
    alice = arn(HOME, "user", "alice")
    office = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    analyse(
        {
            HOME: {
                "users": [iam_user(HOME, "alice")],
                "roles": [
                    iam_role(HOME, "mfa", [trust(alice, MFA)]),
                    iam_role(HOME, "office", [trust(alice, office)]),
                ],
            }
        }
    )

    assert values_into("mfa") == {alice: {"aws:MultiFactorAuthPresent": "MFA = true"}}
    assert values_into("office") == {alice: {"aws:SourceIp": "SourceIp in 203.0.113.0/24"}}
    stored = AccessEdge.objects.get(source=alice, target__name="mfa")
    assert stored.condition_values == {"aws:MultiFactorAuthPresent": "MFA = true"}


def test_two_granting_statements_read_as_either():
    partner = f"arn:aws:iam::{OTHER}:root"
    external_ids = [
        trust(partner, {"StringEquals": {"sts:ExternalId": "first"}}),
        trust(partner, {"StringEquals": {"sts:ExternalId": "second"}}),
    ]
    analyse(
        {
            HOME: {"roles": [iam_role(HOME, "vendor", external_ids)]},
            OTHER: {"users": [iam_user(OTHER, "partner", inline={"assume": ASSUME_ANY})]},
        }
    )

    assert values_into("vendor")[arn(OTHER, "user", "partner")] == {
        "sts:ExternalId": "ExternalId = first or ExternalId = second"
    }


def test_a_key_only_a_deny_tests_reads_as_its_negation():
    alice = arn(HOME, "user", "alice")
    deny_without_mfa = trust(
        "*", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, effect="Deny"
    )
    analyse(
        {
            HOME: {
                "users": [iam_user(HOME, "alice")],
                "roles": [iam_role(HOME, "guarded", [trust(alice), deny_without_mfa])],
            }
        }
    )

    assert values_into("guarded") == {
        alice: {"aws:MultiFactorAuthPresent": "not (MFA = false, if present)"}
    }


def test_unconditional_edges_store_no_requirements():
    alice = arn(HOME, "user", "alice")
    analyse(
        {
            HOME: {
                "users": [iam_user(HOME, "alice")],
                "roles": [iam_role(HOME, "open", [trust(alice)])],
            }
        }
    )

    assert AccessEdge.objects.get(source=alice).condition_values == {}
