"""The one reader of stored escalations: pages, the graph, the ``escalations`` command and the
path finder all read them here.

An escalation edge row holds a source (a user, a role, or an escalation group: each member)
and every target it acts on or becomes with the same conditions and statements; these
functions expand them into one :class:`Escalation` per (principal, method, target), leaving
out a member as its own target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from identities.analysis.escalation_methods import METHODS, METHODS_BY_ID, Method
from identities.arns import SourceKind, classify_arn, parse_arn
from identities.models import EscalationEdge, EscalationGroupMember

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
        """The object the ``escalations`` command prints (a contract: see the README)."""
        return {
            "principal": self.principal,
            "method": self.method,
            "status": self.status,
            "target": self.target,
            "conditions": list(self.conditions),
            "granted_by": list(self.granted_by),
        }


def _expand(row: dict[str, Any], principals: Iterable[str]) -> Iterator[Escalation]:
    targets: list[str | None] = list(row["targets"]) or [None]
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


def _members(group_ids: Iterable[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for group_id, arn in (
        EscalationGroupMember.objects.filter(group_id__in=set(group_ids))
        .order_by("arn")
        .values_list("group_id", "arn")
    ):
        found[group_id].append(arn)
    return found


def escalations_of(principal: str) -> list[Escalation]:
    """How one user or role (by ARN) can escalate, by method then target."""
    return escalations_from([principal]).get(principal, [])


# Principals per query: SQLite allows a few hundred parameters on older builds.
_CHUNK = 500


def escalations_from(principals: Iterable[str]) -> dict[str, list[Escalation]]:
    """How each of these users and roles (by ARN) can escalate, by method then target; two
    queries per 500 principals (a graph asks for every principal it draws)."""
    found: dict[str, list[Escalation]] = defaultdict(list)
    wanted = sorted(set(principals))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        members: dict[int, list[str]] = defaultdict(list)
        for arn, group_id in EscalationGroupMember.objects.filter(arn__in=chunk).values_list(
            "arn", "group_id"
        ):
            members[group_id].append(arn)
        rows = EscalationEdge.objects.filter(
            Q(source__in=chunk) | Q(source_group_id__in=list(members))
        )
        for row in rows.values(*_FIELDS):
            holders = members.get(row["source_group_id"], []) if row["source_group_id"] else []
            for escalation in _expand(row, holders or [row["source"]]):
                found[escalation.principal].append(escalation)
    return {principal: sorted(found[principal], key=_sort_key) for principal in found}


def iter_escalations(
    *,
    account_id: str | None = None,
    principal: str | None = None,
    method: str | None = None,
    status: str | None = None,
    target: str | None = None,
) -> Iterator[Escalation]:
    """Every stored escalation, sorted by (principal, method, target), filtered by the source's
    account, the principal, the method, the status or the target."""
    if principal is not None:
        found: Iterable[Escalation] = escalations_of(principal)
    else:
        rows = EscalationEdge.objects.all()
        if account_id is not None:
            rows = rows.filter(account__account_id=account_id)
        if method is not None:
            rows = rows.filter(method=method)
        if status is not None:
            rows = rows.filter(status=status)
        values = list(rows.values(*_FIELDS))
        members = _members(r["source_group_id"] for r in values if r["source_group_id"])
        found = sorted(
            (
                escalation
                for row in values
                for escalation in _expand(
                    row,
                    members.get(row["source_group_id"], [])
                    if row["source_group_id"]
                    else [row["source"]],
                )
            ),
            key=_sort_key,
        )
    for escalation in found:
        if (
            (method is None or escalation.method == method)
            and (status is None or escalation.status == status)
            and (target is None or escalation.target == target)
        ):
            yield escalation


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


def escalation_graph_edges(principals: Iterable[str]) -> list[Escalation]:
    """The escalations out of these principals whose target is a user or role: the edges the
    access graph draws as a kind of its own."""
    by_principal = escalations_from(principals)
    return [
        e
        for principal in sorted(by_principal)
        for e in by_principal[principal]
        if e.target is not None and (":user/" in e.target or ":role/" in e.target)
    ]


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
    target counts again)."""
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
    for (_, target), (source_account, source_of, held, unconditional) in pairs.items():
        parsed = parse_arn(target)
        target_of = classify_arn(target)
        if parsed is None or target_of not in (SourceKind.USER, SourceKind.ROLE):
            continue
        if account_id and account_id not in (source_account, parsed.account):
            continue
        outcome = "allow" if unconditional else "conditional"
        counts[(source_account, source_of, parsed.account, str(target_of), outcome)] += held
    return [EscalationCount(*slot, n) for slot, n in sorted(counts.items())]
