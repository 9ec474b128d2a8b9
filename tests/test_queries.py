"""The read side: trust-principal extraction (pure) and its resolution against the estate."""

from __future__ import annotations

import pytest

from identities.queries import (
    TrustPrincipal,
    extract_trust_principals,
    resolve_trust_principals,
)
from tests.factories import AccountFactory, IamRoleFactory, IamUserFactory


def _kinds(document) -> list[tuple[str, str, str, str]]:
    return [(p.kind, p.value, p.category, p.account_id) for p in extract_trust_principals(document)]


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", [("*", "*", "anyone", "")]),
        ({"AWS": "*"}, [("AWS", "*", "anyone", "")]),
        ({"AWS": "123456789012"}, [("AWS", "123456789012", "account", "123456789012")]),
        (
            {"AWS": "arn:aws:iam::123456789012:root"},
            [("AWS", "arn:aws:iam::123456789012:root", "account", "123456789012")],
        ),
        (
            {"AWS": ["arn:aws:iam::1234567890ab:user/x", "arn:aws-cn:iam::123456789012:role/a/b"]},
            [
                ("AWS", "arn:aws:iam::1234567890ab:user/x", "other", ""),
                ("AWS", "arn:aws-cn:iam::123456789012:role/a/b", "role", "123456789012"),
            ],
        ),
        (
            {"AWS": "arn:aws:sts::123456789012:assumed-role/Admin/alice"},
            [("AWS", "arn:aws:sts::123456789012:assumed-role/Admin/alice", "assumed-role",
              "123456789012")],
        ),
        ({"AWS": "AROAEXAMPLEID12345678"}, [("AWS", "AROAEXAMPLEID12345678", "unique-id", "")]),
        (
            {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
            [
                ("Service", "ec2.amazonaws.com", "service", ""),
                ("Service", "lambda.amazonaws.com", "service", ""),
            ],
        ),
        (
            {"Federated": "arn:aws:iam::123456789012:saml-provider/Okta"},
            [("Federated", "arn:aws:iam::123456789012:saml-provider/Okta", "provider",
              "123456789012")],
        ),
        ({"Federated": "cognito-identity.amazonaws.com"},
         [("Federated", "cognito-identity.amazonaws.com", "web-identity", "")]),
        ({"CanonicalUser": "79a59df9"}, [("CanonicalUser", "79a59df9", "canonical-user", "")]),
    ],
)  # fmt: skip
def test_extract_trust_principals_classifies_each_form(principal, expected):
    document = {
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
    }

    assert _kinds(document) == expected


def test_extract_trust_principals_keeps_statement_context():
    document = {
        "Statement": {
            "Sid": "Ci",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/ci"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": "x"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    }  # fmt: skip

    assert extract_trust_principals(document) == [
        TrustPrincipal(
            statement=0,
            sid="Ci",
            effect="Allow",
            negated=False,
            kind="AWS",
            value="arn:aws:iam::123456789012:user/ci",
            category="user",
            account_id="123456789012",
            actions=("sts:AssumeRole", "sts:TagSession"),
            not_action=False,
            conditions=("StringEquals sts:ExternalId", "Bool aws:MultiFactorAuthPresent"),
        )
    ]


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
def test_extract_trust_principals_marks_not_principal():
    document = {
        "Statement": [
            {"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "NotAction": "sts:*"}
        ]
    }

    [principal] = extract_trust_principals(document)

    assert (principal.negated, principal.effect, principal.not_action, principal.actions) == (
        True,
        "Deny",
        True,
        ("sts:*",),
    )


@pytest.mark.parametrize(
    "document", [None, "not a dict", {}, {"Statement": []}, {"Statement": ["x"]}]
)
def test_extract_trust_principals_tolerates_empty_documents(document):
    assert extract_trust_principals(document) == []


def test_resolve_trust_principals_links_estate_members(db, django_assert_num_queries):
    account = AccountFactory(account_id="123456789012", name="prod")
    IamUserFactory(account=account, name="ci")
    IamRoleFactory(account=account, name="Admin", path="/ops/")
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": [
                        "arn:aws:iam::123456789012:user/ci",
                        "arn:aws:iam::123456789012:root",
                        "arn:aws:sts::123456789012:assumed-role/Admin/s",
                        "arn:aws:iam::123456789012:user/gone",
                        "arn:aws:iam::999999999999:root",
                    ],
                    "Service": "ec2.amazonaws.com",
                },
            }
        ]
    }

    with django_assert_num_queries(4):
        resolved = resolve_trust_principals(extract_trust_principals(document))

    assert [(r.url, r.label) for r in resolved] == [
        ("/accounts/123456789012/users/ci/", "ci"),
        ("/accounts/123456789012/", "prod"),
        ("/accounts/123456789012/roles/Admin/", "Admin"),
        ("", ""),
        ("", ""),
        ("", ""),
    ]
