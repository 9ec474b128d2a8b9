"""CSV exports: one row list per list page, for "who can assume this role" and for "who can…?",
and the one CSV writer every export (pages and commands) goes through. The first row is the
header; values are strings (ISO dates, `true`/`false`, empty for unknown).

The list exports take a list's rows as `estate.list_rows` gives them and read their columns as
values (the counts are annotations of `estate.filter_users()` and its siblings).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, Protocol

from django.db.models import QuerySet

from identities.analysis.who_can import Allowed
from identities.queries.access import Chain, DirectAccess
from identities.queries.escalations import ESCALATION_ROW_FIELDS, Escalation
from identities.queries.paging import RowsInOrder, values_of

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


def _cell(value: Any) -> str:
    """A value as a cell: empty for unknown, `true`/`false`, ISO dates, else its text."""
    if value.__class__ is str:  # most cells: tested first
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# (header, field) of each column, in order: a field is a lookup of the list's queryset
# (`account__account_id`, or an annotation of its `filter_*` such as `group_count`).
Column = tuple[str, str]


def _columns(spec: str) -> list[Column]:
    """The columns named in `spec`, separated by spaces: `name` is the field of that name,
    `header=field` the column `header` with the value of `field`."""
    return [
        (header, path or header) for header, _, path in (c.partition("=") for c in spec.split())
    ]


_ACCOUNT_NAME_ARN = "account_id=account__account_id name arn"
_PRINCIPAL = f"{_ACCOUNT_NAME_ARN} unique_id path created=create_date"
_POLICY_COUNTS = "attached_policies=attached_count inline_policies=inline_count"
USER_COLUMNS = _columns(
    f"{_PRINCIPAL} groups=group_count {_POLICY_COUNTS} mfa_active password_enabled"
    " password_last_used active_keys=active_key_count"
)
GROUP_COLUMNS = _columns(f"{_PRINCIPAL} members=member_count {_POLICY_COUNTS}")
ROLE_COLUMNS = _columns(
    f"{_PRINCIPAL} last_used=last_used_date last_used_region {_POLICY_COUNTS} description"
)
POLICY_COLUMNS = _columns(
    f"{_ACCOUNT_NAME_ARN} policy_id path aws_managed=is_aws_managed"
    " default_version=default_version_id versions=version_count"
    " attachments=live_attachment_count boundary_uses=boundary_usage_count"
    " created=create_date updated=update_date"
)


def csv_rows(rows: RowsInOrder[Any] | QuerySet[Any], columns: list[Column]) -> Iterator[list[str]]:
    """The header, then one row per row of the list (its fields read as values, in chunks:
    no model objects)."""
    yield [header for header, _ in columns]
    for values in values_of(rows, [field for _, field in columns]):
        yield [_cell(value) for value in values]


def user_csv_rows(users: RowsInOrder[Any] | QuerySet[Any]) -> Iterator[list[str]]:
    return csv_rows(users, USER_COLUMNS)


def group_csv_rows(groups: RowsInOrder[Any] | QuerySet[Any]) -> Iterator[list[str]]:
    return csv_rows(groups, GROUP_COLUMNS)


def role_csv_rows(roles: RowsInOrder[Any] | QuerySet[Any]) -> Iterator[list[str]]:
    return csv_rows(roles, ROLE_COLUMNS)


def policy_csv_rows(policies: RowsInOrder[Any] | QuerySet[Any]) -> Iterator[list[str]]:
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


WHO_CAN_COLUMNS = ("principal", "kind", "account", "conditional", "conditions", "granted_by")


def who_can_csv_rows(found: Iterable[Allowed]) -> Iterator[list[str]]:
    """Who may do one action on one resource: the keys of the ``who_can`` command's JSON as
    columns, lists joined with `` | ``."""
    yield list(WHO_CAN_COLUMNS)
    for allowed in found:
        yield [
            allowed.principal,
            allowed.kind,
            allowed.account_id,
            _cell(allowed.conditional),
            " | ".join(allowed.conditions),
            " | ".join(allowed.granted_by),
        ]


def escalation_csv_rows(escalations: Iterable[Escalation]) -> Iterator[list[str]]:
    """The escalations page's CSV (streamed, or built in the background): the keys of the
    ``escalations`` command's JSON as columns, lists joined with `` | ``."""
    yield list(ESCALATION_ROW_FIELDS)
    for e in escalations:
        yield [
            e.principal,
            e.method,
            e.status,
            e.target or "",
            " | ".join(e.conditions),
            " | ".join(e.granted_by),
        ]
