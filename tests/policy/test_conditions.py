"""Condition operators, one row per documented behaviour (IAM User Guide, "IAM JSON policy
elements: Condition operators" and "Single-valued vs. multivalued context keys")."""

from __future__ import annotations

from typing import Any

import pytest

from identities.policy import (
    Layer,
    PolicySource,
    Principal,
    RequestContext,
    Tri,
    evaluate_condition,
    parse_policy,
)
from identities.policy.document import Condition, parse_condition_operator
from tests.policy.test_document import one

ALICE = Principal.aws("arn:aws:iam::111111111111:user/alice")


def check(
    operator: str, key: str, values: Any, context: dict[str, Any], *, complete: bool = True
) -> Tri:
    parsed = parse_condition_operator(operator)
    assert parsed is not None
    condition = Condition(parsed, key, tuple(values) if isinstance(values, list) else (values,))
    request = RequestContext(
        principal=ALICE, action="s3:GetObject", resource="*", values=context, complete=complete
    )
    return evaluate_condition(condition, request).value


T, F, U = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN

# fmt: off
ROWS = [
    # String
    ("StringEquals", "k", "abc", {"k": "abc"}, T, "string/equals"),
    ("StringEquals", "k", "abc", {"k": "ABC"}, F, "string/equals-case-sensitive"),
    ("StringEquals", "K", ["x", "abc"], {"k": "abc"}, T, "string/values-ored-key-case-insensitive"),
    ("StringNotEquals", "k", ["x", "y"], {"k": "z"}, T, "string/not-equals"),
    ("StringNotEquals", "k", ["x", "y"], {"k": "y"}, F, "string/not-equals-one-matches"),
    ("StringEqualsIgnoreCase", "k", "ABC", {"k": "abc"}, T, "string/equals-ignore-case"),
    ("StringNotEqualsIgnoreCase", "k", "ABC", {"k": "abc"}, F, "string/not-equals-ignore-case"),
    ("StringLike", "k", "home/*/docs?", {"k": "home/alice/docs1"}, T, "string/like-wildcards"),
    ("StringLike", "k", "Home/*", {"k": "home/a"}, F, "string/like-case-sensitive"),
    ("StringNotLike", "k", "prod-*", {"k": "dev-1"}, T, "string/not-like"),
    # Absent keys
    ("StringEquals", "k", "a", {}, F, "absent/positive-false"),
    ("StringNotEquals", "k", "a", {}, T, "absent/negated-true"),
    ("StringNotLike", "k", "a", {}, T, "absent/not-like-true"),
    ("ArnNotLike", "k", "arn:*", {}, T, "absent/arn-not-like-true"),
    ("StringEqualsIfExists", "k", "a", {}, T, "ifexists/absent-true"),
    ("StringEqualsIfExists", "k", "a", {"k": "b"}, F, "ifexists/present-evaluated"),
    ("Null", "k", "true", {}, T, "null/true-absent"),
    ("Null", "k", "false", {}, F, "null/false-absent"),
    ("Null", "k", "false", {"k": "v"}, T, "null/false-present"),
    # Numeric
    ("NumericEquals", "n", "10", {"n": "10.0"}, T, "numeric/equals"),
    ("NumericNotEquals", "n", "10", {"n": "11"}, T, "numeric/not-equals"),
    ("NumericLessThan", "n", "10", {"n": "9"}, T, "numeric/less-than"),
    ("NumericLessThanEquals", "n", "10", {"n": "10"}, T, "numeric/less-than-equals"),
    ("NumericGreaterThan", "n", "10", {"n": "10"}, F, "numeric/greater-than"),
    ("NumericGreaterThanEquals", "n", "10", {"n": "11"}, T, "numeric/greater-than-equals"),
    ("NumericLessThan", "n", "10", {"n": "ten"}, F, "numeric/unparseable-false"),
    # Date
    ("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", {"aws:CurrentTime": "2025-06-01T12:00:00Z"}, T, "date/iso"),
    ("DateGreaterThan", "aws:EpochTime", "2020-01-01T00:00:00Z", {"aws:EpochTime": "1700000000"}, T, "date/epoch"),
    ("DateEquals", "d", "2024-01-01", {"d": "2024-01-01T00:00:00+00:00"}, T, "date/equals"),
    ("DateNotEquals", "d", "2024-01-01", {"d": "2024-01-02"}, T, "date/not-equals"),
    ("DateLessThanEquals", "d", "1700000000", {"d": "2023-11-14T22:13:20Z"}, T, "date/less-than-equals-epoch"),
    ("DateGreaterThanEquals", "d", "2024-01-01", {"d": "2023-12-31"}, F, "date/greater-than-equals"),
    # Bool, Binary
    ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "TRUE"}, T, "bool/true"),
    ("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "true"}, F, "bool/false"),
    ("BinaryEquals", "b", "QmluYXJ5VmFsdWU=", {"b": "QmluYXJ5VmFsdWU="}, T, "binary/equals"),
    ("BinaryEquals", "b", "QmluYXJ5VmFsdWU=", {"b": "b3RoZXI="}, F, "binary/differs"),
    # IP
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.9"}, T, "ip/v4-in-cidr"),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, F, "ip/v4-outside"),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8:1::1"}, T, "ip/v6-in-cidr"),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "203.0.113.9"}, F, "ip/version-mismatch"),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "192.0.2.1"], {"aws:SourceIp": "192.0.2.1"}, F, "ip/not-single-address"),
    # ARN
    ("ArnLike", "aws:SourceArn", "arn:aws:sns:*:111111111111:topic-*", {"aws:SourceArn": "arn:aws:sns:eu-west-1:111111111111:topic-a"}, T, "arn/like"),
    ("ArnEquals", "aws:SourceArn", "arn:aws:sns:*:111111111111:t", {"aws:SourceArn": "arn:aws:sns:eu-west-1:111111111111:t"}, T, "arn/equals-wildcards-per-segment"),
    ("ArnLike", "aws:SourceArn", "arn:aws:sns:*:t", {"aws:SourceArn": "arn:aws:sns:eu-west-1:111111111111:t"}, T, "arn/short-pattern-whole-glob"),
    ("ArnNotEquals", "aws:PrincipalArn", "arn:aws:iam::*:role/admin", {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/dev"}, T, "arn/not-equals"),
    ("ArnLike", "k", "arn:aws:iam::*:role/x", {"k": "not-an-arn"}, F, "arn/non-arn-value"),
    # Set operators
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a"]}, T, "set/for-all-subset"),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a", "c"]}, F, "set/for-all-not-subset"),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {}, T, "set/for-all-absent-true"),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}, F, "set/for-any-absent-false"),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["c", "b"]}, T, "set/for-any-one-matches"),
    ("ForAnyValue:StringLike", "aws:TagKeys", "env*", {"aws:TagKeys": ["team", "owner"]}, F, "set/for-any-like-none"),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"], {"aws:TagKeys": ["a", "b"]}, T, "set/for-all-negated"),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"], {"aws:TagKeys": ["a", "secret"]}, F, "set/for-all-negated-one-hits"),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["a", "b"]}, T, "set/for-any-negated"),
    ("StringNotEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": ["a", "b"]}, F, "multivalued/negated-without-set-operator"),
    ("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["a"], {}, T, "set/if-exists-absent"),
    # Variables in values
    ("StringEquals", "s3:prefix", "home/${aws:username}", {"s3:prefix": "home/alice"}, T, "variables/username"),
    ("StringLike", "k", "a${*}b", {"k": "a*b"}, T, "variables/literal-star"),
    ("StringLike", "k", "a${*}b", {"k": "axb"}, F, "variables/literal-star-not-wildcard"),
    ("StringEquals", "k", "${$}x", {"k": "$x"}, T, "variables/literal-dollar"),
    ("StringEquals", "k", "${aws:PrincipalTag/team, 'none'}", {"k": "none"}, T, "variables/default"),
    ("NumericEquals", "n", "${aws:username}", {"n": "1"}, F, "variables/not-substituted-for-numeric"),
]
# fmt: on


@pytest.mark.parametrize(
    ("operator", "key", "values", "context", "expected"),
    [pytest.param(*row[:5], id=row[5]) for row in ROWS],
)
def test_evaluate_condition_operators(
    operator: str, key: str, values: Any, context: dict[str, Any], expected: Tri
) -> None:
    assert check(operator, key, values, context) is expected


@pytest.mark.parametrize(
    "operator",
    [
        "StringEquals",
        "StringNotEquals",
        "ForAllValues:StringEquals",
        "StringEqualsIfExists",
        "Null",
        "IpAddress",
    ],
)
def test_evaluate_condition_unknown_key_is_unknown(operator: str) -> None:
    values = "true" if operator == "Null" else "10.0.0.0/8"

    assert check(operator, "aws:SourceIp", values, {}, complete=False) is Tri.UNKNOWN


def test_evaluate_condition_unknown_variable_lists_key() -> None:
    parsed = parse_condition_operator("StringEquals")
    assert parsed is not None
    condition = Condition(parsed, "s3:prefix", ("${aws:PrincipalTag/team}",))
    request = RequestContext(
        principal=ALICE, action="s3:ListBucket", resource="*", values={"s3:prefix": ("x",)}
    )

    result = evaluate_condition(condition, request)

    assert (result.value, result.unknown_keys) == (
        Tri.UNKNOWN,
        frozenset({"aws:PrincipalTag/team"}),
    )


def test_evaluate_condition_absent_variable_fails_statement() -> None:
    parsed = parse_condition_operator("StringEquals")
    assert parsed is not None
    condition = Condition(parsed, "s3:prefix", ("${aws:PrincipalTag/team}",))
    request = RequestContext(
        principal=ALICE,
        action="s3:ListBucket",
        resource="*",
        values={"s3:prefix": ("x",)},
        complete=True,
    )

    result = evaluate_condition(condition, request)

    assert (result.value, result.failure) == (
        Tri.FALSE,
        "policy variable ${aws:PrincipalTag/team} has no value in the request (condition key s3:prefix)",
    )


def test_request_context_known_absent_versus_unknown() -> None:
    request = RequestContext(
        principal=ALICE,
        action="sts:AssumeRole",
        resource="*",
        values={"aws:SourceIp": ("1.2.3.4",), "aws:TagKeys": ()},
        absent_keys=frozenset({"sts:ExternalId"}),
    )

    assert [
        request.lookup(k)[0].value
        for k in ("AWS:SOURCEIP", "sts:externalid", "aws:TagKeys", "saml:aud")
    ] == [
        "present",
        "absent",
        "absent",
        "unknown",
    ]


def test_request_context_derives_principal_keys() -> None:
    request = RequestContext(principal=ALICE, action="s3:GetObject", resource="*")

    assert dict(request.values) == {
        "aws:principalarn": ("arn:aws:iam::111111111111:user/alice",),
        "aws:principalisawsservice": ("false",),
        "aws:principalaccount": ("111111111111",),
        "aws:username": ("alice",),
    }


# "Single-valued vs. multivalued context keys": ForAllValues "returns true if there are no
# context keys in the request"; ForAnyValue returns false then. With the key present the Null
# test itself decides.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        pytest.param("ForAllValues:Null", "true", {}, T, id="multivalued/for-all-null-absent"),
        pytest.param("ForAllValues:Null", "false", {}, T, id="multivalued/for-all-null-absent-2"),
        pytest.param("ForAnyValue:Null", "true", {}, F, id="multivalued/for-any-null-absent"),
        pytest.param("ForAnyValue:Null", "false", {}, F, id="multivalued/for-any-null-absent-2"),
        pytest.param(
            "ForAllValues:Null",
            "false",
            {"aws:TagKeys": ["a"]},
            T,
            id="multivalued/for-all-null-present",
        ),
        pytest.param(
            "ForAnyValue:Null",
            "true",
            {"aws:TagKeys": ["a"]},
            F,
            id="multivalued/for-any-null-present",
        ),
    ],
)
def test_evaluate_condition_set_operator_null(
    operator: str, values: str, context: dict[str, Any], expected: Tri
) -> None:
    assert check(operator, "aws:TagKeys", values, context) is expected


def test_evaluate_condition_unsupported_operator_is_unknown_on_named_key() -> None:
    policy = parse_policy(
        one(Condition={"StringEqualz": {"aws:PrincipalTag/team": "x"}}),
        PolicySource(Layer.IDENTITY, "p"),
    )
    request = RequestContext(
        principal=ALICE, action="s3:GetObject", resource="*", values={}, complete=True
    )

    result = evaluate_condition(policy.statements[0].conditions[0], request)

    assert (result.value, result.unknown_keys) == (
        Tri.UNKNOWN,
        frozenset({"iamviz:UnsupportedCondition/StringEqualz/aws:PrincipalTag/team"}),
    )
