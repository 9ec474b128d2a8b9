from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identities.arns import (
    Arn,
    SourceKind,
    account_of,
    classify_principal,
    classify_source,
    federated_protocol,
    is_account_id,
    is_account_root,
    is_aws_managed_policy,
    outside_kind,
    parse_arn,
    root_arn,
    source_value,
)

ACCOUNT = "123456789012"
PARTITIONS = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"]


@pytest.mark.parametrize("partition", PARTITIONS)
def test_parse_arn_every_partition(partition: str) -> None:
    parsed = parse_arn(f"arn:{partition}:iam::{ACCOUNT}:role/path/deploy")

    assert parsed == Arn(partition, "iam", "", ACCOUNT, "role/path/deploy")


def test_parse_arn_resource_keeps_its_colons_and_slashes() -> None:
    parsed = parse_arn("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x:*")

    assert parsed == Arn("aws", "logs", "eu-west-1", ACCOUNT, "log-group:/aws/lambda/x:*")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "service:ec2.amazonaws.com",
        "arn:aws:iam::123456789012",
        "arn:aws:iam::123456789012:",
        "arn:gcp:iam::123456789012:root",
        "arn:aws:iam::12345:root",
        "arn:aws:IAM::123456789012:root",
        "urn:aws:iam::123456789012:root",
    ],
)
def test_parse_arn_rejects_what_is_not_an_arn(text: str) -> None:
    assert parse_arn(text) is None


def test_parse_arn_accepts_empty_and_aws_managed_accounts() -> None:
    assert parse_arn("arn:aws:s3:::bucket/key") == Arn("aws", "s3", "", "", "bucket/key")
    assert is_aws_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert not is_aws_managed_policy(f"arn:aws:iam::{ACCOUNT}:policy/Mine")


@given(
    partition=st.sampled_from(PARTITIONS),
    service=st.sampled_from(["iam", "sts", "s3", "execute-api"]),
    region=st.sampled_from(["", "us-east-1", "cn-north-1"]),
    account=st.from_regex(r"\A[0-9]{12}\Z"),
    resource=st.text(min_size=1).filter(lambda text: text.strip() == text),
)
def test_parse_arn_round_trips(
    partition: str, service: str, region: str, account: str, resource: str
) -> None:
    text = f"arn:{partition}:{service}:{region}:{account}:{resource}"

    parsed = parse_arn(text)

    assert parsed is not None
    assert str(parsed) == text
    assert parsed.account == account


def test_arn_name_and_resource_type() -> None:
    parsed = parse_arn(f"arn:aws:iam::{ACCOUNT}:user/team/alice")

    assert parsed is not None
    assert (parsed.resource_type, parsed.name) == ("user", "alice")


@pytest.mark.parametrize(
    ("text", "account"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/r/s", ACCOUNT),
        (f"arn:aws:iam::{ACCOUNT}:saml-provider/okta", ACCOUNT),
        (f"arn:aws:s3:eu-west-1:{ACCOUNT}:thing", ""),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", ""),
        (ACCOUNT, ""),
        ("service:ec2.amazonaws.com", ""),
    ],
)
def test_account_of_iam_and_sts_arns_only(text: str, account: str) -> None:
    assert account_of(text) == account


def test_is_account_root() -> None:
    assert is_account_root(root_arn(ACCOUNT))
    assert is_account_root(root_arn(ACCOUNT, "aws-us-gov"))
    assert not is_account_root(f"arn:aws:iam::{ACCOUNT}:user/root")
    assert not is_account_root(f"arn:aws:sts::{ACCOUNT}:root")
    assert not is_account_root(ACCOUNT)


def test_is_account_id() -> None:
    assert is_account_id(ACCOUNT)
    assert not is_account_id("12345678901")
    assert not is_account_id(f"{ACCOUNT}\n")


@pytest.mark.parametrize(
    ("element", "value", "kind"),
    [
        ("*", "*", SourceKind.ANYONE),
        ("AWS", "*", SourceKind.ANYONE),
        ("AWS", ACCOUNT, SourceKind.ACCOUNT),
        ("AWS", f"arn:aws:iam::{ACCOUNT}:root", SourceKind.ACCOUNT),
        ("AWS", f"arn:aws:iam::{ACCOUNT}:user/a/alice", SourceKind.USER),
        ("AWS", f"arn:aws-cn:iam::{ACCOUNT}:role/deploy", SourceKind.ROLE),
        ("AWS", f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s", SourceKind.ASSUMED_ROLE),
        ("AWS", "AROAEXAMPLE12345678", SourceKind.UNIQUE_ID),
        ("AWS", f"arn:aws:iam::{ACCOUNT}:group/devs", SourceKind.OTHER),
        ("AWS", "not an arn", SourceKind.OTHER),
        ("Service", "ec2.amazonaws.com", SourceKind.SERVICE),
        ("Federated", f"arn:aws:iam::{ACCOUNT}:saml-provider/okta", SourceKind.FEDERATED),
        ("Federated", "cognito-identity.amazonaws.com", SourceKind.FEDERATED),
        ("CanonicalUser", "79a59df900b949e55d96a1e698fbaced", SourceKind.CANONICAL_USER),
    ],
)
def test_classify_principal(element: str, value: str, kind: SourceKind) -> None:
    assert classify_principal(element, value) is kind


@pytest.mark.parametrize(
    ("source", "kind", "outside"),
    [
        ("*", SourceKind.ANYONE, SourceKind.ANYONE),
        ("service:ec2.amazonaws.com", SourceKind.SERVICE, SourceKind.SERVICE),
        ("federated:accounts.google.com", SourceKind.FEDERATED, SourceKind.FEDERATED),
        ("group:7", SourceKind.GROUP, SourceKind.GROUP),
        (f"arn:aws:iam::{ACCOUNT}:root", SourceKind.ACCOUNT, SourceKind.ACCOUNT),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", SourceKind.USER, SourceKind.EXTERNAL),
        (f"arn:aws:iam::{ACCOUNT}:role/deploy", SourceKind.ROLE, SourceKind.EXTERNAL),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", SourceKind.ASSUMED_ROLE, SourceKind.EXTERNAL),
    ],
)
def test_classify_source_and_outside_kind(
    source: str, kind: SourceKind, outside: SourceKind
) -> None:
    assert (classify_source(source), outside_kind(source)) == (kind, outside)


def test_source_value_strips_the_prefix() -> None:
    assert source_value("service:ec2.amazonaws.com") == "ec2.amazonaws.com"
    assert source_value("federated:arn:aws:iam::1:oidc-provider/x") == (
        "arn:aws:iam::1:oidc-provider/x"
    )
    assert source_value("*") == "*"


def test_federated_protocol() -> None:
    assert federated_protocol(f"arn:aws:iam::{ACCOUNT}:saml-provider/okta") == "SAML"
    assert federated_protocol(f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions") == "OIDC"
    assert federated_protocol("cognito-identity.amazonaws.com") == "OIDC"
