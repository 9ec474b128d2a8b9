"""The bundle format (`iamviz-bundle/1`, see docs/bundle-format.md): read, validate, decode.

A bundle carries an estate in AWS's own JSON shapes. `read_bundle` accepts a bundle or the plain
output of `aws iam get-account-authorization-details`, checks every part the later stages rely on,
decodes URL-encoded policy documents in place, and raises `BundleError` naming the file, the JSON
path and what is wrong. It knows nothing of the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from identities import bundle_checks, iam_limits
from identities.arns import AWS_MANAGED_ACCOUNT
from identities.bundle_checks import AUTHZ_LISTS, BundleProblem, Checker, iam_arn, kind_of

BUNDLE_FORMAT = "iamviz-bundle/1"


class BundleError(ValueError):
    """Bad input: names the source, the JSON path and what is wrong."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(f"{source}: {path}: {problem}")


@contextmanager
def _from(source: str) -> Iterator[None]:
    """Turn a check's BundleProblem into a BundleError naming `source`."""
    try:
        yield
    except BundleProblem as exc:
        raise BundleError(source, exc.path, exc.problem) from None


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
    if not files:
        raise BundleError("<no files>", "$", "no file to read")
    parsed = [
        (source, parse_bundle(raw, source=source, check_references=False)) for source, raw in files
    ]
    merged = parsed[0][1] if len(parsed) == 1 else merge_bundles(parsed)
    sources = ", ".join(source for source, _ in parsed)
    with _from(sources):
        for index, account in enumerate(merged["accounts"]):
            bundle_checks.check_account_whole(
                account["authorization_details"], f"$.accounts[{index}].authorization_details"
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
        raise BundleError(source, "$", f"expected a JSON object, found {kind_of(data)}")
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
    with _from(source):
        _validate_sections(data, check_references=check_references)
    bundle: dict[str, Any] = data
    return bundle


def _validate_sections(data: dict[str, Any], *, check_references: bool) -> None:
    check = Checker()
    check.timestamps(data, "$", "generated_at")
    warnings = data.get("warnings")
    if warnings is not None and (
        not isinstance(warnings, list) or not all(isinstance(text, str) for text in warnings)
    ):
        raise BundleProblem("$.warnings", "must be a list of strings")
    accounts = check.list_of_objects(data, "accounts", "$", required=True)
    if not accounts:
        raise BundleProblem("$.accounts", "the bundle lists no accounts")
    seen: set[str] = set()
    for index, account in enumerate(accounts):
        where = f"$.accounts[{index}]"
        account_id = check.account_id(account.get("id"), f"{where}.id")
        if account_id in seen:
            raise BundleProblem(f"{where}.id", f"account {account_id} is listed twice")
        seen.add(account_id)
        bundle_checks.check_storable(account, where)
        check.text(account, "name", where, iam_limits.ORG_NAME_MAX)
        check.text(account, "alias", where, iam_limits.ORG_NAME_MAX)
        bundle_checks.validate_account(check, account, account_id, where)
        if check_references:
            bundle_checks.check_account_whole(
                account["authorization_details"], f"{where}.authorization_details"
            )
    if data.get("organization") is not None:
        bundle_checks.check_storable(data["organization"], "$.organization")
        bundle_checks.validate_organization(check, data["organization"], "$.organization")


def validate_organization(data: Any, *, source: str = "<organization>") -> dict[str, Any]:
    """Validate a bundle's `organization` section on its own (a live sync applies it before the
    accounts); returns it with SCP/RCP documents decoded."""
    with _from(source):
        bundle_checks.check_storable(data, "$.organization")
        bundle_checks.validate_organization(Checker(), data, "$.organization")
    organization: dict[str, Any] = data
    return organization


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
            raise BundleError(source, f"$.{list_name}", f"must be a list, found {kind_of(entries)}")
        for index, entry in enumerate(entries):
            arn = entry.get("Arn") if isinstance(entry, dict) else None
            parsed = iam_arn(arn)
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


def decode_policy_document(document: Any, *, source: str, path: str) -> dict[str, Any]:
    """A policy document as an object, whether it came as an object, JSON or URL-encoded JSON."""
    with _from(source):
        return bundle_checks.decode_document(document, path)
