"""The path finder on the sample organisation: exact chains, the hop behind each, filters."""

from __future__ import annotations

import pytest

from identities.graph.build import GraphError
from identities.graph.paths import find_paths

DEV, PROD, MGMT, SEC = "333333333333", "444444444444", "111111111111", "222222222222"


def test_paths_alice_to_break_glass_three_hops_explained(imported_sample):
    data = find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    [path] = data["paths"]
    hops = [(h["source"], h["target"], h["outcome"], h["conditions"]) for h in path["hops"]]
    assert hops == [
        (f"user:{DEV}:alice", f"role:{DEV}:dev-ops", "conditional", ["aws:MultiFactorAuthPresent"]),
        (f"role:{DEV}:dev-ops", f"role:{PROD}:prod-ops", "allow", []),
        (f"role:{PROD}:prod-ops", f"role:{PROD}:prod-break-glass", "allow", []),
    ]
    assert path["hops"][0]["granted_by"] == [
        "statement 'AliceWithMFA' (Statement[0]) of trust policy dev-ops "
        f"(arn:aws:iam::{DEV}:role/dev-ops)"
    ]
    assert data["highlight"] == sorted(
        [
            f"user:{DEV}:alice",
            f"role:{DEV}:dev-ops",
            f"role:{PROD}:prod-ops",
            f"role:{PROD}:prod-break-glass",
            f"user:{DEV}:alice|assume|conditional|role:{DEV}:dev-ops",
            f"role:{DEV}:dev-ops|assume|allow|role:{PROD}:prod-ops",
            f"role:{PROD}:prod-ops|assume|allow|role:{PROD}:prod-break-glass",
        ]
    )
    assert {e["id"] for e in data["edges"]} <= set(data["highlight"])


def test_paths_ci_user_reaches_deploy_but_not_the_chain_end(imported_sample):
    to_deploy = find_paths(source=f"user:{DEV}:ci-deploy", target=f"role:{PROD}:deploy")
    to_glass = find_paths(
        source=f"user:{DEV}:ci-deploy", target=f"role:{PROD}:prod-break-glass", max_length=6
    )

    [path] = to_deploy["paths"]
    assert [(h["action"], h["conditions"]) for h in path["hops"]] == [
        ("sts:AssumeRole", ["sts:ExternalId"])
    ]
    assert to_glass["paths"] == []
    assert to_glass["highlight"] == []


def test_paths_without_conditions_excludes_the_mfa_hop(imported_sample):
    data = find_paths(
        source=f"user:{DEV}:alice",
        target=f"role:{PROD}:prod-break-glass",
        conditional="none",
        mode="all",
    )

    assert data["paths"] == []


def test_paths_through_an_access_group(imported_sample):
    data = find_paths(
        source=f"user:{MGMT}:carol", target=f"role:{PROD}:OrganizationAccountAccessRole"
    )

    [path] = data["paths"]
    [hop] = path["hops"]
    assert hop["via_group"] == "users of acme-management with AdministratorAccess"
    assert hop["outcome"] == "allow"


def test_paths_length_limit_cuts_long_chains(imported_sample):
    data = find_paths(
        source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass", max_length=2
    )

    assert data["paths"] == []


def test_paths_are_deterministic_and_laid_out_left_to_right(imported_sample):
    first = find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")
    second = find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")

    assert first == second
    x = {n["id"]: n["x"] for n in first["nodes"] if n["kind"] != "box"}
    assert [x[h["source"]] for h in first["paths"][0]["hops"]] == [0, 320, 640]


def test_paths_unknown_source_raises(imported_sample):
    with pytest.raises(GraphError):
        find_paths(source=f"user:{DEV}:nobody", target=f"role:{PROD}:deploy")
