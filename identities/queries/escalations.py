"""The one reader of stored escalations: pages, the graph, the ``escalations`` command and the
path finder all read them here.

An escalation edge row holds a source (a user, a role, or an escalation group: each member)
and every target it acts on or becomes with the same conditions and statements; these
functions expand them into one :class:`Escalation` per (principal, method, target), leaving
out a member as its own target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import orjson
from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from identities.analysis.escalation_methods import METHODS, METHODS_BY_ID, Method
from identities.arns import SourceKind, classify_arn, parse_arn
from identities.db import any_of
from identities.models import Account, EscalationEdge, EscalationGroupMember

T = TypeVar("T")

_FIELDS = (
    "source",
    "source_kind",
    "source_group_id",
    "method",
    "status",
    "targets",
    "condition_keys",
    "granted_by",
)


# The keys of an escalation as the ``escalations`` command, the API and the CSV export give it.
ESCALATION_ROW_FIELDS = ("principal", "method", "status", "target", "conditions", "granted_by")


@dataclass(frozen=True, slots=True)
class Escalation:
    """One principal that can use one method on one target (None: on itself)."""

    principal: str
    method: str
    status: str  # proven | potential
    target: str | None
    conditions: tuple[str, ...]
    granted_by: tuple[str, ...]

    @property
    def info(self) -> Method:
        return METHODS_BY_ID[self.method]

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)

    def as_row(self) -> dict[str, Any]:
        """The object the ``escalations`` command prints (a contract: see the README): the
        fields of `ESCALATION_ROW_FIELDS`, tuples as lists."""
        row: dict[str, Any] = {name: getattr(self, name) for name in ESCALATION_ROW_FIELDS}
        row["conditions"], row["granted_by"] = list(self.conditions), list(self.granted_by)
        return row


def _expand(
    row: dict[str, Any], principals: Iterable[str], only: Collection[str] | None = None
) -> Iterator[Escalation]:
    targets: list[str | None] = list(row["targets"]) or [None]
    if only is not None:
        targets = [target for target in targets if target in only]
    conditions = tuple(row["condition_keys"])
    granted_by = tuple(row["granted_by"])
    for principal in principals:
        for target in targets:
            if target != principal:
                yield Escalation(
                    principal, row["method"], row["status"], target, conditions, granted_by
                )


def _sort_key(escalation: Escalation) -> tuple[str, str, str]:
    return (escalation.principal, escalation.method, escalation.target or "")


def escalations_of(principal: str) -> list[Escalation]:
    """How one user or role (by ARN) can escalate, by method then target."""
    return escalations_from([principal]).get(principal, [])


# Principals per query: SQLite allows a few hundred parameters on older builds.
_CHUNK = 500


def _chunks_with_groups(
    principals: Iterable[str],
) -> Iterator[tuple[list[str], dict[int, list[str]]]]:
    """The principals, sorted, in chunks of `_CHUNK` (in one on PostgreSQL, where a list is one
    parameter), each with its members by escalation group id (one query a chunk)."""

    wanted = sorted(set(principals))
    size = max(len(wanted), 1) if connection.vendor == "postgresql" else _CHUNK
    for start in range(0, len(wanted), size):
        chunk = wanted[start : start + size]
        members: dict[int, list[str]] = defaultdict(list)
        found = EscalationGroupMember.objects.filter(any_of("arn", chunk))
        for arn, group_id in found.values_list("arn", "group_id"):
            members[group_id].append(arn)
        yield chunk, members


def _own_and_group_rows(chunk: list[str], members: dict[int, list[str]]) -> list[Q]:
    """The escalation rows of these principals as two conditions, one per indexed column:
    their own (by ARN) and their groups' (none without members); a row has an ARN or a group
    as its source, never both."""

    return [any_of("source", chunk), *([any_of("source_group_id", members)] if members else [])]


def _from_chunk(chunk: list[str], members: dict[int, list[str]]) -> Q:
    """The escalation rows of these principals (`_own_and_group_rows`) in one condition."""
    own, *groups = _own_and_group_rows(chunk, members)
    return own | groups[0] if groups else own


def escalations_from(
    principals: Iterable[str],
    rows: QuerySet[EscalationEdge] | None = None,
    targets: Collection[str] | None = None,
) -> dict[str, list[Escalation]]:
    """How each of these users and roles (by ARN) can escalate, by method then target, from
    ``rows`` (every stored row by default), onto ``targets`` only if given; two queries (per 500
    principals off PostgreSQL: a graph asks for every principal it draws)."""
    found: dict[str, list[Escalation]] = defaultdict(list)
    base = EscalationEdge.objects.all() if rows is None else rows
    for chunk, members in _chunks_with_groups(principals):
        found_rows = base.filter(_from_chunk(chunk, members))
        for row in found_rows.order_by("source", "method", "id").values(*_FIELDS):
            holders = members.get(row["source_group_id"], []) if row["source_group_id"] else []
            for escalation in _expand(row, holders or [row["source"]], targets):
                found[escalation.principal].append(escalation)
    return {principal: sorted(found[principal], key=_sort_key) for principal in found}


def escalation_rows(
    account_id: str | None = None, method: str | None = None, status: str | None = None
) -> QuerySet[EscalationEdge]:
    """The stored rows of the source's account, of the method, of the status (each if given)."""
    rows = EscalationEdge.objects.all()
    if account_id is not None:
        rows = rows.filter(account__account_id=account_id)
    if method is not None:
        rows = rows.filter(method=method)
    if status is not None:
        rows = rows.filter(status=status)
    return rows


def iter_escalations(
    *,
    account_id: str | None = None,
    principal: str | None = None,
    method: str | None = None,
    status: str | None = None,
    target: str | None = None,
) -> Iterator[Escalation]:
    """Every stored escalation, sorted by (principal, method, target), filtered by the source's
    account, the principal, the method, the status or the target; expanded a few principals at
    first, then up to 500 at a time (`_growing_chunks`: an estate holds millions)."""
    if principal is not None:
        found: Iterable[Escalation] = escalations_of(principal)
    else:
        totals = sorted(
            (p.principal, p.escalations) for p in count_principals(account_id, method, status)
        )
        found = (
            escalation
            for chunk in _growing_chunks(totals)
            for escalation in _expanded(chunk, escalation_rows(account_id, method, status))
        )
    for escalation in found:
        if (
            (method is None or escalation.method == method)
            and (status is None or escalation.status == status)
            and (target is None or escalation.target == target)
        ):
            yield escalation


# Escalations the first read of `iter_escalations` expands at most (a principal's are never
# split); each later read twice as many, up to `_CHUNK` principals: a download's first rows go
# out after a small read, not after the hundreds of thousands of 500 principals.
_FIRST_EXPANDED = 2000


def _growing_chunks(totals: Iterable[tuple[str, int]]) -> Iterator[list[str]]:
    """The principals of (principal, escalations) pairs, in their order, in chunks of at most
    `_CHUNK` principals whose escalations add up to `_FIRST_EXPANDED` at most in the first
    chunk (or its one principal), twice as many in each next one."""
    budget, size = _FIRST_EXPANDED, 0
    chunk: list[str] = []
    for principal, n in totals:
        if chunk and (len(chunk) == _CHUNK or size + n > budget):
            yield chunk
            budget, chunk, size = budget * 2, [], 0
        chunk.append(principal)
        size += n
    if chunk:
        yield chunk


def _expanded(principals: list[str], rows: QuerySet[EscalationEdge]) -> Iterator[Escalation]:
    """The escalations of these principals (sorted) out of ``rows``, in (principal, method,
    target) order."""
    for start in range(0, len(principals), _CHUNK):
        chunk = principals[start : start + _CHUNK]
        by_principal = escalations_from(chunk, rows)
        for principal in chunk:
            yield from by_principal.get(principal, ())


def _pairs_sql(where: str) -> str:
    """One row per (principal, escalation row): how many escalations the row gives the
    principal, counted without expanding it: once per target (once when it has none), less
    one where the principal is among the targets (looked up only in rows where some holder
    is)."""
    edges = EscalationEdge._meta.db_table
    members = EscalationGroupMember._meta.db_table
    if connection.vendor == "postgresql":
        length = "jsonb_array_length(e.{})"
        within = "jsonb_exists(r.targets, {})"
        materialized = "MATERIALIZED"
        holds_self = f"""CASE WHEN e.source_group_id IS NULL
            THEN jsonb_exists(e.targets, e.source)
            ELSE jsonb_exists_any(e.targets, ARRAY(
                SELECT m.arn FROM {members} m WHERE m.group_id = e.source_group_id))
            END"""
    else:
        length = "json_array_length(e.{})"
        within = "EXISTS (SELECT 1 FROM json_each(r.targets) AS t WHERE t.value = {})"
        materialized = ""
        holds_self = "1"
    targets = length.format("targets")
    n = "r.n - CASE WHEN r.holds_self AND {} THEN 1 ELSE 0 END"
    return f"""
        WITH r AS {materialized} (
            SELECT e.source, e.source_group_id, e.method, e.status, e.targets,
                   CASE WHEN {targets} = 0 THEN 1 ELSE {targets} END AS n,
                   CASE WHEN {length.format("condition_keys")} > 0 THEN 1 ELSE 0 END
                       AS conditional,
                   {holds_self} AS holds_self
            FROM {edges} e WHERE 1 = 1 {where}
        ), pairs AS (
            SELECT r.source AS principal, r.method, r.status, r.conditional,
                   {n.format(within.format("r.source"))} AS n
            FROM r WHERE r.source_group_id IS NULL
            UNION ALL
            SELECT m.arn, r.method, r.status, r.conditional, {n.format(within.format("m.arn"))}
            FROM r JOIN {members} m ON m.group_id = r.source_group_id
        )
    """


def _counted(
    select: str,
    account_id: str | None,
    method: str | None,
    status: str | None,
    query: str,
) -> list[tuple[Any, ...]]:
    where: list[str] = []
    params: list[str] = []
    if account_id is not None:
        where.append(f"AND e.account_id IN (SELECT id FROM {Account._meta.db_table} a")
        where.append("WHERE a.account_id = %s)")
        params.append(account_id)
    if method is not None:
        where.append("AND e.method = %s")
        params.append(method)
    if status is not None:
        where.append("AND e.status = %s")
        params.append(status)
    kept = "n > 0"
    if query:
        kept += r" AND LOWER(principal) LIKE %s ESCAPE '\'"
        escaped = query.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        params.append(f"%{escaped}%")
    with connection.cursor() as cursor:
        cursor.execute(_pairs_sql(" ".join(where)) + select.format(where=kept), params)
        return list(cursor.fetchall())


def _run_cached(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per process and analysis run (it reads every stored row)."""
    from identities.queries.access import cached_for_run  # access reads escalations here

    return cached_for_run(name, compute)


def matching_escalations(
    *,
    account_id: str | None = None,
    method: str | None = None,
    status: str | None = None,
    query: str = "",
) -> Iterator[Escalation]:
    """The escalations of the escalations page's filters, in `iter_escalations`' order: the
    CSV it streams and the one built in the background (`exporting`) read them here; ``query``
    is a case-insensitive part of the principal's ARN (as `count_methods` counts them)."""
    found = iter_escalations(account_id=account_id, method=method, status=status)
    if not query:
        return found
    needle = query.lower()
    return (e for e in found if needle in e.principal.lower())


def total_escalations(
    *,
    account_id: str | None = None,
    method: str | None = None,
    status: str | None = None,
    query: str = "",
) -> int:
    """How many `matching_escalations` gives, counted in the database (`count_methods`)."""
    counts = count_methods(account_id=account_id, method=method, status=status, query=query)
    return sum(row.escalations for row in counts)


def count_methods(
    account_id: str | None = None,
    method: str | None = None,
    status: str | None = None,
    query: str = "",
) -> list[MethodCount]:
    """:func:`count_by_method` of :func:`iter_escalations` (filtered the same way, and by a
    case-insensitive part of the principal's ARN), counted in the database."""

    def count() -> list[MethodCount]:
        found = {
            row[0]: row[1:]
            for row in _counted(
                """SELECT method, COUNT(DISTINCT principal), SUM(n), SUM(conditional * n)
                FROM pairs WHERE {where} GROUP BY method""",
                account_id,
                method,
                status,
                query,
            )
        }
        return [MethodCount(m, *found[m.id]) for m in METHODS if m.id in found]

    if query:
        return count()
    return _run_cached(f"escalations:methods:{account_id}:{method}:{status}", count)


def count_principals(
    account_id: str | None = None,
    method: str | None = None,
    status: str | None = None,
    query: str = "",
) -> list[PrincipalCount]:
    """:func:`count_by_principal` of :func:`iter_escalations` (filtered as
    :func:`count_methods`), counted in the database."""
    aggregated = (
        "string_agg(DISTINCT method, ',')"
        if connection.vendor == "postgresql"
        else "group_concat(DISTINCT method)"
    )

    def count() -> list[PrincipalCount]:
        rows = _counted(
            f"""SELECT principal, {aggregated}, SUM(n),
                   SUM(CASE WHEN status = 'proven' THEN n ELSE 0 END)
            FROM pairs WHERE {{where}} GROUP BY principal""",
            account_id,
            method,
            status,
            "",
        )
        return sorted(
            (PrincipalCount(p, tuple(sorted(m.split(","))), n, proven) for p, m, n, proven in rows),
            key=lambda row: (-row.escalations, row.principal),
        )

    found = _run_cached(f"escalations:principals:{account_id}:{method}:{status}", count)
    query = query.lower()
    return [row for row in found if query in row.principal.lower()] if query else found


class ExpandedEscalations(Sequence[Escalation]):
    """Every escalation of these principals (with their totals, sorted by ARN) out of
    ``rows``, in (principal, method, target) order; a slice expands only the principals it
    covers (what a page shows)."""

    def __init__(self, totals: list[tuple[str, int]], rows: QuerySet[EscalationEdge]):
        self._totals = totals
        self._rows = rows
        self._count = sum(n for _, n in totals)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Escalation: ...
    @overload
    def __getitem__(self, index: slice) -> list[Escalation]: ...
    def __getitem__(self, index: int | slice) -> Escalation | list[Escalation]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop, step = index.indices(self._count)
        covered: list[str] = []
        first = 0
        offset = 0
        for principal, n in self._totals:
            if offset + n > start and offset < stop:
                if not covered:
                    first = offset
                covered.append(principal)
            offset += n
            if offset >= stop:
                break
        found = list(_expanded(covered, self._rows))
        return found[start - first : stop - first : step]


def escalations_between(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Escalation]:
    """The escalation behind each (principal, target) pair (a hop of a chain), if any: the
    unconditional and proven one first."""
    wanted = set(pairs)
    found: dict[tuple[str, str], Escalation] = {}
    by_principal = escalations_from(source for source, _ in wanted)
    for principal in sorted(by_principal):
        for escalation in sorted(
            by_principal[principal], key=lambda e: (e.conditional, e.status != "proven")
        ):
            pair = (principal, escalation.target or "")
            if pair in wanted:
                found.setdefault(pair, escalation)
    return found


@dataclass(frozen=True, slots=True)
class MethodCount:
    method: Method
    principals: int
    escalations: int
    conditional: int


def count_by_method(escalations: Iterable[Escalation]) -> list[MethodCount]:
    """Per catalogue method (in catalogue order), how many principals and escalations."""
    principals: dict[str, set[str]] = defaultdict(set)
    totals: dict[str, int] = defaultdict(int)
    conditional: dict[str, int] = defaultdict(int)
    for escalation in escalations:
        principals[escalation.method].add(escalation.principal)
        totals[escalation.method] += 1
        conditional[escalation.method] += escalation.conditional
    return [
        MethodCount(m, len(principals[m.id]), totals[m.id], conditional[m.id])
        for m in METHODS
        if totals[m.id]
    ]


@dataclass(frozen=True, slots=True)
class PrincipalCount:
    principal: str
    methods: tuple[str, ...]
    escalations: int
    proven: int

    def __reduce__(self) -> tuple[type[PrincipalCount], tuple[str, tuple[str, ...], int, int]]:
        # Unpickled by the constructor: a shared cache holds tens of thousands, and the
        # dataclass default (a scan of the fields per object) takes seconds to read them back.
        return PrincipalCount, (self.principal, self.methods, self.escalations, self.proven)


def count_by_principal(escalations: Iterable[Escalation]) -> list[PrincipalCount]:
    """Per principal (by ARN), its methods and how many escalations, most first."""
    methods: dict[str, dict[str, None]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    proven: dict[str, int] = defaultdict(int)
    for escalation in escalations:
        methods[escalation.principal][escalation.method] = None
        totals[escalation.principal] += 1
        proven[escalation.principal] += escalation.status == "proven"
    return sorted(
        (PrincipalCount(p, tuple(methods[p]), totals[p], proven[p]) for p in totals),
        key=lambda row: (-row.escalations, row.principal),
    )


def escalation_graph_edges(
    principals: Iterable[str], targets: Collection[str] | None = None
) -> list[Escalation]:
    """The escalations out of these principals whose target is a user or role (one of
    ``targets`` if given): the edges the access graph draws as a kind of its own."""
    by_principal = escalations_from(principals, targets=targets)
    return [
        e
        for principal in sorted(by_principal)
        for e in by_principal[principal]
        if e.target is not None and (":user/" in e.target or ":role/" in e.target)
    ]


@dataclass(slots=True)
class PairSummary:
    """Every escalation of one principal onto one user or role, summed up: whether one needs
    no condition, whether one is proven, the methods and the condition keys of them all."""

    unconditional: bool = False
    proven: bool = False
    methods: set[str] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)


PROVEN = 2
UNCONDITIONAL = 1


class EscalationPairs:
    """The escalations of some principals onto users and roles by (principal, target) pair:
    ``flags`` holds, for every pair, `PROVEN` when one of its escalations is proven and
    `UNCONDITIONAL` when one needs no condition; `summaries` sums up the methods and condition
    keys of the pairs asked for. Made from rows of (holders, targets, method, proven, keys)."""

    def __init__(self, rows: list[tuple[list[str], list[str], str, bool, list[str]]]):
        self._rows = rows
        flags: dict[tuple[str, str], int] = {}
        for holders, onto, _, proven, keys in rows:
            bits = (PROVEN if proven else 0) | (0 if keys else UNCONDITIONAL)
            for principal in holders:
                for target in onto:
                    if target != principal:
                        pair = (principal, target)
                        flags[pair] = flags.get(pair, 0) | bits
        self.flags = flags

    def summaries(
        self, pairs: Collection[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], PairSummary]:
        """`PairSummary` of each of ``pairs`` (of every pair, for None)."""
        principals = None if pairs is None else {principal for principal, _ in pairs}
        found: dict[tuple[str, str], PairSummary] = {}
        for holders, onto, method, proven, keys in self._rows:
            for principal in holders:
                if principals is not None and principal not in principals:
                    continue
                for target in onto:
                    pair = (principal, target)
                    if target == principal or (pairs is not None and pair not in pairs):
                        continue
                    summary = found.get(pair)
                    if summary is None:
                        summary = found[pair] = PairSummary()
                    summary.unconditional |= not keys
                    summary.proven |= proven
                    summary.methods.add(method)
                    summary.conditions.update(keys)
        return found


def read_escalation_pairs(
    principals: Iterable[str], targets: Collection[str] | None = None, conditional: str = ""
) -> EscalationPairs:
    """`EscalationPairs` of `escalation_graph_edges` (onto ``targets`` if given), read without
    making one object per escalation (a whole account holds hundreds of thousands): only the
    conditional escalations with ``conditional="only"``, only the others with ``"none"``."""
    kept: list[tuple[list[str], list[str], str, bool, list[str]]] = []
    fields = ("source", "source_group_id", "method", "status", "targets_text", "keys_text")
    for chunk, members in _chunks_with_groups(principals):
        # Their own rows and their groups' rows read apart, each by its index: ORed, the two
        # lists make PostgreSQL scan every escalation row. In the model's order, ARNs
        # ("arn:…") before groups ("group:…"), as one read gave them.
        for where in _own_and_group_rows(chunk, members):
            rows = EscalationEdge.objects.filter(where).annotate(
                targets_text=_targets_among(targets),
                keys_text=Cast("condition_keys", TextField()),
            )
            _keep_pairs(kept, rows.values_list(*fields), members, targets, conditional)
    return EscalationPairs(kept)


def _targets_among(targets: Collection[str] | None) -> Any:
    """A row's targets as JSON text; on PostgreSQL only those among ``targets`` (if given), in
    their order: the database picks them out of lists of thousands of ARNs (``iam:PassRole``
    on every role of an account) faster than this process decodes them."""
    if targets is None or connection.vendor != "postgresql":
        return Cast("targets", TextField())
    return RawSQL(
        "(SELECT coalesce(jsonb_agg(e.arn ORDER BY e.n), '[]'::jsonb)::text"
        ' FROM jsonb_array_elements_text("identities_escalationedge"."targets")'
        " WITH ORDINALITY AS e(arn, n) WHERE e.arn = ANY(%s))",
        (sorted(targets),),
        output_field=TextField(),
    )


def _keep_pairs(
    kept: list[tuple[list[str], list[str], str, bool, list[str]]],
    rows: Iterable[tuple[str, int | None, str, str, str, str | None]],
    members: dict[int, list[str]],
    targets: Collection[str] | None,
    conditional: str,
) -> None:
    for source, group_id, method, status, targets_text, keys_text in rows:
        keys = orjson.loads(keys_text) if keys_text not in {None, "[]"} else []
        if (conditional == "only" and not keys) or (conditional == "none" and keys):
            continue
        onto = [
            target
            for target in orjson.loads(targets_text)
            if (targets is None or target in targets) and (":user/" in target or ":role/" in target)
        ]
        if onto:
            holders = (members.get(group_id) if group_id else None) or [source]
            kept.append((holders, onto, method, status == "proven", keys))


def escalation_pairs(
    principals: Iterable[str], targets: Collection[str] | None = None, conditional: str = ""
) -> dict[tuple[str, str], PairSummary]:
    """`read_escalation_pairs` summed up for every pair."""
    return read_escalation_pairs(principals, targets, conditional).summaries()


@dataclass(frozen=True, slots=True)
class EscalationCount:
    """How many escalations go from the users or roles (``source_of``) of one account to the
    users or roles (``target_of``) of one account, unconditional (``allow``) or not."""

    source_account: str
    source_of: str
    target_account: str
    target_of: str
    outcome: str
    n: int


def count_escalations_by_account(account_id: str | None = None) -> list[EscalationCount]:
    """Escalations onto users and roles counted per (source account and kind, target account
    and kind, outcome), those into or out of ``account_id`` only if given: the folded pictures
    draw one edge per count. Like the unfolded pictures, a principal's methods onto one target
    count once; a group's row counts once per member (about: a member's own row onto the same
    target counts again).

    Counted once per analysis run for every process (it reads every stored row;
    `shared_cache.shared_for_run`, filled when the analysis finishes)."""
    from identities.queries.shared_cache import shared_for_run  # it reads the run here

    counts = shared_for_run("escalations:by-account", _count_escalations_by_account)
    if not account_id:
        return counts
    return [c for c in counts if account_id in (c.source_account, c.target_account)]


def _count_escalations_by_account() -> list[EscalationCount]:
    pairs: dict[tuple[str, str], tuple[str, str, int, bool]] = {}
    rows = EscalationEdge.objects.values_list(
        "source",
        "account__account_id",
        "source_kind",
        "source_group__kind",
        "source_group__member_count",
        "targets",
        "condition_keys",
    )
    for source, source_account, kind, group_kind, members, targets, keys in rows.iterator():
        for target in targets:
            slot = (source, target)
            unconditional = not keys or (slot in pairs and pairs[slot][3])
            held = 1 if kind != "group" else members or 1
            pairs[slot] = (
                source_account,
                group_kind if kind == "group" else kind,
                held,
                unconditional,
            )
    counts: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    principal_of: dict[str, tuple[str, str] | None] = {}  # target -> (account, kind), parsed once
    for (_, target), (source_account, source_of, held, unconditional) in pairs.items():
        if target not in principal_of:
            parsed = parse_arn(target)
            target_of = classify_arn(target)
            principal_of[target] = (
                (parsed.account, str(target_of))
                if parsed is not None and target_of in (SourceKind.USER, SourceKind.ROLE)
                else None
            )
        found = principal_of[target]
        if found is None:
            continue
        outcome = "allow" if unconditional else "conditional"
        counts[(source_account, source_of, *found, outcome)] += held
    return [EscalationCount(*slot, n) for slot, n in sorted(counts.items())]
