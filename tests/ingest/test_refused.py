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


def _field(entry: str, problem: str, case_id: str, **fields: Any) -> Any:
    """A case that sets fields of one entry (``"UserDetailList[0]"``) of account 333333333333;
    the error names the first of them."""
    list_name, index = entry.removesuffix("]").split("[")
    return pytest.param(
        _set(lambda bundle: details(bundle)[list_name][int(index)], **fields),
        f"{AT}.{entry}.{next(iter(fields))}",
        problem,
        id=case_id,
    )


def _duplicate_id(list_name: str, key: str, problem: str, case_id: str) -> Any:
    """A case giving the second entry of a details list the id of the first."""

    def mutate(bundle: dict[str, Any]) -> None:
        entries = details(bundle)[list_name]
        entries[1][key] = entries[0][key]

    return pytest.param(mutate, f"{AT}.{list_name}[1].{key}", problem, id=case_id)


# fmt: off
CASES = [
    _field("UserDetailList[0]", "a time needs a timezone", "timestamp-without-timezone", CreateDate="2020-01-20T15:05:44"),
    _field("RoleDetailList[0]", "nested deeper than", "300-deep-condition", AssumeRolePolicyDocument=deep_condition(300)),
    _field("Policies[0]", "must be a whole number", "attachment-count-abc", AttachmentCount="abc"),
    _field("Policies[0]", "must be true or false, found null", "is-attachable-null", IsAttachable=None),
    pytest.param(
        lambda b: _user(0)(b)["AttachedManagedPolicies"][0].update(PolicyArn="x"),
        f"{AT}.UserDetailList[0].AttachedManagedPolicies[0].PolicyArn",
        "not an IAM policy ARN",
        id="policy-arn-x",
    ),
    _duplicate_id("RoleDetailList", "RoleId", "role id", "duplicate-role-id"),
    _duplicate_id("UserDetailList", "UserId", "user id", "duplicate-user-id"),
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
    _duplicate_id("Policies", "PolicyId", "policy id", "duplicate-policy-id"),
    _field("RoleDetailList[0]", "AWS's quota is 8192", "trust-policy-10k-principals", AssumeRolePolicyDocument=principals_trust(10_000)),
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
    _field("UserDetailList[0]", "a user name holds only", "slash-in-name", UserName="ci/deploy", Arn="arn:aws:iam::333333333333:user/ci/deploy"),
    _field("RoleDetailList[0]", "a role name holds only", "newline-in-name", RoleName="OrganizationAccessRole\n"),
    _field("RoleDetailList[0]", "a role name holds only", "quote-in-name", RoleName='a"b'),
    _field("RoleDetailList[0]", "at most 64 characters", "role-name-too-long", RoleName="r" * 65),
    _field("UserDetailList[0]", "a path is / or /…/", "bad-path", Path="/no-end"),
    _field("UserDetailList[0]", "a unique id is", "bad-unique-id", UserId="AIDA-not/an id"),
    _field("UserDetailList[0]", "the ARN does not name 'ci-deploy'", "arn-names-another-user", Arn="arn:aws:iam::333333333333:user/somebody-else"),
    _field("RoleDetailList[0]", "from 3600 to 43200", "session-duration-huge", MaxSessionDuration=10**30),
    _field("RoleDetailList[0]", "must be an object", "role-last-used-list", RoleLastUsed=["2024"]),
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
# fmt: on


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
