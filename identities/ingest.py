"""Bundle -> normalised rows -> diff against the current rows -> apply in ONE transaction.

Every source (a file import, a live sync) ends here. `normalise_bundle` turns a validated bundle
into plain row dicts keyed by their natural keys (unique ids, ARNs); `apply_estate` compares them
with what the database holds and writes only the difference, with bulk statements, inside one
transaction, recording every difference as a `Change` of the run. A failure anywhere leaves the
previous state exactly as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import connection, models, transaction
from django.utils import timezone

from identities.bundle import BundleError
from identities.db import refresh_planner_statistics
from identities.models import (
    AccessKey,
    Account,
    Change,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    IdentityProvider,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    OrgNode,
    OrgPolicy,
    PolicyAttachment,
    PolicyVersion,
    SyncRun,
)

logger = logging.getLogger(__name__)

BATCH = 2000
# A change this large (a first import, a big sync) leaves PostgreSQL's statistics stale.
STATISTICS_AFTER_CHANGES = 1000
ESTATE_STATISTICS: dict[type[models.Model], tuple[str, ...]] = {
    IamUser: ("account_id", "unique_id", "arn", "name"),
    IamGroup: ("account_id", "unique_id", "arn", "name"),
    IamRole: ("account_id", "unique_id", "arn", "name"),
    ManagedPolicy: ("account_id", "arn", "name", "is_aws_managed"),
    PolicyVersion: ("policy_id",),
    GroupMembership: ("user_id", "group_id"),
    PolicyAttachment: ("policy_id", "user_id", "group_id", "role_id"),
    InlinePolicy: ("account_id", "user_id", "group_id", "role_id"),
    Change: ("sync_run_id", "kind"),
}
Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]


# --- normalise ------------------------------------------------------------------------------


@dataclass
class AccountRows:
    """One account's estate as row dicts keyed by natural keys (no database ids yet)."""

    account_id: str
    name: str
    alias: str
    content_sha256: str = ""
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
    organization = _normalise_organization(bundle.get("organization"))
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
            "is_aws_managed": arn.split(":")[4] == "aws",
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
    """A digest of everything an account's rows are made from, as it is being applied."""
    content = {key: value for key, value in account.items() if key != "credential_report_rows"}
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
        "is_aws_managed": arn.split(":")[4] == "aws",
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
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def _normalise_organization(org: dict[str, Any] | None) -> OrganizationRows | None:
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


# --- apply ----------------------------------------------------------------------------------


class ChangeLog:
    """Collects the change set of one run and counts it by kind."""

    def __init__(self, sync_run: SyncRun) -> None:
        self.sync_run = sync_run
        self.entries: list[Change] = []
        self.counts: dict[str, dict[str, int]] = defaultdict(
            lambda: {"added": 0, "removed": 0, "changed": 0}
        )

    def add(
        self,
        account_id: str,
        kind: str,
        action: str,
        key: str,
        detail: dict | None = None,
        *,
        record: bool = True,
    ) -> None:
        self.counts[kind][action] += 1
        if record:
            self.entries.append(
                Change(
                    sync_run=self.sync_run,
                    account_id=account_id,
                    kind=kind,
                    action=action,
                    key=key,
                    detail=detail or {},
                )
            )

    def total(self) -> int:
        return sum(sum(actions.values()) for actions in self.counts.values())


def apply_estate(
    estate: EstateRows, sync_run: SyncRun, *, fail_after: str | None = None
) -> ChangeLog:
    """Write the difference between `estate` and the database in one transaction.

    `fail_after` names a stage after which to raise (for tests proving the transaction is whole).
    """
    changes = ChangeLog(sync_run)
    with transaction.atomic():
        if estate.organization is not None:
            _apply_organization(estate.organization, changes)
        for account_rows in estate.accounts:
            _apply_account(
                account_rows, estate.organization, sync_run, changes, fail_after=fail_after
            )
        Change.objects.bulk_create(changes.entries, batch_size=BATCH)
    return changes


def _apply_organization(org: OrganizationRows, changes: ChangeLog) -> None:
    _sync_rows(
        OrgNode,
        scope={},
        key_fields=("node_id",),
        desired=org.nodes,
        kind="org_unit",
        changes=changes,
        account_id="",
        describe=lambda key, row: row["path"],
    )
    _sync_rows(
        OrgPolicy,
        scope={},
        key_fields=("policy_id",),
        desired=org.policies,
        kind="org_policy",
        changes=changes,
        account_id="",
        describe=lambda key, row: f"{row['type']} {row['name']}",
    )
    members = org.member_accounts
    existing = {account.account_id: account for account in Account.objects.all()}
    for account_id, member in members.items():
        wanted = {
            "ou_path": member["ou_path"],
            "parent_id": member["parent_id"],
            "in_organization": True,
            "is_management": account_id == org.management_account_id,
        }
        account = existing.get(account_id)
        if account is None:
            Account.objects.create(account_id=account_id, name=member["name"], **wanted)
            changes.add(account_id, "account", "added", account_id)
            continue
        if not account.name and member["name"]:
            wanted["name"] = member["name"]
        differing = [name for name, value in wanted.items() if getattr(account, name) != value]
        if differing:
            Account.objects.filter(pk=account.pk).update(**wanted)
            changes.add(account_id, "account", "changed", account_id, {"fields": differing})
    gone = [
        acc for acc in existing.values() if acc.in_organization and acc.account_id not in members
    ]
    for account in gone:
        Account.objects.filter(pk=account.pk).update(
            in_organization=False, is_management=False, ou_path="", parent_id=""
        )
        changes.add(
            account.account_id,
            "account",
            "changed",
            account.account_id,
            {"fields": ["in_organization"]},
        )


def _apply_account(
    rows: AccountRows,
    organization: OrganizationRows | None,
    sync_run: SyncRun,
    changes: ChangeLog,
    *,
    fail_after: str | None,
) -> None:
    account_id = rows.account_id
    account = Account.objects.filter(account_id=account_id).first()
    has_data_before = account is not None and account.last_sync_run_id is not None
    if has_data_before and rows.content_sha256 and account.content_sha256 == rows.content_sha256:
        # The same section as the last applied import of this account: its rows equal it
        # already (only ingest writes them), so nightly syncs of quiet accounts cost nothing.
        Account.objects.filter(pk=account.pk).update(last_sync_run=sync_run)
        return
    if account is None:
        account = Account.objects.create(account_id=account_id, name=rows.name, alias=rows.alias)
        changes.add(account_id, "account", "added", account_id)
    else:
        updates = {}
        if rows.name and rows.name != account.name:
            updates["name"] = rows.name
        if rows.alias != account.alias:
            updates["alias"] = rows.alias
        if updates:
            Account.objects.filter(pk=account.pk).update(**updates)
            changes.add(account_id, "account", "changed", account_id, {"fields": sorted(updates)})
    # A first import of an account is one "added" summary, not one row per entity.
    record = has_data_before
    if not has_data_before:
        changes.entries.append(
            Change(
                sync_run=sync_run,
                account_id=account_id,
                kind="account_data",
                action="added",
                key=account_id,
                detail=rows.counts(),
            )
        )
    scope = {"account": account}

    def sync(
        model: type[models.Model],
        desired: Rows,
        key_fields: tuple[str, ...],
        kind: str,
        describe: Callable[[Key, dict[str, Any]], str],
        *,
        scope: dict[str, Any] = scope,
        watch: dict[str, str] | None = None,
    ) -> dict[Key, int]:
        return _sync_rows(
            model,
            scope=scope,
            key_fields=key_fields,
            desired=desired,
            kind=kind,
            changes=changes,
            account_id=account_id,
            describe=describe,
            record=record,
            watch=watch,
        )

    policy_pks = sync(
        ManagedPolicy,
        _with(rows.policies, account_id=account.pk),
        ("arn",),
        "policy",
        lambda key, row: row["arn"],
    )
    versions = {
        (policy_pks[(arn,)], version_id): {**row, "policy_id": policy_pks[(arn,)]}
        for (arn, version_id), row in rows.versions.items()
    }
    # Relations of removed principals and policies go with them (cascade), so both ends of a
    # removed relation are among the rows just synced.
    policy_arn = {pk: key[0] for key, pk in policy_pks.items()}
    sync(
        PolicyVersion,
        versions,
        ("policy_id", "version_id"),
        "policy_version",
        lambda key, row: f"{policy_arn[key[0]]} {key[1]}",
        scope={"policy__account": account},
    )
    if fail_after == "policies":
        raise RuntimeError("injected failure after policies")

    group_pks = sync(
        IamGroup,
        _with(rows.groups, account_id=account.pk),
        ("unique_id",),
        "group",
        lambda key, row: row["arn"],
    )
    user_pks = sync(
        IamUser,
        _with(rows.users, account_id=account.pk),
        ("unique_id",),
        "user",
        lambda key, row: row["arn"],
    )
    role_pks = sync(
        IamRole,
        _with(rows.roles, account_id=account.pk),
        ("unique_id",),
        "role",
        lambda key, row: row["arn"],
        watch={"trust_policy": "trust_policy"},
    )
    if fail_after == "principals":
        raise RuntimeError("injected failure after principals")

    arn_of = {
        **{("group", pk): rows.groups[key]["arn"] for key, pk in group_pks.items()},
        **{("user", pk): rows.users[key]["arn"] for key, pk in user_pks.items()},
        **{("role", pk): rows.roles[key]["arn"] for key, pk in role_pks.items()},
    }
    owner_pks = {"user": user_pks, "group": group_pks, "role": role_pks}

    memberships = {
        (user_pks[(user,)], group_pks[(group,)]): {
            "user_id": user_pks[(user,)],
            "group_id": group_pks[(group,)],
        }
        for user, group in rows.memberships
    }
    sync(
        GroupMembership,
        memberships,
        ("user_id", "group_id"),
        "membership",
        lambda key, row: f"{arn_of[('user', key[0])]} in {arn_of[('group', key[1])]}",
        scope={"user__account": account},
    )

    attachments: Rows = {}
    for arn, owner, uid in rows.attachments:
        owner_pk = owner_pks[owner][(uid,)]
        row = {
            "policy_id": policy_pks[(arn,)],
            "user_id": owner_pk if owner == "user" else None,
            "group_id": owner_pk if owner == "group" else None,
            "role_id": owner_pk if owner == "role" else None,
        }
        attachments[_owner_key(row, "policy_id")] = row
    sync(
        PolicyAttachment,
        attachments,
        ("policy_id", "user_id", "group_id", "role_id"),
        "attachment",
        lambda key, row: f"{policy_arn[key[0]]} on {_owner_arn(arn_of, row)}",
        scope={"policy__account": account},
    )

    inline: Rows = {}
    for (owner, uid, _name), row in rows.inline_policies.items():
        owner_pk = owner_pks[owner][(uid,)]
        inline_row = {
            **row,
            "account_id": account.pk,
            "user_id": owner_pk if owner == "user" else None,
            "group_id": owner_pk if owner == "group" else None,
            "role_id": owner_pk if owner == "role" else None,
        }
        inline[_owner_key(inline_row, "name")] = inline_row
    sync(
        InlinePolicy,
        inline,
        ("user_id", "group_id", "role_id", "name"),
        "inline_policy",
        lambda key, row: f"{_owner_arn(arn_of, row)} inline {row['name']}",
    )
    if fail_after == "relations":
        raise RuntimeError("injected failure after relations")

    profile_pks = sync(
        InstanceProfile,
        _with(rows.instance_profiles, account_id=account.pk),
        ("unique_id",),
        "instance_profile",
        lambda key, row: row["arn"],
    )
    through = InstanceProfile.roles.through
    profile_roles = {
        (profile_pks[(profile,)], role_pks[(role,)]): {
            "instanceprofile_id": profile_pks[(profile,)],
            "iamrole_id": role_pks[(role,)],
        }
        for profile, role in rows.profile_roles
    }
    sync(
        through,
        profile_roles,
        ("instanceprofile_id", "iamrole_id"),
        "instance_profile_role",
        lambda key, row: f"{arn_of[('role', key[1])]} in profile {key[0]}",
        scope={"instanceprofile__account": account},
    )
    sync(
        IdentityProvider,
        _with(rows.providers, account_id=account.pk),
        ("arn",),
        "identity_provider",
        lambda key, row: row["arn"],
    )
    keys = {
        (user_pks[(uid,)], slot): {**row, "user_id": user_pks[(uid,)]}
        for (uid, slot), row in rows.access_keys.items()
    }
    sync(
        AccessKey,
        keys,
        ("user_id", "slot"),
        "access_key",
        lambda key, row: f"{arn_of[('user', key[0])]} key {key[1]}",
        scope={"user__account": account},
    )

    Account.objects.filter(pk=account.pk).update(
        last_sync_run=sync_run, content_sha256=rows.content_sha256
    )
    if fail_after == "account":
        raise RuntimeError("injected failure at the end of an account")


def _owner_key(row: dict[str, Any], other: str) -> Key:
    if other == "name":
        return (row["user_id"], row["group_id"], row["role_id"], row["name"])
    return (row[other], row["user_id"], row["group_id"], row["role_id"])


def _owner_arn(arn_of: dict[tuple[str, int], str], row: dict[str, Any]) -> str:
    for owner in ("user", "group", "role"):
        if row.get(f"{owner}_id") is not None:
            return arn_of.get((owner, row[f"{owner}_id"]), f"{owner} #{row[f'{owner}_id']}")
    return "?"


def _with(rows: Rows, **extra: Any) -> Rows:
    return {key: {**row, **extra} for key, row in rows.items()}


def _sync_rows(
    model: type[models.Model],
    *,
    scope: dict[str, Any],
    key_fields: tuple[str, ...],
    desired: Rows,
    kind: str,
    changes: ChangeLog,
    account_id: str,
    describe: Callable[[Key, dict[str, Any]], str],
    record: bool = True,
    watch: dict[str, str] | None = None,
) -> dict[Key, int]:
    """Make the rows of `model` within `scope` equal `desired`; return key -> pk for all of them.

    Only differences are written: new rows in bulk inserts, changed ones in bulk updates,
    vanished ones in bulk deletes. `watch` maps a field to a change kind of its own (a role's
    trust policy changing is worth its own entry, with before and after).
    """
    fingerprinted = any(field.name == "fingerprint" for field in model._meta.concrete_fields)
    if fingerprinted:
        for row in desired.values():
            row["fingerprint"] = _fingerprint(row)
    fields = list(next(iter(desired.values())).keys()) if desired else []
    # With a fingerprint only it (and the key) is read: an unchanged re-import decodes no JSON.
    compared = ["fingerprint"] if fingerprinted else fields
    read = ["pk", *key_fields, *(name for name in compared if name not in key_fields)]
    width = len(key_fields)
    existing: dict[Key, tuple[Any, ...]] = {}
    # One account's rows: a plain fetch of tuples beats a server-side cursor and dicts.
    for values in model.objects.filter(**scope).values_list(*read):
        existing[values[1 : 1 + width]] = values

    result: dict[Key, int] = {}
    to_create: list[tuple[Key, dict[str, Any]]] = []
    candidates: list[tuple[Key, dict[str, Any], int]] = []
    for key, row in desired.items():
        current = existing.pop(key, None)
        if current is None:
            to_create.append((key, row))
            changes.add(account_id, kind, "added", describe(key, row), record=record)
            continue
        result[key] = current[0]
        stored_values = dict(zip(read[1:], current[1:], strict=True))
        if any(stored_values[name] != row[name] for name in compared):
            candidates.append((key, row, current[0]))

    to_update: list[models.Model] = []
    changed_fields: set[str] = set()
    stored = _full_rows(model, [pk for *_, pk in candidates], fields)
    for key, row, pk in candidates:
        current = stored[pk]
        to_update.append(model(pk=pk, **row))
        differing = [
            name for name in fields if name != "fingerprint" and current[name] != row[name]
        ]
        changed_fields.update(differing)
        if fingerprinted:
            changed_fields.add("fingerprint")
        plain = [name for name in differing if not (watch and name in watch)]
        if plain:
            changes.add(
                account_id, kind, "changed", describe(key, row), {"fields": plain}, record=record
            )
        for name in differing:
            if watch and name in watch:
                changes.add(
                    account_id,
                    watch[name],
                    "changed",
                    describe(key, row),
                    {"before": current[name], "after": row[name]},
                    record=record,
                )

    # Removed rows go first: a principal recreated under the same name must not collide.
    if existing:
        pks = [values[0] for values in existing.values()]
        described = dict.fromkeys(["pk", *key_fields, *_DESCRIBED_BY.get(model, ())])
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            for row in model.objects.filter(pk__in=batch).values(*described):
                key = tuple(row[name] for name in key_fields)
                changes.add(account_id, kind, "removed", describe(key, row), record=record)
            model.objects.filter(pk__in=batch).delete()
    if to_create and connection.vendor == "postgresql":
        _copy_rows(model, [row for _, row in to_create], fields)
        for row in model.objects.filter(**scope).values("pk", *key_fields):
            result.setdefault(tuple(row[name] for name in key_fields), row["pk"])
    elif to_create:
        created = model.objects.bulk_create(
            [model(**row) for _, row in to_create], batch_size=BATCH
        )
        for (key, _), obj in zip(to_create, created, strict=True):
            result[key] = obj.pk
    if to_update and connection.vendor == "postgresql":
        _update_rows(model, to_update, sorted(changed_fields))
    elif to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=BATCH)
    return result


def _fingerprint(row: dict[str, Any]) -> str:
    """A digest of a row's values, stored beside it so an unchanged row is known by one column."""
    values = {name: value for name, value in row.items() if name != "fingerprint"}
    text = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _full_rows(
    model: type[models.Model], pks: list[int], fields: list[str]
) -> dict[int, dict[str, Any]]:
    """The stored values of the rows whose fingerprint differs, to name what changed."""
    rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(pks), BATCH):
        for row in model.objects.filter(pk__in=pks[start : start + BATCH]).values("pk", *fields):
            rows[row["pk"]] = row
    return rows


def _copy_rows(model: type[models.Model], rows: list[dict[str, Any]], fields: list[str]) -> None:
    """Insert rows with PostgreSQL's COPY: several times faster than INSERT for large imports."""
    _copy_into(model._meta.db_table, model, rows, fields)


def _update_rows(model: type[models.Model], objects: list[models.Model], fields: list[str]) -> None:
    """Update rows through a COPY into a temporary table and one UPDATE … FROM.

    Django's bulk_update writes a CASE per row and column, which takes minutes for the
    hundred thousand rows an estate-wide change can touch.
    """
    quote = connection.ops.quote_name
    table = model._meta.db_table
    staging = f"{table}_staging"
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(quote(by_attname[name].column) for name in fields)
    rows = [{"id": obj.pk, **{name: getattr(obj, name) for name in fields}} for obj in objects]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {quote(staging)} AS "
            f"SELECT id, {columns} FROM {quote(table)} WITH NO DATA"
        )
        _copy_into(staging, model, rows, ["id", *fields])
        assignments = ", ".join(
            f"{quote(by_attname[name].column)} = staging.{quote(by_attname[name].column)}"
            for name in fields
        )
        cursor.execute(
            f"UPDATE {quote(table)} AS target SET {assignments} "
            f"FROM {quote(staging)} AS staging WHERE target.id = staging.id"
        )
        cursor.execute(f"DROP TABLE {quote(staging)}")


def _copy_into(
    table: str, model: type[models.Model], rows: list[dict[str, Any]], fields: list[str]
) -> None:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    columns = [by_attname[name] for name in fields]
    json_columns = {
        name
        for name, column in zip(fields, columns, strict=True)
        if isinstance(column, models.JSONField)
    }
    names = ", ".join(connection.ops.quote_name(column.column) for column in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    orjson.dumps(row[name]).decode()
                    if name in json_columns and row[name] is not None
                    else row[name]
                    for name in fields
                ]
            )


# Fields a removed row needs for its description when nothing of it is desired any more.
_DESCRIBED_BY: dict[type[models.Model], tuple[str, ...]] = {
    ManagedPolicy: ("arn",),
    IamGroup: ("arn",),
    IamUser: ("arn",),
    IamRole: ("arn",),
    InstanceProfile: ("arn",),
    IdentityProvider: ("arn",),
    OrgNode: ("path",),
    OrgPolicy: ("type", "name"),
    PolicyAttachment: ("user_id", "group_id", "role_id"),
    InlinePolicy: ("user_id", "group_id", "role_id", "name"),
}


# --- the whole import -----------------------------------------------------------------------


@dataclass
class ImportResult:
    sync_run: SyncRun
    changes: ChangeLog | None
    warnings: list[str]


def import_bundle(
    bundle: dict[str, Any],
    *,
    source: str = SyncRun.Source.IMPORT,
    label: str = "",
    raw: bytes | None = None,
    sync_run: SyncRun | None = None,
    fail_after: str | None = None,
) -> ImportResult:
    """Normalise and apply a validated bundle (see `bundle.read_bundle`), recording a SyncRun.

    The run is saved as running before the transaction and marked failed (with the error) after
    it if anything goes wrong, so a failed import is visible and the estate is untouched.
    """
    run = sync_run or SyncRun(source=source, label=label)
    run.status = SyncRun.Status.RUNNING
    run.started_at = run.started_at or timezone.now()
    run.save()
    try:
        estate = normalise_bundle(bundle)
        run.account_ids = [rows.account_id for rows in estate.accounts]
        run.counts = _sum_counts(estate.accounts)
        if raw is not None:
            run.bundle_gzip = gzip.compress(raw, compresslevel=3)
            run.bundle_sha256 = hashlib.sha256(raw).hexdigest()
            run.bundle_bytes = len(raw)
        changes = apply_estate(estate, run, fail_after=fail_after)
    except Exception as exc:
        run.status = SyncRun.Status.FAILED
        run.error = str(exc) if isinstance(exc, BundleError) else f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save()
        raise
    if changes.total() >= STATISTICS_AFTER_CHANGES:
        refresh_planner_statistics(ESTATE_STATISTICS)
    run.status = SyncRun.Status.SUCCEEDED
    run.change_counts = {kind: dict(actions) for kind, actions in sorted(changes.counts.items())}
    run.finished_at = timezone.now()
    run.save()
    logger.info("import %s: %d accounts, %d changes", run.pk, len(estate.accounts), changes.total())
    return ImportResult(run, changes, estate.warnings)


def import_organization(organization: dict[str, Any], *, sync_run: SyncRun) -> ChangeLog:
    """Apply a validated `organization` section alone (see `bundle.validate_organization`).

    A live sync of an organisation applies roots, OUs, SCPs/RCPs and membership once, in one
    transaction, then imports each account's bundle on its own. The changes are recorded on
    `sync_run`; its status is left to the caller.
    """
    rows = _normalise_organization(organization)
    changes = ChangeLog(sync_run)
    if rows is None:
        return changes
    with transaction.atomic():
        _apply_organization(rows, changes)
        Change.objects.bulk_create(changes.entries, batch_size=BATCH)
    return changes


def _sum_counts(accounts: list[AccountRows]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for rows in accounts:
        for name, value in rows.counts().items():
            totals[name] += value
    totals["accounts"] = len(accounts)
    return dict(totals)
