"""Fuzzed imports: every mutation of the sample bundle either imports or is refused with a
BundleError, and a refused one leaves the estate exactly as it was.

The normal suite runs a few hundred examples; IAMVIZ_FUZZ_EXAMPLES=10000 runs the long mode
(IAMVIZ_FUZZ_SEED picks a reproducible run).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from identities.bundle import BundleError, parse_files, read_bundle
from identities.ingest.imports import import_bundle
from identities.sample import SAMPLE_BUNDLE_PATH
from tests.ingest.test_imports import snapshot

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("IAMVIZ_FUZZ_EXAMPLES", "300"))
Path = tuple[str | int, ...]


def _sample() -> dict[str, Any]:
    bundle = read_bundle(SAMPLE_BUNDLE_PATH)
    for account in bundle["accounts"]:
        account.pop("credential_report_rows", None)
    return bundle


SAMPLE = _sample()
# Keys whose values later stages rely on most: half of the mutations aim at one of them.
KEYS = {
    "id", "name", "alias", "format", "generated_at", "accounts", "organization",
    "authorization_details", "credential_report", "saml_providers", "oidc_providers",
    "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies",
    "UserName", "UserId", "GroupName", "GroupId", "RoleName", "RoleId", "PolicyName", "PolicyId",
    "Arn", "Path", "CreateDate", "UpdateDate", "GroupList", "AttachedManagedPolicies",
    "PolicyArn", "PermissionsBoundary", "PermissionsBoundaryArn", "UserPolicyList",
    "GroupPolicyList", "RolePolicyList", "PolicyDocument", "AssumeRolePolicyDocument",
    "InstanceProfileList", "InstanceProfileName", "InstanceProfileId", "Tags", "Key", "Value",
    "RoleLastUsed", "LastUsedDate", "Region", "MaxSessionDuration", "Description",
    "DefaultVersionId", "PolicyVersionList", "VersionId", "IsDefaultVersion", "Document",
    "AttachmentCount", "PermissionsBoundaryUsageCount", "IsAttachable", "Statement", "Effect",
    "Principal", "Action", "Resource", "Condition", "roots", "organizational_units",
    "ParentId", "Id", "Name", "Type", "Content", "Targets", "management_account_id",
}  # fmt: skip


def _paths(value: Any, path: Path = ()) -> list[Path]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*path, index)))
    return found


ALL_PATHS = _paths(SAMPLE)[1:]
KEY_PATHS = [path for path in ALL_PATHS if isinstance(path[-1], str) and path[-1] in KEYS]

ODD_TEXT = st.sampled_from(
    [
        "", " ", "a/b", "new\nline", 'quo"te', "back\\slash", "\x00", "\x7f", "\ud800", "é",
        "😀", "<script>", "=HYPERLINK()", "%", "%00", "%ZZ", "*", "abc", "-1", "1e400",
        "2026-01-01T00:00:00", "2026-01-01", "2026-13-45T99:99:99Z", "0001-01-01T00:00:00+14:00",
        "arn:aws:iam::123456789012:user/x", "arn:aws:iam::aws:policy/x", "x", "v0", "v1",
        "111111111111", "r-0000", "A" * 200, "x" * 3000, "/", "//", "/a b/", "AIDA" + "B" * 16,
    ]
)  # fmt: skip
ODD_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, 3600, 43201, 1.5, -0.0, 1e308]),
    ODD_TEXT,
    st.text(max_size=40),
    st.lists(ODD_TEXT, max_size=3),
    st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=2),
)


def _parent(bundle: Any, path: Path) -> Any | None:
    node = bundle
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) and path[-1] in node:
        return node
    if isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        return node
    return None


def _nest(value: Any, depth: int) -> Any:
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, Path, Any]]:
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(KEY_PATHS) | st.sampled_from(ALL_PATHS))
        operation = draw(
            st.sampled_from(["drop", "replace", "retype", "append", "nest", "duplicate", "copy"])
        )
        argument: Any = None
        if operation == "replace":
            argument = draw(ODD_VALUES)
        elif operation == "append":
            argument = draw(ODD_TEXT)
        elif operation == "nest":
            argument = draw(st.sampled_from([3, 40, 260, 300]))
        elif operation == "copy":
            argument = draw(st.sampled_from(KEY_PATHS))
        steps.append((operation, path, argument))
    return steps


def mutate(bundle: dict[str, Any], steps: list[tuple[str, Path, Any]]) -> None:
    for operation, path, argument in steps:
        parent = _parent(bundle, path)
        if parent is None:
            continue
        key = path[-1]
        value = parent[key]
        if operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = argument
        elif operation == "retype":
            parent[key] = (
                list(value.values())
                if isinstance(value, dict)
                else [value]
                if not isinstance(value, list)
                else {str(index): item for index, item in enumerate(value)}
            )
        elif operation == "append":
            parent[key] = f"{value}{argument}" if isinstance(value, str) else argument
        elif operation == "nest":
            parent[key] = _nest(value, argument)
        elif operation == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(value))
            else:
                parent[key] = copy.deepcopy(value)
                _duplicate_entry(bundle, path)
        elif operation == "copy":
            source = _parent(bundle, argument)
            if source is not None:
                parent[key] = copy.deepcopy(source[argument[-1]])


def _duplicate_entry(bundle: dict[str, Any], path: Path) -> None:
    """Append a copy of the list entry that holds `path` (a duplicate id, name or ARN)."""
    for cut in range(len(path) - 1, 0, -1):
        holder = _parent(bundle, path[:cut])
        if isinstance(holder, list):
            holder.append(copy.deepcopy(holder[path[cut - 1]]))  # type: ignore[index]
            return


def estate_digest() -> str:
    text = json.dumps(snapshot(), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def fuzz_settings(test: Any) -> Any:
    configured = settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=EXAMPLES <= 1000 and "IAMVIZ_FUZZ_SEED" not in os.environ,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )(test)
    if "IAMVIZ_FUZZ_SEED" in os.environ:
        configured = seed(int(os.environ["IAMVIZ_FUZZ_SEED"]))(configured)
    return configured


class Tally:
    def __init__(self) -> None:
        self.imported = 0
        self.refused: dict[str, int] = {}


TALLY = Tally()


def test_fuzzed_imports_are_imported_or_refused_cleanly() -> None:
    import_bundle(copy.deepcopy(SAMPLE), label="sample")
    state = {"digest": estate_digest()}

    @fuzz_settings
    @given(mutations())
    def one(steps: list[tuple[str, Path, Any]]) -> None:
        bundle = copy.deepcopy(SAMPLE)
        mutate(bundle, steps)
        try:
            raw = json.dumps(bundle).encode()
        except (ValueError, RecursionError):
            raw = b'{"format": 1}'  # beyond what json.dumps writes: a plain refused file
        try:
            import_bundle(parse_files([("fuzz.json", raw)]), label="fuzz.json", raw=raw)
        except BundleError as exc:
            after = estate_digest()
            assert after == state["digest"], f"estate changed after a refused input: {exc}"
            kind = exc.problem.split(":")[0][:50]
            TALLY.refused[kind] = TALLY.refused.get(kind, 0) + 1
            return
        TALLY.imported += 1
        state["digest"] = estate_digest()

    one()
    total = TALLY.imported + sum(TALLY.refused.values())
    print(
        f"\nfuzzed imports: {total} examples, {TALLY.imported} imported, {total - TALLY.imported} refused"
    )
    for kind, count in sorted(TALLY.refused.items(), key=lambda item: -item[1])[:25]:
        print(f"  {count:6d}  {kind}")
