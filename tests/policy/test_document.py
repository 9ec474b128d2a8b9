"""Parsing policy documents (IAM User Guide, "Grammar of the IAM JSON policy language")."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from identities.policy import (
    Effect,
    Layer,
    PolicyParseError,
    PolicySource,
    PrincipalSpec,
    parse_policy,
)

SOURCE = PolicySource(Layer.IDENTITY, "p")
GOOD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "S3",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {
                "Bool": {"aws:SecureTransport": True},
                "NumericLessThan": {"s3:max-keys": 10},
            },
        }
    ],
}


def test_parse_policy_url_encoded_equals_dict() -> None:
    encoded = urllib.parse.quote(json.dumps(GOOD))

    assert parse_policy(encoded, SOURCE) == parse_policy(GOOD, SOURCE)


def test_parse_policy_json_string_and_values() -> None:
    policy = parse_policy(json.dumps(GOOD), SOURCE)

    statement = policy.statements[0]
    assert (statement.sid, statement.effect, statement.actions, statement.resources) == (
        "S3",
        Effect.ALLOW,
        ("s3:GetObject", "s3:ListBucket"),
        ("arn:aws:s3:::b/*",),
    )
    assert [(c.operator.base, c.key, c.values) for c in statement.conditions] == [
        ("Bool", "aws:SecureTransport", ("true",)),
        ("NumericLessThan", "s3:max-keys", ("10",)),
    ]


def test_parse_policy_single_statement_object_and_star_principal() -> None:
    policy = parse_policy(
        {"Statement": {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}},
        PolicySource(Layer.TRUST, "t"),
    )

    assert (len(policy.statements), policy.statements[0].principals) == (
        1,
        (PrincipalSpec("AWS", "*"),),
    )


def test_parse_policy_condition_operator_parts() -> None:
    condition = {"ForAnyValue:StringNotLikeIfExists": {"aws:TagKeys": "x*"}}
    policy = parse_policy(one(Action="*", Condition=condition), SOURCE)

    operator = policy.statements[0].conditions[0].operator
    assert (
        operator.set_operator,
        operator.base,
        operator.if_exists,
        operator.negated,
        operator.positive,
    ) == (
        "ForAnyValue",
        "StringNotLike",
        True,
        True,
        "StringLike",
    )


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def one(**overrides: Any) -> dict[str, Any]:
    """A document of one statement(**overrides)."""
    return {"Statement": [statement(**overrides)]}


# fmt: off
PARSE_ERRORS = [
    pytest.param("{not json", "policy document is not valid JSON: Expecting property name enclosed in double quotes at 1", id="bad-json"),
    pytest.param("[]", "policy document must be a JSON object, not a list", id="not-object"),
    pytest.param({"Version": "2012-10-17"}, "Statement: missing", id="missing-statement"),
    pytest.param({"Statement": "x"}, "Statement: must be an object or a list of objects, not a string", id="statement-string"),
    pytest.param({"Version": "2020-01-01", "Statement": []}, 'Version: must be "2012-10-17" or "2008-10-17", not \'2020-01-01\'', id="bad-version"),
    pytest.param({"Statement": [statement(), 3]}, "Statement[1]: must be an object, not a number", id="statement-not-object"),
    pytest.param(one(Effect=None), "Statement[0].Effect: missing", id="missing-effect"),
    pytest.param(one(Effect="allow"), 'Statement[0].Effect: must be "Allow" or "Deny", not "allow"', id="bad-effect"),
    pytest.param(one(Action=None), "Statement[0]: missing Action or NotAction", id="missing-action"),
    pytest.param(one(Action=["s3:Get*", 5]), "Statement[0].Action[1]: must be a string, not a number", id="non-string-action"),
    pytest.param(one(NotAction="iam:*"), "Statement[0]: has both Action and NotAction", id="action-and-notaction"),
    pytest.param(one(Resource=[]), "Statement[0].Resource: must not be an empty list", id="empty-resource"),
    pytest.param(one(Condition={"Null": {"k": "yes"}}), 'Statement[0].Condition.Null.k: Null takes "true" or "false"', id="null-value"),
    pytest.param(one(Condition={"StringEquals": {"k": {"a": 1}}}), "Statement[0].Condition.StringEquals.k: condition values must be strings, numbers or booleans, not an object", id="condition-object-value"),
    pytest.param(one(Condition=["x"]), "Statement[0].Condition: must be an object, not a list", id="condition-list"),
    pytest.param(one(Principal={"Robot": "x"}), "Statement[0].Principal.Robot: unknown principal type (expected AWS, Service, Federated or CanonicalUser)", id="unknown-principal-type"),
    pytest.param(one(Principal="alice"), 'Statement[0].Principal: must be "*" or an object such as {"AWS": ...}, not a string', id="principal-string"),
    pytest.param(one(Actions="s3:*"), "Statement[0]: unknown element(s): Actions", id="unknown-element"),
]
# fmt: on


@pytest.mark.parametrize(("document", "message"), PARSE_ERRORS)
def test_parse_policy_errors_name_the_element(document: Any, message: str) -> None:
    with pytest.raises(PolicyParseError) as caught:
        parse_policy(document, SOURCE)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    "operator",
    [
        pytest.param("StringEqualz", id="unknown-operator"),
        pytest.param("NullIfExists", id="null-ifexists"),
    ],
)
def test_parse_policy_unknown_operator_keeps_document_and_marks_condition(operator: str) -> None:
    policy = parse_policy(
        {"Statement": [statement(Condition={operator: {"k": "true"}}), statement()]}, SOURCE
    )

    condition = policy.statements[0].conditions[0]
    assert (len(policy.statements), condition.operator.supported, condition.operator.name) == (
        2,
        False,
        operator,
    )


def test_parse_policy_set_operators_accept_null() -> None:
    # Single-valued vs. multivalued context keys: the set qualifiers apply to any operator.
    policy = parse_policy(
        {"Statement": [statement(Condition={"ForAllValues:Null": {"aws:TagKeys": "false"}})]},
        SOURCE,
    )

    operator = policy.statements[0].conditions[0].operator
    assert (operator.base, operator.set_operator, operator.supported) == (
        "Null",
        "ForAllValues",
        True,
    )
