"""The graph pages' reads of stored access edges: rows to draw, group memberships, counts
for folded pictures and the overview. Groups are expanded with the same rule as in
`identities.queries.access` (`identities.analysis.membership.group_edge_holds`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast
from django.db.models.lookups import In

from identities.analysis.membership import group_edge_holds
from identities.models import (
    AccessEdge,
    AccessGroup,
    AccessGroupMember,
    IamRole,
    IamUser,
)
from identities.queries.access import (
    _GROUP,
    POSSIBLE,
    _member_kind,
    _requirements,
)

logger = logging.getLogger(__name__)

# Keys per query of the membership reads (SQLite caps the parameters of a statement).
_CHUNK = 500


class AnyOf(In):
    """``column IN (values)`` written ``column = ANY(%s)`` on PostgreSQL: one parameter, an
    array, rather than one per value. A hop of a neighbourhood asks for thousands of keys, and
    the driver and Django spent more time placing thousands of parameters than the database
    took to answer."""

    lookup_name = "any"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def any_of(column: str, values: Iterable[Any]) -> Q:
    """The rows whose ``column`` holds one of ``values`` (`AnyOf`)."""
    return Q(AnyOf(F(column), list(values)))


@dataclass(frozen=True, slots=True)
class StoredEdge:
    """A stored edge by the primary keys of its ends (access groups not expanded)."""

    source: str
    source_kind: str
    user_id: int | None
    role_id: int | None
    group_id: int | None
    target_id: int
    action: str
    outcome: str
    conditions: tuple[str, ...]
    via_pass_role: bool
    requirements: tuple[str, ...] = ()  # per condition key, what it must be (``MFA = true``)


@dataclass(frozen=True)
class EdgeSelection:
    """Edges touching these roles, users, access groups (primary keys) or sources; every edge
    of the estate with ``every``."""

    targets: Collection[int] = ()
    source_roles: Collection[int] = ()
    source_users: Collection[int] = ()
    source_groups: Collection[int] = ()
    sources: Collection[str] = ()
    every: bool = False

    def parts(self) -> list[Q]:
        """One filter per indexed column: an OR across columns can turn into a scan of every
        edge of the estate."""
        if self.every:
            return [Q()]
        columns = (
            ("target_id", self.targets),
            ("source_role_id", self.source_roles),
            ("source_user_id", self.source_users),
            ("source_group_id", self.source_groups),
            ("source", self.sources),
        )
        return [any_of(column, values) for column, values in columns if values]


def account_selection(account_id: str) -> EdgeSelection:
    """The edges into or out of one account."""
    # Key lists rather than joins: the planner picks the foreign-key indexes for them.
    in_account = Q(account__account_id=account_id)
    roles = list(IamRole.objects.filter(in_account).values_list("pk", flat=True))
    return EdgeSelection(
        targets=roles,
        source_roles=roles,
        source_users=list(IamUser.objects.filter(in_account).values_list("pk", flat=True)),
        source_groups=list(AccessGroup.objects.filter(in_account).values_list("pk", flat=True)),
    )


_EDGE_VALUES = (
    "pk",
    "source",
    "source_kind",
    "source_user_id",
    "source_role_id",
    "source_group_id",
    "target_id",
    "action",
    "outcome",
    "conditions_text",
    "via_pass_role",
    "values_text",
)


def stored_edges(
    selection: EdgeSelection, *, outcomes: Collection[str], source_kinds: Collection[str]
) -> list[StoredEdge]:
    """The stored edges of ``selection`` with these outcomes and source kinds, groups as they
    are; each edge once.

    The outcome and kind filters are applied here: an outcome filter the planner misjudges on
    a freshly loaded table can turn into a scan of every edge of the estate.
    """
    seen: set[int] = set()
    found = []
    for part in selection.parts():
        query = AccessEdge.objects.filter(part).annotate(
            conditions_text=Cast("condition_keys", TextField()),
            values_text=Cast("condition_values", TextField()),
        )
        for (
            pk,
            source,
            kind,
            user,
            role,
            group,
            target,
            action,
            outcome,
            conditions,
            via,
            values,
        ) in query.values_list(*_EDGE_VALUES):
            if pk in seen or outcome not in outcomes or kind not in source_kinds:
                continue
            seen.add(pk)
            keys = tuple(orjson.loads(conditions)) if outcome != "allow" and conditions else ()
            shown = orjson.loads(values) if keys and values else {}
            found.append(
                StoredEdge(
                    source, kind, user, role, group, target, action, outcome, keys, via,
                    tuple(text for _, text in _requirements(keys, shown)),
                )
            )  # fmt: skip
    return found


@dataclass(frozen=True)
class Membership:
    """A user or role in an access group, and the group's edges that hold for it.

    ``inherited`` is None when every possible edge of the group holds for the member (a
    picture may draw it through the group); otherwise its own edge for some role replaces
    the group's, and ``inherited`` lists the group's edges that still hold, from the member.
    """

    group_id: int
    arn: str
    user_id: int | None
    role_id: int | None
    inherited: tuple[StoredEdge, ...] | None


def memberships(
    *,
    groups: Collection[int] = (),
    users: Collection[int] = (),
    roles: Collection[int] = (),
    with_edges: bool = False,
    targets: Collection[int] | None = None,
) -> list[Membership]:
    """The members of these access groups, and the memberships of these users and roles
    (only in groups with at least one stored edge when ``with_edges``); ``inherited`` lists
    only the edges into ``targets`` when given."""
    query = AccessGroupMember.objects.all()
    kept = groups_with_edges() if with_edges else None
    rows: dict[int, tuple[int, str, int | None, int | None]] = {}
    for column, values in (("group_id", groups), ("user_id", users), ("role_id", roles)):
        if values:
            for pk, *row in query.filter(any_of(column, values)).values_list(
                "pk", "group_id", "arn", "user_id", "role_id"
            ):
                if kept is None or row[0] in kept:
                    rows[pk] = tuple(row)  # type: ignore[assignment]  # values_list rows are lists
    if not rows:
        return []
    apart_arns = _set_apart(rows.values())
    apart = [row for row in rows.values() if row[1] in apart_arns]
    group_edges: dict[int, list[StoredEdge]] = defaultdict(list)
    own: set[tuple[str, int]] = set()
    if apart:
        selection = EdgeSelection(source_groups={group for group, *_ in apart})
        for edge in stored_edges(selection, outcomes=POSSIBLE, source_kinds=(_GROUP,)):
            assert edge.group_id is not None
            if targets is None or edge.target_id in targets:
                group_edges[edge.group_id].append(edge)
        own = set(
            AccessEdge.objects.filter(
                any_of("target_id", {e.target_id for edges in group_edges.values() for e in edges}),
                any_of("source", {arn for _, arn, *_ in apart}),
            ).values_list("source", "target_id")
        )
    found = []
    for group, arn, user, role in sorted(rows.values()):
        inherited: tuple[StoredEdge, ...] | None = None
        if arn in apart_arns:
            inherited = tuple(
                replace(edge, source=arn, source_kind=_member_kind(user), user_id=user,
                        role_id=role, group_id=None)
                for edge in group_edges[group]
                if group_edge_holds(own, arn, edge.target_id)
            )  # fmt: skip
        found.append(Membership(group, arn, user, role, inherited))
    return found


def groups_with_edges() -> frozenset[int]:
    """The access groups with at least one stored edge: once per analysis run for every
    process (a test per membership makes the planner read every group edge)."""
    from identities.queries.shared_cache import shared_for_run  # it reads the run here

    def find() -> frozenset[int]:
        with_edges = Exists(AccessEdge.objects.filter(source_group=OuterRef("pk")))
        return frozenset(AccessGroup.objects.filter(with_edges).values_list("pk", flat=True))

    return shared_for_run("graph:groups-with-edges", find)


def _set_apart(members: Iterable[tuple[int, str, int | None, int | None]]) -> set[str]:
    """The ARNs of these (group, ARN, user, role) members that have an edge of their own (any
    outcome) for a role their group can assume: the group's edges do not all hold for them.

    Three indexed reads (the members' own edges by user or role key, then their groups' edges
    into those roles) rather than a test per member: a graph asks for thousands of members,
    and few have edges of their own."""
    by_user = {user: (group, arn) for group, arn, user, _ in members if user is not None}
    by_role = {role: (group, arn) for group, arn, _, role in members if role is not None}
    candidates: set[tuple[int, int, str]] = set()  # (group, role, member ARN)
    for column, by_key in (("source_user_id", by_user), ("source_role_id", by_role)):
        for start in range(0, len(by_key), _CHUNK):
            keys = list(by_key)[start : start + _CHUNK]
            for key, source, target in AccessEdge.objects.filter(
                **{f"{column}__in": keys}
            ).values_list(column, "source", "target_id"):
                group, arn = by_key[key]
                if source == arn:  # the member's own edge, not one it holds otherwise
                    candidates.add((group, target, arn))
    if not candidates:
        return set()
    held: set[tuple[int | None, int]] = set()
    role_ids = sorted({target for _, target, _ in candidates})
    for start in range(0, len(role_ids), _CHUNK):
        # By role only: the planner then reads the target index (a group filter beside it can
        # turn the read into a scan of every group edge).
        held.update(
            AccessEdge.objects.filter(
                target_id__in=role_ids[start : start + _CHUNK],
                source_kind=_GROUP,
                outcome__in=POSSIBLE,
            ).values_list("source_group_id", "target_id")
        )
    return {arn for group, target, arn in candidates if (group, target) in held}


# -- the folded pictures: edges counted by the database ----------------------------------------

OUTSIDE_KINDS = ("account", "external", "service", "federated", "anyone")


@dataclass(frozen=True)
class EdgeFilter:
    """Outcomes and source kinds to keep, and the accounts both ends must be in (if any)."""

    outcomes: Collection[str]
    source_kinds: Collection[str]
    accounts: Collection[str] = ()

    def q(self) -> Q:
        where = Q(outcome__in=list(self.outcomes), source_kind__in=list(self.source_kinds))
        if self.accounts:
            accounts = sorted(self.accounts)
            where &= Q(target__account__account_id__in=accounts) & (
                Q(source_kind__in=OUTSIDE_KINDS)
                | Q(source_user__account__account_id__in=accounts)
                | Q(source_role__account__account_id__in=accounts)
                | Q(source_group__account__account_id__in=accounts)
            )
        return where


def count_edge_ends(
    selection: EdgeSelection, edge_filter: EdgeFilter, *, member_limit: int, stop_after: int
) -> int:
    """About how many nodes the edges of ``selection`` draw (targets, sources and the members
    of access groups of at most ``member_limit``), counted by the database."""
    total = 0
    for part in selection.parts():
        edges = AccessEdge.objects.filter(part).filter(edge_filter.q())
        counts = edges.aggregate(
            targets=Count("target_id", distinct=True),
            groups=Count("source_group_id", distinct=True),
            users=Count("source_user_id", distinct=True),
            roles=Count("source_role_id", distinct=True),
            outside=Count("source", distinct=True, filter=Q(source_kind__in=OUTSIDE_KINDS)),
        )
        members = AccessGroup.objects.filter(
            pk__in=edges.filter(source_group__isnull=False).values("source_group_id"),
            member_count__lte=member_limit,
        ).aggregate(n=Sum("member_count"))
        total += sum(value or 0 for value in counts.values()) + (members["n"] or 0)
        if total > stop_after:
            break
    return total


def count_edges(
    selection: EdgeSelection, edge_filter: EdgeFilter, by: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The edges of ``selection`` counted (``n``) per value of the ``by`` columns."""
    where = Q(pk__in=[])
    for part in selection.parts():
        where |= part
    query = AccessEdge.objects.filter(where).filter(edge_filter.q())
    return [dict(row) for row in query.values(*by).annotate(n=Count("pk")).order_by()]


# One GROUP BY per kind of source, each joining only the table that holds its account.
_ACCOUNT_OF_SOURCE = (
    (("group",), "source_group__account_id"),
    (("user",), "source_user__account_id"),
    (("role",), "source_role__account_id"),
    (OUTSIDE_KINDS, ""),
)


def count_edges_by_account(edge_filter: EdgeFilter) -> Iterator[dict[str, Any]]:
    """Every edge of the estate counted (``n``) per source account (``source_account``, an
    Account pk) or outside source (``outside_source``), target account, source kind, access
    group kind and outcome."""
    for source_kinds, source_column in _ACCOUNT_OF_SOURCE:
        columns: dict[str, Any] = {"target_account": F("target__account_id")}
        if source_column:
            columns["source_account"] = F(source_column)
        else:
            columns["outside_source"] = F("source")
        yield from (
            AccessEdge.objects.filter(source_kind__in=source_kinds)
            .filter(edge_filter.q())
            .annotate(**columns)
            .values("source_kind", "source_group__kind", "outcome", *columns)
            .annotate(n=Count("pk"))
            .order_by()
        )


def member_arns(group: AccessGroup) -> QuerySet[AccessGroupMember, str]:
    """The ARNs of the members of an access group, sorted."""
    return (
        AccessGroupMember.objects.filter(group=group).order_by("arn").values_list("arn", flat=True)
    )


def first_source_kind(source: str) -> str | None:
    """The kind of the edges from ``source`` (an outside party), or None when it has none."""
    return AccessEdge.objects.filter(source=source).values_list("source_kind", flat=True).first()


def outside_sources(q: str, limit: int) -> list[tuple[str, str]]:
    """(source, kind) of the outside parties whose source contains ``q``, by source."""
    return list(
        AccessEdge.objects.filter(source__icontains=q)
        .exclude(source_kind__in=["user", "role", "group"])
        .order_by("source")
        .values_list("source", "source_kind")
        .distinct()[:limit]
    )


# -- transitive reach --------------------------------------------------------------------------
