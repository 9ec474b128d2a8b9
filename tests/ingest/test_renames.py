"""Renames AWS allows (update-user/-group/-role --new-name, then reuse or swap the names) must
import: UNIQUE(account, name) is checked row by row, so ingest parks renamed rows first."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from identities.bundle import parse_bundle
from identities.ingest.imports import import_bundle
from identities.models import IamGroup, IamRole, IamUser, InstanceProfile
from tests.ingest.test_imports import details, paged_bundle

pytestmark = pytest.mark.django_db

LISTS = {"user": "UserDetailList", "group": "GroupDetailList", "role": "RoleDetailList"}
NAME_KEYS = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
ID_KEYS = {"user": "UserId", "group": "GroupId", "role": "RoleId"}
MODELS = {"user": IamUser, "group": IamGroup, "role": IamRole}


def start() -> dict[str, Any]:
    """The paged bundle with a second group (bob in it), so groups can swap names too."""
    bundle = paged_bundle()
    groups = details(bundle)["GroupDetailList"]
    second = copy.deepcopy(groups[0])
    second["GroupName"] = "operators"
    second["GroupId"] = "AGPAEXAMPLEOPERATORS"
    second["Arn"] = second["Arn"].rsplit("/", 1)[0] + "/operators"
    groups.append(second)
    details(bundle)["UserDetailList"][1]["GroupList"] = ["operators"]
    return revalidated(bundle)


def revalidated(bundle: dict[str, Any]) -> dict[str, Any]:
    return parse_bundle(json.dumps(bundle))


def entry(bundle: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        item for item in details(bundle)[LISTS[kind]] if item[NAME_KEYS[kind]] == name
    )
    return found


def rename(bundle: dict[str, Any], kind: str, old: str, new: str) -> dict[str, Any]:
    """What `aws iam update-<kind> --new-<kind>-name` does: same unique id, new name and ARN."""
    item = entry(bundle, kind, old)
    item[NAME_KEYS[kind]] = new
    item["Arn"] = item["Arn"].rsplit("/", 1)[0] + "/" + new
    if kind == "group":
        for user in details(bundle)["UserDetailList"]:
            user["GroupList"] = [new if group == old else group for group in user["GroupList"]]
    return item


def names_by_id(kind: str) -> dict[str, str]:
    return dict(MODELS[kind]._default_manager.values_list("unique_id", "name"))


@pytest.mark.parametrize(
    ("kind", "old", "other"),
    [("user", "alice", "bob"), ("group", "engineers", "operators"), ("role", "ops", "web")],
)
def test_import_rename_then_new_principal_under_the_old_name(
    kind: str, old: str, other: str
) -> None:
    import_bundle(start())
    bundle = start()
    renamed = rename(bundle, kind, old, f"{old}-2019")
    newcomer = copy.deepcopy(renamed)
    newcomer[NAME_KEYS[kind]] = old
    newcomer[ID_KEYS[kind]] = renamed[ID_KEYS[kind]][:4] + "NEWCOMER00000001"
    newcomer["Arn"] = renamed["Arn"].rsplit("/", 1)[0] + "/" + old
    if kind == "role":
        newcomer["InstanceProfileList"] = []
    details(bundle)[LISTS[kind]].append(newcomer)

    import_bundle(revalidated(bundle))

    names = names_by_id(kind)
    assert names[renamed[ID_KEYS[kind]]] == f"{old}-2019"
    assert names[newcomer[ID_KEYS[kind]]] == old


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [("user", "alice", "bob"), ("group", "engineers", "operators"), ("role", "ops", "web")],
)
def test_import_two_principals_swap_names(kind: str, first: str, second: str) -> None:
    import_bundle(start())
    before = names_by_id(kind)
    bundle = start()
    one = rename(bundle, kind, first, "swapping")
    two = rename(bundle, kind, second, first)
    rename(bundle, kind, "swapping", second)

    import_bundle(revalidated(bundle))

    after = names_by_id(kind)
    assert (after[one[ID_KEYS[kind]]], after[two[ID_KEYS[kind]]]) == (second, first)
    assert sorted(after.values()) == sorted(before.values())


def test_import_instance_profile_renamed_and_name_reused() -> None:
    import_bundle(start())
    bundle = start()
    web = entry(bundle, "role", "web")
    profile = web["InstanceProfileList"][0]
    old_id, old_name = profile["InstanceProfileId"], profile["InstanceProfileName"]
    # Profiles cannot be renamed: delete and recreate under the name, another holds the old id.
    profile["InstanceProfileId"] = "AIPAEXAMPLEREPLACED1"
    ops = entry(bundle, "role", "ops")
    ops["InstanceProfileList"] = [
        {
            **copy.deepcopy(profile),
            "InstanceProfileId": old_id,
            "InstanceProfileName": "ops",
            "Arn": profile["Arn"].rsplit("/", 1)[0] + "/ops",
        }
    ]

    import_bundle(revalidated(bundle))

    assert dict(InstanceProfile.objects.values_list("unique_id", "name")) == {
        "AIPAEXAMPLEREPLACED1": old_name,
        old_id: "ops",
    }


def test_import_swap_then_swap_back_is_clean() -> None:
    import_bundle(start())
    original = names_by_id("user")
    swapped = start()
    rename(swapped, "user", "alice", "swapping")
    rename(swapped, "user", "bob", "alice")
    rename(swapped, "user", "swapping", "bob")
    import_bundle(revalidated(swapped))

    import_bundle(start())

    assert names_by_id("user") == original
