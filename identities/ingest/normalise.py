"""Bundle -> row dicts keyed by natural keys (unique ids, ARNs): what `apply` diffs.

Pure: reads a validated bundle (see `identities.bundle`) and touches no database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.utils import timezone

from identities.arns import is_aws_managed_policy

Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]

# Fields AWS updates by mere use (the sync's own AssumeRole touches RoleLastUsed): stored, but
# out of change detection (row fingerprints, the account digest) and out of the change set.
VOLATILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "role": ("last_used_date", "last_used_region"),
    "user": ("password_last_used",),
    "access_key": ("last_used_date", "last_used_region", "last_used_service"),
}
VOLATILE_REPORT_COLUMNS = frozenset(
    {"password_last_used"}
    | {
        f"access_key_{slot}_last_used_{what}"
        for slot in (1, 2)
        for what in ("date", "region", "service")
    }
)


@dataclass
class AccountRows:
    """One account's estate as row dicts keyed by natural keys (no database ids yet)."""

    account_id: str
    name: str
    alias: str
    content_sha256: str = ""
    has_credential_report: bool = False
    policies: Rows = field(default_factory=dict)  # (arn,)
    versions: Rows = field(default_factory=dict)  # (arn, version_id)
    groups: Rows = field(default_factory=dict)  # (unique_id,)
    users: Rows = field(default_factory=dict)
    roles: Rows = field(default_factory=dict)
    memberships: set[tuple[str, str]] = field(default_factory=set)  # (user uid, group uid)
    attachments: set[tuple[str, str, str]] = field(default_factory=set)  # (arn, owner, uid)
    inline_policies: Rows = field(default_factory=dict)  # (owner, uid, name)
    instance_profiles: Rows = field(default_factory=dict)  # (unique_id,)
    profile_roles: set[tuple[str, str]] = field(default_factory=set)  # (profile uid, role uid)
    providers: Rows = field(default_factory=dict)  # (arn,)
    access_keys: Rows = field(default_factory=dict)  # (user uid, slot)

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "groups": len(self.groups),
            "roles": len(self.roles),
            "policies": len(self.policies),
            "inline_policies": len(self.inline_policies),
            "memberships": len(self.memberships),
            "attachments": len(self.attachments),
        }


@dataclass
class OrganizationRows:
    organization_id: str
    management_account_id: str
    nodes: Rows  # (node_id,)
    policies: Rows  # (policy_id,)
    member_accounts: dict[str, dict[str, Any]]  # account id -> {name, parent_id, ou_path}


@dataclass
class EstateRows:
    accounts: list[AccountRows]
    organization: OrganizationRows | None
    warnings: list[str]


def normalise_bundle(bundle: dict[str, Any]) -> EstateRows:
    """Turn a validated bundle into row dicts, the shape `apply_estate` diffs against the tables."""
    organization = normalise_organization(bundle.get("organization"))
    org_names = organization.member_accounts if organization else {}
    accounts = [
        _normalise_account(account, org_names.get(account["id"], {}).get("name", ""))
        for account in bundle["accounts"]
    ]
    return EstateRows(accounts, organization, list(bundle.get("warnings", [])))


def _normalise_account(account: dict[str, Any], org_name: str) -> AccountRows:
    account_id = account["id"]
    details = account["authorization_details"]
    rows = AccountRows(
        account_id=account_id,
        name=account.get("name") or org_name or "",
        alias=account.get("alias") or "",
        content_sha256=_account_digest(account),
        has_credential_report="credential_report_rows" in account,
    )
    for policy in details["Policies"]:
        arn = policy["Arn"]
        default_id = policy.get("DefaultVersionId") or ""
        default_document = None
        for version in policy["PolicyVersionList"]:
            is_default = (
                version["VersionId"] == default_id or version.get("IsDefaultVersion") is True
            )
            if is_default:
                default_id = version["VersionId"]
                default_document = version["Document"]
            rows.versions[(arn, version["VersionId"])] = {
                "version_id": version["VersionId"],
                "is_default": is_default,
                "document": version["Document"],
                "create_date": _datetime(version.get("CreateDate")),
            }
        rows.policies[(arn,)] = {
            "arn": arn,
            "policy_id": policy.get("PolicyId") or "",
            # moto and some exports omit PolicyName; the ARN always carries it.
            "name": policy.get("PolicyName") or arn.rsplit("/", 1)[-1],
            "path": policy.get("Path") or "/",
            "is_aws_managed": is_aws_managed_policy(arn),
            "default_version_id": default_id,
            "document": default_document,
            "description": policy.get("Description") or "",
            "attachment_count": policy.get("AttachmentCount") or 0,
            "boundary_usage_count": policy.get("PermissionsBoundaryUsageCount") or 0,
            "is_attachable": policy.get("IsAttachable", True),
            "create_date": _datetime(policy.get("CreateDate")),
            "update_date": _datetime(policy.get("UpdateDate")),
        }

    group_uid_by_name = {}
    for group in details["GroupDetailList"]:
        uid = group["GroupId"]
        group_uid_by_name[group["GroupName"]] = uid
        rows.groups[(uid,)] = {**_principal(group, "Group"), "unique_id": uid}
        _relations(rows, group, "group", uid, "GroupPolicyList")

    report = {row["arn"]: row for row in account.get("credential_report_rows", [])}
    for user in details["UserDetailList"]:
        uid = user["UserId"]
        report_row = report.get(user["Arn"])
        rows.users[(uid,)] = {
            **_principal(user, "User"),
            "unique_id": uid,
            "tags": _tags(user),
            "boundary_arn": _boundary(user),
            **_credential_fields(report_row),
        }
        for group_name in user.get("GroupList") or []:
            rows.memberships.add((uid, group_uid_by_name[group_name]))
        _relations(rows, user, "user", uid, "UserPolicyList")
        if report_row:
            for slot in (1, 2):
                active = _report_bool(report_row.get(f"access_key_{slot}_active"))
                rotated = _report_datetime(report_row.get(f"access_key_{slot}_last_rotated"))
                if active or rotated:
                    rows.access_keys[(uid, slot)] = {
                        "slot": slot,
                        "active": bool(active),
                        "last_rotated": rotated,
                        "last_used_date": _report_datetime(
                            report_row.get(f"access_key_{slot}_last_used_date")
                        ),
                        "last_used_region": _report_text(
                            report_row.get(f"access_key_{slot}_last_used_region")
                        ),
                        "last_used_service": _report_text(
                            report_row.get(f"access_key_{slot}_last_used_service")
                        ),
                    }

    for role in details["RoleDetailList"]:
        uid = role["RoleId"]
        last_used = role.get("RoleLastUsed") or {}
        rows.roles[(uid,)] = {
            **_principal(role, "Role"),
            "unique_id": uid,
            "tags": _tags(role),
            "boundary_arn": _boundary(role),
            "trust_policy": role["AssumeRolePolicyDocument"],
            "description": role.get("Description") or "",
            "max_session_duration": role.get("MaxSessionDuration"),
            "last_used_date": _datetime(last_used.get("LastUsedDate")),
            "last_used_region": last_used.get("Region") or "",
        }
        _relations(rows, role, "role", uid, "RolePolicyList")
        for profile in role.get("InstanceProfileList") or []:
            profile_uid = profile["InstanceProfileId"]
            rows.instance_profiles[(profile_uid,)] = {
                "unique_id": profile_uid,
                "arn": profile["Arn"],
                "name": profile["InstanceProfileName"],
                "path": profile.get("Path") or "/",
            }
            rows.profile_roles.add((profile_uid, uid))

    for kind, key in (("saml", "saml_providers"), ("oidc", "oidc_providers")):
        for provider in account.get(key) or []:
            arn = provider["Arn"]
            rows.providers[(arn,)] = {"arn": arn, "kind": kind, "name": arn.split("/", 1)[-1]}
    return rows


def _account_digest(account: dict[str, Any]) -> str:
    """A digest of everything an account's rows are made from, as it is being applied, less
    the volatile fields (RoleLastUsed, the report's last-used times) and the warnings."""
    skipped = {"credential_report", "credential_report_rows", "warnings", "authorization_details"}
    content = {key: value for key, value in account.items() if key not in skipped}
    details = dict(account.get("authorization_details") or {})
    details["RoleDetailList"] = [
        {key: value for key, value in role.items() if key != "RoleLastUsed"}
        for role in details.get("RoleDetailList") or []
    ]
    content["authorization_details"] = details
    if "credential_report_rows" in account:
        content["credential_report_rows"] = [
            {key: value for key, value in row.items() if key not in VOLATILE_REPORT_COLUMNS}
            for row in account["credential_report_rows"]
        ]
    text = orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(text, digest_size=32).hexdigest()


def _principal(entry: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "arn": entry["Arn"],
        "name": entry[f"{kind}Name"],
        "path": entry.get("Path") or "/",
        "create_date": _datetime(entry.get("CreateDate")),
    }


def _relations(
    rows: AccountRows, entry: dict[str, Any], owner: str, uid: str, inline_key: str
) -> None:
    for attached in entry.get("AttachedManagedPolicies") or []:
        arn = attached["PolicyArn"]
        rows.attachments.add((arn, owner, uid))
        if (arn,) not in rows.policies:
            # Attached but not listed (a filtered export): keep the edge, the document is unknown.
            rows.policies[(arn,)] = _placeholder_policy(arn, attached.get("PolicyName"))
    for inline in entry.get(inline_key) or []:
        rows.inline_policies[(owner, uid, inline["PolicyName"])] = {
            "name": inline["PolicyName"],
            "document": inline["PolicyDocument"],
        }
    boundary = _boundary(entry)
    if boundary and (boundary,) not in rows.policies:
        rows.policies[(boundary,)] = _placeholder_policy(boundary, None)


def _placeholder_policy(arn: str, name: str | None) -> dict[str, Any]:
    return {
        "arn": arn,
        "policy_id": "",
        "name": name or arn.rsplit("/", 1)[-1],
        "path": "/",
        "is_aws_managed": is_aws_managed_policy(arn),
        "default_version_id": "",
        "document": None,
        "description": "",
        "attachment_count": 0,
        "boundary_usage_count": 0,
        "is_attachable": True,
        "create_date": None,
        "update_date": None,
    }


def _boundary(entry: dict[str, Any]) -> str:
    return (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") or ""


def _tags(entry: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in entry.get("Tags") or []}


def _credential_fields(row: dict[str, str] | None) -> dict[str, Any]:
    if row is None:
        return {
            "password_enabled": None,
            "password_last_used": None,
            "password_last_changed": None,
            "mfa_active": None,
        }
    return {
        "password_enabled": _report_bool(row.get("password_enabled")),
        "password_last_used": _report_datetime(row.get("password_last_used")),
        "password_last_changed": _report_datetime(row.get("password_last_changed")),
        "mfa_active": _report_bool(row.get("mfa_active")),
    }


def _report_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def _report_text(value: str | None) -> str:
    return "" if value in (None, "N/A", "no_information", "not_supported") else value


def _report_datetime(value: str | None) -> datetime | None:
    return _datetime(_report_text(value) or None)


def _datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def normalise_organization(org: dict[str, Any] | None) -> OrganizationRows | None:
    if not org:
        return None
    names: dict[str, str] = {}
    parents: dict[str, str] = {}
    nodes: Rows = {}
    for root in org["roots"]:
        names[root["Id"]] = root.get("Name") or "Root"
    for unit in org.get("organizational_units") or []:
        names[unit["Id"]] = unit["Name"]
        parents[unit["Id"]] = unit["ParentId"]

    def path_of(node_id: str) -> str:
        parts = []
        seen = set()
        while node_id and node_id not in seen:
            seen.add(node_id)
            parts.append(names.get(node_id, node_id))
            node_id = parents.get(node_id, "")
        return "/".join(reversed(parts))

    for root in org["roots"]:
        nodes[(root["Id"],)] = {
            "node_id": root["Id"],
            "kind": "root",
            "name": names[root["Id"]],
            "parent_id": "",
            "path": path_of(root["Id"]),
        }
    for unit in org.get("organizational_units") or []:
        nodes[(unit["Id"],)] = {
            "node_id": unit["Id"],
            "kind": "ou",
            "name": unit["Name"],
            "parent_id": unit["ParentId"],
            "path": path_of(unit["Id"]),
        }
    policies = {
        (policy["Id"],): {
            "policy_id": policy["Id"],
            "name": policy["Name"],
            "type": policy["Type"],
            "document": policy["Content"],
            "targets": sorted(policy.get("Targets") or []),
        }
        for policy in org.get("policies") or []
    }
    members = {
        member["Id"]: {
            "name": member.get("Name") or "",
            "parent_id": member["ParentId"],
            "ou_path": path_of(member["ParentId"]),
        }
        for member in org["accounts"]
    }
    return OrganizationRows(
        organization_id=org.get("id") or "",
        management_account_id=org.get("management_account_id") or "",
        nodes=nodes,
        policies=policies,
        member_accounts=members,
    )
