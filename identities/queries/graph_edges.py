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
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Cast

from identities.analysis.membership import group_edge_holds
from identities.db import any_of
from identities.models import (
    AccessEdge,
    AccessGroup,
    AccessGroupMember,
    IamRole,
    IamUser,
    RoleClassGrant,
    RoleClassMember,
    StoredAccessEdge,
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


@dataclass(slots=True)
class StoredEdge:
    """A stored edge by the primary keys of its ends (access groups not expanded). Read-only
    by convention, not frozen: a neighbourhood makes tens of thousands, and a frozen
    dataclass takes several times longer to make."""

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


# The columns read of an edge stored one by one or of a grant of a role class, the role class
# of the first and the user, role and target of the second left empty (one read of both).
_EDGE_VALUES = (
    "pk",
    "source",
    "source_kind",
    "source_user_id",
    "source_role_id",
    "source_group_id",
    "target_id",
    "class_of",
    "action",
    "outcome",
    "conditions_text",
    "via_pass_role",
    "values_text",
)
_GRANT_VALUES = (
    "pk",
    "source",
    "source_kind",
    "no_user",
    "no_role",
    "source_group_id",
    "no_target",
    "role_class",
    "action",
    "outcome",
    "conditions_text",
    "via_pass_role",
    "values_text",
)
# The `AccessEdge` view's key of a role class grant written out for a member:
# -(grant id * 2**32 + member id).
_CLASS_EDGE_KEY = 4294967296


def _with_texts(query: QuerySet[Any], **extra: Any) -> QuerySet[Any]:
    return query.annotate(
        conditions_text=Cast("condition_keys", TextField()),
        values_text=Cast("condition_values", TextField()),
        **extra,
    )


def _requirement_texts(
    outcome: str, conditions: str | None, values: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The condition keys of an edge and what each must be (none for an allowed edge)."""
    keys = tuple(orjson.loads(conditions)) if outcome != "allow" and conditions else ()
    shown = orjson.loads(values) if keys and values else {}
    return keys, tuple(text for _, text in _requirements(keys, shown))


def _rows_and_grants(column: str, values: Collection[Any]) -> QuerySet[Any]:
    """The edges stored one by one whose ``column`` holds one of ``values``, and the grants of
    role classes behind the `AccessEdge` rows that do, in one read (`_EDGE_VALUES`)."""
    empty = Value(None, output_field=BigIntegerField())
    rows = _with_texts(StoredAccessEdge.objects.filter(any_of(column, values)), class_of=empty)
    if column == "target_id":
        classes = RoleClassMember.objects.filter(any_of("role_id", values)).values("role_class")
        grants = RoleClassGrant.objects.filter(role_class__in=classes)
    elif column in {"source_group_id", "source"}:
        grants = RoleClassGrant.objects.filter(any_of(column, values))
    else:  # a grant's edges come from an access group, never a user or role
        return rows.values_list(*_EDGE_VALUES)
    grants = _with_texts(grants, no_user=empty, no_role=empty, no_target=empty)
    return rows.values_list(*_EDGE_VALUES).union(grants.values_list(*_GRANT_VALUES), all=True)


def _class_members(
    classes: Collection[int], roles: Collection[int] | None
) -> dict[int, list[tuple[int, int]]]:
    """The (member id, role) of each of these role classes (only of ``roles``, if given)."""
    members = RoleClassMember.objects.all()
    if roles is not None:
        members = members.filter(any_of("role_id", roles))
    by_class: dict[int, list[tuple[int, int]]] = defaultdict(list)
    ordered = sorted(classes)
    for start in range(0, len(ordered), _CHUNK):
        chunk = members.filter(role_class__in=ordered[start : start + _CHUNK])
        for pk, role_class, role in chunk.values_list("pk", "role_class", "role_id"):
            by_class[role_class].append((pk, role))
    return by_class


def _columns(selection: EdgeSelection) -> list[tuple[str | None, Collection[Any]]]:
    """The selection as (column, values), one indexed read each; (None, ()) for every edge."""
    if selection.every:
        return [(None, ())]
    columns = (
        ("target_id", selection.targets),
        ("source_role_id", selection.source_roles),
        ("source_user_id", selection.source_users),
        ("source_group_id", selection.source_groups),
        ("source", selection.sources),
    )
    return [(column, values) for column, values in columns if values]


def stored_edges(
    selection: EdgeSelection, *, outcomes: Collection[str], source_kinds: Collection[str]
) -> list[StoredEdge]:
    """The stored edges of ``selection`` with these outcomes and source kinds, groups as they
    are; each edge once.

    A selection of some keys reads the two tables behind the `AccessEdge` view: the edges
    stored one by one, and the grants of role classes, written out here for each member role
    as the view does (a group that can assume a class of a hundred roles is one row read, not
    a hundred); every edge is one read of the view. The outcome and kind filters are applied
    here: an outcome filter the planner misjudges on a freshly loaded table can turn into a
    scan of every edge of the estate.
    """
    seen: set[int] = set()
    found = []
    for column, values in _columns(selection):
        if column is None:  # every edge: the view writes the grants out
            rows = _with_texts(AccessEdge.objects.all(), class_of=Value(None, BigIntegerField()))
            read = list(rows.values_list(*_EDGE_VALUES))
        else:
            read = list(_rows_and_grants(column, values))
        grants = []
        for (
            pk, source, kind, user, role, group, target, role_class, action, outcome, conditions,
            via, shown,
        ) in read:  # fmt: skip
            if outcome not in outcomes or kind not in source_kinds:
                continue
            if role_class is not None:
                grants.append((pk, source, kind, group, role_class, action, outcome, conditions,
                               via, shown))  # fmt: skip
                continue
            if pk in seen:
                continue
            seen.add(pk)
            keys, requirements = _requirement_texts(outcome, conditions, shown)
            found.append(
                StoredEdge(
                    source, kind, user, role, group, target, action, outcome, keys, via,
                    requirements,
                )
            )  # fmt: skip
        if not grants:
            continue
        roles = set(values) if column == "target_id" else None
        members = _class_members({grant[4] for grant in grants}, roles)
        for pk, source, kind, group, role_class, action, outcome, conditions, via, shown in grants:
            keys, requirements = _requirement_texts(outcome, conditions, shown)
            for member, target in members.get(role_class, ()):
                key = -(pk * _CLASS_EDGE_KEY + member)
                if key not in seen:
                    seen.add(key)
                    found.append(
                        StoredEdge(
                            source, kind, None, None, group, target, action, outcome, keys, via,
                            requirements,
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
        if not by_key:
            continue
        # The edges stored one by one: a grant of a role class never comes from a user or role.
        for key, source, target in StoredAccessEdge.objects.filter(
            any_of(column, by_key)
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
