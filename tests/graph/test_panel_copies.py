"""Evidence poisoning across accounts (issue 14, item 3): an account that lists its own copy of
an AWS-managed policy never changes what the panels show for another account."""

from __future__ import annotations

import pytest

from identities.analysis import analyse_estate
from identities.graph.panels import edge_panel, node_panel
from identities.ingest.imports import import_bundle

POISONED, GOOD, OTHER = "111111111111", "222222222222", "333333333333"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
REAL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
FAKE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Poison", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    ],
}


def _admin_policy(document: dict) -> dict:
    return {
        "PolicyName": "AdministratorAccess",
        "PolicyId": "ANPAIWMBCKSKIEE64ZLYK",
        "Arn": ADMIN_ARN,
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": "2015-02-06T18:39:46+00:00",
        "UpdateDate": "2015-02-06T18:39:46+00:00",
        "PolicyVersionList": [
            {
                "Document": document,
                "VersionId": "v1",
                "IsDefaultVersion": True,
                "CreateDate": "2015-02-06T18:39:46+00:00",
            }
        ],
    }


def _account(account_id: str, document: dict) -> dict:
    arn = f"arn:aws:iam::{account_id}"
    return {
        "id": account_id,
        "name": f"acct-{account_id[0]}",
        "authorization_details": {
            "UserDetailList": [
                {
                    "Path": "/",
                    "UserName": "admin",
                    "UserId": f"AIDA{account_id}ADMINX",
                    "Arn": f"{arn}:user/admin",
                    "CreateDate": "2024-01-01T00:00:00+00:00",
                    "UserPolicyList": [],
                    "GroupList": [],
                    "AttachedManagedPolicies": [
                        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN}
                    ],
                    "Tags": [],
                }
            ],
            "GroupDetailList": [],
            "RoleDetailList": [
                {
                    "Path": "/",
                    "RoleName": "ops",
                    "RoleId": f"AROA{account_id}OPSXXX",
                    "Arn": f"{arn}:role/ops",
                    "CreateDate": "2024-01-01T00:00:00+00:00",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"{arn}:root"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "InstanceProfileList": [],
                    "RolePolicyList": [],
                    "AttachedManagedPolicies": [],
                    "Tags": [],
                    "RoleLastUsed": {},
                }
            ],
            "Policies": [_admin_policy(document)],
        },
    }


@pytest.fixture
def poisoned_estate(db):
    """Three accounts; the one with the lowest id lists a rewritten AdministratorAccess."""
    bundle = {
        "format": "iamviz-bundle/1",
        "accounts": [_account(POISONED, FAKE), _account(GOOD, REAL), _account(OTHER, REAL)],
    }
    import_bundle(bundle, label="poisoned.json")
    return analyse_estate()


def _statements(panel: dict) -> list[dict]:
    return [item for access in panel["access"] for item in access["statements"]]


def test_edge_statements_of_a_clean_account_show_its_own_copy(poisoned_estate):
    panel = edge_panel(f"user:{GOOD}:admin", f"role:{GOOD}:ops", "assume")

    managed = [item for item in _statements(panel) if ADMIN_ARN in item["ref"]]
    assert managed
    assert [item["statement"] for item in managed] == [REAL["Statement"][0]]
    assert all(POISONED in item["warning"] for item in managed)


def test_edge_statements_of_the_poisoning_account_show_its_copy_with_a_warning(poisoned_estate):
    panel = edge_panel(f"user:{POISONED}:admin", f"role:{POISONED}:ops", "assume")

    managed = [item for item in _statements(panel) if ADMIN_ARN in item["ref"]]
    assert [item["statement"] for item in managed] == [FAKE["Statement"][0]]
    assert "differ" in managed[0]["warning"]


def test_policy_node_shows_the_copy_most_accounts_hold_and_warns(poisoned_estate):
    panel = node_panel(f"policy:{ADMIN_ARN}")

    assert panel["document"] == REAL
    assert POISONED in panel["copy_warning"]


@pytest.mark.parametrize(("account", "document"), [(GOOD, REAL), (POISONED, FAKE)])
def test_attached_edge_shows_the_holding_accounts_copy(poisoned_estate, account, document):
    panel = edge_panel(f"user:{account}:admin", f"policy:{ADMIN_ARN}", "attached")

    assert [item["document"] for item in panel["documents"]] == [document]
    assert panel["documents"][0]["warning"]


def test_policy_node_without_differing_copies_has_no_warning(imported_sample):
    panel = node_panel(f"policy:{ADMIN_ARN}")

    assert panel["document"] == REAL
    assert panel["copy_warning"] == ""
