"""The checks behind `identities.bundle`: every part of a bundle the later stages rely on.

Pure: no database, no Django. A failed check raises `BundleProblem` (JSON path, problem);
`identities.bundle` adds the source and raises its `BundleError`. The limits themselves, with
AWS's documentation for each, are in `identities.iam_limits`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Container
from typing import Any
from urllib.parse import unquote

import orjson

from identities import iam_limits
from identities.arns import AWS_MANAGED_ACCOUNT, Arn, is_account_id, parse_arn

AUTHZ_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
ORG_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
CREDENTIAL_REPORT_COLUMNS = ("user", "arn", "mfa_active", "password_enabled")
# Report cells that hold a time, and the text cells ingest stores (with their column width).
_REPORT_TIMES = (
    "password_last_used",
    "password_last_changed",
    *(
        f"access_key_{slot}_{what}"
        for slot in (1, 2)
        for what in ("last_rotated", "last_used_date")
    ),
)
_REPORT_TEXT = {
    **{f"access_key_{slot}_last_used_region": iam_limits.REGION_MAX for slot in (1, 2)},
    **{f"access_key_{slot}_last_used_service": 64 for slot in (1, 2)},
}
_REPORT_NO_VALUE = ("", "N/A", "no_information", "not_supported")


class BundleProblem(ValueError):
    """One thing wrong at one JSON path (the source is added by `identities.bundle`)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def decode_document(document: Any, path: str) -> dict[str, Any]:
    """A policy document as an object, whether it came as an object, JSON or URL-encoded JSON."""
    if isinstance(document, dict):
        parsed: Any = document
    elif isinstance(document, str):
        text = document.strip()
        if not text.startswith("{"):
            text = _url_decode(text)
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BundleProblem(
                path, f"policy document is not valid JSON (after URL-decoding): {exc.msg}"
            ) from exc
    else:
        raise BundleProblem(
            path, f"policy document must be an object or a string, found {kind_of(document)}"
        )
    if not isinstance(parsed, dict):
        raise BundleProblem(path, f"policy document must be a JSON object, found {kind_of(parsed)}")
    if "Statement" not in parsed:
        raise BundleProblem(path, "policy document has no Statement")
    statements = parsed["Statement"]
    if not isinstance(statements, dict | list):
        raise BundleProblem(
            f"{path}.Statement", f"must be an object or a list, found {kind_of(statements)}"
        )
    return parsed


def _url_decode(text: str) -> str:
    """urllib's unquote, six times faster for the pure-ASCII text AWS sends.

    Large bundles hold tens of thousands of URL-encoded documents; unquote's Python loop over
    every %XX was a tenth of a re-import. Anything unusual takes unquote itself.
    """
    if text.isascii() and "\\" not in text:
        try:
            escaped = text.replace("%", "\\x")
            return codecs.decode(escaped, "unicode_escape").encode("latin-1").decode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError):
            pass
    return unquote(text)


def parse_credential_report(text: str, path: str) -> list[dict[str, str]]:
    """Rows of a credential report CSV, keyed by its header."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in CREDENTIAL_REPORT_COLUMNS if column not in header]
    if missing:
        raise BundleProblem(path, f"credential report lacks the column(s) {', '.join(missing)}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(value is None for value in row.values()):
            raise BundleProblem(
                path, f"credential report line {line} has {len(header)} columns expected"
            )
        for column in _REPORT_TIMES:
            value = row.get(column)
            if value is not None and value not in _REPORT_NO_VALUE:
                problem = iam_limits.timestamp_problem(value)
                if problem:
                    raise BundleProblem(path, f"credential report line {line}: {problem}")
        for column, limit in _REPORT_TEXT.items():
            if len(row.get(column) or "") > limit:
                raise BundleProblem(
                    path, f"credential report line {line}: {column} is over {limit} characters"
                )
        rows.append(row)
    return rows


def check_storable(value: Any, where: str) -> None:
    """Refuse what no later stage can store: nesting past orjson's limit, NUL, lone surrogates.

    One orjson pass over the whole section (fast); only when it fails or shows an escaped
    NUL is the section walked to name the place.
    """
    try:
        failed = False
        if b"\\u0000" not in orjson.dumps(value):
            return
    except orjson.JSONEncodeError:
        failed = True
    stack: list[tuple[Any, str, int]] = [(value, where, 1)]
    while stack:
        item, at, depth = stack.pop()
        if depth > _STORABLE_DEPTH:
            raise BundleProblem(at, f"nested deeper than {_STORABLE_DEPTH} levels")
        if isinstance(item, str):
            bad = _CONTROL.search(item)
            if bad and (bad.group() == "\x00" or bad.group() >= "\ud800"):
                raise BundleProblem(at, f"holds the character U+{ord(bad.group()):04X}")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or _CONTROL.search(key):
                    raise BundleProblem(at, f"a key that cannot be stored: {key!r:.40}")
                stack.append((child, f"{at}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{index}]", depth + 1) for index, child in enumerate(item))
        elif not isinstance(item, int | float | bool) and item is not None:
            raise BundleProblem(at, f"not a JSON value: {type(item).__name__}")
    if failed:
        raise BundleProblem(where, "cannot be stored (nested too deep or not JSON)")


# orjson writes at most 254 levels; the digest and the JSON columns are written with it.
_STORABLE_DEPTH = 200


_ENTITIES = {
    "UserDetailList": ("user", "UserName", "UserId", "UserPolicyList"),
    "GroupDetailList": ("group", "GroupName", "GroupId", "GroupPolicyList"),
    "RoleDetailList": ("role", "RoleName", "RoleId", "RolePolicyList"),
}


def validate_account(check: Checker, account: dict[str, Any], account_id: str, where: str) -> None:
    details_where = f"{where}.authorization_details"
    details = account.get("authorization_details")
    if not isinstance(details, dict):
        raise BundleProblem(
            details_where,
            "missing" if details is None else f"must be an object, found {kind_of(details)}",
        )
    for list_name in AUTHZ_LISTS:
        # Absent or null: none of them (later stages read the list unconditionally).
        details[list_name] = check.list_of_objects(
            details, list_name, details_where, required=False
        )
    for list_name, (kind, name_key, id_key, inline_key) in _ENTITIES.items():
        for index, entry in enumerate(details[list_name]):
            at = f"{details_where}.{list_name}[{index}]"
            name = check.iam_name(entry, name_key, at, kind)
            check.unique_id(entry, id_key, at)
            check.principal_arn(entry, at, account_id, kind, name)
            check.timestamps(entry, at, "CreateDate")
            _validate_policy_references(check, entry, at, account_id)
            _validate_inline_policies(check, entry, at, kind, inline_key)
            if kind == "role":
                _validate_role(check, entry, at, account_id)
            if kind == "user":
                groups = entry.get("GroupList")
                if groups is not None and not isinstance(groups, list):
                    raise BundleProblem(
                        f"{at}.GroupList", f"must be a list, found {kind_of(groups)}"
                    )
                for group_index, group in enumerate(groups or []):
                    at_group = f"{at}.GroupList[{group_index}]"
                    if not isinstance(group, str):
                        raise BundleProblem(
                            at_group, f"must be a group name, found {kind_of(group)}"
                        )
                    check.problem(iam_limits.name_problem(group, "group"), at_group)
            check.tags(entry, at)
    for index, policy in enumerate(details["Policies"]):
        _validate_managed_policy(check, policy, f"{details_where}.Policies[{index}]", account_id)
    # Only rows parsed here from the report reach ingest, never a key of the input.
    account.pop("credential_report_rows", None)
    report = account.get("credential_report")
    if report is not None:
        if not isinstance(report, str):
            raise BundleProblem(
                f"{where}.credential_report",
                f"must be the CSV text, found {kind_of(report)}",
            )
        account["credential_report_rows"] = parse_credential_report(
            report, path=f"{where}.credential_report"
        )
    for provider_key, resource_type in (
        ("saml_providers", "saml-provider"),
        ("oidc_providers", "oidc-provider"),
    ):
        for index, provider in enumerate(
            check.list_of_objects(account, provider_key, where, required=False)
        ):
            at = f"{where}.{provider_key}[{index}]"
            arn = check.string(provider, "Arn", at)
            parsed = iam_arn(arn)
            if (
                parsed is None
                or parsed.account != account_id
                or parsed.resource_type != resource_type
                or not _PROVIDER_NAME.fullmatch(parsed.resource.split("/", 1)[-1])
            ):
                raise BundleProblem(f"{at}.Arn", f"not a {resource_type} of this account: {arn!r}")


# A SAML provider name or an OIDC provider URL without its scheme: printable, no spaces.
_PROVIDER_NAME = re.compile(rf"[\x21-\x7e]{{1,{iam_limits.PROVIDER_NAME_MAX}}}")


def _validate_policy_references(
    check: Checker, entry: dict[str, Any], at: str, account_id: str
) -> None:
    for index, ref in enumerate(
        check.list_of_objects(entry, "AttachedManagedPolicies", at, required=False)
    ):
        ref_at = f"{at}.AttachedManagedPolicies[{index}]"
        check.policy_arn(ref, "PolicyArn", ref_at, account_id)
        if ref.get("PolicyName") is not None:
            check.iam_name(ref, "PolicyName", ref_at, "policy")
    boundary = check.optional_object(entry, "PermissionsBoundary", at)
    if boundary is not None:
        check.policy_arn(
            boundary, "PermissionsBoundaryArn", f"{at}.PermissionsBoundary", account_id
        )


def _validate_inline_policies(
    check: Checker, entry: dict[str, Any], at: str, kind: str, inline_key: str
) -> None:
    names: set[str] = set()
    total = 0
    for index, inline in enumerate(check.list_of_objects(entry, inline_key, at, required=False)):
        inline_at = f"{at}.{inline_key}[{index}]"
        name = check.string(inline, "PolicyName", inline_at)
        check.problem(iam_limits.inline_name_problem(name), f"{inline_at}.PolicyName")
        if name in names:
            raise BundleProblem(
                f"{inline_at}.PolicyName", f"inline policy {name!r} is listed twice"
            )
        names.add(name)
        document = inline["PolicyDocument"] = decode_document(
            inline.get("PolicyDocument"), path=f"{inline_at}.PolicyDocument"
        )
        limit = iam_limits.INLINE_TOTAL_MAX[kind]
        check.problem(
            iam_limits.document_problem(document, limit, "the inline policy"),
            f"{inline_at}.PolicyDocument",
        )
        total += iam_limits.document_size(document)
        if total > limit:
            raise BundleProblem(
                f"{at}.{inline_key}",
                f"the inline policies of this {kind} total {total} characters; "
                f"AWS's quota is {limit} (whitespace not counted)",
            )


def _validate_role(check: Checker, role: dict[str, Any], at: str, account_id: str) -> None:
    document = role["AssumeRolePolicyDocument"] = decode_document(
        role.get("AssumeRolePolicyDocument"),
        path=f"{at}.AssumeRolePolicyDocument",
    )
    check.problem(
        iam_limits.document_problem(document, iam_limits.TRUST_POLICY_MAX, "the trust policy"),
        f"{at}.AssumeRolePolicyDocument",
    )
    check.text(role, "Description", at, iam_limits.DESCRIPTION_MAX)
    low, high = iam_limits.SESSION_DURATION
    check.integer(role, "MaxSessionDuration", at, low, high, nullable=True)
    last_used = check.optional_object(role, "RoleLastUsed", at)
    if last_used is not None:
        check.timestamps(last_used, f"{at}.RoleLastUsed", "LastUsedDate")
        check.text(last_used, "Region", f"{at}.RoleLastUsed", iam_limits.REGION_MAX)
    for index, profile in enumerate(
        check.list_of_objects(role, "InstanceProfileList", at, required=False)
    ):
        profile_at = f"{at}.InstanceProfileList[{index}]"
        name = check.iam_name(profile, "InstanceProfileName", profile_at, "instance profile")
        check.unique_id(profile, "InstanceProfileId", profile_at)
        check.principal_arn(profile, profile_at, account_id, "instance-profile", name)
        check.timestamps(profile, profile_at, "CreateDate")


def _validate_managed_policy(
    check: Checker, policy: dict[str, Any], at: str, account_id: str
) -> None:
    arn = check.policy_arn(policy, "Arn", at, account_id)
    aws_managed = iam_arn(arn).account == AWS_MANAGED_ACCOUNT  # type: ignore[union-attr]
    if policy.get("PolicyName") is not None:
        name = check.iam_name(policy, "PolicyName", at, "policy")
        if arn.rsplit("/", 1)[-1] != name:
            raise BundleProblem(f"{at}.Arn", f"the ARN does not name policy {name!r}")
    check.path_matches_arn(policy, at, arn)
    if policy.get("PolicyId") is not None:
        check.unique_id(policy, "PolicyId", at)
    check.text(policy, "Description", at, iam_limits.DESCRIPTION_MAX)
    for key in ("AttachmentCount", "PermissionsBoundaryUsageCount"):
        check.integer(policy, key, at, 0, iam_limits.INT32_MAX, nullable=True)
    check.boolean(policy, "IsAttachable", at)
    check.timestamps(policy, at, "CreateDate", "UpdateDate")
    versions = check.list_of_objects(policy, "PolicyVersionList", at, required=True)
    if not aws_managed and len(versions) > iam_limits.POLICY_VERSIONS_MAX:
        raise BundleProblem(
            f"{at}.PolicyVersionList",
            f"{len(versions)} versions; AWS keeps at most {iam_limits.POLICY_VERSIONS_MAX}",
        )
    default_id = policy.get("DefaultVersionId")
    if default_id is not None:
        check.problem(
            iam_limits.version_id_problem(check.string(policy, "DefaultVersionId", at)),
            f"{at}.DefaultVersionId",
        )
    limit = iam_limits.AWS_MANAGED_POLICY_MAX if aws_managed else iam_limits.MANAGED_POLICY_MAX
    version_ids: set[str] = set()
    default_found = False
    for version_index, version in enumerate(versions):
        version_at = f"{at}.PolicyVersionList[{version_index}]"
        version_id = check.string(version, "VersionId", version_at)
        check.problem(iam_limits.version_id_problem(version_id), f"{version_at}.VersionId")
        if version_id in version_ids:
            raise BundleProblem(f"{version_at}.VersionId", f"version {version_id} is listed twice")
        version_ids.add(version_id)
        check.boolean(version, "IsDefaultVersion", version_at)
        check.timestamps(version, version_at, "CreateDate")
        document = version["Document"] = decode_document(
            version.get("Document"), path=f"{version_at}.Document"
        )
        check.problem(
            iam_limits.document_problem(document, limit, "the policy document"),
            f"{version_at}.Document",
        )
        default_found = (
            default_found or version_id == default_id or version.get("IsDefaultVersion") is True
        )
    if not default_found:
        raise BundleProblem(
            f"{at}.PolicyVersionList",
            f"no version is the default (DefaultVersionId {default_id!r})",
        )


def check_account_whole(details: dict[str, Any], details_where: str) -> None:
    """What holds across all of an account's pages: unique names and ids, group references.

    Names of users, groups, roles and instance profiles are unique in an account regardless of
    case; unique ids are unique (a repeated one would silently replace the first entry).
    """
    ids: dict[str, dict[str, str]] = {}

    def unique_id(kind: str, value: str, at: str) -> None:
        seen = ids.setdefault(kind, {})
        if value in seen:
            raise BundleProblem(at, f"{kind} id {value} is also at {seen[value]}")
        seen[value] = at

    for list_name, (kind, name_key, id_key, _) in _ENTITIES.items():
        names: set[str] = set()
        for index, entry in enumerate(details[list_name]):
            at = f"{details_where}.{list_name}[{index}]"
            if entry[name_key].lower() in names:
                raise BundleProblem(
                    f"{at}.{name_key}", f"duplicate {kind} name {entry[name_key]!r}"
                )
            names.add(entry[name_key].lower())
            unique_id(kind, entry[id_key], f"{at}.{id_key}")
    profiles: dict[str, tuple[str, str]] = {}
    profile_names: dict[str, str] = {}
    for index, role in enumerate(details["RoleDetailList"]):
        for profile_index, profile in enumerate(role.get("InstanceProfileList") or []):
            at = f"{details_where}.RoleDetailList[{index}].InstanceProfileList[{profile_index}]"
            profile_id, name = profile["InstanceProfileId"], profile["InstanceProfileName"]
            if profile_id in profiles and profiles[profile_id] != (name, profile["Arn"]):
                raise BundleProblem(
                    at, f"instance profile {profile_id} is listed with another name"
                )
            if profile_names.setdefault(name.lower(), profile_id) != profile_id:
                raise BundleProblem(
                    f"{at}.InstanceProfileName", f"duplicate instance profile name {name!r}"
                )
            if profile_id not in profiles:
                unique_id("instance profile", profile_id, f"{at}.InstanceProfileId")
            profiles[profile_id] = (name, profile["Arn"])
    for index, policy in enumerate(details["Policies"]):
        if policy.get("PolicyId") is not None:
            unique_id("policy", policy["PolicyId"], f"{details_where}.Policies[{index}].PolicyId")
    group_names = {group["GroupName"] for group in details["GroupDetailList"]}
    for index, user in enumerate(details["UserDetailList"]):
        for group_index, group in enumerate(user.get("GroupList") or []):
            if group not in group_names:
                raise BundleProblem(
                    f"{details_where}.UserDetailList[{index}].GroupList[{group_index}]",
                    f"user {user['UserName']!r} is in group {group!r}, which GroupDetailList does not list",
                )


def validate_organization(check: Checker, org: Any, where: str) -> None:
    if not isinstance(org, dict):
        raise BundleProblem(where, f"must be an object, found {kind_of(org)}")
    management = org.get("management_account_id")
    if management is not None:
        check.account_id(management, f"{where}.management_account_id")
    check.optional_string(org, "id", where)
    roots = check.list_of_objects(org, "roots", where, required=True)
    if not roots:
        raise BundleProblem(f"{where}.roots", "an organisation has one root")
    parents: dict[str, str] = {}
    for index, root in enumerate(roots):
        at = f"{where}.roots[{index}]"
        check.org_node_id(root, "Id", at, parents)
        check.text(root, "Name", at, iam_limits.ORG_NAME_MAX)
        parents[root["Id"]] = ""
    units = check.list_of_objects(org, "organizational_units", where, required=False)
    for index, unit in enumerate(units):
        at = f"{where}.organizational_units[{index}]"
        check.org_node_id(unit, "Id", at, parents)
        check.string(unit, "Name", at)
        check.text(unit, "Name", at, iam_limits.ORG_NAME_MAX)
        parents[unit["Id"]] = check.string(unit, "ParentId", at)
    for index, unit in enumerate(units):
        at = f"{where}.organizational_units[{index}].ParentId"
        node, depth = unit["Id"], 0
        while parents[node]:
            node, depth = parents[node], depth + 1
            if node not in parents:
                raise BundleProblem(at, f"unknown parent {node!r}")
            if depth > iam_limits.OU_DEPTH_MAX:
                raise BundleProblem(
                    at,
                    f"OUs nest at most {iam_limits.OU_DEPTH_MAX} deep under a root (or a cycle)",
                )
    target_ids = set(parents)
    for index, member in enumerate(check.list_of_objects(org, "accounts", where, required=True)):
        at = f"{where}.accounts[{index}]"
        member_id = check.account_id(member.get("Id"), f"{at}.Id")
        if member_id in target_ids:
            raise BundleProblem(f"{at}.Id", f"{member_id} is listed twice")
        target_ids.add(member_id)
        check.text(member, "Name", at, iam_limits.ORG_NAME_MAX)
        parent = check.string(member, "ParentId", at)
        if parent not in parents:
            raise BundleProblem(f"{at}.ParentId", f"unknown parent {parent!r}")
    policy_ids: set[str] = set()
    for index, policy in enumerate(check.list_of_objects(org, "policies", where, required=False)):
        at = f"{where}.policies[{index}]"
        check.org_node_id(policy, "Id", at, policy_ids)
        policy_ids.add(policy["Id"])
        check.string(policy, "Name", at)
        check.text(policy, "Name", at, iam_limits.ORG_NAME_MAX)
        policy_type = check.string(policy, "Type", at)
        if policy_type not in ORG_POLICY_TYPES:
            raise BundleProblem(
                f"{at}.Type",
                f"must be one of {', '.join(ORG_POLICY_TYPES)}, not {policy_type!r}",
            )
        document = policy["Content"] = decode_document(policy.get("Content"), path=f"{at}.Content")
        check.problem(
            iam_limits.document_problem(document, iam_limits.ORG_POLICY_MAX, "the policy"),
            f"{at}.Content",
        )
        targets = policy.get("Targets", [])
        if not isinstance(targets, list):
            raise BundleProblem(f"{at}.Targets", f"must be a list of ids, found {kind_of(targets)}")
        for target_index, target in enumerate(targets):
            if not isinstance(target, str) or target not in target_ids:
                raise BundleProblem(
                    f"{at}.Targets[{target_index}]",
                    f"unknown root, OU or account {target!r}",
                )


# Control characters (and lone surrogates) cannot be stored by PostgreSQL or shown safely.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Checker:
    def problem(self, problem: str | None, where: str) -> None:
        if problem is not None:
            raise BundleProblem(where, problem)

    def string(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            problem = (
                "missing"
                if value is None
                else f"must be a non-empty string, found {kind_of(value)}"
            )
            raise BundleProblem(f"{where}.{key}", problem)
        return value

    def optional_string(self, obj: dict[str, Any], key: str, where: str) -> None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleProblem(f"{where}.{key}", f"must be a string, found {kind_of(value)}")

    def text(self, obj: dict[str, Any], key: str, where: str, limit: int) -> None:
        """An optional free text: a string of at most `limit` characters, no control ones."""
        self.optional_string(obj, key, where)
        value = obj.get(key)
        if value is not None:
            self.problem(iam_limits.text_problem(value, limit, key), f"{where}.{key}")
            bad = _CONTROL.search(value)
            if bad:
                raise BundleProblem(
                    f"{where}.{key}",
                    f"holds the control character U+{ord(bad.group()):04X}",
                )

    def iam_name(self, obj: dict[str, Any], key: str, where: str, kind: str) -> str:
        name = self.string(obj, key, where)
        self.problem(iam_limits.name_problem(name, kind), f"{where}.{key}")
        return name

    def unique_id(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = self.string(obj, key, where)
        self.problem(iam_limits.unique_id_problem(value), f"{where}.{key}")
        return value

    def integer(
        self,
        obj: dict[str, Any],
        key: str,
        where: str,
        low: int,
        high: int,
        *,
        nullable: bool = False,
    ) -> None:
        if key not in obj or (nullable and obj[key] is None):
            return
        value = obj[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BundleProblem(
                f"{where}.{key}",
                f"must be a whole number from {low} to {high}, found {value!r:.60}",
            )

    def boolean(self, obj: dict[str, Any], key: str, where: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            raise BundleProblem(
                f"{where}.{key}", f"must be true or false, found {kind_of(obj[key])}"
            )

    def timestamps(self, obj: dict[str, Any], where: str, *keys: str) -> None:
        for key in keys:
            if obj.get(key) is not None:
                self.problem(iam_limits.timestamp_problem(obj[key]), f"{where}.{key}")

    def account_id(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not is_account_id(value):
            raise BundleProblem(
                where, f"an account id is 12 digits as a string, found {value!r:.60}"
            )
        return value

    def org_node_id(self, obj: dict[str, Any], key: str, where: str, seen: Container[str]) -> None:
        value = self.string(obj, key, where)
        if len(value) > iam_limits.ORG_ID_MAX or not _PROVIDER_NAME.fullmatch(value):
            raise BundleProblem(f"{where}.{key}", f"not an Organizations id: {value!r:.60}")
        if value in seen:
            raise BundleProblem(f"{where}.{key}", f"{value} is listed twice")

    def optional_object(self, obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, dict):
            raise BundleProblem(f"{where}.{key}", f"must be an object, found {kind_of(value)}")
        return value

    def list_of_objects(
        self, obj: dict[str, Any], key: str, where: str, *, required: bool
    ) -> list[dict[str, Any]]:
        value = obj.get(key)
        if value is None:
            if required:
                raise BundleProblem(f"{where}.{key}", "missing")
            return []
        if not isinstance(value, list):
            raise BundleProblem(f"{where}.{key}", f"must be a list, found {kind_of(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise BundleProblem(
                    f"{where}.{key}[{index}]",
                    f"must be an object, found {kind_of(item)}",
                )
        return value

    def principal_arn(
        self, entry: dict[str, Any], where: str, account_id: str, kind: str, name: str
    ) -> None:
        """The ARN of a user, group, role or instance profile: in this account, naming it."""
        arn = self.string(entry, "Arn", where)
        parsed = iam_arn(arn)
        if parsed is None or not parsed.resource.startswith(f"{kind}/"):
            raise BundleProblem(f"{where}.Arn", f"not an IAM {kind} ARN: {arn!r:.80}")
        if parsed.account != account_id:
            raise BundleProblem(
                f"{where}.Arn",
                f"{kind} of account {parsed.account} listed under account {account_id}",
            )
        if parsed.name != name:
            raise BundleProblem(f"{where}.Arn", f"the ARN does not name {name!r}")
        self.path_matches_arn(entry, where, arn)

    def policy_arn(self, obj: dict[str, Any], key: str, where: str, account_id: str) -> str:
        """A managed policy ARN, of AWS or of this account, with a valid name and path."""
        arn = self.string(obj, key, where)
        parsed = iam_arn(arn)
        if parsed is None or parsed.resource_type != "policy" or "/" not in parsed.resource:
            raise BundleProblem(f"{where}.{key}", f"not an IAM policy ARN: {arn!r:.80}")
        if parsed.account not in (AWS_MANAGED_ACCOUNT, account_id):
            raise BundleProblem(
                f"{where}.{key}",
                f"policy of account {parsed.account} listed under account {account_id}",
            )
        self.problem(
            iam_limits.name_problem(parsed.name, "policy")
            or iam_limits.path_problem(_arn_path(arn)),
            f"{where}.{key}",
        )
        return arn

    def path_matches_arn(self, entry: dict[str, Any], where: str, arn: str) -> None:
        """Path (when given) is valid and is the path the ARN shows; the ARN's own is valid."""
        self.problem(iam_limits.text_problem(arn, iam_limits.ARN_MAX, "an ARN"), f"{where}.Arn")
        arn_path = _arn_path(arn)
        if entry.get("Path") is None:
            self.problem(iam_limits.path_problem(arn_path), f"{where}.Arn")
            return
        path = self.string(entry, "Path", where)
        self.problem(iam_limits.path_problem(path), f"{where}.Path")
        if path != arn_path:
            raise BundleProblem(f"{where}.Path", f"{path!r:.80} is not the path in the ARN")

    def tags(self, entry: dict[str, Any], where: str) -> None:
        tags = self.list_of_objects(entry, "Tags", where, required=False)
        if len(tags) > iam_limits.TAGS_MAX:
            raise BundleProblem(
                f"{where}.Tags", f"at most {iam_limits.TAGS_MAX} tags, found {len(tags)}"
            )
        for index, tag in enumerate(tags):
            self.string(tag, "Key", f"{where}.Tags[{index}]")
            self.text(tag, "Key", f"{where}.Tags[{index}]", iam_limits.TAG_KEY_MAX)
            self.text(tag, "Value", f"{where}.Tags[{index}]", iam_limits.TAG_VALUE_MAX)


def _arn_path(arn: str) -> str:
    """The path inside an IAM ARN's resource: ``role/a/b/Name`` -> ``/a/b/``."""
    resource = arn.split(":", 5)[5]
    inner = resource.split("/", 1)[1] if "/" in resource else ""
    return "/" + inner.rsplit("/", 1)[0] + "/" if "/" in inner else "/"


def iam_arn(arn: Any) -> Arn | None:
    """An IAM ARN of an account or of AWS (managed policies), else None."""
    parsed = parse_arn(arn) if isinstance(arn, str) else None
    if parsed is None or parsed.service != "iam" or not parsed.account:
        return None
    return parsed


def kind_of(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
