"""AWS's documented limits on IAM names, paths, ids and documents, as pure checks.

`identities.bundle` applies them at the bundle boundary: a bundle is input from accounts iamviz
does not control, and anything AWS itself would refuse is refused here, before anything is
written. Each check returns None when the value is acceptable, else the problem in words.

Sources (the IAM quotas page and the API reference's Length Constraints / Pattern lines):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
https://docs.aws.amazon.com/IAM/latest/APIReference/API_User.html (UserName, Path, UserId)
https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html (RoleName, Description,
MaxSessionDuration)
https://docs.aws.amazon.com/IAM/latest/APIReference/API_Group.html
https://docs.aws.amazon.com/IAM/latest/APIReference/API_ManagedPolicyDetail.html
https://docs.aws.amazon.com/IAM/latest/APIReference/API_InstanceProfile.html
https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

# "Names of users, groups, roles, policies, instance profiles … must be alphanumeric, including
# plus (+), equal (=), comma (,), period (.), at (@), underscore (_), and hyphen (-)."
# API reference pattern: [\w+=,.@-]+ ; ASCII only (\w would take any Unicode letter).
_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]+")
NAME_MAX = {"user": 64, "group": 128, "role": 64, "policy": 128, "instance profile": 128}
# Path: "/" or /…/ of printable ASCII, at most 512 characters (API reference: (\u002F)|
# (\u002F[\u0021-\u007E]+\u002F)).
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
PATH_MAX = 512
# Unique ids (UserId, GroupId, RoleId, PolicyId, InstanceProfileId): pattern [\w]+, 16 to 128
# characters. AWS's own carry a prefix (AIDA, AGPA, AROA, ANPA, AIPA), but moto's do not and
# published sample exports (cloudsplaining's) use short ones, so only the characters and the
# maximum are enforced: nothing else can reach a URL, a node id or a file name.
_UNIQUE_ID = re.compile(r"[A-Za-z0-9_]{1,128}")
# Inline policy names: "any Basic Latin (ASCII) characters except … backward slash (\), forward
# slash (/), asterisk (*), question mark (?), and white space"; API pattern [\w+=,.@-]+, 128 max.
_INLINE_NAME = re.compile(r"[\x21-\x7e]{1,128}")
_INLINE_NAME_RESERVED = re.compile(r"[\\/*?]")
# ManagedPolicyDetail.DefaultVersionId / PolicyVersion.VersionId: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?
_VERSION_ID = re.compile(r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?")
VERSION_ID_MAX = 20  # the column; real ids are v1…v5 (at most five versions a policy)
POLICY_VERSIONS_MAX = 5
# "Policy documents can contain only … tab (U+0009), linefeed (U+000A), carriage return (U+000D),
# and characters in the range U+0020 to U+00FF." In orjson's output the others are either
# themselves (above U+00FF) or an escape not preceded by an escaped backslash.
_FORBIDDEN_IN_JSON = re.compile(r"(?<!\\)(?:\\\\)*\\(?:u00[01][0-9a-fA-F]|[bf])|[^\x00-\xff]")
ARN_MAX = 2048
DESCRIPTION_MAX = 1000  # Role.Description and ManagedPolicyDetail.Description
TAGS_MAX = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
# MaxSessionDuration: 3600 to 43200 seconds.
SESSION_DURATION = (3600, 43200)
REGION_MAX = 32  # the column; region names are far shorter
PROVIDER_NAME_MAX = 512  # the column; a SAML name is 128, an OIDC URL 255

# Character quotas ("IAM and AWS STS character limits"), whitespace not counted.
# A role trust policy: 2,048 by default, raisable through Service Quotas; the highest value
# AWS grants is accepted. The smallest principal, a quoted 12-digit account id and a comma, is
# 15 characters, so a trust policy names at most ~550 principals.
TRUST_POLICY_MAX = 8192
MANAGED_POLICY_MAX = 6144  # customer managed policies
# AWS's own managed policies are not held to the customer quota (ReadOnlyAccess is far larger);
# they still get a bound, so no input is unbounded.
AWS_MANAGED_POLICY_MAX = 1_048_576
INLINE_TOTAL_MAX = {"user": 2048, "group": 5120, "role": 10240}
# AWS Organizations: SCPs and RCPs are at most 5,120 characters.
ORG_POLICY_MAX = 5120
# orjson writes at most 254 levels of nesting (the digest and JSON columns are written with it).
ORJSON_DEPTH_MAX = 254
# Organizations: "OU maximum nesting in a root: five levels of OUs deep under a root".
OU_DEPTH_MAX = 5
ORG_ID_MAX = 100  # the columns of OrgNode.node_id and OrgPolicy.policy_id
ORG_NAME_MAX = 200  # the OrgNode/OrgPolicy/Account name columns (AWS's limits are lower)
INT32_MAX = 2**31 - 1


def name_problem(value: str, kind: str) -> str | None:
    rule = "holds only letters, digits and + = , . @ _ -"
    return _text_problem(value, f"a {kind} name", NAME_MAX[kind], _NAME, rule)


def path_problem(value: str) -> str | None:
    rule = "is / or /…/ of printable ASCII without spaces"
    return _text_problem(value, "a path", PATH_MAX, _PATH, rule)


def _text_problem(
    value: str, what: str, limit: int, pattern: re.Pattern[str], rule: str
) -> str | None:
    if len(value) > limit:
        return f"{what} is at most {limit} characters, found {len(value)}"
    if not pattern.fullmatch(value):
        return f"{what} {rule}, found {value!r}"
    return None


def unique_id_problem(value: str) -> str | None:
    if not _UNIQUE_ID.fullmatch(value):
        return f"a unique id is 1 to 128 letters, digits or _, found {value!r:.60}"
    return None


def inline_name_problem(value: str) -> str | None:
    if not _INLINE_NAME.fullmatch(value) or _INLINE_NAME_RESERVED.search(value):
        return (
            "an inline policy name is 1 to 128 ASCII characters without \\ / * ? or "
            f"white space, found {value!r}"
        )
    return None


def version_id_problem(value: str) -> str | None:
    if len(value) > VERSION_ID_MAX or not _VERSION_ID.fullmatch(value):
        return f"a policy version id looks like v1, v2, …, found {value!r}"
    return None


def text_problem(value: str, limit: int, what: str) -> str | None:
    if len(value) > limit:
        return f"{what} is at most {limit} characters, found {len(value)}"
    return None


def timestamp_problem(value: Any) -> str | None:
    """An ISO 8601 time with a timezone, as AWS writes them (or an aware datetime)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return f"not an ISO 8601 time: {value[:60]!r}"
    else:
        return f"a time must be an ISO 8601 string, found {type(value).__name__}"
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return f"a time needs a timezone (Z or +00:00), found {str(value)[:60]!r}"
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 1900 <= year <= 9998:
        return f"a time between the years 1900 and 9998, found {str(value)[:60]!r}"
    return None


def document_problem(document: Any, limit: int, what: str) -> str | None:
    """Characters and size (whitespace not counted) of one policy document.

    Both are read from its compact JSON text (orjson, so fast on large estates): a character
    AWS forbids shows there either as itself (above U+00FF) or as an escape (\\b, \\f, \\u00XX).
    """
    try:
        text = orjson.dumps(document).decode()
    except orjson.JSONEncodeError as exc:
        return f"{what} cannot be stored ({exc}; nested past {ORJSON_DEPTH_MAX} levels?)"
    bad = _FORBIDDEN_IN_JSON.search(text)
    if bad:
        shown = bad.group()
        shown = "\\" + shown.rsplit("\\", 1)[-1] if shown.startswith("\\") else shown
        return (
            f"{what} holds {shown}, a character AWS does not allow in policy documents "
            "(only tab, newline, carriage return and U+0020 to U+00FF)"
        )
    size = len(text) - text.count(" ")
    if size > limit:
        return f"{what} is {size} characters; AWS's quota is {limit} (whitespace not counted)"
    return None


def document_size(document: Any) -> int:
    """The size AWS counts against a quota: characters without whitespace."""
    text = orjson.dumps(document).decode()
    return len(text) - text.count(" ")
