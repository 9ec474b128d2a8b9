"""Read side of the access analysis: what pages and exports show about who can assume what.

Everything here reads the rows the analysis stored; nothing evaluates a policy, except
`explain`, which evaluates one pair live. Transitive reach ("who can end up in this role?")
is a breadth-first search over the analysis run's stored graph of direct edges, loaded once per
process and analysis run (see `identities.analysis.reach`).

An access edge may come from an *access group*: the principals of one account that share their
identity statements about sts:AssumeRole, boundary and SCPs. The functions below expand groups
into their members (`access_into`, `access_out_of`, `iter_direct_edges`); a member's own edge
for a role, when there is one, replaces its group's.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from identities.analysis.explain import Explanation, explain_access
from identities.analysis.reach import Reached, ReachGraph, load_graph
from identities.models import (
    AccessEdge,
    AccessGroup,
    AccessGroupMember,
    Administrator,
    AdminPath,
    AnalysisRun,
    Finding,
    IamRole,
    IamUser,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DirectAccess",
    "TransitiveAccess",
    "access_edges_into",
    "access_group_of",
    "access_into",
    "access_out_of",
    "admin_paths",
    "administrators",
    "chain_between",
    "current_run",
    "explain",
    "findings",
    "hop_details",
    "iter_direct_edges",
    "iter_transitive_edges",
    "reach_from",
    "reach_graph",
    "reach_to",
    "severity_rank",
]

POSSIBLE = (AccessEdge.Outcome.ALLOW, AccessEdge.Outcome.CONDITIONAL)


@dataclass(frozen=True)
class DirectAccess:
    """One principal that can (or, for a refused named candidate, cannot) assume one role.

    ``group`` is the access group's key when the principal holds the edge as a member of it.
    """

    source: str
    source_kind: str
    target: str
    outcome: str
    condition_keys: tuple[str, ...]
    granted_by: tuple[str, ...]
    action: str = "sts:AssumeRole"
    via_pass_role: bool = False
    group: str | None = None
    denied_layer: str = ""
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.outcome == AccessEdge.Outcome.CONDITIONAL

    @property
    def possible(self) -> bool:
        return self.outcome in POSSIBLE


@dataclass(frozen=True)
class TransitiveAccess:
    """A principal that can end up in a role, with the shortest chain and every hop's detail."""

    source: str
    target: str
    path: tuple[str, ...]
    hops: tuple[DirectAccess, ...] = field(default=())

    @property
    def transitive(self) -> bool:
        return len(self.path) > 2

    @property
    def condition_keys(self) -> tuple[str, ...]:
        return tuple(sorted({key for hop in self.hops for key in hop.condition_keys}))

    @property
    def granted_by(self) -> tuple[str, ...]:
        return tuple(ref for hop in self.hops for ref in hop.granted_by)


# -- the current run ---------------------------------------------------------------------------


def current_run() -> AnalysisRun | None:
    """The newest succeeded analysis run: the stored rows are its results."""
    return (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
        .defer("graph")
        .order_by("-started_at", "-id")
        .first()
    )


_graph_lock = threading.Lock()
_graph_cache: dict[str, tuple[int, ReachGraph | None]] = {}


def reach_graph() -> ReachGraph | None:
    """The current run's graph of direct edges, loaded once per process and run."""
    run_pk = (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
        .order_by("-started_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if run_pk is None:
        return None
    cached = _graph_cache.get("current")
    if cached is not None and cached[0] == run_pk:
        return cached[1]
    with _graph_lock:
        cached = _graph_cache.get("current")
        if cached is not None and cached[0] == run_pk:
            return cached[1]
        data = AnalysisRun.objects.filter(pk=run_pk).values_list("graph", flat=True).first()
        graph = load_graph(data)
        _graph_cache["current"] = (run_pk, graph)
        return graph


# -- direct edges ------------------------------------------------------------------------------

_FIELDS = (
    "id",
    "source",
    "source_kind",
    "source_group__key",
    "target__arn",
    "outcome",
    "condition_keys",
    "granted_by",
    "action",
    "via_pass_role",
    "denied_layer",
    "reasons",
    "notes",
)


def _direct(row: dict, *, source: str | None = None, kind: str | None = None) -> DirectAccess:
    return DirectAccess(
        source=source or row["source"],
        source_kind=kind or row["source_kind"],
        target=row["target__arn"],
        outcome=row["outcome"],
        condition_keys=tuple(row["condition_keys"]),
        granted_by=tuple(row["granted_by"]),
        action=row["action"],
        via_pass_role=row["via_pass_role"],
        group=row["source_group__key"],
        denied_layer=row["denied_layer"],
        reasons=tuple(row["reasons"]),
        notes=tuple(row["notes"]),
    )


def access_edges_into(role: IamRole) -> QuerySet[AccessEdge]:
    """The stored edges into ``role`` as they are (access groups not expanded), possible first.

    For a page that shows "12 users of acme-dev with PowerUserAccess" as one row.
    """
    return (
        AccessEdge.objects.filter(target=role)
        .select_related("source_user", "source_role", "source_group", "source_group__account")
        .order_by("outcome", "source_kind", "source")
    )


def access_into(role: IamRole | str, *, include_refused: bool = False) -> list[DirectAccess]:
    """Every principal that can assume ``role`` directly, access groups expanded, by source."""
    role_pk = (
        IamRole.objects.filter(arn=role).values_list("pk", flat=True).first()
        if isinstance(role, str)
        else role.pk
    )
    rows = list(AccessEdge.objects.filter(target_id=role_pk).values(*_FIELDS))
    own = {row["source"] for row in rows if row["source_kind"] != AccessEdge.SourceKind.GROUP}
    found: list[DirectAccess] = []
    groups: dict[str, dict] = {}
    for row in rows:
        if row["source_kind"] == AccessEdge.SourceKind.GROUP:
            if row["outcome"] in POSSIBLE:
                groups[row["source_group__key"]] = row
        elif include_refused or row["outcome"] in POSSIBLE:
            found.append(_direct(row))
    if groups:
        members = AccessGroupMember.objects.filter(group__key__in=list(groups)).values_list(
            "group__key", "arn", "user_id"
        )
        for key, arn, user_id in members:
            if arn not in own:
                kind = AccessEdge.SourceKind.USER if user_id else AccessEdge.SourceKind.ROLE
                found.append(_direct(groups[key], source=arn, kind=kind))
    return sorted(found, key=lambda access: access.source)


def access_group_of(principal: IamUser | IamRole) -> AccessGroup | None:
    """The access group ``principal`` belongs to in the current analysis."""
    field_name = "user" if isinstance(principal, IamUser) else "role"
    member = (
        AccessGroupMember.objects.filter(**{field_name: principal}).select_related("group").first()
    )
    return member.group if member else None


def access_out_of(
    principal: IamUser | IamRole | str, *, include_refused: bool = False
) -> list[DirectAccess]:
    """Every role ``principal`` can assume directly (its own edges, then its group's), by role.

    ``principal`` may also be a source string such as ``service:ec2.amazonaws.com``.
    """
    if isinstance(principal, IamUser):
        own_filter, member_filter, arn = Q(source_user=principal), Q(user=principal), principal.arn
    elif isinstance(principal, IamRole):
        own_filter, member_filter, arn = Q(source_role=principal), Q(role=principal), principal.arn
    else:
        own_filter, member_filter, arn = Q(source=principal), None, principal
    rows = list(AccessEdge.objects.filter(own_filter).values(*_FIELDS))
    found = [_direct(row) for row in rows if include_refused or row["outcome"] in POSSIBLE]
    taken = {row["target__arn"] for row in rows}
    if member_filter is not None:
        member = AccessGroupMember.objects.filter(member_filter).values_list("group_id", "user_id")
        for group_id, user_id in member:
            kind = AccessEdge.SourceKind.USER if user_id else AccessEdge.SourceKind.ROLE
            for row in AccessEdge.objects.filter(
                source_group_id=group_id, outcome__in=POSSIBLE
            ).values(*_FIELDS):
                if row["target__arn"] not in taken:
                    found.append(_direct(row, source=arn, kind=kind))
    return sorted(found, key=lambda access: access.target)


# -- transitive reach --------------------------------------------------------------------------


def reach_from(principal: str) -> list[Reached]:
    """Every role ``principal`` (an ARN or source string) can end up in, nearest first.

    Each result has the shortest chain (``path``, the principal first) and its ``hops``. Roles
    that trust ``*`` are reached only by ``*`` itself (or by principals whose own statements
    name the role); the analysis does not expand "anyone" into every principal.
    """
    graph = reach_graph()
    if graph is None:
        return []
    return sorted(graph.reach_from(principal), key=lambda r: (r.hops, r.node))


def reach_to(role_arn: str) -> list[Reached]:
    """Every principal that can end up in the role, nearest first, with the shortest chain.

    Users, roles, outside accounts (``arn:aws:iam::ID:root``), services, federated providers
    and ``*``; access groups are already expanded into their members.
    """
    graph = reach_graph()
    if graph is None:
        return []
    return sorted(graph.reach_to(role_arn), key=lambda r: (r.hops, r.node))


def chain_between(source: str, target: str) -> tuple[str, ...] | None:
    """The shortest chain from ``source`` to the role ``target``, or None."""
    graph = reach_graph()
    if graph is None:
        return None
    for reached in graph.reach_from(source):
        if reached.node == target:
            return reached.path
    return None


def hop_details(path: tuple[str, ...] | list[str]) -> list[DirectAccess]:
    """The direct edge behind each hop of a chain (conditions, granting statements)."""
    hops: list[DirectAccess] = []
    for source, target in zip(path, path[1:], strict=False):
        own = (
            AccessEdge.objects.filter(_source_filter(source), target__arn=target)
            .filter(outcome__in=POSSIBLE)
            .values(*_FIELDS)
            .first()
        )
        if own is None:
            own = (
                AccessEdge.objects.filter(
                    source_group__members__arn=source,
                    target__arn=target,
                    outcome__in=POSSIBLE,
                )
                .values(*_FIELDS)
                .first()
            )
            if own is None:
                raise LookupError(f"no stored edge from {source} to {target}")
            kind = "user" if ":user/" in source else "role"
            hops.append(_direct(own, source=source, kind=kind))
        else:
            hops.append(_direct(own))
    return hops


def _source_filter(source: str) -> Q:
    """Edges of one source, through the indexed foreign keys for users and roles."""
    if ":user/" in source:
        pk = IamUser.objects.filter(arn=source).values_list("pk", flat=True).first()
        if pk is not None:
            return Q(source_user_id=pk)
    if ":role/" in source:
        pk = IamRole.objects.filter(arn=source).values_list("pk", flat=True).first()
        if pk is not None:
            return Q(source_role_id=pk)
    return Q(source=source)


# -- exports (the access_edges command) --------------------------------------------------------


def iter_direct_edges(account_id: str | None = None) -> Iterator[DirectAccess]:
    """Every possible direct edge with access groups expanded, sorted by (source, target).

    ``account_id`` keeps the edges whose target role is in that account.
    """
    rows = AccessEdge.objects.all()
    if account_id is not None:
        rows = rows.filter(target__account__account_id=account_id)
    members: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for group_id, arn, user_id in AccessGroupMember.objects.values_list(
        "group_id", "arn", "user_id"
    ):
        members[group_id].append((arn, "user" if user_id else "role"))
    own: set[tuple[str, str]] = set()
    group_rows: list[tuple[int, dict]] = []
    found: list[DirectAccess] = []
    for row in rows.values(*_FIELDS, "source_group_id"):
        if row["source_kind"] == AccessEdge.SourceKind.GROUP:
            if row["outcome"] in POSSIBLE:
                group_rows.append((row["source_group_id"], row))
            continue
        own.add((row["source"], row["target__arn"]))
        if row["outcome"] in POSSIBLE:
            found.append(_direct(row))
    for group_id, row in group_rows:
        for arn, kind in members.get(group_id, ()):
            if (arn, row["target__arn"]) not in own:
                found.append(_direct(row, source=arn, kind=kind))
    found.sort(key=lambda access: (access.source, access.target))
    yield from found


def iter_transitive_edges(account_id: str | None = None) -> Iterator[TransitiveAccess]:
    """Direct edges and chains: for every source, every role it can end up in, sorted by
    (source, target); ``path`` is ``[source, target]`` for a direct edge."""
    direct = list(iter_direct_edges())
    by_pair = {(access.source, access.target): access for access in direct}
    graph = reach_graph()
    role_accounts = dict(IamRole.objects.values_list("arn", "account__account_id"))
    sources = sorted({access.source for access in direct})
    for source in sources:
        reached = graph.reach_from(source) if graph is not None else []
        for item in sorted(reached, key=lambda r: r.node):
            if account_id is not None and role_accounts.get(item.node) != account_id:
                continue
            hops = tuple(
                by_pair[(start, end)]
                for start, end in zip(item.path, item.path[1:], strict=False)
                if (start, end) in by_pair
            )
            yield TransitiveAccess(source=source, target=item.node, path=item.path, hops=hops)


# -- administrators and findings ---------------------------------------------------------------


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


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def findings(
    *,
    severity: str | None = None,
    kind: str | None = None,
    account_id: str | None = None,
) -> QuerySet[Finding]:
    """Findings, filtered; order by severity with ``sorted(..., key=severity_rank)`` if needed."""
    found = Finding.objects.select_related("account", "user", "role")
    if severity:
        found = found.filter(severity=severity)
    if kind:
        found = found.filter(kind=kind)
    if account_id:
        found = found.filter(account__account_id=account_id)
    return found


def severity_rank(finding: Finding) -> int:
    return _SEVERITY_ORDER.get(finding.severity, 9)


def explain(source: str, target: str) -> Explanation:
    """Why ``source`` can or cannot assume ``target``, evaluated live (see the explain command)."""
    return explain_access(source, target)
