from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.management import call_command

from identities.bundle import validate_bundle
from identities.sample.generate import generate_bundle, write_bundle
from identities.sample.vocabulary import CREDENTIAL_REPORT_HEADER

ACCOUNTS, USERS, ROLES = 6, 40, 60
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return generate_bundle(accounts=ACCOUNTS, users=USERS, roles=ROLES, seed=3)


def _document(value: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(value, str):
        decoded: dict[str, Any] = json.loads(unquote(value))
        return decoded
    return value


def _statements(document: dict[str, Any] | str) -> list[dict[str, Any]]:
    statements = _document(document)["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _identity_documents(details: dict[str, Any]) -> list[dict[str, Any] | str]:
    documents: list[dict[str, Any] | str] = []
    for key, inline_key in (
        ("UserDetailList", "UserPolicyList"),
        ("GroupDetailList", "GroupPolicyList"),
        ("RoleDetailList", "RolePolicyList"),
    ):
        for entry in details[key]:
            documents += [inline["PolicyDocument"] for inline in entry[inline_key]]
    for policy in details["Policies"]:
        documents += [version["Document"] for version in policy["PolicyVersionList"]]
    return documents


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_generate_bundle_same_seed_byte_identical(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"

    write_bundle(generate_bundle(accounts=3, users=10, roles=20, seed=11), first)
    write_bundle(generate_bundle(accounts=3, users=10, roles=20, seed=11), second)
    write_bundle(generate_bundle(accounts=3, users=10, roles=20, seed=12), other)

    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_generate_bundle_independent_of_hash_seed(tmp_path: Path) -> None:
    # set and dict-of-str iteration order changes with PYTHONHASHSEED between processes
    script = (
        "import sys; from identities.sample.generate import generate_bundle, write_bundle; "
        "write_bundle(generate_bundle(accounts=5, users=6, roles=18, seed=4), sys.argv[1])"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        path = tmp_path / f"hash{hash_seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", script, str(path)], check=True, env=env, cwd=REPO_ROOT
        )
        outputs.append(path.read_bytes())

    assert outputs[0] == outputs[1]


def test_write_bundle_round_trips_and_reports_size(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "estate.json"

    size = write_bundle(bundle, path)

    assert size == path.stat().st_size
    assert json.loads(path.read_text()) == bundle


def test_generate_bundle_counts_per_account_exact(bundle: dict[str, Any]) -> None:
    counts = [
        (
            len(account["authorization_details"]["UserDetailList"]),
            len(account["authorization_details"]["RoleDetailList"]),
        )
        for account in bundle["accounts"]
    ]

    assert bundle["format"] == "iamviz-bundle/1"
    assert counts == [(USERS, ROLES)] * ACCOUNTS


def test_generate_bundle_tiny_estate_counts_exact() -> None:
    tiny = generate_bundle(accounts=1, users=1, roles=2, seed=5)

    details = tiny["accounts"][0]["authorization_details"]

    assert (len(details["UserDetailList"]), len(details["RoleDetailList"])) == (1, 2)


def test_generate_bundle_ids_unique_and_well_formed(bundle: dict[str, Any]) -> None:
    patterns = {
        "UserId": re.compile(r"^AIDA[A-Z0-9]{17}$"),
        "RoleId": re.compile(r"^AROA[A-Z0-9]{17}$"),
        "GroupId": re.compile(r"^AGPA[A-Z0-9]{17}$"),
        "PolicyId": re.compile(r"^ANPA[A-Z0-9]{17}$"),
    }
    ids: list[str] = []
    bad: list[str] = []
    for account in bundle["accounts"]:
        details = account["authorization_details"]
        for key, id_key in (
            ("UserDetailList", "UserId"),
            ("RoleDetailList", "RoleId"),
            ("GroupDetailList", "GroupId"),
            ("Policies", "PolicyId"),
        ):
            for entry in details[key]:
                if entry["Arn"].startswith("arn:aws:iam::aws:"):
                    continue  # AWS-managed policies share their real ids across accounts
                ids.append(entry[id_key])
                if not patterns[id_key].match(entry[id_key]):
                    bad.append(entry[id_key])
    account_ids = [account["id"] for account in bundle["accounts"]]

    assert bad == []
    assert len(ids) == len(set(ids))
    assert [bool(re.fullmatch(r"[0-9]{12}", a)) for a in account_ids] == [True] * ACCOUNTS
    assert len(set(account_ids)) == ACCOUNTS


def test_generate_bundle_references_resolve_in_same_account(bundle: dict[str, Any]) -> None:
    missing: list[str] = []
    wrong_counts: list[str] = []
    for account in bundle["accounts"]:
        details = account["authorization_details"]
        groups = {group["GroupName"] for group in details["GroupDetailList"]}
        policies = {policy["Arn"]: policy for policy in details["Policies"]}
        attached: Counter[str] = Counter()
        boundaries: Counter[str] = Counter()
        for user in details["UserDetailList"]:
            missing += [g for g in user["GroupList"] if g not in groups]
            if not 1 <= len(user["GroupList"]) <= 3:
                missing.append(f"{user['UserName']} in {len(user['GroupList'])} groups")
        for key in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
            for entry in details[key]:
                attached.update(ref["PolicyArn"] for ref in entry["AttachedManagedPolicies"])
                if "PermissionsBoundary" in entry:
                    boundaries[entry["PermissionsBoundary"]["PermissionsBoundaryArn"]] += 1
        missing += [arn for arn in [*attached, *boundaries] if arn not in policies]
        for arn, policy in policies.items():
            counts = (policy["AttachmentCount"], policy["PermissionsBoundaryUsageCount"])
            if counts != (attached[arn], boundaries[arn]):
                wrong_counts.append(arn)
            defaults = [
                v["VersionId"] for v in policy["PolicyVersionList"] if v["IsDefaultVersion"]
            ]
            if defaults != [policy["DefaultVersionId"]]:
                wrong_counts.append(f"{arn} default {defaults}")

    assert missing == []
    assert wrong_counts == []


def test_generate_bundle_trust_policies_parse_in_both_encodings(bundle: dict[str, Any]) -> None:
    kinds: Counter[str] = Counter()
    for account in bundle["accounts"]:
        for role in account["authorization_details"]["RoleDetailList"]:
            raw = role["AssumeRolePolicyDocument"]
            kinds["string" if isinstance(raw, str) else "object"] += 1
            document = _document(raw)
            assert document["Version"] == "2012-10-17"
            assert [s["Effect"] in ("Allow", "Deny") for s in document["Statement"]] == [
                True
            ] * len(document["Statement"])

    assert sorted(kinds) == ["object", "string"]
    assert sum(kinds.values()) == ACCOUNTS * ROLES


def test_generate_bundle_passes_the_bundle_reader(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "estate.json"
    write_bundle(bundle, path)

    validated = validate_bundle(json.loads(path.read_text()), source=str(path))

    assert len(validated["accounts"]) == ACCOUNTS


def test_generate_bundle_organization_tree_consistent(bundle: dict[str, Any]) -> None:
    org = bundle["organization"]
    nodes = {root["Id"] for root in org["roots"]} | {ou["Id"] for ou in org["organizational_units"]}
    parents = {ou["Name"]: ou["ParentId"] for ou in org["organizational_units"]}
    ou_ids = {ou["Name"]: ou["Id"] for ou in org["organizational_units"]}
    root_id = org["roots"][0]["Id"]
    targets = nodes | {member["Id"] for member in org["accounts"]}

    assert [ou["ParentId"] in nodes for ou in org["organizational_units"]] == [True] * len(
        org["organizational_units"]
    )
    assert [m["ParentId"] in nodes for m in org["accounts"]] == [True] * ACCOUNTS
    assert (parents["Prod"], parents["Dev"], parents["Workloads"]) == (
        ou_ids["Workloads"],
        ou_ids["Workloads"],
        root_id,
    )
    assert org["management_account_id"] == bundle["accounts"][0]["id"]
    assert [m["Id"] for m in org["accounts"]] == [a["id"] for a in bundle["accounts"]]
    assert [t for p in org["policies"] for t in p["Targets"] if t not in targets] == []
    full = next(p for p in org["policies"] if p["Name"] == "FullAWSAccess")
    assert root_id in full["Targets"]
    deny_names = sorted(
        p["Name"]
        for p in org["policies"]
        if p["Type"] == "SERVICE_CONTROL_POLICY"
        and any(s["Effect"] == "Deny" for s in _statements(p["Content"]))
    )
    assert deny_names == [
        "DenyIAMUserCreation",
        "DenyLeaveOrganization",
        "DenyOutsideApprovedRegions",
        "DenyS3BucketDeletion",
    ]
    assert [p["Name"] for p in org["policies"] if p["Type"] == "RESOURCE_CONTROL_POLICY"] == [
        "RCPFullAWSAccess",
        "EnforceOrgIdentitiesOnS3",
    ]


def _trust_kinds(bundle: dict[str, Any]) -> tuple[set[str], set[str]]:
    in_set = {account["id"] for account in bundle["accounts"]}
    kinds: set[str] = set()
    conditions: set[str] = set()
    for account in bundle["accounts"]:
        for role in account["authorization_details"]["RoleDetailList"]:
            for statement in _statements(role["AssumeRolePolicyDocument"]):
                for operator in statement.get("Condition", {}).values():
                    conditions.update(operator)
                principal = statement["Principal"]
                for service in _as_list(principal.get("Service", [])):
                    kinds.add(f"service {service}")
                for federated in _as_list(principal.get("Federated", [])):
                    kinds.add("saml" if ":saml-provider/" in federated else "oidc")
                for arn in _as_list(principal.get("AWS", [])):
                    if arn == "*":
                        kinds.add("*")
                    elif arn.endswith(":root"):
                        owner = arn.split(":")[4]
                        if owner == account["id"]:
                            kinds.add("root same account")
                        else:
                            kinds.add("root in estate" if owner in in_set else "root outside")
                    else:
                        kinds.add(arn.split(":")[5].split("/")[0])
    return kinds, conditions


def test_generate_bundle_every_trust_kind_present(bundle: dict[str, Any]) -> None:
    kinds, conditions = _trust_kinds(bundle)

    assert kinds == {
        "service ec2.amazonaws.com",
        "service lambda.amazonaws.com",
        "service ecs-tasks.amazonaws.com",
        "service support.amazonaws.com",
        "saml",
        "oidc",
        "*",
        "user",
        "role",
        "root same account",
        "root in estate",
        "root outside",
    }
    assert {
        "aws:MultiFactorAuthPresent",
        "sts:ExternalId",
        "aws:PrincipalOrgID",
        "aws:SourceIp",
        "SAML:aud",
        "token.actions.githubusercontent.com:sub",
    } - conditions == set()


def test_generate_bundle_identity_side_variety_present(bundle: dict[str, Any]) -> None:
    found: set[str] = set()
    for account in bundle["accounts"]:
        details = account["authorization_details"]
        for document in _identity_documents(details):
            for statement in _statements(document):
                if statement["Effect"] == "Deny":
                    found.add("deny")
                if statement.get("Action") == "*":
                    found.add("action *")
                actions = _as_list(statement.get("Action", []))
                resources = _as_list(statement.get("Resource", []))
                if "sts:AssumeRole" in actions and "arn:aws:iam::*:role/deploy-*" in resources:
                    found.add("assume deploy-*")
                if "sts:AssumeRole" in actions and any(
                    ":role/" in r and "*" not in r for r in resources
                ):
                    found.add("assume specific role")
                if "iam:CreateAccessKey" in actions and resources == ["*"]:
                    found.add("escalation CreateAccessKey")
            found.add("string document" if isinstance(document, str) else "object document")
        for key in ("UserDetailList", "RoleDetailList"):
            if any("PermissionsBoundary" in entry for entry in details[key]):
                found.add(f"boundary {key}")
        roles = details["RoleDetailList"]
        if any(role["InstanceProfileList"] for role in roles):
            found.add("instance profile")
        if any(role["RoleLastUsed"] for role in roles):
            found.add("role last used")
        if any(role["Tags"] for role in roles):
            found.add("tags")
        if any(len(p["PolicyVersionList"]) > 1 for p in details["Policies"]):
            found.add("several versions")

    assert found == {
        "deny",
        "action *",
        "assume deploy-*",
        "assume specific role",
        "escalation CreateAccessKey",
        "string document",
        "object document",
        "boundary UserDetailList",
        "boundary RoleDetailList",
        "instance profile",
        "role last used",
        "tags",
        "several versions",
    }


def test_generate_bundle_aws_managed_policies_real(bundle: dict[str, Any]) -> None:
    details = bundle["accounts"][0]["authorization_details"]
    admin = next(p for p in details["Policies"] if p["PolicyName"] == "AdministratorAccess")

    assert (admin["Arn"], admin["PolicyId"], admin["PolicyVersionList"][0]["Document"]) == (
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
    )


def test_generate_bundle_credential_report_lists_root_and_every_user(
    bundle: dict[str, Any],
) -> None:
    account = bundle["accounts"][2]
    rows = list(csv.reader(io.StringIO(account["credential_report"])))
    users = [u["UserName"] for u in account["authorization_details"]["UserDetailList"]]

    assert ",".join(rows[0]) == CREDENTIAL_REPORT_HEADER
    assert rows[1][:2] == ["<root_account>", f"arn:aws:iam::{account['id']}:root"]
    assert [row[0] for row in rows[2:]] == users
    assert {len(row) for row in rows} == {22}


def test_generate_bundle_does_not_share_mutable_state_between_calls() -> None:
    first = generate_bundle(accounts=2, users=5, roles=16, seed=9)
    snapshot = copy.deepcopy(first)

    generate_bundle(accounts=2, users=5, roles=16, seed=9)

    assert first == snapshot


def test_generate_bundle_rejects_empty_estate() -> None:
    with pytest.raises(ValueError, match="at least one account"):
        generate_bundle(accounts=0, users=1, roles=1, seed=1)


def test_generate_org_command_writes_file(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    out = io.StringIO()

    call_command(
        "generate_org",
        "--accounts=2",
        "--users=3",
        "--roles=4",
        "--seed=1",
        "-o",
        str(path),
        stdout=out,
    )

    written = json.loads(path.read_text())
    assert [len(a["authorization_details"]["UserDetailList"]) for a in written["accounts"]] == [
        3,
        3,
    ]
    assert out.getvalue().startswith(f"wrote {path}: 2 accounts, 6 users, 24 groups, 8 roles, ")
