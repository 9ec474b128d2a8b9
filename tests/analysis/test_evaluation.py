"""Condition keys the stored estate answers (issue 9, item 6), evaluated without a database.

IAM User Guide, "AWS global condition context keys": aws:PrincipalOrgID, aws:PrincipalOrgPaths,
aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username, aws:ResourceAccount,
aws:ResourceOrgID are answered for callers inside the synced estate; outside callers keep them
unknown. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

from identities.analysis.estate import AccountInfo, Actor, Doc
from identities.analysis.evaluation import Evaluator
from identities.analysis.subjects import (
    Target,
    anyone_subject,
    group_subject,
    member_subject,
    outsider_subject,
)
from identities.policy import Layer, Outcome, PolicySource, parse_policy
from tests.bundles import trust_policy

ORG = "o-acme7x2k9q"
DEV = AccountInfo(
    1,
    "333333333333",
    "dev",
    False,
    True,
    org_levels=("r-ac3e", "ou-dev", "333333333333"),
    org_id=ORG,
)
SEC = AccountInfo(
    2,
    "222222222222",
    "sec",
    False,
    True,
    org_levels=("r-ac3e", "ou-sec", "222222222222"),
    org_id=ORG,
)
LONE = AccountInfo(3, "555555555555", "lone", False, False)


def trust_doc(condition: dict[str, dict[str, str]]) -> Doc:
    source = PolicySource(Layer.TRUST, "inventory", "arn:aws:iam::222222222222:role/inventory")
    document = trust_policy({"AWS": "*"}, Condition=condition)
    return Doc("trust", "inventory", source.label, parse_policy(document, source))


def role(account: AccountInfo, name: str, trust: Doc | None = None) -> Actor:
    return Actor(
        kind="role",
        pk=len(name),
        arn=f"arn:aws:iam::{account.account_id}:role/{name}",
        name=name,
        path="/",
        account=account,
        docs=[],
        boundary=None,
        boundary_arn="",
        tags={},
        trust=trust,
    )


def user(account: AccountInfo, name: str) -> Actor:
    actor = role(account, name)
    actor.kind, actor.arn = "user", f"arn:aws:iam::{account.account_id}:user/{name}"
    actor.unique_id = "AIDAEXAMPLEUSERID0001"
    return actor


ASSUME_ANY = parse_policy(
    {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]},
    PolicySource(Layer.IDENTITY, "assume-any"),
).statements


def outcome(
    subject_account: AccountInfo, condition: dict[str, dict[str, str]]
) -> tuple[Outcome, tuple[str, ...]]:
    target = Target(role(SEC, "inventory", trust_doc(condition)))
    subject = group_subject(subject_account, "user", False, ASSUME_ANY, None, None)
    verdict = Evaluator().verdict(subject, target, "sts:AssumeRole")
    return verdict.outcome, verdict.condition_keys


def test_principal_org_id_answered_for_groups_of_the_organisation() -> None:
    assert outcome(DEV, {"StringEquals": {"aws:PrincipalOrgID": ORG}}) == (Outcome.ALLOW, ())


def test_principal_org_id_absent_outside_any_organisation() -> None:
    assert outcome(LONE, {"StringEquals": {"aws:PrincipalOrgID": ORG}}) == (
        Outcome.IMPLICIT_DENY,
        (),
    )


def test_principal_org_paths_answered_from_the_stored_ous() -> None:
    condition = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/r-ac3e/ou-dev/*"}}

    assert (outcome(DEV, condition), outcome(SEC, condition)) == (
        (Outcome.ALLOW, ()),
        (Outcome.IMPLICIT_DENY, ()),
    )


def test_principal_type_and_resource_org_id_answered() -> None:
    assert outcome(
        DEV,
        {
            "StringEquals": {
                "aws:PrincipalType": "User",
                "aws:ResourceOrgID": ORG,
                "aws:ResourceAccount": "222222222222",
            }
        },
    ) == (Outcome.ALLOW, ())


def test_org_id_unknown_when_the_estate_does_not_store_it() -> None:
    unstored = AccountInfo(
        4, "444444444444", "prod", False, True, org_levels=("r-ac3e", "444444444444")
    )

    assert outcome(unstored, {"StringEquals": {"aws:PrincipalOrgID": ORG}}) == (
        Outcome.CONDITIONAL_ALLOW,
        ("aws:PrincipalOrgID",),
    )


def test_member_answers_userid_username_and_type() -> None:
    alice = user(DEV, "alice")
    subject = member_subject(alice, ASSUME_ANY, None)

    assert {
        key: subject.lookup(key) for key in ("aws:userid", "aws:username", "aws:principaltype")
    } == {
        "aws:userid": (True, ("AIDAEXAMPLEUSERID0001",)),
        "aws:username": (True, ("alice",)),
        "aws:principaltype": (True, ("User",)),
    }


def test_role_session_type_is_assumed_role_and_userid_unknown() -> None:
    subject = member_subject(role(DEV, "ops"), ASSUME_ANY, None)

    assert (subject.lookup("aws:principaltype"), subject.lookup("aws:userid")) == (
        (True, ("AssumedRole",)),
        (False, None),
    )


def test_outside_callers_keep_org_keys_unknown() -> None:
    for subject in (anyone_subject(), outsider_subject("arn:aws:iam::999999999999:root")):
        assert subject.lookup("aws:principalorgid") == (False, None)
