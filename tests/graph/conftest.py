"""A small estate where a member's own refused edge replaces its access group's edge."""

from __future__ import annotations

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from tests.bundles import ASSUME_ANY, arn, estate_bundle, iam_role, iam_user, trusting

SOLO = "555555555555"


def solo_arn(kind: str, name: str) -> str:
    return arn(SOLO, kind, name)


def _user(name: str) -> dict:
    return iam_user(SOLO, name, inline={"assume-anything": ASSUME_ANY})


@pytest.fixture
def denied_member_estate(db):
    """alice and bob share an access group (the same inline policy); ``deploy`` trusts the
    account root but denies alice by ARN, so only bob can assume it; both can assume ``audit``."""
    root = {"AWS": f"arn:aws:iam::{SOLO}:root"}
    deny_alice = {
        "Effect": "Deny",
        "Principal": {"AWS": solo_arn("user", "alice")},
        "Action": "sts:AssumeRole",
    }
    bundle = estate_bundle(
        {
            SOLO: {
                "users": [_user("alice"), _user("bob")],
                "roles": [
                    iam_role(SOLO, "deploy", [*trusting(root), deny_alice]),
                    iam_role(SOLO, "audit", trusting(root)),
                ],
            }
        },
        names={SOLO: "solo"},
    )
    import_bundle(bundle, label="solo.json")
    return analyse_estate()


def node_ids(data: dict) -> list[str]:
    """The ids of a view's nodes, boxes and column headers left out."""
    return sorted(node["id"] for node in data["nodes"] if node["kind"] not in {"box", "column"})


def edge_tuples(data: dict) -> list[tuple[str, str, str, str]]:
    """A view's edges as sorted (source, target, kind, outcome)."""
    return sorted(
        (edge["source"], edge["target"], edge["kind"], edge.get("outcome", ""))
        for edge in data["edges"]
    )


def labels(data: dict) -> dict[str, str]:
    return {node["id"]: node["label"] for node in data["nodes"]}
