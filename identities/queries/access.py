"""Read side of the access analysis: the one reader of stored access edges and reach.

Everything here reads the rows the analysis stored; nothing evaluates a policy, except
`explain`, which evaluates one pair live. Pages, panels, graphs, exports and the command line
all read edges through these functions, so they cannot disagree.

The rows belong to the *current run*: the succeeded analysis run that finished last (it
replaced the rows of every earlier one in its transaction). Transitive reach ("who can end up
in this role?") is a breadth-first search over that run's stored graph of direct edges, loaded
once per process and run (`run_cached`; see `identities.analysis.reach`).

An access edge may come from an *access group*: the principals of one account that share their
identity statements about sts:AssumeRole, boundary and SCPs. A group's edge holds for each of
its members, except that a member's own edge for a role, whatever its outcome, replaces its
group's for that role (the analysis stores one when the member is singled out, for instance
denied by ARN in the trust policy). `identities.analysis.membership.group_edge_holds` is that rule; every function below that
expands groups goes through it.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Count, Q, QuerySet

from identities.analysis.explain import Explanation, explain_access
from identities.analysis.membership import group_edge_holds
from identities.analysis.reach import (
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    EscalationHops,
    Reached,
    ReachGraph,
    load_escalation_hops,
    load_graph,
)
from identities.arns import account_of, classify_arn
from identities.db import any_of
from identities.models import (
    AccessEdge,
    AccessGroupMember,
    Account,
    AnalysisRun,
    IamRole,
    IamUser,
)
from identities.queries.escalations import Escalation, escalations_between
from identities.queries.estate import is_user_or_role
from identities.queries.paging import SlicedSequence

logger = logging.getLogger(__name__)

POSSIBLE = (AccessEdge.Outcome.ALLOW, AccessEdge.Outcome.CONDITIONAL)
_GROUP = AccessEdge.SourceKind.GROUP
T = TypeVar("T")

# The keys of the objects ``access_edges`` prints (`as_row`), in order.
EDGE_ROW_FIELDS = (
    "source",
    "target",
    "conditions",
    "condition_values",
    "transitive",
    "path",
    "granted_by",
)


@dataclass(frozen=True)
class DirectAccess:
    """One principal that can (or, for a refused named candidate, cannot) assume one role.

    ``group`` is the access group's key when the principal holds the edge as a member of it
    (or when the principal is the group itself), ``group_label`` its label.
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
    group_label: str = ""
    # key -> what the statements require of it in words (``MFA = true``), for conditional edges
    condition_values: dict[str, str] = field(default_factory=dict, compare=False)
    # set on a hop of a chain that is an escalation, not a role assumption (`escalation_hop`)
    escalation: Escalation | None = field(default=None, compare=False)

    @property
    def conditional(self) -> bool:
        return self.outcome == AccessEdge.Outcome.CONDITIONAL

    def held_by(self, source: str, source_kind: str) -> DirectAccess:
        """This access group's edge as one member holds it: `dataclasses.replace` without its
        call of ``__init__`` (a tenth of the time; a role's members run to tens of thousands).
        """
        held = object.__new__(DirectAccess)
        held.__dict__.update(self.__dict__, source=source, source_kind=source_kind)
        return held

    @property
    def requirements(self) -> tuple[tuple[str, str], ...]:
        """(key, requirement) per condition key; the key itself where none is stored."""
        return _requirements(self.condition_keys, self.condition_values)

    @property
    def possible(self) -> bool:
        return self.outcome in POSSIBLE

    def as_row(self) -> dict[str, Any]:
        """The object ``access_edges`` prints for a direct edge (a contract: see the README)."""
        return {
            "source": self.source,
            "target": self.target,
            "conditions": list(self.condition_keys),
            "condition_values": dict(self.requirements),
            "transitive": False,
            "path": [self.source, self.target],
            "granted_by": list(self.granted_by),
        }


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

    @property
    def condition_values(self) -> dict[str, str]:
        """Key -> requirement over every hop (``; ``-joined where hops differ)."""
        return _merged_values(self.hops)

    def as_row(self) -> dict[str, Any]:
        """The object ``access_edges --transitive`` prints (a contract: see the README)."""
        return {
            "source": self.source,
            "target": self.target,
            "conditions": list(self.condition_keys),
            "condition_values": self.condition_values,
            "transitive": self.transitive,
            "path": list(self.path),
            "granted_by": list(self.granted_by),
        }


@dataclass(frozen=True)
class Chain:
    """A chain of role assumptions as pages show it: the principal or role at the far end
    (``node``), the number of hops, the shortest ``path`` and the stored edge of each hop
    (``steps``, with its conditions), so a chain never hides a hop's condition."""

    node: str
    hops: int
    path: tuple[str, ...]
    steps: tuple[DirectAccess, ...] = ()

    @property
    def condition_keys(self) -> tuple[str, ...]:
        return tuple(sorted({key for step in self.steps for key in step.condition_keys}))

    @property
    def condition_values(self) -> dict[str, str]:
        return _merged_values(self.steps)

    @property
    def conditional(self) -> bool:
        return any(step.conditional for step in self.steps)

    @property
    def links(self) -> list[tuple[str, DirectAccess | None]]:
        """Each principal of the chain with the hop that reaches it (None for the first)."""
        return _links(self.path, {(step.source, step.target): step for step in self.steps})


def _links(
    path: Sequence[str], hops: dict[tuple[str, str], DirectAccess]
) -> list[tuple[str, DirectAccess | None]]:
    return [(node, hops.get((path[i - 1], node)) if i else None) for i, node in enumerate(path)]


def _requirements(keys: Iterable[str], values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((key, values.get(key) or key) for key in keys)


def _merged_values(hops: Iterable[DirectAccess]) -> dict[str, str]:
    found: dict[str, dict[str, None]] = {}
    for hop in hops:
        for key, text in hop.requirements:
            found.setdefault(key, {})[text] = None
    return {key: "; ".join(texts) for key, texts in sorted(found.items())}


# -- the current run and what is cached for it -------------------------------------------------


def _succeeded() -> QuerySet[AnalysisRun]:
    return AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED).order_by(
        "-finished_at", "-id"
    )


def current_run() -> AnalysisRun | None:
    """The analysis run whose results are stored: the succeeded run that finished last.

    Not the one that started last: of two overlapping runs, the one committing last replaced
    the other's rows (and its graph), whenever it started.
    """
    return _succeeded().defer("graph").first()


# Reentrant: a computation may read another cached value (the API's transitive edges read the
# reach graph) while the lock is held.
_cache_lock = threading.RLock()
_cache: dict[str, Any] = {"run": None, "values": {}}


def run_cached(name: str, compute: Callable[[int], T]) -> T | None:
    """``compute(run id)`` for the current run, once per process and run (None without one).

    Every per-run cache of the read side lives here, keyed by the same run, so two readers
    cannot use the results of different runs. The key holds the finish time as well as the
    id: a database restored (or a test rolled back) may give an id to another run.
    """
    key = _succeeded().values_list("pk", "finished_at").first()
    if key is None:
        return None
    values = _cache["values"]
    if _cache["run"] == key and name in values:
        return values[name]
    with _cache_lock:
        if _cache["run"] != key:
            _cache.update(run=key, values={})
        values = _cache["values"]
        if name not in values:
            values[name] = compute(key[0])
        return values[name]


def cached_for_run(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per current run for every process (kept in this process's memory
    and in the shared cache: `shared_cache.shared_for_run`); computed every time without a
    run. The value must pickle."""
    from identities.queries.shared_cache import shared_for_run  # it reads the run here

    return shared_for_run(name, compute)


def reach_graph() -> ReachGraph | None:
    """The current run's graph of direct edges (see `identities.analysis.reach`)."""

    def load(run_id: int) -> ReachGraph | None:
        blob = AnalysisRun.objects.filter(pk=run_id).values_list("graph", flat=True).first()
        return load_graph(blob)

    return run_cached("reach", load)


def escalation_hops() -> EscalationHops | None:
    """The escalation hops of the current run's reach graph (`reach.EscalationHops`), kept
    for the run in every process (the shared cache): a process drawing graphs reads them
    without loading the whole reach graph. Taken from the reach graph when this process
    holds it already."""

    def load() -> EscalationHops | None:
        run = _succeeded().values_list("pk", "finished_at").first()
        if run is None:
            return None
        loaded = _cache["values"].get("reach") if _cache["run"] == run else None
        if loaded is not None:
            return EscalationHops.of_graph(loaded.graph)
        blob = AnalysisRun.objects.filter(pk=run[0]).values_list("graph", flat=True).first()
        return load_escalation_hops(blob)

    return cached_for_run("escalation-hops", load)


# -- direct edges ------------------------------------------------------------------------------

_FIELDS = (
    "id",
    "source",
    "source_kind",
    "source_group__key",
    "source_group__label",
    "target_id",
    "target__arn",
    "outcome",
    "condition_keys",
    "condition_values",
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
        group_label=row["source_group__label"] or "",
        condition_values=row["condition_values"] or {},
    )


def _member_kind(user_id: int | None) -> str:
    return AccessEdge.SourceKind.USER if user_id else AccessEdge.SourceKind.ROLE


def _expand(
    group_rows: dict[str, list[dict]],
    members: Iterable[tuple[str, str, int | None]],
    own: Collection[tuple[str, int]],
    keep: Callable[[str, int], bool] | None = None,
) -> Iterator[DirectAccess]:
    """The group rows (by group key) that hold for each (group key, ARN, user id) member;
    with ``keep(ARN, role key)``, those it keeps."""
    for key, arn, user_id in members:
        for row in group_rows.get(key, ()):
            if (keep is None or keep(arn, row["target_id"])) and group_edge_holds(
                own, arn, row["target_id"]
            ):
                yield _direct(row, source=arn, kind=_member_kind(user_id))


def access_edges_into(role: IamRole) -> QuerySet[AccessEdge]:
    """The stored edges into ``role`` as they are (access groups not expanded), possible first.

    For a page that shows "12 users of acme-dev with PowerUserAccess" as one row.
    """
    return (
        AccessEdge.objects.filter(target=role)
        .select_related("source_user", "source_role", "source_group", "source_group__account")
        .order_by("outcome", "source_kind", "source")
    )


def access_into(
    role: IamRole | str, *, include_refused: bool = False, expand_groups: bool = True
) -> list[DirectAccess]:
    """Every principal that can assume ``role`` directly, by source.

    With ``expand_groups`` an access group's edge is listed once per member (unless the
    member's own edge replaces it); without, once, from ``group:KEY``.
    """
    role_pk = (
        IamRole.objects.filter(arn=role).values_list("pk", flat=True).first()
        if isinstance(role, str)
        else role.pk
    )
    rows = list(AccessEdge.objects.filter(target_id=role_pk).values(*_FIELDS))
    found = [
        _direct(row)
        for row in rows
        if (include_refused or row["outcome"] in POSSIBLE)
        and (row["source_kind"] != _GROUP or not expand_groups)
    ]
    if expand_groups:
        own = {(row["source"], row["target_id"]) for row in rows if row["source_kind"] != _GROUP}
        groups: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            if row["source_kind"] == _GROUP and row["outcome"] in POSSIBLE:
                groups[row["source_group__key"]].append(row)
        if groups:
            members = AccessGroupMember.objects.filter(group__key__in=list(groups)).values_list(
                "group__key", "arn", "user_id"
            )
            found.extend(_expand(groups, members, own))
    return sorted(found, key=lambda access: access.source)


def group_members(
    edges: Iterable[DirectAccess], own: Collection[str]
) -> dict[str, list[tuple[str, str]]]:
    """(ARN, kind) of each member of the access groups of ``edges`` (group edges into one role,
    from `access_into(..., expand_groups=False)`) for whom its edge holds, by group key;
    ``own``: the sources of that role's edges that are no group's (refused ones included)."""
    by_key: dict[str, str] = {e.group or "": e.target for e in edges if e.source_kind == _GROUP}
    found: dict[str, list[tuple[str, str]]] = {key: [] for key in by_key}
    pairs = {(source, by_key[key]) for key in by_key for source in own}
    rows = AccessGroupMember.objects.filter(group__key__in=list(by_key)).values_list(
        "group__key", "arn", "user_id"
    )
    for key, arn, user_id in rows.iterator(chunk_size=5000):
        if group_edge_holds(pairs, arn, by_key[key]):
            found[key].append((arn, _member_kind(user_id)))
    return found


def access_out_of(
    principal: IamUser | IamRole | str, *, include_refused: bool = False
) -> list[DirectAccess]:
    """Every role ``principal`` can assume directly (its own edges, then its group's), by role.

    ``principal`` may also be a source string such as ``service:ec2.amazonaws.com`` or
    ``group:KEY`` (an access group's own edges).
    """
    if isinstance(principal, IamUser):
        own_filter, member_filter, arn = Q(source_user=principal), Q(user=principal), principal.arn
    elif isinstance(principal, IamRole):
        own_filter, member_filter, arn = Q(source_role=principal), Q(role=principal), principal.arn
    else:
        own_filter, member_filter, arn = Q(source=principal), None, principal
    rows = list(AccessEdge.objects.filter(own_filter).values(*_FIELDS))
    found = [_direct(row) for row in rows if include_refused or row["outcome"] in POSSIBLE]
    if member_filter is not None:
        own = {(arn, row["target_id"]) for row in rows}
        members = list(
            AccessGroupMember.objects.filter(member_filter).values_list(
                "group_id", "group__key", "user_id"
            )
        )
        groups: dict[str, list[dict]] = defaultdict(list)
        group_rows = AccessEdge.objects.filter(
            source_group_id__in=[group_id for group_id, _, _ in members], outcome__in=POSSIBLE
        )
        for row in group_rows.values(*_FIELDS):
            groups[row["source_group__key"]].append(row)
        found.extend(_expand(groups, ((key, arn, user) for _, key, user in members), own))
    return sorted(found, key=lambda access: access.target)


def edges_between(
    pairs: Iterable[tuple[str, str]], *, include_refused: bool = False
) -> dict[tuple[str, str], list[DirectAccess]]:
    """The edges from each source (an ARN, ``*``, ``service:…``, ``group:KEY``, …) to each
    role ARN of ``pairs``, groups expanded by the same rule as `access_out_of`."""
    pairs = set(pairs)
    sources = {source for source, _ in pairs}
    targets = {target for _, target in pairs}
    group_of, kinds = {}, {}
    for arn, key, user_id in AccessGroupMember.objects.filter(any_of("arn", sources)).values_list(
        "arn", "group__key", "user_id"
    ):
        group_of[arn], kinds[arn] = key, user_id
    wanted = sources | {f"group:{key}" for key in group_of.values()}
    # Role keys rather than a join on the ARN: the edge view then reads its written-out role
    # class grants through the member index instead of writing them all out.
    target_ids = list(IamRole.objects.filter(any_of("arn", targets)).values_list("pk", flat=True))
    rows = list(
        AccessEdge.objects.filter(any_of("source", wanted), any_of("target_id", target_ids)).values(
            *_FIELDS
        )
    )
    own = {(row["source"], row["target_id"]) for row in rows if row["source_kind"] != _GROUP}
    groups: dict[str, list[dict]] = defaultdict(list)
    found: dict[tuple[str, str], list[DirectAccess]] = defaultdict(list)
    for row in rows:
        if row["source_kind"] == _GROUP and row["outcome"] in POSSIBLE:
            groups[row["source_group__key"]].append(row)
        if row["source"] in sources and (include_refused or row["outcome"] in POSSIBLE):
            found[(row["source"], row["target__arn"])].append(_direct(row))
    members = ((group_of[arn], arn, kinds[arn]) for arn in sources if arn in group_of)
    for access in _expand(groups, members, own):
        found[(access.source, access.target)].append(access)
    return {pair: found[pair] for pair in pairs if found.get(pair)}


def escalation_hop(escalation: Escalation) -> DirectAccess:
    """An escalation as a hop of a chain: its method's permissions as the action, its
    condition keys, the statements that grant them; ``escalation`` holds the method."""
    return DirectAccess(
        source=escalation.principal,
        source_kind=str(classify_arn(escalation.principal)),
        target=escalation.target or escalation.principal,
        outcome=AccessEdge.Outcome.CONDITIONAL
        if escalation.conditional
        else AccessEdge.Outcome.ALLOW,
        condition_keys=escalation.conditions,
        granted_by=escalation.granted_by,
        action=" + ".join(escalation.info.actions),
        escalation=escalation,
    )


def hops_between(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DirectAccess]:
    """The stored edge behind each (principal, principal) hop of a chain: a role assumption
    where there is one, else the escalation (`escalations_between`) as `escalation_hop`."""
    pairs = set(pairs)
    found = {pair: edges[0] for pair, edges in edges_between(pairs).items()}
    if missing := pairs - set(found):
        for pair, escalation in escalations_between(missing).items():
            found[pair] = escalation_hop(escalation)
    return found


def hop_details(path: tuple[str, ...] | list[str]) -> list[DirectAccess]:
    """The direct edge (or escalation) behind each hop of a chain (conditions, statements)."""
    hops = list(zip(path, path[1:], strict=False))
    found = hops_between(hops)
    if missing := [pair for pair in hops if pair not in found]:
        raise LookupError(f"no stored edge from {missing[0][0]} to {missing[0][1]}")
    return [found[pair] for pair in hops]


def path_links(paths: Iterable[Sequence[str]]) -> list[list[tuple[str, DirectAccess | None]]]:
    """Each chain (ARNs, its first principal first) as (principal, the hop that reaches it)
    pairs, the hop a role assumption or an escalation (`hops_between`), read at once."""
    paths = [list(path) for path in paths]
    found = hops_between({pair for path in paths for pair in zip(path, path[1:], strict=False)})
    return [_links(path, found) for path in paths]


def chains_with_steps(chains: Iterable[Reached]) -> list[Chain]:
    """``chains`` (from `reach_to` / `reach_from`) with the stored edge of every hop, read in
    one query for all of them."""
    chains = list(chains)
    hops = {
        reached.node: list(zip(reached.path, reached.path[1:], strict=False)) for reached in chains
    }
    pairs = {pair for pairs in hops.values() for pair in pairs}
    found = hops_between(pairs) if pairs else {}
    return [
        Chain(
            node=reached.node,
            hops=reached.hops,
            path=reached.path,
            steps=tuple(found[pair] for pair in hops[reached.node] if pair in found),
        )
        for reached in chains
    ]


# -- the graph pages: stored edges by primary key ----------------------------------------------


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


def reach_to(role_arn: str, *, ordered: bool = True) -> list[Reached]:
    """Every principal that can end up in the role, nearest first, with the shortest chain.

    Users, roles, outside accounts (``arn:aws:iam::ID:root``), services, federated providers
    and ``*``; access groups are already expanded into their members. ``ordered=False``
    leaves them in the search's order, for a reader that only counts them (tens of thousands
    for a busy role).
    """
    graph = reach_graph()
    if graph is None:
        return []
    found = graph.reach_to(role_arn)
    return sorted(found, key=nearest_first) if ordered else found


def nearest_first(reached: Reached) -> tuple[int, str]:
    """The order of `reach_to` and `reach_from`: by hops, then by name."""
    return (reached.hops, reached.node)


def chain_between(source: str, target: str) -> tuple[str, ...] | None:
    """The shortest chain from ``source`` to the role ``target``, or None."""
    graph = reach_graph()
    if graph is None:
        return None
    for reached in graph.reach_from(source):
        if reached.node == target:
            return reached.path
    return None


# -- exports (the access_edges command) --------------------------------------------------------


def iter_direct_edges(account_id: str | None = None) -> Iterator[DirectAccess]:
    """Every possible direct edge with access groups expanded, sorted by (source, target).

    ``account_id`` keeps the edges whose target role is in that account.
    """
    rows = _edges_into(account_id)
    members = AccessGroupMember.objects.all()
    yield from _expanded_edges(
        rows.exclude(source_kind=_GROUP), rows.filter(source_kind=_GROUP), members
    )


def direct_edge_sources(account_id: str | None = None) -> list[tuple[str, int]]:
    """Every source of `iter_direct_edges` (same ``account_id``) with its number of rows, by
    source, counted without expanding access groups: a group's edge counts once per member,
    less the members whose own edge (of any outcome) to the same role replaces it."""
    rows = _edges_into(account_id)
    own = rows.exclude(source_kind=_GROUP)
    held = rows.filter(source_kind=_GROUP, outcome__in=POSSIBLE)
    counts: dict[str, int] = defaultdict(int)
    possible = own.filter(outcome__in=POSSIBLE).values("source").annotate(n=Count("id"))
    for source, n in possible.values_list("source", "n"):
        counts[source] += n
    by_group = dict(
        held.values("source_group_id").annotate(n=Count("id")).values_list("source_group_id", "n")
    )
    group_of: dict[str, int] = {}
    members = AccessGroupMember.objects.filter(group_id__in=list(by_group))
    for group_id, arn in members.values_list("group_id", "arn").iterator(chunk_size=10_000):
        counts[arn] += by_group[group_id]
        group_of[arn] = group_id
    # Lists of names and ids, not subqueries: AccessEdge is a view, and PostgreSQL plans a
    # join of it against a subquery by expanding every group (29 million rows at 50 accounts).
    # In batches: SQLite takes at most 32,766 parameters in a query.
    members_own = [
        pair
        for batch in _batches(list(group_of))
        for pair in own.filter(source__in=batch).values_list("source", "target_id")
    ]
    group_targets = {
        pair
        for batch in _batches(list({target for _, target in members_own}))
        for pair in held.filter(target_id__in=batch).values_list("source_group_id", "target_id")
    }
    for source, target in members_own:
        if (group_of[source], target) in group_targets:
            counts[source] -= 1
    return sorted((source, n) for source, n in counts.items() if n > 0)


def direct_edges_of(
    sources: Collection[str],
    account_id: str | None = None,
    *,
    pairs: Collection[tuple[str, str]] | None = None,
) -> list[DirectAccess]:
    """The rows of `iter_direct_edges` (same ``account_id``) whose source is one of
    ``sources``, in the same order: what a page of `direct_edge_sources` shows; with ``pairs``
    ((source, role ARN)), only the rows of those pairs, read for them alone (the hops of
    chains)."""
    wanted = set(sources)
    rows = _edges_into(account_id)
    keep: Callable[[str, int], bool] = lambda source, target_id: source in wanted  # noqa: E731
    role_ids: dict[str, int] = {}
    if pairs is not None:
        role_ids = dict(
            IamRole.objects.filter(any_of("arn", {role for _, role in pairs})).values_list(
                "arn", "pk"
            )
        )
        asked = {(source, role_ids[role]) for source, role in pairs if role in role_ids}
        wanted &= {source for source, _ in asked}
        keep = lambda source, target_id: (source, target_id) in asked  # noqa: E731
    # Keys and id lists, not subqueries (see `direct_edge_sources`); a user's or role's own
    # edges are found by its key (indexed), the others by name.
    users = dict(IamUser.objects.filter(arn__in=wanted).values_list("arn", "pk"))
    roles = dict(IamRole.objects.filter(arn__in=wanted).values_list("arn", "pk"))
    others = wanted - set(users) - set(roles)
    mine = Q(source_user_id__in=list(users.values())) | Q(source_role_id__in=list(roles.values()))
    if others:
        mine |= Q(source__in=list(others))
    members = AccessGroupMember.objects.filter(arn__in=wanted)
    groups_of: dict[str, set[int]] = defaultdict(set)
    for arn, group_id in members.values_list("arn", "group_id"):
        groups_of[arn].add(group_id)
    if pairs is None:
        held = Q(source_group_id__in=set().union(*groups_of.values()))
    else:
        # Each group's edges into the roles its asked members are asked about, no others: the
        # groups of a chain's hops can assume thousands of roles each.
        targets: dict[int, set[int]] = defaultdict(set)
        for source, target_id in asked:
            for group_id in groups_of.get(source, ()):
                targets[group_id].add(target_id)
        held = Q(pk__in=[])
        for group_id, ids in targets.items():
            held |= Q(source_group_id=group_id) & any_of("target_id", ids)
        mine &= any_of("target_id", set(role_ids.values()))
    return _expanded_edges(
        rows.exclude(source_kind=_GROUP).filter(mine),
        rows.filter(held, source_kind=_GROUP),
        members,
        keep=keep,
    )


def _batches(items: list[T], size: int = 10_000) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _edges_into(account_id: str | None) -> QuerySet[AccessEdge]:
    rows = AccessEdge.objects.all()
    if account_id is not None:
        rows = rows.filter(target__account__account_id=account_id)
    return rows


def _expanded_edges(
    own_rows: QuerySet[AccessEdge],
    group_rows: QuerySet[AccessEdge],
    members: QuerySet[AccessGroupMember],
    keep: Callable[[str, int], bool] | None = None,
) -> list[DirectAccess]:
    """The possible edges of ``own_rows`` (no access group's), and those of ``group_rows`` once
    per member (of ``members``) for whom they hold, that ``keep(source, role key)`` keeps,
    sorted by (source, target); rows and members read in key order, so that edges of equal
    source and target come in the same order whichever sources are read."""
    own: set[tuple[str, int]] = set()
    groups: dict[str, list[dict]] = defaultdict(list)
    found: list[DirectAccess] = []
    for row in own_rows.order_by("id").values(*_FIELDS):
        if keep is not None and not keep(row["source"], row["target_id"]):
            continue
        own.add((row["source"], row["target_id"]))
        if row["outcome"] in POSSIBLE:
            found.append(_direct(row))
    for row in group_rows.filter(outcome__in=POSSIBLE).order_by("id").values(*_FIELDS):
        groups[row["source_group__key"]].append(row)
    listed = members.order_by("id").values_list("group__key", "arn", "user_id")
    found.extend(_expand(groups, listed, own, keep))
    found.sort(key=lambda access: (access.source, access.target))
    return found


def source_error(source: str) -> str:
    """Why ``source`` cannot be asked for as an edge source ("" when it can): it must be a
    user or role of the estate, or the source of a stored edge (an outside account, a
    service, a federated provider, ``*``)."""
    if source.startswith(GROUP_PREFIX):
        return f"{source} is an access group: the lists name its members, ask for one of them"
    if is_user_or_role(source) or is_edge_source(source):
        return ""
    return f"no user or role {source} in the estate, and no access edge starts at it"


def is_edge_source(source: str) -> bool:
    """Whether a stored access edge of the current analysis starts at ``source`` (an outside
    principal or account root named by a trust policy)."""
    return AccessEdge.objects.filter(source=source).exists()


def iter_transitive_edges(account_id: str | None = None) -> Iterator[TransitiveAccess]:
    """Direct edges and chains: for every source, every role it can end up in, sorted by
    (source, target); ``path`` is ``[source, target]`` for a direct edge. ``account_id`` keeps
    the roles of that account."""
    direct = list(iter_direct_edges())
    by_pair = {(access.source, access.target): access for access in direct}
    graph = reach_graph()
    role_accounts = dict(IamRole.objects.values_list("arn", "account__account_id"))
    sources = sorted({access.source for access in direct})
    for batch in _batches(sources, 500):
        found = [
            (source, _reached_in(graph, source, account_id, role_accounts)) for source in batch
        ]
        hops = _with_escalations(by_pair, _pairs(item for _, reached in found for item in reached))
        for source, reached in found:
            yield from _transitive_rows(source, reached, hops)


class TransitiveFrom(SlicedSequence[TransitiveAccess]):
    """The rows of `iter_transitive_edges` (same ``account_id``) whose source is ``source``, in
    the same order, a slice at a time: one search of the reach graph, then the stored edges of
    only the hops of the rows a slice shows. What the API and ``access_edges --source`` list
    where the whole list is too big to build (29 million direct edges at 50 accounts)."""

    def __init__(self, source: str, account_id: str | None = None):
        self.source = source
        graph = reach_graph()
        reached = graph.reach_from(source) if graph is not None else []
        nodes = [item.node for item in reached] if account_id is not None else []
        role_accounts = {
            arn: account
            for batch in _batches(nodes)
            for arn, account in IamRole.objects.filter(any_of("arn", batch)).values_list(
                "arn", "account__account_id"
            )
        }
        self.reached = _reached_in(graph, source, account_id, role_accounts, reached)
        if self.reached and not _has_direct_edge(source, reached):
            self.reached = []  # not a source of the whole list (it escalates, no more)

    def __len__(self) -> int:
        return len(self.reached)

    def _rows(self, start: int, stop: int) -> list[TransitiveAccess]:
        shown = self.reached[start:stop]
        pairs = _pairs(shown)
        edges = direct_edges_of({source for source, _ in pairs}, pairs=pairs)
        by_pair = {(access.source, access.target): access for access in edges}
        return list(_transitive_rows(self.source, shown, _with_escalations(by_pair, pairs)))


def _reached_in(
    graph: ReachGraph | None,
    source: str,
    account_id: str | None,
    role_accounts: Mapping[str, str],
    reached: list[Reached] | None = None,
) -> list[Reached]:
    """What ``source`` can end up in (``reached``, else searched), by name; with
    ``account_id``, only the roles of that account (``role_accounts``: role ARN -> account)."""
    if reached is None:
        reached = graph.reach_from(source) if graph is not None else []
    if account_id is not None:
        reached = [item for item in reached if role_accounts.get(item.node) == account_id]
    return sorted(reached, key=lambda item: item.node)


def _has_direct_edge(source: str, reached: Iterable[Reached]) -> bool:
    """Whether a stored direct edge starts at ``source``, from what a search of the reach
    graph from it found: the roles one hop away, those reached by a role assumption first
    (no escalation hop before them; a few suffice), then every one."""
    first = [item for item in reached if item.hops == 1]
    assumed = [item.node for item in first if not _escalated(item)]
    return bool(
        direct_edges_of([source], pairs=[(source, node) for node in assumed[:20]])
        or direct_edges_of([source], pairs=[(source, item.node) for item in first])
    )


def _escalated(item: Reached) -> bool:
    """Whether ``item`` is reached through an escalation hop (``escalate:…`` on its chain)."""
    step = item.parents[item.node]
    while step is not None:
        if step.startswith(ESCALATE_PREFIX):
            return True
        step = item.parents[step]
    return False


def _pairs(reached: Iterable[Reached]) -> set[tuple[str, str]]:
    """The hops of the chains of ``reached``, as (principal, principal) pairs."""
    return {pair for item in reached for pair in zip(item.path, item.path[1:], strict=False)}


def _with_escalations(
    by_pair: Mapping[tuple[str, str], DirectAccess], pairs: Iterable[tuple[str, str]]
) -> Mapping[tuple[str, str], DirectAccess]:
    """``by_pair`` (a stored edge per hop), and for each hop of ``pairs`` with none the
    escalation behind it (`escalation_hop`: its method's permissions and the statements
    granting them), read at once."""
    missing = {pair for pair in pairs if pair not in by_pair}
    if not missing:
        return by_pair
    found = dict(by_pair)
    for pair, escalation in escalations_between(missing).items():
        found[pair] = escalation_hop(escalation)
    return found


def _transitive_rows(
    source: str, reached: Iterable[Reached], hops: Mapping[tuple[str, str], DirectAccess]
) -> Iterator[TransitiveAccess]:
    """A row per role ``source`` reaches, each hop the stored edge or the escalation of
    ``hops`` (`_with_escalations`)."""
    for item in reached:
        steps = tuple(
            hops[(start, end)]
            for start, end in zip(item.path, item.path[1:], strict=False)
            if (start, end) in hops
        )
        yield TransitiveAccess(source=source, target=item.node, path=item.path, hops=steps)


# -- explanations ------------------------------------------------------------------------------


def explain(source: str, target: str) -> Explanation:
    """Why ``source`` can or cannot assume ``target``, evaluated live (see the explain command)."""
    return explain_access(source, target)


# -- the estate from above: account to account --------------------------------------------------


@dataclass(frozen=True)
class AccountMatrix:
    """Principals of each source (an account of the estate, or an outside party by kind) that
    can assume a role of each account, directly: ``cells[(source, target)]`` counts distinct
    principals, ``roles[(source, target)]`` maps each role ARN reached to its principals."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    cells: dict[tuple[str, str], int]
    roles: dict[tuple[str, str], dict[str, int]]

    def row(self, source: str) -> list[tuple[str, int]]:
        """(target account, count) for each column."""
        return [(target, self.cells.get((source, target), 0)) for target in self.targets]

    def boundary(self, target: str) -> list[tuple[str, int, list[tuple[str, int]]]]:
        """Who from outside ``target`` can get in, and to what: each other source with its
        principals and the roles they reach (most reached first), biggest first."""
        found = [
            (source, count, sorted(self.roles[(source, target)].items(), key=lambda r: -r[1]))
            for (source, into), count in self.cells.items()
            if into == target and source != target
        ]
        return sorted(found, key=lambda item: (-item[1], item[0]))


def matrix_source(source: str, source_kind: str) -> str:
    """The matrix row of an edge source: its account for a principal or an account root,
    else its kind (``service``, ``federated``, ``anyone``)."""
    return account_of(source) or source_kind


def account_matrix() -> AccountMatrix:
    """`AccountMatrix` of the current run, computed once per run for every process (stored
    when the analysis finishes: `shared_cache.warm_run`)."""
    from identities.queries.shared_cache import shared_for_run  # it reads the run here

    return shared_for_run("account-matrix", _count_account_matrix)


def _count_account_matrix() -> AccountMatrix:
    """Group edges count each member for whom they hold (`group_edge_holds`); only members
    with edges of their own are tested, and a group holding for all its members is counted
    by its size."""
    role_account = dict(IamRole.objects.values_list("pk", "account__account_id"))
    role_arn = dict(IamRole.objects.values_list("pk", "arn"))
    fields = ("source", "source_kind", "source_group_id", "target_id", "outcome")
    rows = list(AccessEdge.objects.values_list(*fields))
    own = {(source, target) for source, kind, _, target, _ in rows if kind != _GROUP}
    singled_out = {source for source, _ in own}
    members: dict[int, list[str]] = defaultdict(list)
    group_of: dict[str, int] = {}
    for group_id, arn in AccessGroupMember.objects.values_list("group_id", "arn"):
        members[group_id].append(arn)
        group_of[arn] = group_id
    special = {key: [a for a in arns if a in singled_out] for key, arns in members.items()}
    whole: dict[tuple[str, str], set[int]] = defaultdict(set)  # groups holding for everyone
    single: dict[tuple[str, str], set[str]] = defaultdict(set)
    roles: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seen: set[tuple[str, int]] = set()  # one edge per source and role, whatever its action
    for source, kind, group_id, target, outcome in rows:
        if outcome not in POSSIBLE or (source, target) in seen:
            continue
        seen.add((source, target))
        if kind != _GROUP:
            cell = (matrix_source(source, kind), role_account[target])
            single[cell].add(source)
            roles[cell][role_arn[target]] += 1
            continue
        if not members[group_id]:
            continue
        cell = (account_of(members[group_id][0]), role_account[target])
        replaced = {a for a in special[group_id] if not group_edge_holds(own, a, target)}
        if replaced:
            single[cell].update(a for a in members[group_id] if a not in replaced)
        else:
            whole[cell].add(group_id)
        roles[cell][role_arn[target]] += len(members[group_id]) - len(replaced)
    cells = {
        cell: sum(len(members[key]) for key in whole[cell])
        + sum(1 for arn in single[cell] if group_of.get(arn) not in whole[cell])
        for cell in whole.keys() | single.keys()
    }
    estate = sorted(Account.objects.values_list("account_id", flat=True))
    outside = sorted({source for source, _ in cells} - set(estate))
    return AccountMatrix(
        sources=(*estate, *outside),
        targets=tuple(estate),
        cells={cell: count for cell, count in cells.items() if count},
        roles={cell: dict(found) for cell, found in roles.items()},
    )
