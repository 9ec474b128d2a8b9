"""CSV exports: one row list per list page and for "who can assume this role", and the one CSV
writer every export (pages and commands) goes through. The first row is the header; values are
strings (ISO dates, `true`/`false`, empty for unknown).

The list exports take the rows of `estate.filter_users()` and its siblings, whose counts are
annotations the model classes do not declare: hence `Iterable[Any]`.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from typing import Any, Protocol

from identities.queries.access import Chain, DirectAccess

logger = logging.getLogger(__name__)

# A spreadsheet reads a cell starting with one of these as a formula, and IAM names (`=a+b` is
# legal), descriptions and condition keys can start with them (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: str) -> str:
    """`value` as a spreadsheet shows it as text: a single quote before a formula start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class SafeCsvWriter:
    """`csv.writer` whose cells can never be read as formulas (see `safe_cell`)."""

    def __init__(self, stream: _Writable, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(stream, lineterminator=lineterminator)

    def writerow(self, row: Iterable[str]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def _tri(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


# (header, attribute path, format) of each column, in order.
Column = tuple[str, str, Callable[[Any], str]]

_ACCOUNT_NAME_ARN: list[Column] = [
    ("account_id", "account.account_id", _text),
    ("name", "name", _text),
    ("arn", "arn", _text),
]
_PRINCIPAL: list[Column] = [
    *_ACCOUNT_NAME_ARN,
    ("unique_id", "unique_id", _text),
    ("path", "path", _text),
    ("created", "create_date", _iso),
]
_POLICY_COUNTS: list[Column] = [
    ("attached_policies", "attached_count", _text),
    ("inline_policies", "inline_count", _text),
]
USER_COLUMNS: list[Column] = [
    *_PRINCIPAL,
    ("groups", "group_count", _text),
    *_POLICY_COUNTS,
    ("mfa_active", "mfa_active", _tri),
    ("password_enabled", "password_enabled", _tri),
    ("password_last_used", "password_last_used", _iso),
    ("active_keys", "active_key_count", _text),
]
GROUP_COLUMNS: list[Column] = [*_PRINCIPAL, ("members", "member_count", _text), *_POLICY_COUNTS]
ROLE_COLUMNS: list[Column] = [
    *_PRINCIPAL,
    ("last_used", "last_used_date", _iso),
    ("last_used_region", "last_used_region", _text),
    *_POLICY_COUNTS,
    ("description", "description", _text),
]
POLICY_COLUMNS: list[Column] = [
    *_ACCOUNT_NAME_ARN,
    ("policy_id", "policy_id", _text),
    ("path", "path", _text),
    ("aws_managed", "is_aws_managed", _tri),
    ("default_version", "default_version_id", _text),
    ("versions", "version_count", _text),
    ("attachments", "live_attachment_count", _text),
    ("boundary_uses", "boundary_usage_count", _text),
    ("created", "create_date", _iso),
    ("updated", "update_date", _iso),
]


def csv_rows(objects: Iterable[Any], columns: list[Column]) -> Iterator[list[str]]:
    """The header, then one row per object."""
    yield [header for header, _, _ in columns]
    for obj in objects:
        yield [show(attrgetter(path)(obj)) for _, path, show in columns]


def user_csv_rows(users: Iterable[Any]) -> Iterator[list[str]]:
    return csv_rows(users, USER_COLUMNS)


def group_csv_rows(groups: Iterable[Any]) -> Iterator[list[str]]:
    return csv_rows(groups, GROUP_COLUMNS)


def role_csv_rows(roles: Iterable[Any]) -> Iterator[list[str]]:
    return csv_rows(roles, ROLE_COLUMNS)


def policy_csv_rows(policies: Iterable[Any]) -> Iterator[list[str]]:
    return csv_rows(policies, POLICY_COLUMNS)


def role_access_csv_rows(
    direct: Iterable[DirectAccess], chains: Iterable[Chain]
) -> Iterator[list[str]]:
    """Who can assume a role: the direct edges, then the chains (hops > 1) that end in it,
    each with its condition keys and what they require (a chain's per hop)."""
    yield ["source", "hops", "outcome", "conditions", "condition_values", "granted_by_or_chain"]
    for item in direct:
        yield [
            item.source,
            "1",
            item.outcome,
            " ".join(item.condition_keys),
            "; ".join(text for _, text in item.requirements),
            " | ".join(item.granted_by),
        ]
    for chain in chains:
        yield [
            chain.node,
            str(chain.hops),
            "chain",
            " ".join(chain.condition_keys),
            "; ".join(
                f"hop {number}: {text}"
                for number, step in enumerate(chain.steps, 1)
                for _, text in step.requirements
            ),
            " -> ".join(chain.path),
        ]
