"""The read side: the trust principals of the role page (read by the policy engine, pure) and
their resolution against the estate."""

from __future__ import annotations

import pytest

from identities.policy.document import PolicyParseError
from identities.queries.trust import (
    TrustPrincipal,
    resolve_trust_principals,
    role_trust_context,
    trust_principals,
)
from tests.factories import AccountFactory, IamRoleFactory, IamUserFactory


def _kinds(document) -> list[tuple[str, str, str, str]]:
    return [(p.kind, p.value, p.category, p.account_id) for p in trust_principals(document)]


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", [("AWS", "*", "anyone", "")]),
        ({"AWS": "*"}, [("AWS", "*", "anyone", "")]),
        ({"AWS": "123456789012"}, [("AWS", "123456789012", "account", "123456789012")]),
        ({"AWS": "arn:aws:iam::123456789012:root"}, [("AWS", "arn:aws:iam::123456789012:root", "account", "123456789012")]),
        ({"AWS": ["arn:aws:iam::1234567890ab:user/x", "arn:aws-cn:iam::123456789012:role/a/b"]}, [("AWS", "arn:aws:iam::1234567890ab:user/x", "other", ""), ("AWS", "arn:aws-cn:iam::123456789012:role/a/b", "role", "123456789012")]),
        ({"AWS": "arn:aws:sts::123456789012:assumed-role/Admin/alice"}, [("AWS", "arn:aws:sts::123456789012:assumed-role/Admin/alice", "assumed-role", "123456789012")]),
        ({"AWS": "AROAEXAMPLEID12345678"}, [("AWS", "AROAEXAMPLEID12345678", "unique-id", "")]),
        ({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}, [("Service", "ec2.amazonaws.com", "service", ""), ("Service", "lambda.amazonaws.com", "service", "")]),
        ({"Federated": "arn:aws:iam::123456789012:saml-provider/Okta"}, [("Federated", "arn:aws:iam::123456789012:saml-provider/Okta", "provider", "123456789012")]),
        ({"Federated": "cognito-identity.amazonaws.com"}, [("Federated", "cognito-identity.amazonaws.com", "web-identity", "")]),
        ({"CanonicalUser": "79a59df9"}, [("CanonicalUser", "79a59df9", "canonical-user", "")]),
    ],
)  # fmt: skip
def test_trust_principals_classifies_each_form(principal, expected):
    document = {
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
    }

    assert _kinds(document) == expected


def test_trust_principals_keep_statement_context():
    document = {
        "Statement": {
            "Sid": "Ci",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/ci"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": "x"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    }  # fmt: skip

    assert trust_principals(document) == [
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
def test_trust_principals_mark_not_principal():
    document = {
        "Statement": [
            {"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "NotAction": "sts:*"}
        ]
    }

    [principal] = trust_principals(document)

    assert (principal.negated, principal.effect, principal.not_action, principal.actions) == (
        True,
        "Deny",
        True,
        ("sts:*",),
    )


def test_trust_principals_of_an_empty_statement_list():
    assert trust_principals({"Statement": []}) == []


@pytest.mark.parametrize("document", [None, "not a dict", {}, {"Statement": ["x"]}])
def test_trust_principals_reject_what_the_engine_rejects(document):
    with pytest.raises(PolicyParseError):
        trust_principals(document)


def test_trust_principals_read_the_principal_as_the_engine_does():
    """Principal type keys are case-insensitive for the engine, which a second parser missed:
    it listed `{"aws": ...}` as an unknown kind `aws` that names nobody."""
    document = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"aws": "123456789012"}, "Action": "sts:AssumeRole"}
        ]
    }

    assert _kinds(document) == [("AWS", "123456789012", "account", "123456789012")]


def test_role_page_says_why_an_unparsable_trust_policy_lists_nobody(db):
    role = IamRoleFactory(
        trust_policy={"Statement": [{"Effect": "allow", "Principal": "*", "Action": "sts:*"}]}
    )

    context = role_trust_context(role)

    assert context["principals"] == []
    assert context["trust_error"].startswith("Statement[0].Effect: must be")


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
                "Action": "sts:AssumeRole",
            }
        ]
    }

    with django_assert_num_queries(4):
        resolved = resolve_trust_principals(trust_principals(document))

    assert [(r.url, r.label) for r in resolved] == [
        ("/accounts/123456789012/users/ci/", "ci"),
        ("/accounts/123456789012/", "prod"),
        ("/accounts/123456789012/roles/Admin/", "Admin"),
        ("", ""),
        ("", ""),
        ("", ""),
    ]
