"""Sensitive targets (issue 12, item 3): rules by ARN, name pattern and tag mark roles, and every
reach question treats them like administrators: who can reach one, Changes, notifications and
choke points."""

from __future__ import annotations

import pytest
from django.utils import timezone

from identities.analysis import analyse_estate
from identities.analysis.estate import load_estate
from identities.analysis.sensitive import ARN, NAME_GLOB, TAG, SensitiveRule, match_sensitive_roles
from identities.ingest.imports import import_bundle
from identities.models import AccessChange, SensitiveTarget
from identities.notify import build_message, notable_changes
from identities.queries.changes import changes_between
from identities.queries.choke_points import choke_points
from identities.queries.findings import admin_paths
from identities.queries.sensitive import sensitive_paths, sensitive_roles
from tests.bundles import arn, estate_bundle, iam_role, iam_user, trusting

HOME = "222222222222"
DEPLOY, GLASS, PLAIN = (arn(HOME, "role", name) for name in ("deploy", "ops-break-glass", "plain"))
DEV = arn(HOME, "user", "dev")
ASSUME_DEPLOY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": DEPLOY}],
}


def estate() -> dict:
    root = {"AWS": f"arn:aws:iam::{HOME}:root"}
    deploy = iam_role(HOME, "deploy", trusting(root))
    deploy["Tags"] = [{"Key": "env", "Value": "prod"}]
    return {
        HOME: {
            "users": [iam_user(HOME, "dev", inline={"assume-deploy": ASSUME_DEPLOY})],
            "roles": [
                deploy,
                iam_role(HOME, "ops-break-glass", trusting(root)),
                iam_role(HOME, "plain", trusting(root)),
            ],
        }
    }


def add_rule(kind: str, value: str, reason: str = "production") -> None:
    SensitiveTarget.objects.create(kind=kind, value=value, reason=reason, created_at=timezone.now())


@pytest.fixture
def imported(db: None) -> None:
    import_bundle(estate_bundle(estate()), label="estate.json")
    analyse_estate()


@pytest.mark.django_db
def test_rules_by_arn_name_pattern_and_tag_mark_the_roles_they_match(imported):
    roles = load_estate().roles
    rules = [
        SensitiveRule(ARN, PLAIN, "audit"),
        SensitiveRule(NAME_GLOB, "*break-glass*", "emergency"),
        SensitiveRule(TAG, "env=prod", "production"),
        SensitiveRule(TAG, "env=dev"),
    ]

    found = match_sensitive_roles(rules, roles)

    assert {arn: texts for arn, (_, texts) in found.items()} == {
        PLAIN: ("arn " + PLAIN + ": audit",),
        GLASS: ("name_glob *break-glass*: emergency",),
        DEPLOY: ("tag env=prod: production",),
    }


@pytest.mark.django_db
def test_a_tagged_role_that_is_no_administrator_is_reached_like_one(imported):
    before = (list(sensitive_paths()), admin_paths().count())
    add_rule(TAG, "env=prod")

    analyse_estate()

    assert before == ([], 0)
    assert [role.arn for role in sensitive_roles()] == [DEPLOY]
    assert [(p.source, p.target.arn, p.hops, p.path) for p in sensitive_paths()] == [
        (DEV, DEPLOY, 1, [DEV, DEPLOY])
    ]
    assert admin_paths().count() == 0


@pytest.mark.django_db
def test_a_new_path_to_a_sensitive_role_is_a_change_and_a_notification(imported):
    add_rule(TAG, "env=prod")

    analyse_estate()
    changes = changes_between(None, None)
    notable = notable_changes(changes.items, "high")
    message = build_message(changes.to_run, notable)

    assert [
        (i.category, i.source, i.target) for i in changes.of(AccessChange.Category.SENSITIVE_ADDED)
    ] == [(AccessChange.Category.SENSITIVE_ADDED, DEV, DEPLOY)]
    assert [item.source for item in notable] == [DEV]
    assert f"[high] New path to a sensitive role: {DEV} -> {DEPLOY}" in message["text"]


@pytest.mark.django_db
def test_a_rule_removed_is_a_path_gone(imported):
    add_rule(TAG, "env=prod")
    analyse_estate()
    SensitiveTarget.objects.all().delete()

    analyse_estate()

    assert [
        (i.category, i.source)
        for i in changes_between(None, None).of(AccessChange.Category.SENSITIVE_REMOVED)
    ] == [(AccessChange.Category.SENSITIVE_REMOVED, DEV)]
    assert list(sensitive_roles()) == []


@pytest.mark.django_db
def test_choke_points_of_sensitive_roles(imported):
    add_rule(ARN, DEPLOY)
    analyse_estate()

    admin_only = choke_points("admin").points
    sensitive = choke_points("sensitive").points
    both = choke_points("all").points

    assert admin_only == []
    assert [(p.item.label, p.principals) for p in sensitive] == [
        (f"trust statement [0] of {DEPLOY}", [DEV])
    ]
    assert [p.item for p in both] == [p.item for p in sensitive]
