"""The change set tells the truth (issue 15 items 6-9): volatile fields are no change, a missing
credential report keeps the earlier facts, cascaded removals and policy edits are recorded."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identities.bundle import make_bundle, validate_bundle
from identities.ingest.imports import import_bundle
from identities.models import AccessKey, Account, IamRole, IamUser, SyncRun
from identities.sample.vocabulary import CREDENTIAL_REPORT_HEADER
from tests.bundles import trust_policy

pytestmark = pytest.mark.django_db

ACCOUNT = "210987654321"
ARN = f"arn:aws:iam::{ACCOUNT}"
ALLOW_S3: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
TRUST = trust_policy({"AWS": f"{ARN}:root"})


def report(last_used: str = "2026-11-01T08:00:00+00:00") -> str:
    return CREDENTIAL_REPORT_HEADER + (
        "\n"
        f"alice,{ARN}:user/alice,2024-01-02T03:04:05+00:00,true,{last_used},"
        "2024-01-02T03:04:05+00:00,N/A,true,true,2024-02-01T00:00:00+00:00,"
        f"{last_used},us-east-1,sts,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    )


def account_entry(*, role_last_used: str = "2026-11-01T00:00:00Z") -> dict[str, Any]:
    """One account: alice in group devs, with an attached policy and an inline one; a role."""
    policy_arn = f"{ARN}:policy/reader"
    return {
        "id": ACCOUNT,
        "name": "change-set",
        "credential_report": report(),
        "authorization_details": {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "UserId": "AIDAALICE0000000000001",
                    "Arn": f"{ARN}:user/alice",
                    "Path": "/",
                    "CreateDate": "2024-01-02T03:04:05Z",
                    "GroupList": ["devs"],
                    "AttachedManagedPolicies": [{"PolicyName": "reader", "PolicyArn": policy_arn}],
                    "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": ALLOW_S3}],
                }
            ],
            "GroupDetailList": [
                {
                    "GroupName": "devs",
                    "GroupId": "AGPADEVS00000000000001",
                    "Arn": f"{ARN}:group/devs",
                    "Path": "/",
                    "CreateDate": "2024-01-02T03:04:05Z",
                    "GroupPolicyList": [],
                    "AttachedManagedPolicies": [],
                }
            ],
            "RoleDetailList": [
                {
                    "RoleName": "iamviz-sync",
                    "RoleId": "AROASYNC00000000000001",
                    "Arn": f"{ARN}:role/iamviz-sync",
                    "Path": "/",
                    "CreateDate": "2024-01-02T03:04:05Z",
                    "AssumeRolePolicyDocument": TRUST,
                    "RolePolicyList": [],
                    "AttachedManagedPolicies": [],
                    "InstanceProfileList": [],
                    "RoleLastUsed": {"LastUsedDate": role_last_used, "Region": "us-east-1"},
                }
            ],
            "Policies": [
                {
                    "PolicyName": "reader",
                    "PolicyId": "ANPAREADER000000000001",
                    "Arn": policy_arn,
                    "Path": "/",
                    "DefaultVersionId": "v1",
                    "AttachmentCount": 1,
                    "IsAttachable": True,
                    "PolicyVersionList": [
                        {"VersionId": "v1", "IsDefaultVersion": True, "Document": ALLOW_S3}
                    ],
                }
            ],
        },
    }


def bundle_of(entry: dict[str, Any]) -> dict[str, Any]:
    return validate_bundle(make_bundle([copy.deepcopy(entry)]))


def changes_of(run: SyncRun) -> list[tuple[str, str, str]]:
    return sorted(run.changes.values_list("kind", "action", "key"))


def iso(value: Any) -> str:
    return value.isoformat() if value is not None else "None"


def test_syncs_differing_only_in_last_used_times_change_nothing_and_skip_the_apply() -> None:
    """Issue 15 item 6: RoleLastUsed (touched by the sync's own AssumeRole) made every account
    "change" on every sync, so the skip for unchanged accounts never happened."""
    import_bundle(bundle_of(account_entry()))
    import_bundle(bundle_of(account_entry()))  # fingerprints and digest of this version
    later = account_entry(role_last_used="2026-12-02T02:00:00Z")
    later["credential_report"] = report(last_used="2026-12-01T09:30:00+00:00")

    with CaptureQueriesContext(connection) as queries:
        run = import_bundle(bundle_of(later)).sync_run

    # The skip: no table is compared (no fingerprint read), only the volatile fields written.
    assert not [query for query in queries if "fingerprint" in query["sql"]]
    assert (run.change_counts, changes_of(run)) == ({}, [])
    role = IamRole.objects.get(name="iamviz-sync")
    user = IamUser.objects.get(name="alice")
    key = AccessKey.objects.get(user=user)
    assert iso(role.last_used_date) == "2026-12-02T02:00:00+00:00"
    assert iso(user.password_last_used) == "2026-12-01T09:30:00+00:00"
    assert iso(key.last_used_date) == "2026-12-01T09:30:00+00:00"


def test_a_real_change_beside_a_volatile_one_records_only_the_real_one() -> None:
    import_bundle(bundle_of(account_entry()))
    later = account_entry(role_last_used="2026-12-02T02:00:00Z")
    later["authorization_details"]["RoleDetailList"][0]["Description"] = "the sync role"

    run = import_bundle(bundle_of(later)).sync_run

    assert run.changes.get().detail == {"fields": ["description"]}
    assert iso(IamRole.objects.get().last_used_date) == "2026-12-02T02:00:00+00:00"


def test_a_missing_credential_report_keeps_the_previous_facts_with_a_warning() -> None:
    """Issue 15 item 7: a throttled report made every user's password/MFA/key facts unknown."""
    first = import_bundle(bundle_of(account_entry())).sync_run
    throttled = account_entry()
    del throttled["credential_report"]
    throttled["warnings"] = ["credential report not available: Throttling: Rate exceeded"]

    run = import_bundle(bundle_of(throttled)).sync_run

    user = IamUser.objects.get(name="alice")
    account = Account.objects.get(account_id=ACCOUNT)
    assert (user.password_enabled, user.mfa_active) == (True, True)
    assert AccessKey.objects.filter(user=user, active=True).count() == 1
    assert (changes_of(run), run.change_counts) == ([], {})
    assert (account.last_sync_run_id, account.credential_report_run_id) == (run.pk, first.pk)
    assert run.warnings == [
        f"account {ACCOUNT}: no credential report in this run; the password, MFA and "
        f"access-key facts of 1 users are kept from the report of run #{first.pk} of "
        f"{first.finished_at:%Y-%m-%d %H:%M} UTC"
    ]

    back = import_bundle(bundle_of(account_entry())).sync_run

    assert Account.objects.get(account_id=ACCOUNT).credential_report_run_id == back.pk
    assert changes_of(back) == []


def test_a_deleted_user_takes_its_memberships_attachments_and_inline_policies_into_the_change_set() -> (
    None
):
    """Issue 15 item 8: 400 deleted users recorded 0 membership removals."""
    import_bundle(bundle_of(account_entry()))
    gone = account_entry()
    gone["authorization_details"]["UserDetailList"] = []
    gone["credential_report"] = CREDENTIAL_REPORT_HEADER + "\n"

    run = import_bundle(bundle_of(gone)).sync_run

    assert changes_of(run) == [
        ("access_key", "removed", f"{ARN}:user/alice key 1"),
        ("attachment", "removed", f"{ARN}:policy/reader on {ARN}:user/alice"),
        ("inline_policy", "removed", f"{ARN}:user/alice inline own"),
        ("membership", "removed", f"{ARN}:user/alice in {ARN}:group/devs"),
        ("user", "removed", f"{ARN}:user/alice"),
    ]
    assert run.change_counts["membership"] == {"added": 0, "removed": 1, "changed": 0}


def test_an_edited_inline_policy_and_a_new_default_version_show_before_and_after() -> None:
    """Issue 15 item 9: trust policies had before/after, identity policies did not."""
    import_bundle(bundle_of(account_entry()))
    edited = account_entry()
    details = edited["authorization_details"]
    wider: dict[str, Any] = copy.deepcopy(ALLOW_S3)
    wider["Statement"][0]["Action"] = "s3:*"
    details["UserDetailList"][0]["UserPolicyList"][0]["PolicyDocument"] = wider
    details["Policies"][0]["DefaultVersionId"] = "v2"
    details["Policies"][0]["PolicyVersionList"] = [
        {"VersionId": "v2", "IsDefaultVersion": True, "Document": wider},
        {"VersionId": "v1", "IsDefaultVersion": False, "Document": ALLOW_S3},
    ]

    run = import_bundle(bundle_of(edited)).sync_run

    inline = run.changes.get(kind="inline_policy")
    document = run.changes.get(kind="policy_document")
    assert (inline.action, inline.key) == ("changed", f"{ARN}:user/alice inline own")
    assert inline.detail == {"before": ALLOW_S3, "after": wider}
    assert (document.key, document.detail) == (
        f"{ARN}:policy/reader",
        {"before": ALLOW_S3, "after": wider},
    )
