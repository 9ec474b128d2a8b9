"""Conditions in words (issue 9, item 10). The verbs follow the operator families of AWS's
condition operators page; multiple values of one condition are OR-ed, and a negated operator
holds only when no value matches:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import pytest

from identities.policy import Condition
from identities.policy.describe import condition_key, describe_condition, short_key
from identities.policy.document import ConditionOperator, parse_condition_operator


def condition(operator: str, key: str, *values: str) -> Condition:
    parsed = parse_condition_operator(operator)
    assert parsed is not None
    return Condition(operator=parsed, key=key, values=values)


@pytest.mark.parametrize(
    ("operator", "key", "values", "expected"),
    [
        # Boolean condition operators
        ("Bool", "aws:MultiFactorAuthPresent", ("true",), "MFA = true"),
        ("BoolIfExists", "aws:MultiFactorAuthPresent", ("false",), "MFA = false, if present"),
        # String condition operators
        ("StringEquals", "sts:ExternalId", ("acme-ci-7f3a9c",), "ExternalId = acme-ci-7f3a9c"),
        ("StringEquals", "sts:ExternalId", ("a", "b"), "ExternalId = a or b"),
        ("StringNotEquals", "aws:PrincipalAccount", ("1", "2"), "PrincipalAccount ≠ any of 1, 2"),
        (
            "StringEqualsIgnoreCase",
            "aws:PrincipalTag/team",
            ("Ops",),
            "PrincipalTag/team = Ops (any case)",
        ),
        (
            "StringLike",
            "token.actions.githubusercontent.com:sub",
            ("repo:acme/*",),
            "sub like repo:acme/*",
        ),
        ("StringNotLike", "aws:userid", ("AIDA*",), "userid not like AIDA*"),
        # IP address condition operators
        ("IpAddress", "aws:SourceIp", ("203.0.113.0/24",), "SourceIp in 203.0.113.0/24"),
        ("NotIpAddress", "aws:SourceIp", ("10.0.0.0/8",), "SourceIp not in 10.0.0.0/8"),
        # Numeric and date condition operators
        ("NumericLessThan", "aws:MultiFactorAuthAge", ("3600",), "MFA age < 3600"),
        ("DateGreaterThan", "aws:CurrentTime", ("2025-01-01T00:00:00Z",), "CurrentTime after 2025-01-01T00:00:00Z"),
        # Amazon Resource Name (ARN) condition operators
        ("ArnLike", "aws:SourceArn", ("arn:aws:s3:::b*",), "SourceArn like arn:aws:s3:::b*"),
        # Condition operator to check existence of condition keys
        ("Null", "sts:SourceIdentity", ("true",), "SourceIdentity absent"),
        ("Null", "sts:SourceIdentity", ("false",), "SourceIdentity present"),
        # Set operators (single-valued vs. multivalued context keys page)
        ("ForAllValues:StringLike", "aws:TagKeys", ("env", "team"), "every TagKeys like env or team"),
        ("ForAnyValue:StringEquals", "aws:TagKeys", ("env",), "some TagKeys = env"),
    ],
)  # fmt: skip
def test_condition_in_words(operator, key, values, expected):
    assert describe_condition(condition(operator, key, *values)) == expected


def test_unknown_operator_is_shown_as_written_and_reported_under_its_pseudo_key():
    unknown = Condition(
        operator=ConditionOperator(name="StringWobbly", base="StringWobbly", supported=False),
        key="aws:SourceVpc",
        values=("vpc-1",),
    )

    assert describe_condition(unknown) == (
        "SourceVpc StringWobbly vpc-1 (an operator iamviz does not evaluate)"
    )
    assert condition_key(unknown) == "iamviz:UnsupportedCondition/StringWobbly/aws:SourceVpc"


def test_short_key_drops_the_service_prefix_only():
    assert short_key("saml:aud") == "aud"
    assert short_key("aws:PrincipalTag/team") == "PrincipalTag/team"
    assert short_key("AWS:MultiFactorAuthPresent") == "MFA"
    assert short_key("plain") == "plain"
