"""The bundle format (`iamviz-bundle/1`, see docs/bundle-format.md): read, validate, decode.

A bundle carries an estate in AWS's own JSON shapes. `read_bundle` accepts a bundle or the plain
output of `aws iam get-account-authorization-details`, checks every part the later stages rely on,
decodes URL-encoded policy documents in place, and raises `BundleError` naming the file, the JSON
path and what is wrong. It knows nothing of the database.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from identities.arns import AWS_MANAGED_ACCOUNT, Arn, is_account_id, parse_arn

BUNDLE_FORMAT = "iamviz-bundle/1"
AUTHZ_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
ORG_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
CREDENTIAL_REPORT_COLUMNS = ("user", "arn", "mfa_active", "password_enabled")


class BundleError(ValueError):
    """Bad input: names the source, the JSON path and what is wrong."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(f"{source}: {path}: {problem}")


def make_bundle(
    accounts: Iterable[dict[str, Any]],
    *,
    organization: dict[str, Any] | None = None,
    warnings: Sequence[str] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The bundle envelope around account entries (and the organisation section, if any).

    Keys come in the order the format documents them; ``generated_at`` (UTC) and ``warnings``
    are left out when not given.
    """
    bundle: dict[str, Any] = {"format": BUNDLE_FORMAT}
    if generated_at is not None:
        bundle["generated_at"] = generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    bundle["accounts"] = list(accounts)
    if warnings is not None:
        bundle["warnings"] = list(warnings)
    if organization is not None:
        bundle["organization"] = organization
    return bundle


def read_file(path: str | Path) -> bytes:
    """The bytes of one input file; BundleError when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BundleError(str(path), "$", f"cannot read the file ({exc.strerror})") from exc


def read_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle or an authorization-details file from disk and validate it."""
    return parse_bundle(read_file(path), source=str(path))


def read_bundles(paths: Iterable[str | Path]) -> dict[str, Any]:
    """Read several files (bundles, or pages of one authorization-details call) as one bundle."""
    return parse_files([(str(path), read_file(path)) for path in paths])


def parse_files(files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """Parse the contents of several files, named by source, into one validated bundle.

    References between entities (a user's groups) may cross pages, so they are checked once the
    files are merged.
    """
    parsed = [
        (source, parse_bundle(raw, source=source, check_references=False)) for source, raw in files
    ]
    merged = parsed[0][1] if len(parsed) == 1 else merge_bundles(parsed)
    sources = ", ".join(source for source, _ in parsed)
    for index, account in enumerate(merged["accounts"]):
        _check_references(
            sources, account["authorization_details"], f"$.accounts[{index}].authorization_details"
        )
    return merged


def parse_bundle(
    raw: bytes | str, *, source: str = "<bundle>", check_references: bool = True
) -> dict[str, Any]:
    """Parse JSON text into a validated bundle (documents decoded to objects)."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        data = orjson.loads(text)
    except UnicodeDecodeError as exc:
        raise BundleError(
            source, "$", f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except json.JSONDecodeError as exc:
        raise BundleError(
            source, "$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return validate_bundle(data, source=source, check_references=check_references)


def validate_bundle(
    data: Any, *, source: str = "<bundle>", check_references: bool = True
) -> dict[str, Any]:
    """Validate a bundle already loaded from JSON; returns it with documents decoded."""
    if not isinstance(data, dict):
        raise BundleError(source, "$", f"expected a JSON object, found {_kind(data)}")
    if "format" not in data and any(key in data for key in AUTHZ_LISTS):
        data = _wrap_authorization_details(data, source)
    fmt = data.get("format")
    if fmt != BUNDLE_FORMAT:
        if fmt is None:
            raise BundleError(
                source,
                "$",
                f'neither an iamviz bundle (no "format": "{BUNDLE_FORMAT}") nor the output '
                "of get-account-authorization-details (no UserDetailList, RoleDetailList, …)",
            )
        raise BundleError(
            source, "$.format", f"unsupported format {fmt!r}; expected {BUNDLE_FORMAT!r}"
        )
    check = _Checker(source)
    accounts = check.list_of_objects(data, "accounts", "$", required=True)
    if not accounts:
        raise BundleError(source, "$.accounts", "the bundle lists no accounts")
    seen: set[str] = set()
    for index, account in enumerate(accounts):
        where = f"$.accounts[{index}]"
        account_id = check.account_id(account.get("id"), f"{where}.id")
        if account_id in seen:
            raise BundleError(source, f"{where}.id", f"account {account_id} is listed twice")
        seen.add(account_id)
        check.optional_string(account, "name", where)
        check.optional_string(account, "alias", where)
        _validate_account(check, account, account_id, where)
        if check_references:
            _check_references(
                source, account["authorization_details"], f"{where}.authorization_details"
            )
    if data.get("organization") is not None:
        _validate_organization(check, data["organization"], "$.organization")
    bundle: dict[str, Any] = data
    return bundle


def validate_organization(data: Any, *, source: str = "<organization>") -> dict[str, Any]:
    """Validate a bundle's `organization` section on its own (a live sync applies it before the
    accounts); returns it with SCP/RCP documents decoded."""
    _validate_organization(_Checker(source), data, "$.organization")
    organization: dict[str, Any] = data
    return organization


def decode_policy_document(document: Any, *, source: str, path: str) -> dict[str, Any]:
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
            raise BundleError(
                source, path, f"policy document is not valid JSON (after URL-decoding): {exc.msg}"
            ) from exc
    else:
        raise BundleError(
            source, path, f"policy document must be an object or a string, found {_kind(document)}"
        )
    if not isinstance(parsed, dict):
        raise BundleError(
            source, path, f"policy document must be a JSON object, found {_kind(parsed)}"
        )
    if "Statement" not in parsed:
        raise BundleError(source, path, "policy document has no Statement")
    statements = parsed["Statement"]
    if not isinstance(statements, dict | list):
        raise BundleError(
            source, f"{path}.Statement", f"must be an object or a list, found {_kind(statements)}"
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


def parse_credential_report(text: str, *, source: str, path: str) -> list[dict[str, str]]:
    """Rows of a credential report CSV, keyed by its header."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in CREDENTIAL_REPORT_COLUMNS if column not in header]
    if missing:
        raise BundleError(
            source, path, f"credential report lacks the column(s) {', '.join(missing)}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(value is None for value in row.values()):
            raise BundleError(
                source, path, f"credential report line {line} has {len(header)} columns expected"
            )
        rows.append(row)
    return rows


def merge_bundles(bundles: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Combine validated bundles from several files into one.

    An account may appear once, except as consecutive pages of one paginated
    get-account-authorization-details call (every page but the last says IsTruncated), whose
    lists are concatenated as AWS's own pagination would.
    """
    merged = make_bundle([], warnings=[])
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for source, bundle in bundles:
        for index, account in enumerate(bundle["accounts"]):
            earlier = seen.get(account["id"])
            if earlier is None:
                seen[account["id"]] = (source, account)
                merged["accounts"].append(account)
                continue
            earlier_source, earlier_account = earlier
            if not earlier_account["authorization_details"].get("IsTruncated"):
                raise BundleError(
                    source,
                    f"$.accounts[{index}].id",
                    f"account {account['id']} is also in {earlier_source}",
                )
            merge_authorization_pages(
                earlier_account["authorization_details"],
                account["authorization_details"],
                source=source,
            )
        merged["warnings"].extend(bundle.get("warnings", []))
        if bundle.get("organization") is not None:
            if "organization" in merged:
                raise BundleError(
                    source, "$.organization", "two files carry an organization section"
                )
            merged["organization"] = bundle["organization"]
    return merged


def merge_authorization_pages(into: dict[str, Any], page: dict[str, Any], *, source: str) -> None:
    """Append one page of GetAccountAuthorizationDetails to the pages before it."""
    keys = {
        "UserDetailList": "UserId",
        "GroupDetailList": "GroupId",
        "RoleDetailList": "RoleId",
        "Policies": "Arn",
    }
    for list_name, key in keys.items():
        known = {entry[key] for entry in into.get(list_name, [])}
        for entry in page.get(list_name, []):
            if entry[key] in known:
                raise BundleError(source, f"$.{list_name}", f"{entry[key]} appears on two pages")
        into.setdefault(list_name, []).extend(page.get(list_name, []))
    into["IsTruncated"] = bool(page.get("IsTruncated"))


def _wrap_authorization_details(details: dict[str, Any], source: str) -> dict[str, Any]:
    """Read the plain CLI output as a bundle of the account(s) its ARNs name.

    Real output covers one account. Hand-assembled files sometimes mix several; each entity then
    goes to the account its ARN names (AWS-managed policies to every one), with a warning.
    """
    by_account: dict[str, dict[str, list[Any]]] = {}
    aws_managed: list[Any] = []
    for list_name in AUTHZ_LISTS:
        entries = details.get(list_name) or []
        if not isinstance(entries, list):
            raise BundleError(source, f"$.{list_name}", f"must be a list, found {_kind(entries)}")
        for index, entry in enumerate(entries):
            arn = entry.get("Arn") if isinstance(entry, dict) else None
            parsed = _iam_arn(arn)
            if parsed is None:
                raise BundleError(source, f"$.{list_name}[{index}].Arn", f"not an IAM ARN: {arn!r}")
            if parsed.account == AWS_MANAGED_ACCOUNT:
                aws_managed.append(entry)
                continue
            lists = by_account.setdefault(parsed.account, {name: [] for name in AUTHZ_LISTS})
            lists[list_name].append(entry)
    if not by_account:
        raise BundleError(
            source, "$", "cannot tell the account: no user, group, role or customer policy ARN"
        )
    warnings = []
    if len(by_account) > 1:
        warnings.append(
            f"{source}: ARNs name {len(by_account)} accounts ({', '.join(sorted(by_account))}); "
            "entities were split by the account in their ARN"
        )
    accounts = []
    for account_id, lists in sorted(by_account.items()):
        account: dict[str, Any] = {"id": account_id, "authorization_details": lists}
        lists["Policies"].extend(aws_managed)
        if details.get("IsTruncated"):
            # One page of a paginated call: `merge_bundles` joins it with the pages that follow.
            account["authorization_details"] = {**lists, "IsTruncated": True}
        accounts.append(account)
    return make_bundle(accounts, warnings=warnings)


def _validate_account(
    check: _Checker, account: dict[str, Any], account_id: str, where: str
) -> None:
    details_where = f"{where}.authorization_details"
    details = account.get("authorization_details")
    if not isinstance(details, dict):
        raise BundleError(
            check.source,
            details_where,
            "missing" if details is None else f"must be an object, found {_kind(details)}",
        )
    for list_name in AUTHZ_LISTS:
        details.setdefault(list_name, [])
        check.list_of_objects(details, list_name, details_where, required=False)

    spec = {
        "UserDetailList": ("UserName", "UserId", "user"),
        "GroupDetailList": ("GroupName", "GroupId", "group"),
        "RoleDetailList": ("RoleName", "RoleId", "role"),
    }
    for list_name, (name_key, id_key, kind) in spec.items():
        names: set[str] = set()
        for index, entry in enumerate(details[list_name]):
            at = f"{details_where}.{list_name}[{index}]"
            name = check.string(entry, name_key, at)
            check.string(entry, id_key, at)
            check.arn_in_account(entry, at, account_id, kind)
            if name.lower() in names:
                raise BundleError(
                    check.source, f"{at}.{name_key}", f"duplicate {kind} name {name!r}"
                )
            names.add(name.lower())
            for ref_key in ("AttachedManagedPolicies",):
                for ref_index, ref in enumerate(
                    check.list_of_objects(entry, ref_key, at, required=False)
                ):
                    check.string(ref, "PolicyArn", f"{at}.{ref_key}[{ref_index}]")
            boundary = entry.get("PermissionsBoundary")
            if boundary is not None:
                if not isinstance(boundary, dict):
                    raise BundleError(
                        check.source,
                        f"{at}.PermissionsBoundary",
                        f"must be an object, found {_kind(boundary)}",
                    )
                check.string(boundary, "PermissionsBoundaryArn", f"{at}.PermissionsBoundary")
            inline_key = {
                "user": "UserPolicyList",
                "group": "GroupPolicyList",
                "role": "RolePolicyList",
            }[kind]
            for inline_index, inline in enumerate(
                check.list_of_objects(entry, inline_key, at, required=False)
            ):
                inline_at = f"{at}.{inline_key}[{inline_index}]"
                check.string(inline, "PolicyName", inline_at)
                inline["PolicyDocument"] = decode_policy_document(
                    inline.get("PolicyDocument"),
                    source=check.source,
                    path=f"{inline_at}.PolicyDocument",
                )
            if kind == "role":
                entry["AssumeRolePolicyDocument"] = decode_policy_document(
                    entry.get("AssumeRolePolicyDocument"),
                    source=check.source,
                    path=f"{at}.AssumeRolePolicyDocument",
                )
                for profile_index, profile in enumerate(
                    check.list_of_objects(entry, "InstanceProfileList", at, required=False)
                ):
                    profile_at = f"{at}.InstanceProfileList[{profile_index}]"
                    for key in ("InstanceProfileName", "InstanceProfileId", "Arn"):
                        check.string(profile, key, profile_at)
            if kind == "user":
                for group_index, group in enumerate(entry.get("GroupList") or []):
                    if not isinstance(group, str):
                        raise BundleError(
                            check.source,
                            f"{at}.GroupList[{group_index}]",
                            f"must be a group name, found {_kind(group)}",
                        )
            check.tags(entry, at)

    policy_arns: set[str] = set()
    for index, policy in enumerate(details["Policies"]):
        at = f"{details_where}.Policies[{index}]"
        arn = check.string(policy, "Arn", at)
        parsed = _iam_arn(arn)
        if parsed is None or not parsed.resource.startswith("policy/"):
            raise BundleError(check.source, f"{at}.Arn", f"not an IAM policy ARN: {arn!r}")
        if parsed.account not in (AWS_MANAGED_ACCOUNT, account_id):
            raise BundleError(
                check.source,
                f"{at}.Arn",
                f"policy of account {parsed.account} listed under account {account_id}",
            )
        if arn in policy_arns:
            raise BundleError(check.source, f"{at}.Arn", f"policy {arn} is listed twice")
        policy_arns.add(arn)
        versions = check.list_of_objects(policy, "PolicyVersionList", at, required=True)
        default_id = policy.get("DefaultVersionId")
        default_found = False
        for version_index, version in enumerate(versions):
            version_at = f"{at}.PolicyVersionList[{version_index}]"
            version_id = check.string(version, "VersionId", version_at)
            version["Document"] = decode_policy_document(
                version.get("Document"), source=check.source, path=f"{version_at}.Document"
            )
            default_found = (
                default_found or version_id == default_id or version.get("IsDefaultVersion") is True
            )
        if not default_found:
            raise BundleError(
                check.source,
                f"{at}.PolicyVersionList",
                f"no version is the default (DefaultVersionId {default_id!r})",
            )

    report = account.get("credential_report")
    if report is not None:
        if not isinstance(report, str):
            raise BundleError(
                check.source,
                f"{where}.credential_report",
                f"must be the CSV text, found {_kind(report)}",
            )
        account["credential_report_rows"] = parse_credential_report(
            report, source=check.source, path=f"{where}.credential_report"
        )
    for provider_key in ("saml_providers", "oidc_providers"):
        for index, provider in enumerate(
            check.list_of_objects(account, provider_key, where, required=False)
        ):
            check.string(provider, "Arn", f"{where}.{provider_key}[{index}]")


def _check_references(source: str, details: dict[str, Any], details_where: str) -> None:
    group_names = {group["GroupName"] for group in details["GroupDetailList"]}
    for index, user in enumerate(details["UserDetailList"]):
        for group_index, group in enumerate(user.get("GroupList") or []):
            if group not in group_names:
                raise BundleError(
                    source,
                    f"{details_where}.UserDetailList[{index}].GroupList[{group_index}]",
                    f"user {user['UserName']!r} is in group {group!r}, which GroupDetailList does not list",
                )


def _validate_organization(check: _Checker, org: Any, where: str) -> None:
    if not isinstance(org, dict):
        raise BundleError(check.source, where, f"must be an object, found {_kind(org)}")
    management = org.get("management_account_id")
    if management is not None:
        check.account_id(management, f"{where}.management_account_id")
    roots = check.list_of_objects(org, "roots", where, required=True)
    if not roots:
        raise BundleError(check.source, f"{where}.roots", "an organisation has one root")
    node_ids: set[str] = set()
    for index, root in enumerate(roots):
        node_ids.add(check.string(root, "Id", f"{where}.roots[{index}]"))
    units = check.list_of_objects(org, "organizational_units", where, required=False)
    for index, unit in enumerate(units):
        node_ids.add(check.string(unit, "Id", f"{where}.organizational_units[{index}]"))
        check.string(unit, "Name", f"{where}.organizational_units[{index}]")
    for index, unit in enumerate(units):
        parent = check.string(unit, "ParentId", f"{where}.organizational_units[{index}]")
        if parent not in node_ids:
            raise BundleError(
                check.source,
                f"{where}.organizational_units[{index}].ParentId",
                f"unknown parent {parent!r}",
            )
    target_ids = set(node_ids)
    for index, member in enumerate(check.list_of_objects(org, "accounts", where, required=True)):
        at = f"{where}.accounts[{index}]"
        target_ids.add(check.account_id(member.get("Id"), f"{at}.Id"))
        parent = check.string(member, "ParentId", at)
        if parent not in node_ids:
            raise BundleError(check.source, f"{at}.ParentId", f"unknown parent {parent!r}")
    for index, policy in enumerate(check.list_of_objects(org, "policies", where, required=False)):
        at = f"{where}.policies[{index}]"
        check.string(policy, "Id", at)
        check.string(policy, "Name", at)
        policy_type = check.string(policy, "Type", at)
        if policy_type not in ORG_POLICY_TYPES:
            raise BundleError(
                check.source,
                f"{at}.Type",
                f"must be one of {', '.join(ORG_POLICY_TYPES)}, not {policy_type!r}",
            )
        policy["Content"] = decode_policy_document(
            policy.get("Content"), source=check.source, path=f"{at}.Content"
        )
        targets = policy.get("Targets", [])
        if not isinstance(targets, list):
            raise BundleError(
                check.source, f"{at}.Targets", f"must be a list of ids, found {_kind(targets)}"
            )
        for target_index, target in enumerate(targets):
            if target not in target_ids:
                raise BundleError(
                    check.source,
                    f"{at}.Targets[{target_index}]",
                    f"unknown root, OU or account {target!r}",
                )


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def string(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            problem = (
                "missing" if value is None else f"must be a non-empty string, found {_kind(value)}"
            )
            raise BundleError(self.source, f"{where}.{key}", problem)
        return value

    def optional_string(self, obj: dict[str, Any], key: str, where: str) -> None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleError(
                self.source, f"{where}.{key}", f"must be a string, found {_kind(value)}"
            )

    def account_id(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not is_account_id(value):
            raise BundleError(
                self.source, where, f"an account id is 12 digits as a string, found {value!r}"
            )
        return value

    def list_of_objects(
        self, obj: dict[str, Any], key: str, where: str, *, required: bool
    ) -> list[dict[str, Any]]:
        value = obj.get(key)
        if value is None:
            if required:
                raise BundleError(self.source, f"{where}.{key}", "missing")
            return []
        if not isinstance(value, list):
            raise BundleError(
                self.source, f"{where}.{key}", f"must be a list, found {_kind(value)}"
            )
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise BundleError(
                    self.source,
                    f"{where}.{key}[{index}]",
                    f"must be an object, found {_kind(item)}",
                )
        return value

    def arn_in_account(self, entry: dict[str, Any], where: str, account_id: str, kind: str) -> None:
        arn = self.string(entry, "Arn", where)
        parsed = _iam_arn(arn)
        if parsed is None or not parsed.resource.startswith(f"{kind}/"):
            raise BundleError(self.source, f"{where}.Arn", f"not an IAM {kind} ARN: {arn!r}")
        if parsed.account != account_id:
            raise BundleError(
                self.source,
                f"{where}.Arn",
                f"{kind} of account {parsed.account} listed under account {account_id}",
            )

    def tags(self, entry: dict[str, Any], where: str) -> None:
        for index, tag in enumerate(self.list_of_objects(entry, "Tags", where, required=False)):
            self.string(tag, "Key", f"{where}.Tags[{index}]")


def _iam_arn(arn: Any) -> Arn | None:
    """An IAM ARN of an account or of AWS (managed policies), else None."""
    parsed = parse_arn(arn) if isinstance(arn, str) else None
    if parsed is None or parsed.service != "iam" or not parsed.account:
        return None
    return parsed


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
