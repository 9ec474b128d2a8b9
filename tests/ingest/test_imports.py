from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import IntegrityError
from django.db.models import Model

from identities import models
from identities.bundle import BundleError, parse_bundle, read_bundle, read_bundles
from identities.ingest import apply
from identities.ingest.imports import import_bundle, import_files
from identities.sample.vocabulary import CREDENTIAL_REPORT_HEADER
from tests.conftest import TEST_DATA

pytestmark = pytest.mark.django_db

ESTATE_MODELS: list[type[Model]] = [
    models.Account,
    models.OrgNode,
    models.OrgPolicy,
    models.ManagedPolicy,
    models.PolicyVersion,
    models.IamGroup,
    models.IamUser,
    models.IamRole,
    models.GroupMembership,
    models.PolicyAttachment,
    models.InlinePolicy,
    models.InstanceProfile,
    models.InstanceProfile.roles.through,
    models.IdentityProvider,
    models.AccessKey,
]
ACCOUNT = "123456789012"
REPORT = (
    CREDENTIAL_REPORT_HEADER
    + "\n<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,"
    "2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,"
    "N/A,N/A,N/A,false,N/A,false,N/A\n"
    "alice,arn:aws:iam::123456789012:user/alice,2024-01-02T03:04:05+00:00,true,"
    "2024-10-01T08:00:00+00:00,2024-01-02T03:04:05+00:00,N/A,false,true,"
    "2024-02-01T00:00:00+00:00,2024-11-20T10:00:00+00:00,us-east-1,sts,false,N/A,N/A,N/A,N/A,"
    "false,N/A,false,N/A\n"
)


def snapshot() -> dict[str, list[tuple[str, ...]]]:
    """Every estate row, with its primary key: equal snapshots mean nothing was written."""
    return {
        model._meta.label: sorted(
            tuple(
                json.dumps(value, sort_keys=True, default=str)
                for name, value in row.items()
                # which runs last covered the account and its credential report, not estate
                if name not in {"last_sync_run_id", "credential_report_run_id"}
            )
            for row in model._default_manager.values()
        )
        for model in ESTATE_MODELS
    }


def paged_bundle() -> dict[str, Any]:
    bundle = read_bundles(
        [TEST_DATA / "aws" / "authz-page-1.json", TEST_DATA / "aws" / "authz-page-2.json"]
    )
    bundle["accounts"][0]["credential_report"] = REPORT
    return parse_bundle(json.dumps(bundle))


def details(bundle: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = bundle["accounts"][0]["authorization_details"]
    return found


def test_import_paged_file_creates_every_entity_and_relation() -> None:
    result = import_bundle(paged_bundle(), label="pages")

    account = models.Account.objects.get(account_id=ACCOUNT)
    assert sorted(account.users.values_list("name", "path")) == [
        ("alice", "/"),
        ("bob", "/"),
        ("deployer", "/ci/"),
    ]
    assert list(models.GroupMembership.objects.values_list("user__name", "group__name")) == [
        ("alice", "engineers")
    ]
    assert sorted(
        models.PolicyAttachment.objects.values_list(
            "policy__name", "user__name", "group__name", "role__name"
        ),
        key=str,
    ) == [
        ("ReadOnlyAccess", None, "engineers", None),
        ("ReadOnlyAccess", None, None, "ops"),
        ("deploy", "deployer", None, None),
    ]
    deploy = models.ManagedPolicy.objects.get(name="deploy")
    assert (deploy.is_aws_managed, deploy.default_version_id) == (False, "v3")
    assert deploy.document is not None
    assert deploy.document["Statement"][0]["Resource"] == "arn:aws:iam::*:role/deploy-*"
    assert sorted(deploy.versions.values_list("version_id", "is_default")) == [
        ("v1", False),
        ("v2", False),
        ("v3", True),
    ]
    assert (
        models.IamUser.objects.get(name="deployer").boundary_arn
        == f"arn:aws:iam::{ACCOUNT}:policy/deploy"
    )
    ops = models.IamRole.objects.get(name="ops")
    assert ops.trust_policy["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"
    }
    assert ops.last_used_date is not None
    assert (ops.last_used_region, ops.last_used_date.isoformat()) == (
        "eu-west-1",
        "2024-11-01T12:00:00+00:00",
    )
    assert list(models.InstanceProfile.objects.values_list("name", "roles__name")) == [
        ("web", "web")
    ]
    assert sorted(
        models.InlinePolicy.objects.values_list("name", "user__name", "group__name"), key=str
    ) == [
        ("assume-ops", "alice", None),
        ("read-logs", None, "engineers"),
    ]
    assert result.sync_run.status == models.SyncRun.Status.SUCCEEDED
    assert result.sync_run.counts == {
        "users": 3,
        "groups": 1,
        "roles": 2,
        "policies": 2,
        "inline_policies": 2,
        "memberships": 1,
        "attachments": 3,
        "accounts": 1,
    }


def test_import_credential_report_sets_mfa_password_and_keys() -> None:
    import_bundle(paged_bundle())

    alice = models.IamUser.objects.get(name="alice")
    bob = models.IamUser.objects.get(name="bob")
    assert (alice.password_enabled, alice.mfa_active) == (True, False)
    assert alice.password_last_used is not None
    assert alice.password_last_used.isoformat() == "2024-10-01T08:00:00+00:00"
    assert list(alice.access_keys.values_list("slot", "active", "last_used_service")) == [
        (1, True, "sts")
    ]
    assert (bob.password_enabled, bob.mfa_active) == (None, None)


def test_import_same_bundle_twice_changes_nothing() -> None:
    import_bundle(paged_bundle())
    before = snapshot()

    second = import_bundle(paged_bundle())

    assert snapshot() == before
    assert second.sync_run.change_counts == {}
    assert second.sync_run.changes.count() == 0


def changed_bundle() -> dict[str, Any]:
    """The paged bundle with a user removed and a role's trust widened: writes in every stage."""
    changed = paged_bundle()
    details(changed)["UserDetailList"].pop()
    details(changed)["RoleDetailList"][0]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ] = {"AWS": "*"}
    return changed


def assert_failed_and_untouched(before: dict[str, list[tuple[str, ...]]], error: str) -> None:
    assert snapshot() == before
    failed = models.SyncRun.objects.latest("id")
    assert failed.status == models.SyncRun.Status.FAILED
    assert error in failed.error
    assert failed.changes.count() == 0


def test_import_constraint_violated_late_leaves_previous_state_intact() -> None:
    import_bundle(paged_bundle())
    before = snapshot()
    changed = changed_bundle()
    roles = details(changed)["RoleDetailList"]
    # A second role of the same name (another unique id): validation compares names without
    # case, so only the database's (account, name) constraint stops it, once the policies,
    # groups and users are written.
    roles.append({**copy.deepcopy(roles[0]), "RoleId": "AROADUPLICATE0000000"})

    # PostgreSQL's COPY raises psycopg's own error, SQLite's INSERT Django's.
    with pytest.raises((IntegrityError, psycopg.IntegrityError)):
        import_bundle(changed)

    assert_failed_and_untouched(before, "iamrole")


@pytest.mark.parametrize(
    "last_written",
    ["policy_version", "role", "inline_policy", "access_key"],
)
def test_import_failure_mid_apply_leaves_previous_state_intact(
    monkeypatch: pytest.MonkeyPatch, last_written: str
) -> None:
    import_bundle(paged_bundle())
    before = snapshot()
    write_rows = apply._sync_rows

    def failing(model: type[Model], **kwargs: Any) -> dict[Any, int]:
        result = write_rows(model, **kwargs)
        if kwargs["kind"] == last_written:
            raise RuntimeError(f"failure after writing {last_written} rows")
        return result

    monkeypatch.setattr(apply, "_sync_rows", failing)

    with pytest.raises(RuntimeError, match=f"failure after writing {last_written} rows"):
        import_bundle(changed_bundle())

    assert_failed_and_untouched(before, f"failure after writing {last_written} rows")


def test_import_files_reads_pages_as_one_run_and_archives_the_merged_bundle() -> None:
    paths = [TEST_DATA / "aws" / "authz-page-1.json", TEST_DATA / "aws" / "authz-page-2.json"]

    result = import_files(paths, account_name="Shared")

    run = result.sync_run
    assert (run.status, run.label) == (
        models.SyncRun.Status.SUCCEEDED,
        "authz-page-1.json, authz-page-2.json",
    )
    assert models.Account.objects.get(account_id=ACCOUNT).name == "Shared"
    assert (
        json.loads(gzip.decompress(bytes(run.bundle_gzip or b"")))["accounts"][0]["name"]
        == "Shared"
    )


def test_import_files_archives_a_single_file_as_given() -> None:
    path = TEST_DATA / "aws" / "authz-page-2.json"

    run = import_files([path]).sync_run

    assert gzip.decompress(bytes(run.bundle_gzip or b"")) == path.read_bytes()
    assert run.label == "authz-page-2.json"


def test_import_files_account_name_needs_one_account(tmp_path: Path) -> None:
    bundle = read_bundle(TEST_DATA / "aws" / "authz-page-2.json")
    bundle["accounts"].append({"id": "210987654321", "authorization_details": {}})
    two = tmp_path / "two.json"
    two.write_text(json.dumps(bundle))

    with pytest.raises(BundleError, match="a display name needs exactly one account"):
        import_files([two], account_name="Shared")


def test_import_change_set_lists_each_difference() -> None:
    import_bundle(paged_bundle())
    changed = paged_bundle()
    users = details(changed)["UserDetailList"]
    users[:] = [user for user in users if user["UserName"] != "bob"]
    users[0]["GroupList"] = []  # alice leaves engineers
    ops = details(changed)["RoleDetailList"][0]
    ops["AssumeRolePolicyDocument"] = quote(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
    )
    changed = parse_bundle(json.dumps(changed))

    run = import_bundle(changed).sync_run

    assert sorted(run.changes.values_list("kind", "action", "key")) == [
        (
            "membership",
            "removed",
            f"arn:aws:iam::{ACCOUNT}:user/alice in arn:aws:iam::{ACCOUNT}:group/engineers",
        ),
        ("trust_policy", "changed", f"arn:aws:iam::{ACCOUNT}:role/ops"),
        ("user", "removed", f"arn:aws:iam::{ACCOUNT}:user/bob"),
    ]
    trust = run.changes.get(kind="trust_policy")
    assert trust.detail["before"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"
    }
    assert trust.detail["after"]["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::999999999999:root"
    }
    assert run.change_counts == {
        "membership": {"added": 0, "removed": 1, "changed": 0},
        "trust_policy": {"added": 0, "removed": 0, "changed": 1},
        "user": {"added": 0, "removed": 1, "changed": 0},
    }


def test_import_recreated_user_same_name_is_a_different_principal() -> None:
    import_bundle(paged_bundle())
    old_pk = models.IamUser.objects.get(name="bob").pk
    changed = paged_bundle()
    details(changed)["UserDetailList"][1]["UserId"] = "AIDANEWBOB0000000001"

    run = import_bundle(changed).sync_run

    bob = models.IamUser.objects.get(name="bob")
    assert (bob.unique_id, bob.pk != old_pk) == ("AIDANEWBOB0000000001", True)
    assert sorted(run.changes.values_list("kind", "action")) == [
        ("user", "added"),
        ("user", "removed"),
    ]


def test_import_new_policy_version_is_recorded() -> None:
    import_bundle(paged_bundle())
    changed = paged_bundle()
    [deploy] = [p for p in details(changed)["Policies"] if p["Arn"].endswith("policy/deploy")]
    for version in deploy["PolicyVersionList"]:
        version["IsDefaultVersion"] = False
    deploy["PolicyVersionList"].insert(
        0,
        {
            "VersionId": "v4",
            "IsDefaultVersion": True,
            "Document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            },
        },
    )
    deploy["DefaultVersionId"] = "v4"

    run = import_bundle(changed).sync_run

    assert sorted(run.changes.values_list("kind", "action", "key")) == [
        ("policy", "changed", f"arn:aws:iam::{ACCOUNT}:policy/deploy"),
        ("policy_document", "changed", f"arn:aws:iam::{ACCOUNT}:policy/deploy"),
        ("policy_version", "added", f"arn:aws:iam::{ACCOUNT}:policy/deploy v4"),
        ("policy_version", "changed", f"arn:aws:iam::{ACCOUNT}:policy/deploy v3"),
    ]
    document = models.ManagedPolicy.objects.get(name="deploy").document
    assert document is not None
    assert document["Statement"][0]["Resource"] == "*"


def test_import_first_time_records_one_summary_per_account() -> None:
    run = import_bundle(paged_bundle()).sync_run

    assert list(run.changes.values_list("kind", "action", "key")) == [
        ("account", "added", ACCOUNT),
        ("account_data", "added", ACCOUNT),
    ]
    assert run.change_counts["user"] == {"added": 3, "removed": 0, "changed": 0}
    assert run.changes.get(kind="account_data").detail["users"] == 3


def test_import_does_not_touch_accounts_absent_from_the_bundle() -> None:
    import_bundle(paged_bundle())
    other = copy.deepcopy(paged_bundle())
    other["accounts"][0]["id"] = "210987654321"
    text = json.dumps(other).replace(ACCOUNT, "210987654321")

    import_bundle(parse_bundle(text))

    assert sorted(models.Account.objects.values_list("account_id", flat=True)) == [
        "123456789012",
        "210987654321",
    ]
    assert models.IamUser.objects.filter(account__account_id=ACCOUNT).count() == 3


def test_import_cloudsplaining_example_real_shaped_output(
    shared_aws_file: Callable[[str], Path],
) -> None:
    bundle = read_bundle(shared_aws_file("cloudsplaining-example-authz-details.json"))

    run = import_bundle(bundle).sync_run

    assert run.counts["users"] == 44
    assert run.counts["roles"] == 78
    assert run.counts["groups"] == 5
    assert models.IamUser.objects.count() == 44
    assert models.IamRole.objects.count() == 78
    assert models.Account.objects.count() == 2
    assert (
        models.ManagedPolicy.objects.filter(is_aws_managed=False).count()
        == 84
        - models.ManagedPolicy.objects.filter(
            is_aws_managed=True, account__account_id="200611803367"
        ).count()
    )


def test_import_cloudsplaining_small_then_again_is_idempotent(
    shared_aws_file: Callable[[str], Path],
) -> None:
    bundle = read_bundle(shared_aws_file("cloudsplaining-small-authz-details.json"))
    import_bundle(bundle)
    before = snapshot()

    import_bundle(read_bundle(shared_aws_file("cloudsplaining-small-authz-details.json")))

    assert snapshot() == before
    assert models.IamUser.objects.count() == 3
    assert models.IamGroup.objects.count() == 2
    assert models.IamRole.objects.count() == 3


def test_import_organization_sets_paths_and_scps() -> None:
    bundle = paged_bundle()
    bundle["organization"] = {
        "id": "o-1",
        "management_account_id": "999999999999",
        "roots": [{"Id": "r-1", "Name": "Root"}],
        "organizational_units": [
            {"Id": "ou-1", "Name": "Workloads", "ParentId": "r-1"},
            {"Id": "ou-2", "Name": "Prod", "ParentId": "ou-1"},
        ],
        "accounts": [
            {"Id": ACCOUNT, "Name": "prod", "ParentId": "ou-2"},
            {"Id": "999999999999", "Name": "management", "ParentId": "r-1"},
        ],
        "policies": [
            {
                "Id": "p-1",
                "Name": "DenyLeave",
                "Type": "SERVICE_CONTROL_POLICY",
                "Content": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Action": "organizations:LeaveOrganization",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
                "Targets": ["ou-1"],
            }
        ],
    }
    bundle = parse_bundle(json.dumps(bundle))

    import_bundle(bundle)

    account = models.Account.objects.get(account_id=ACCOUNT)
    assert (account.name, account.ou_path, account.in_organization, account.is_management) == (
        "prod",
        "Root/Workloads/Prod",
        True,
        False,
    )
    assert models.Account.objects.get(account_id="999999999999").is_management is True
    scp = models.OrgPolicy.objects.get()
    assert (scp.name, scp.targets, scp.document["Statement"][0]["Effect"]) == (
        "DenyLeave",
        ["ou-1"],
        "Deny",
    )
    assert list(models.OrgNode.objects.values_list("path", flat=True)) == [
        "Root",
        "Root/Workloads",
        "Root/Workloads/Prod",
    ]


def test_import_change_rows_reference_only_this_run() -> None:
    first = import_bundle(paged_bundle()).sync_run
    second = import_bundle(paged_bundle()).sync_run

    assert models.Change.objects.filter(sync_run=first).count() == 2
    assert models.Change.objects.filter(sync_run=second).count() == 0


def test_import_unchanged_account_section_is_not_reapplied() -> None:
    import_bundle(paged_bundle())
    # Only ingest writes estate rows; a write behind its back shows whether rows were re-read.
    models.IamUser.objects.filter(name="bob").update(path="/marker/")

    run = import_bundle(paged_bundle()).sync_run

    assert models.IamUser.objects.get(name="bob").path == "/marker/"
    assert models.Account.objects.get(account_id=ACCOUNT).last_sync_run == run
    assert run.counts["users"] == 3


def test_import_changed_account_section_is_applied() -> None:
    import_bundle(paged_bundle())
    changed = paged_bundle()
    details(changed)["UserDetailList"][0]["Path"] = "/people/"  # changed after validation

    import_bundle(changed)

    assert models.IamUser.objects.get(name="alice").path == "/people/"
