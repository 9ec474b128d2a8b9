"""Read side of the analysis' verdicts on principals: administrators, the chains that reach
them, findings, and the flags the graph pages draw on principals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Case, Count, Model, Q, QuerySet, Value, When
from django.db.models.functions import Collate

from identities.db import any_of
from identities.models import Administrator, AdminPath, Finding
from identities.queries.access import run_cached
from identities.queries.paging import RowsInOrder, ordered_ids
from identities.queries.shared_cache import current_key, shared_for_run, warmer

_M = TypeVar("_M", bound=Model)


def administrators(account_id: str | None = None) -> QuerySet[Administrator]:
    """Administrators with the reason and statements that make each one."""
    found = Administrator.objects.select_related("account", "user", "role")
    if account_id is not None:
        found = found.filter(account__account_id=account_id)
    return found.order_by("arn")


def admin_paths(administrator: Administrator | None = None) -> QuerySet[AdminPath]:
    """Principals that can become an administrator through role chaining (nearest one each)."""
    found = AdminPath.objects.select_related("administrator")
    if administrator is not None:
        found = found.filter(administrator=administrator)
    return found.order_by("hops", "source")


@dataclass(frozen=True)
class AdminCount:
    """An account's administrators (by basis) and the principals that can become one of them."""

    account_id: str
    account_name: str
    administrators: int
    full: int
    paths: int

    @property
    def can_grant(self) -> int:
        return self.administrators - self.full


def administrators_by_account(account_id: str | None = None) -> list[AdminCount]:
    """Per account, counted in the database: the rows `administrators` lists and the rows
    `admin_paths` lists into that account's administrators. Counted once per analysis run for
    every process (`shared_cache.shared_for_run`): the paths are tens of thousands of rows."""
    return shared_for_run(
        f"administrators-by-account:{account_id or ''}",
        lambda: _count_administrators(account_id),
        in_memory=account_id is None,
    )


def _count_administrators(account_id: str | None) -> list[AdminCount]:
    admins = Administrator.objects.all()
    paths = AdminPath.objects.all()
    if account_id is not None:
        admins = admins.filter(account__account_id=account_id)
        paths = paths.filter(administrator__account__account_id=account_id)
    counted = admins.values("account__account_id", "account__name").annotate(
        total=Count("pk"), full=Count("pk", filter=Q(basis=Administrator.Basis.FULL))
    )
    reached = dict(
        paths.values("administrator__account__account_id")
        .annotate(total=Count("pk"))
        .values_list("administrator__account__account_id", "total")
    )
    return [
        AdminCount(
            account_id=row["account__account_id"],
            account_name=row["account__name"],
            administrators=row["total"],
            full=row["full"],
            paths=reached.get(row["account__account_id"], 0),
        )
        for row in counted.order_by("account__account_id")
    ]


def principal_flags(
    *, users: Collection[int] = (), roles: Collection[int] = ()
) -> dict[tuple[str, int], list[str]]:
    """``admin`` for administrators, ``finding`` for principals with a finding, by (kind, pk)
    of these users and roles. With an analysis run, read from its flagged principals
    (`flagged_principals`, once per run); else one query per flag and kind."""
    flagged = flagged_principals() if users or roles else None
    flags: dict[tuple[str, int], list[str]] = defaultdict(list)
    for model, flag in ((Administrator, "admin"), (Finding, "finding")):
        for kind, pks in (("user", users), ("role", roles)):
            if not pks:
                continue
            if flagged is not None:
                holders = flagged[(kind, flag)]
                found: Iterable[int] = [pk for pk in pks if pk in holders]
            else:
                owned = model.objects.filter(any_of(f"{kind}_id", pks))
                found = owned.values_list(f"{kind}_id", flat=True).order_by().distinct()
            for pk in found:
                if flag not in flags[(kind, pk)]:
                    flags[(kind, pk)].append(flag)
    return dict(flags)


@warmer("principal-flags")
def flagged_principals() -> dict[tuple[str, str], frozenset[int]] | None:
    """(kind, flag) -> the primary keys of the users or roles with that flag (``admin``,
    ``finding``) in the current run, read once per run for every process (None without a
    run): a graph view flags every principal it draws, and tens of thousands of keys kept
    cost less than the queries with long lists of keys they save."""
    return run_cached(
        "principal-flags",
        lambda _: shared_for_run("principal-flags", _read_flagged_principals, in_memory=False),
    )


def _read_flagged_principals() -> dict[tuple[str, str], frozenset[int]]:
    """One query: each (kind, flag) as a number beside the primary keys that have it."""
    wanted = [
        (kind, flag, model)
        for model, flag in ((Administrator, "admin"), (Finding, "finding"))
        for kind in ("user", "role")
    ]
    parts: list[QuerySet[Any]] = [
        model.objects.filter(**{f"{kind}_id__isnull": False})  # type: ignore[attr-defined]
        .order_by()
        .annotate(part=Value(number))
        .values_list("part", f"{kind}_id")
        for number, (kind, _, model) in enumerate(wanted)
    ]
    found: list[set[int]] = [set() for _ in wanted]
    for number, pk in parts[0].union(*parts[1:]):
        found[number].add(pk)
    return {(kind, flag): frozenset(found[n]) for n, (kind, flag, _) in enumerate(wanted)}


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def findings(
    *,
    severity: str | None = None,
    kind: str | None = None,
    account_id: str | None = None,
) -> QuerySet[Finding]:
    """Findings, filtered; order by severity with ``sorted(..., key=severity_rank)`` if needed."""
    return filter_given(
        Finding.objects.select_related("account", "user", "role"),
        severity=severity,
        kind=kind,
        account__account_id=account_id,
    )


def findings_by_severity(
    *,
    severity: str | None = None,
    kind: str | None = None,
    account_id: str | None = None,
) -> QuerySet[Finding]:
    """:func:`findings` ordered in the database as ``sorted(..., key=severity_rank)`` then by
    kind, principal ARN (by code point, as Python compares) and id: a page reads only its rows."""
    principal: Any = "principal_arn"
    if connection.vendor == "postgresql":
        principal = Collate("principal_arn", "C")
    rank = Case(
        *(When(severity=name, then=Value(order)) for name, order in _SEVERITY_ORDER.items()),
        default=Value(9),
    )
    return findings(severity=severity, kind=kind, account_id=account_id).order_by(
        rank, "kind", principal, "id"
    )


def findings_page_rows(
    *,
    severity: str | None = None,
    kind: str | None = None,
    account_id: str | None = None,
) -> Sequence[Finding]:
    """:func:`findings_by_severity` as the findings page reads it a page at a time: the order
    is read once per analysis run and these filters (`paging.ordered_ids`), a page fetches its
    own rows."""
    found = findings_by_severity(severity=severity, kind=kind, account_id=account_id)
    name = f"findings:{severity or ''}:{kind or ''}:{account_id or ''}"
    return RowsInOrder(ordered_ids(name, current_key(), found), found)


def filter_given(queryset: QuerySet[_M], **lookups: object) -> QuerySet[_M]:
    """``queryset`` filtered by the lookups that have a value (an empty one does not filter)."""
    return queryset.filter(**{lookup: value for lookup, value in lookups.items() if value})


def severity_rank(finding: Finding) -> int:
    return _SEVERITY_ORDER.get(finding.severity, 9)
