"""Malformed imports (issue 14 items 2, 6 and 7): each is refused with a BundleError naming the
file, the JSON path and the problem, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from identities.bundle import BundleError
from identities.ingest.imports import import_files
from identities.models import SyncRun
from identities.sample import SAMPLE_BUNDLE_PATH
from tests.ingest.test_imports import snapshot

pytestmark = pytest.mark.django_db

AT = "$.accounts[2].authorization_details"  # account 333333333333 of the sample


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE_BUNDLE_PATH.read_text())
    return loaded


def details(bundle: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = bundle["accounts"][2]["authorization_details"]
    return found


def role(bundle: dict[str, Any], index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = details(bundle)["RoleDetailList"][index]
    return found


def principals_trust(count: int) -> dict[str, Any]:
    accounts = [f"{100000000000 + number}" for number in range(count)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": accounts}, "Action": "sts:AssumeRole"}
        ],
    }


def deep_condition(depth: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": value}
        ],
    }


def big_policy(characters: int) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x" * characters}],
    }


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Any:
    return lambda bundle: path(bundle).update(values)


def _policy(index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda bundle: details(bundle)["Policies"][index]


def _user(index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda bundle: details(bundle)["UserDetailList"][index]


def _duplicate_id(list_name: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(bundle: dict[str, Any]) -> None:
        entries = details(bundle)[list_name]
        entries[1][key] = entries[0][key]

    return mutate


CASES = [
    pytest.param(
        _set(_user(0), CreateDate="2020-01-20T15:05:44"),
        f"{AT}.UserDetailList[0].CreateDate",
        "a time needs a timezone",
        id="timestamp-without-timezone",
    ),
    pytest.param(
        _set(lambda b: role(b), AssumeRolePolicyDocument=deep_condition(300)),
        f"{AT}.RoleDetailList[0].AssumeRolePolicyDocument",
        "nested deeper than",
        id="300-deep-condition",
    ),
    pytest.param(
        _set(_policy(0), AttachmentCount="abc"),
        f"{AT}.Policies[0].AttachmentCount",
        "must be a whole number",
        id="attachment-count-abc",
    ),
    pytest.param(
        _set(_policy(0), IsAttachable=None),
        f"{AT}.Policies[0].IsAttachable",
        "must be true or false, found null",
        id="is-attachable-null",
    ),
    pytest.param(
        lambda b: _user(0)(b)["AttachedManagedPolicies"][0].update(PolicyArn="x"),
        f"{AT}.UserDetailList[0].AttachedManagedPolicies[0].PolicyArn",
        "not an IAM policy ARN",
        id="policy-arn-x",
    ),
    pytest.param(
        _duplicate_id("RoleDetailList", "RoleId"),
        f"{AT}.RoleDetailList[1].RoleId",
        "role id",
        id="duplicate-role-id",
    ),
    pytest.param(
        _duplicate_id("UserDetailList", "UserId"),
        f"{AT}.UserDetailList[1].UserId",
        "user id",
        id="duplicate-user-id",
    ),
    pytest.param(
        lambda b: details(b)["GroupDetailList"].append(
            {
                **details(b)["GroupDetailList"][0],
                "GroupName": "twin",
                "Arn": "arn:aws:iam::333333333333:group/twin",
            }
        ),
        f"{AT}.GroupDetailList[1].GroupId",
        "group id",
        id="duplicate-group-id",
    ),
    pytest.param(
        _duplicate_id("Policies", "PolicyId"),
        f"{AT}.Policies[1].PolicyId",
        "policy id",
        id="duplicate-policy-id",
    ),
    pytest.param(
        _set(lambda b: role(b), AssumeRolePolicyDocument=principals_trust(10_000)),
        f"{AT}.RoleDetailList[0].AssumeRolePolicyDocument",
        "AWS's quota is 8192",
        id="trust-policy-10k-principals",
    ),
    pytest.param(
        lambda b: _policy(0)(b)["PolicyVersionList"][0].update(Document=big_policy(6200)),
        f"{AT}.Policies[0].PolicyVersionList[0].Document",
        "AWS's quota is 6144",
        id="managed-policy-over-quota",
    ),
    pytest.param(
        lambda b: role(b, 2)["RolePolicyList"].extend(
            {"PolicyName": f"extra-{n}", "PolicyDocument": big_policy(3000)} for n in range(4)
        ),
        f"{AT}.RoleDetailList[2].RolePolicyList",
        "AWS's quota is 10240",
        id="inline-total-over-quota",
    ),
    pytest.param(
        _set(_user(0), UserName="ci/deploy", Arn="arn:aws:iam::333333333333:user/ci/deploy"),
        f"{AT}.UserDetailList[0].UserName",
        "a user name holds only",
        id="slash-in-name",
    ),
    pytest.param(
        _set(lambda b: role(b), RoleName="OrganizationAccessRole\n"),
        f"{AT}.RoleDetailList[0].RoleName",
        "a role name holds only",
        id="newline-in-name",
    ),
    pytest.param(
        _set(lambda b: role(b), RoleName='a"b'),
        f"{AT}.RoleDetailList[0].RoleName",
        "a role name holds only",
        id="quote-in-name",
    ),
    pytest.param(
        _set(lambda b: role(b), RoleName="r" * 65),
        f"{AT}.RoleDetailList[0].RoleName",
        "at most 64 characters",
        id="role-name-too-long",
    ),
    pytest.param(
        _set(_user(0), Path="/no-end"),
        f"{AT}.UserDetailList[0].Path",
        "a path is / or /…/",
        id="bad-path",
    ),
    pytest.param(
        _set(_user(0), UserId="AIDA-not/an id"),
        f"{AT}.UserDetailList[0].UserId",
        "a unique id is",
        id="bad-unique-id",
    ),
    pytest.param(
        _set(_user(0), Arn="arn:aws:iam::333333333333:user/somebody-else"),
        f"{AT}.UserDetailList[0].Arn",
        "the ARN does not name 'ci-deploy'",
        id="arn-names-another-user",
    ),
    pytest.param(
        _set(lambda b: role(b), MaxSessionDuration=10**30),
        f"{AT}.RoleDetailList[0].MaxSessionDuration",
        "from 3600 to 43200",
        id="session-duration-huge",
    ),
    pytest.param(
        _set(lambda b: role(b), RoleLastUsed=["2024"]),
        f"{AT}.RoleDetailList[0].RoleLastUsed",
        "must be an object",
        id="role-last-used-list",
    ),
    pytest.param(
        lambda b: _user(0)(b)["Tags"][0].update(Value="a\u0000b"),
        "$.accounts[2].authorization_details.UserDetailList[0].Tags[0].Value",
        "U+0000",
        id="nul-in-tag",
    ),
    pytest.param(
        lambda b: b["organization"]["policies"][0].update(Targets=[{"Id": "r-1"}]),
        "$.organization.policies[0].Targets[0]",
        "unknown root, OU or account",
        id="org-target-object",
    ),
    pytest.param(
        lambda b: b.update(warnings="one warning"),
        "$.warnings",
        "must be a list of strings",
        id="warnings-not-list",
    ),
]


@pytest.mark.parametrize(("mutate", "path", "problem"), CASES)
def test_import_malformed_file_is_refused_and_writes_nothing(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], path: str, problem: str
) -> None:
    import_files([SAMPLE_BUNDLE_PATH])
    before = snapshot()
    runs = SyncRun.objects.count()
    bundle = sample()
    mutate(bundle)
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps(bundle))

    with pytest.raises(BundleError) as error:
        import_files([malformed])

    assert error.value.source == str(malformed)
    # A too-deep document is named down to where the nesting passes the limit.
    assert error.value.path == path or error.value.path.startswith(f"{path}.Statement[0]")
    assert problem in error.value.problem
    assert snapshot() == before
    assert SyncRun.objects.count() == runs
