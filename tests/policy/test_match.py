"""Wildcard, action, ARN and principal matching (IAM JSON policy elements: Action, Resource,
Principal; Condition operators "Amazon Resource Name (ARN)")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identities.policy import (
    Layer,
    NamedPrincipal,
    PolicySource,
    Principal,
    PrincipalKind,
    PrincipalMatch,
    glob_match,
    match_action,
    match_arn,
    match_resource,
    parse_policy,
    principals_named_in,
    statement_allows_action,
    trust_principal_matches,
)

TEXT = st.text(alphabet=st.characters(codec="ascii", exclude_characters="*?"), max_size=30)
SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/", max_size=12)
IAM_1, IAM_2, IAM_3 = (f"arn:aws:iam::{digit * 12}" for digit in "123")


@given(TEXT)
def test_glob_match_pattern_equal_to_string_matches(text: str) -> None:
    assert glob_match(text, text) is True


@given(st.text(max_size=40))
def test_glob_match_star_matches_everything(text: str) -> None:
    assert glob_match("*", text) is True


@given(TEXT, st.data())
def test_glob_match_slice_replaced_by_star_matches(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))

    assert glob_match(text[:start] + "*" + text[end:], text) is True


@given(TEXT, st.data())
def test_glob_match_question_mark_replaces_one_character(text: str, data: st.DataObject) -> None:
    if not text:
        return
    position = data.draw(st.integers(0, len(text) - 1))

    assert glob_match(text[:position] + "?" + text[position + 1 :], text) is True


@given(st.text(alphabet="abcdefgh:", min_size=1, max_size=20))
def test_match_action_case_insensitive(action: str) -> None:
    assert (
        match_action(action.upper(), action.lower()),
        match_action(action.lower(), action.swapcase()),
    ) == (
        True,
        True,
    )


@given(st.lists(SEGMENT, min_size=5, max_size=5), SEGMENT)
def test_match_arn_equal_matches(segments: list[str], resource: str) -> None:
    arn = "arn:" + ":".join(segments[1:]) + ":" + resource

    assert match_arn(arn, arn) is True


@given(st.lists(SEGMENT, min_size=6, max_size=6), st.integers(1, 4), SEGMENT)
def test_match_arn_star_never_crosses_segments(parts: list[str], index: int, extra: str) -> None:
    # A `*` standing for segment `index` may not swallow a colon: the value's segments shift and
    # the literal resource part (which has no colon) can no longer match, although a plain glob
    # over the whole string would.
    pattern_parts = ["arn", *parts[1:]]
    pattern_parts[index] = "*"
    value_parts = ["arn", *parts[1:]]
    value_parts[index] = "x:" + extra
    pattern, value = ":".join(pattern_parts), ":".join(value_parts)

    assert (match_arn(pattern, value), glob_match(pattern, value)) == (False, True)


@given(st.lists(SEGMENT, min_size=6, max_size=6), st.integers(1, 5))
def test_match_arn_star_matches_any_single_segment(parts: list[str], index: int) -> None:
    pattern_parts = ["arn", *parts[1:]]
    pattern_parts[index] = "*"

    assert match_arn(":".join(pattern_parts), ":".join(["arn", *parts[1:]])) is True


def test_match_arn_resource_part_may_contain_colons() -> None:
    assert match_arn(
        "arn:aws:logs:*:*:log-group:app:*",
        "arn:aws:logs:eu-west-1:111111111111:log-group:app:log-stream:x",
    )


def test_match_arn_wildcard_in_account_segment_does_not_reach_resource() -> None:
    assert match_arn("arn:aws:iam::*", "arn:aws:iam::111111111111:role/x") is True
    assert match_arn("arn:aws:iam::*:role", "arn:aws:iam::111111111111:role/x") is False


def test_match_arn_case_sensitive() -> None:
    assert match_arn("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x") is False


def test_match_arn_question_mark_one_character() -> None:
    assert (
        match_arn("arn:aws:iam::11111111111?:role/x", "arn:aws:iam::111111111112:role/x"),
        match_arn("arn:aws:iam::1111111111?:role/x", "arn:aws:iam::111111111112:role/x"),
    ) == (True, False)


TRUST = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": [
                        "arn:aws:iam::111111111111:user/alice",
                        "222222222222",
                        "arn:aws:iam::333333333333:root",
                    ],
                    "Service": "ec2.amazonaws.com",
                },
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::111111111111:saml-provider/okta"},
                "Action": "sts:AssumeRoleWithSAML",
            },
            {"Effect": "Allow", "Principal": "*", "Action": "sts:TagSession"},
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
                "Action": "sts:AssumeRole",
            },
        ],
    },
    PolicySource(Layer.TRUST, "r", "arn:aws:iam::111111111111:role/r"),
)


def test_principals_named_in_indexes_allow_statements_for_action() -> None:
    named = principals_named_in(TRUST)

    assert {name: [s.index for s in statements] for name, statements in named.items()} == {
        NamedPrincipal(
            PrincipalKind.AWS, "arn:aws:iam::111111111111:user/alice", account_id="111111111111"
        ): [0],
        NamedPrincipal(
            PrincipalKind.AWS,
            "arn:aws:iam::222222222222:root",
            account_id="222222222222",
            is_account=True,
        ): [0],
        NamedPrincipal(
            PrincipalKind.AWS,
            "arn:aws:iam::333333333333:root",
            account_id="333333333333",
            is_account=True,
        ): [0],
        NamedPrincipal(PrincipalKind.SERVICE, "ec2.amazonaws.com"): [0],
    }


def test_principals_named_in_all_actions() -> None:
    named = principals_named_in(TRUST, action=None)

    assert sorted(name.value for name in named) == [
        "*",
        "arn:aws:iam::111111111111:saml-provider/okta",
        "arn:aws:iam::111111111111:user/alice",
        "arn:aws:iam::222222222222:root",
        "arn:aws:iam::333333333333:root",
        "ec2.amazonaws.com",
    ]


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        pytest.param(Principal.aws(f"{IAM_1}:user/alice"), PrincipalMatch.EXACT, id="user-arn"),
        pytest.param(Principal.aws(f"{IAM_1}:user/bob"), PrincipalMatch.NONE, id="other-user"),
        pytest.param(Principal.aws(f"{IAM_2}:role/x"), PrincipalMatch.ACCOUNT, id="bare-account"),
        pytest.param(Principal.aws(f"{IAM_3}:user/y"), PrincipalMatch.ACCOUNT, id="account-root"),
        pytest.param(Principal.service("ec2.amazonaws.com"), PrincipalMatch.EXACT, id="service"),
        pytest.param(
            Principal.service("lambda.amazonaws.com"), PrincipalMatch.NONE, id="other-service"
        ),
    ],
)
def test_trust_principal_matches_kinds(principal: Principal, expected: PrincipalMatch) -> None:
    assert trust_principal_matches(TRUST.statements[0], principal) is expected


def test_trust_principal_matches_role_arn_for_role_session() -> None:
    policy = parse_policy(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:role/ci"},
                "Action": "sts:AssumeRole",
            }
        },
        PolicySource(Layer.TRUST, "t"),
    )
    principal = Principal.aws(
        "arn:aws:iam::111111111111:role/ci",
        session_arn="arn:aws:sts::111111111111:assumed-role/ci/s",
    )

    assert trust_principal_matches(policy.statements[0], principal) is PrincipalMatch.ROLE


def test_statement_allows_action_only_for_allow() -> None:
    assert [statement_allows_action(s, "STS:assumerole") for s in TRUST.statements] == [
        True,
        False,
        False,
        False,
    ]


# Resource element page, "Using wildcards in resource ARNs": "If the * wildcard is the last
# character of a resource ARN segment, it can expand to match beyond the colon boundaries."
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        pytest.param(
            "arn:aws:lambda:*:function:foo",
            "arn:aws:lambda:us-east-1:111122223333:function:foo",
            True,
            id="resource/segment-final-star-spans-region-and-account",
        ),
        pytest.param(
            "arn:aws:iam::*:role/deploy",
            "arn:aws:iam::111122223333:role/deploy",
            True,
            id="resource/star-account",
        ),
        pytest.param(
            "arn:aws:lambda:us-*1:*:function:foo",
            "arn:aws:lambda:us-east-1:111122223333:function:foo",
            True,
            id="resource/prefix-star-ends-segment",
        ),
        pytest.param(
            "arn:aws:lambda:u*1:111122223333:function:foo",
            "arn:aws:lambda:us:x1:111122223333:function:foo",
            False,
            id="resource/inner-star-stays-in-segment",
        ),
        pytest.param(
            "arn:aws:lambda:*:function:bar",
            "arn:aws:lambda:us-east-1:111122223333:function:foo",
            False,
            id="resource/rest-must-still-match",
        ),
    ],
)
def test_match_resource_star_ending_segment_crosses_colons(
    pattern: str, arn: str, expected: bool
) -> None:
    assert match_resource(pattern, arn) is expected


def test_match_arn_condition_operator_stays_segment_confined() -> None:
    # Condition operators page, ARN operators: each segment is matched on its own.
    assert (
        match_arn(
            "arn:aws:lambda:*:function:foo", "arn:aws:lambda:us-east-1:111122223333:function:foo"
        )
        is False
    )
