"""The iam-vulnerable fixture estate (tests/data/iam_vulnerable.py): every one of the 31 paths
is found, the tool-testing false negatives are flagged, the false positives are not, and
nothing else is."""

from __future__ import annotations

from collections import defaultdict

import pytest

from identities.analysis import analyse_estate
from identities.analysis.escalation_methods import METHODS
from identities.ingest.imports import import_bundle
from identities.queries.escalations import iter_escalations
from identities.queries.findings import admin_paths, administrators
from tests.data import iam_vulnerable as iv


@pytest.fixture
def iam_vulnerable(db: None) -> dict[str, set[str]]:
    import_bundle(iv.bundle(), label="iam-vulnerable.json")
    analyse_estate()
    flagged: dict[str, set[str]] = defaultdict(set)
    for escalation in iter_escalations():
        flagged[escalation.principal.rsplit("/", 1)[-1]].add(escalation.method)
    return dict(flagged)


def test_every_principal_is_flagged_with_exactly_its_paths(iam_vulnerable):
    assert iam_vulnerable == iv.EXPECTED


def test_every_path_of_the_table_is_found(iam_vulnerable):
    found = {method for methods in iam_vulnerable.values() for method in methods}
    # STS-AssumeRole is the access edges: the starting role reaches the administrator.
    chains = {path.source: path.path for path in admin_paths()}
    starting = iv.arn("role", "privesc-AssumeRole-starting-role")
    if chains.get(starting) == [
        starting,
        iv.arn("role", "privesc-AssumeRole-intermediate-role"),
        iv.arn("role", "privesc-AssumeRole-ending-role"),
    ]:
        found.add("STS-AssumeRole")

    assert len(iv.PATHS) == 31
    assert sorted(set(iv.PATHS) - found) == []
    assert {m.id for m in METHODS} >= set(iv.PATHS)


def test_passing_the_administrator_role_reaches_an_administrator_without_being_one(
    iam_vulnerable,
):
    lambda_user = iv.arn("user", "privesc-lambda-passexistingroletonewlambdatheninvoke-user")
    service_role = iv.arn("role", "privesc-high-priv-service-role")

    paths = {path.source: (path.path, path.hops) for path in admin_paths()}
    admins = {admin.arn for admin in administrators()}

    assert lambda_user not in admins
    assert service_role in admins
    assert paths[lambda_user] == ([lambda_user, service_role], 1)


def test_credential_methods_target_every_other_user(iam_vulnerable):
    key_maker = iv.arn("user", "privesc-iam-createaccesskey-user")

    targets = [
        e.target for e in iter_escalations(principal=key_maker) if e.method == "IAM-CreateAccessKey"
    ]

    assert key_maker not in targets
    assert iv.arn("user", "privesc-sre-user") in targets
    assert (
        len(targets)
        == len(iv.bundle()["accounts"][0]["authorization_details"]["UserDetailList"]) - 1
    )
