"""The "after" of a what-if from the stored "before", re-evaluating only what the change touches.

The stored analysis left its results as the access history's state (`history.AccessSnapshot`,
the "before" of the next comparison) and its reach graph (`AnalysisRun.graph`). A change of
trust policies touches only the edges into those roles: their rows are dropped from the state
(a role class keeps its other roles) and the roles are evaluated again against the access
groups of the estate (`edges.compute_role_edges`); the reach graph gets the roles' new incoming
edges (`ReachGraph.replace_incoming`) and the paths to administrators (and sensitive roles) are
searched again; the findings a trust policy decides (`findings.TRUST_FINDINGS`) are redone for
those roles. Administrators do not depend on trust policies; escalations do only through the
services a role trusts (iam:PassRole), so a change of those is not answered here.

Every other kind of change (identity policies, boundaries, SCPs/RCPs, memberships, detached
policies) is answered by `policy_after`: only the principals whose policies change are evaluated
again, their escalations per method (`incremental_powers`).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import networkx as nx
import orjson

from identities.analysis.admins import (
    _content,
    _is_full_wildcard,
)
from identities.analysis.edges import EdgeRecord, EdgeResult, SourceKind, compute_role_edges
from identities.analysis.estate import ASSUME_ROLE, Actor, Doc, Estate
from identities.analysis.evaluation import Evaluator
from identities.analysis.findings import TRUST_FINDINGS, find_findings, trust_findings
from identities.analysis.groups import AccessGroupInfo, Grouping, group_principals
from identities.analysis.history import (
    META_END,
    POSSIBLE,
    ROW_END,
    SEP,
    SNAPSHOT_FORMAT,
    AccessSnapshot,
    decompress_snapshot,
    finding_identity,
    state_of_results,
    stored_format,
)
from identities.analysis.incremental_powers import Change, powers_after
from identities.analysis.reach import (
    CLASS_PREFIX,
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    VIA_PREFIX,
    ReachGraph,
    load_graph,
)
from identities.analysis.sensitive import load_sensitive_rules, match_sensitive_roles
from identities.models import AccessState, AnalysisRun, SyncRun
from identities.policy import (
    Effect,
    PrincipalKind,
    principals_named_in,
)

SERVICE_PREFIX = "service:"


@dataclass
class Stored:
    """The stored analysis a what-if starts from: its run and its state (compressed)."""

    run: AnalysisRun
    blob: bytes

    @cached_property
    def state(self) -> AccessSnapshot:
        """The whole state (the "before" of a whole-estate what-if)."""
        state = AccessSnapshot.from_bytes(self.blob)
        assert state is not None  # `stored_state` read its format
        return state

    @cached_property
    def _parts(self) -> tuple[dict[str, Any], str]:
        head, _, rows = decompress_snapshot(self.blob).partition(META_END)
        return orjson.loads(head), rows.decode()

    @cached_property
    def _graph(self) -> ReachGraph | None:
        found = AnalysisRun.objects.filter(pk=self.run.pk).values_list("graph", flat=True).first()
        return load_graph(found)

    def keep_graph(self, graph: ReachGraph | None) -> None:
        """Take the run's reach graph as read before (`what_if_file`)."""
        self.__dict__["_graph"] = graph

    def kept_graph(self) -> ReachGraph | None:
        """The run's reach graph as stored (read once): never change it, see `graph`."""
        return self._graph

    def graph(self) -> ReachGraph | None:
        """The run's stored reach graph, a new copy on every call (a what-if changes it):
        the adjacency dicts copied, several times faster than reading the graph again."""
        kept = self._graph
        if kept is None:
            return None
        graph = nx.DiGraph()
        graph._node = dict(kept.graph._node)
        graph._adj = {node: dict(targets) for node, targets in kept.graph._succ.items()}
        graph._pred = {node: dict(sources) for node, sources in kept.graph._pred.items()}
        found = copy.copy(kept)  # what else it holds is read only
        found.graph = graph
        return found

    def state_from(self, sources: set[str]) -> AccessSnapshot:
        """The state with only the edges out of these sources (principals, ``group:KEY``):
        all the comparison looks at when only their edges change (`policy_after`)."""
        data, text = self._parts
        found = set()
        if len(sources) > _FEW_SOURCES:
            found = {line for line in text.split(ROW_END) if line[: line.find(SEP)] in sources}
        for source in sources if len(sources) <= _FEW_SOURCES else ():
            found.update(_lines_from(text, source + SEP))
        return AccessSnapshot.from_meta(data, found)

    def services(self) -> set[tuple[str, str]]:
        """(role, ``service:…``) of the stored possible service edges (as `_services`)."""
        _, text = self._parts
        return _services(AccessSnapshot(rows=set(_lines_from(text, SERVICE_PREFIX))))

    def state_into(self, arns: set[str]) -> AccessSnapshot:
        """The state with only the edges into these roles: all a change of their trust
        policies can change (the comparison looks at the pairs that changed alone). Reading
        a million rows back costs more than the rest of such a what-if."""
        data, text = self._parts  # shared by every what-if: read, never changed
        classes = {
            node: [pair for pair in roles if pair[0] in arns]
            for node, roles in data.get("classes", {}).items()
            if any(pair[0] in arns for pair in roles)
        }
        found = set()
        for target in arns | classes.keys():
            needle = SEP + target + SEP
            at = text.find(needle)
            while at != -1:
                start = text.rfind(ROW_END, 0, at) + 1
                end = text.find(ROW_END, at)
                line = text[start : end if end != -1 else len(text)]
                if line.split(SEP, 2)[1] == target:
                    found.add(line)
                at = text.find(needle, at + 1)
        return AccessSnapshot.from_meta(data, found, classes)


def _lines_from(text: str, start: str) -> Iterator[str]:
    """The rows of a stored state's text that begin with ``start``."""
    if text.startswith(start):
        end = text.find(ROW_END)
        yield text[: end if end != -1 else len(text)]
    needle = ROW_END + start
    at = text.find(needle)
    while at != -1:
        end = text.find(ROW_END, at + 1)
        yield text[at + 1 : end if end != -1 else len(text)]
        at = text.find(needle, at + 1)


# Beyond this many sources, one pass over every row beats a search per source.
_FEW_SOURCES = 200


def changed_since(run: AnalysisRun) -> str:
    """Why the estate as stored may no longer be the one ``run`` analysed (a sync or import
    finished after it started), or ""."""
    if SyncRun.objects.filter(
        status=SyncRun.Status.SUCCEEDED, finished_at__gte=run.started_at
    ).exists():
        return f"the estate changed since analysis #{run.pk}"
    return ""


def stored_state(run: AnalysisRun) -> tuple[Stored | None, str]:
    """The current analysis' stored state, or None and why it cannot be the "before": the
    estate changed since (a sync or import finished after it started), or no state is kept."""
    changed = changed_since(run)
    if changed:
        return None, changed
    blob = AccessState.objects.filter(run=run).values_list("blob", flat=True).first()
    if blob is None:
        return None, f"analysis #{run.pk} kept no state to start from"
    stored = Stored(run, bytes(blob))
    if stored_format(stored.blob) != SNAPSHOT_FORMAT:
        return None, f"analysis #{run.pk} kept its state in another format"
    return stored, ""


def reach_of(
    graph: ReachGraph, admins: list[str], sensitive: Mapping[str, object]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(paths to an administrator, paths to a sensitive role) by source, as the history keeps
    them."""
    found = []
    for targets in (admins, list(sensitive)):
        chains = graph.nearest(targets) if targets else {}
        found.append({source: list(reached.path) for source, reached in chains.items()})
    return found[0], found[1]


def incremental_after(
    stored: Stored, estate: Estate, roles: list[Actor]
) -> tuple[AccessSnapshot, AccessSnapshot] | str:
    """(before, after) the trust policies of ``roles`` became those ``estate`` holds, each
    with only the edges into those roles (`Stored.state_into`); or why they cannot be had so."""
    arns = {role.arn for role in roles}
    before = stored.state_into(arns)
    grouping = group_principals(estate)
    members = {actor.arn: group.source for group in grouping.groups for actor in group.members}
    if members != before.members:
        return f"the estate's access groups changed since analysis #{stored.run.pk}"
    result = compute_role_edges(estate, roles, grouping, Evaluator())
    services_after = {
        (edge.target.arn, edge.source)
        for edge in result.edges
        if edge.source_kind == SourceKind.SERVICE and edge.possible
    }
    if _services(before) != services_after:
        return (
            "the change alters which services may assume a role (escalations through "
            "iam:PassRole depend on it)"
        )
    added = state_of_results(result, [], {}, [])
    after = _without_roles(before, arns)
    after.rows |= added.rows
    after.classes.update(added.classes)
    after.refs = {**after.refs, **added.refs}  # the statements the new rows name
    sensitive = match_sensitive_roles(load_sensitive_rules(), estate.roles)
    # Who reaches an administrator (or a sensitive role) changes only if a changed role is
    # one or reaches one: its own edges out do not change.
    if any(
        arn in paths
        for arn in arns
        for paths in (before.admins, before.reach, before.sensitive, sensitive)
    ):
        graph = stored.graph()
        if graph is None:
            return f"analysis #{stored.run.pk} kept no reach graph"
        by_group: dict[str, list[str]] = defaultdict(list)
        for arn, group in members.items():
            by_group[group].append(arn)
        for role in roles:
            possible = {e.source for e in result.all_edges() if e.target is role and e.possible}
            refused = {
                e.source
                for e in result.edges
                if e.target is role and not e.possible and e.actor is not None
            }
            graph.replace_incoming(role.arn, sorted(possible), refused, by_group)
        after.reach, after.sensitive = reach_of(graph, list(before.admins), sensitive)
    found = trust_findings(replace(estate, roles=roles), result.edges)
    after.findings = {
        key: summary
        for key, summary in before.findings.items()
        if not (summary["principal"] in arns and summary["kind"] in TRUST_FINDINGS)
    }
    after.findings.update(finding_identity(record) for record in found)
    return before, after


def _services(state: AccessSnapshot) -> set[tuple[str, str]]:
    """(role, ``service:…``) of the state's possible service edges (one row each: a service
    edge is never a role class's)."""
    found = set()
    for line in state.rows:
        if line.startswith(SERVICE_PREFIX):
            source, target, _, outcome, _ = line.split(SEP, 4)
            if outcome in POSSIBLE:
                found.add((target, source))
    return found


def _without_roles(state: AccessSnapshot, arns: set[str]) -> AccessSnapshot:
    """A copy of the state without the edges into these roles."""
    classes = {}
    emptied = set()
    for node, roles in state.classes.items():
        kept = [pair for pair in roles if pair[0] not in arns]
        if kept:
            classes[node] = kept
        else:
            emptied.add(node)
    gone = arns | emptied
    rows = {line for line in state.rows if line.split(SEP, 2)[1] not in gone}
    return replace(state, rows=rows, classes=classes)


# -- identity policies, boundaries, SCPs/RCPs, memberships ---------------------------------------


Levels = tuple[tuple[Doc, ...], ...]


@dataclass
class Before:
    """What a proposal may change in a loaded estate, as `load_estate` built it (`capture`):
    each principal's documents, boundary and IAM groups, each IAM group's documents, each
    account's SCP and RCP levels."""

    actors: dict[int, tuple[list[Doc], Doc | None, list[int]]]
    groups: dict[int, list[Doc]]
    accounts: dict[str, tuple[Levels, Levels]]


def capture(estate: Estate) -> Before:
    """The parts of ``estate`` a proposal may replace (call before `apply_proposal`)."""
    return Before(
        {id(a): (list(a.docs), a.boundary, list(a.group_pks)) for a in estate.actors},
        {group.pk: list(group.docs) for group in estate.groups},
        {aid: (acc.scp_levels, acc.rcp_levels) for aid, acc in estate.accounts.items()},
    )


# Past this many principals whose own policies a change touches, `policy_after` refuses it:
# at 50 generated accounts, removing the statement of PowerUserAccess (held by 17,595
# principals) used up 24 GiB and was killed, answered one by one or by a whole analysis.
WIDEST_CHANGE = 10_000


class ChangeTooWide(ValueError):
    """A proposal touching more principals' policies than a what-if can answer."""


_STALE_OR_MFA = ("admin_without_mfa", "stale_access_key", "stale_password")


class _Contents:
    """What the statements of a document about sts:AssumeRole say, whatever their place."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[object, ...]] = {}
        self._pairs: dict[tuple[object, ...], bool] = {}
        self._kept: list[object] = []  # keeps the objects whose id() keys the memos alive

    def doc(self, doc: Doc) -> tuple[object, ...]:
        found = self._memo.get(id(doc))
        if found is None:
            found = self._memo[id(doc)] = tuple(
                _content(s) for s in doc.statements_for(ASSUME_ROLE)
            )
            self._kept.append(doc)
        return found

    def levels(self, levels: Levels) -> tuple[tuple[tuple[object, ...], ...], ...]:
        return tuple(tuple(self.doc(doc) for doc in level) for level in levels)

    def differ(self, old: Change, actor: Actor) -> bool:
        """Whether what ``actor``'s policies say about sts:AssumeRole differs from what they
        said (``old``): its documents, boundary and SCPs, each compared only when it is another
        object, once per pair of objects (principals share them)."""
        olds, news = tuple(dict.fromkeys(old.docs)), tuple(dict.fromkeys(actor.docs))
        if olds != news and self._differ(
            (tuple(map(id, olds)), tuple(map(id, news))),
            (olds, news),
            lambda: tuple(map(self.doc, olds)) != tuple(map(self.doc, news)),
        ):
            return True
        boundary, scps = actor.boundary, actor.account.scp_levels
        if old.boundary is not boundary and self._differ(
            (id(old.boundary), id(boundary)),
            (old.boundary, boundary),
            lambda: (old.boundary and self.doc(old.boundary)) != (boundary and self.doc(boundary)),
        ):
            return True
        return old.scps is not scps and self._differ(
            (id(old.scps), id(scps)),
            (old.scps, scps),
            lambda: self.levels(old.scps) != self.levels(scps),
        )

    def _differ(self, key: tuple[object, ...], kept: object, compare: Callable[[], bool]) -> bool:
        found = self._pairs.get(key)
        if found is None:
            self._kept.append(kept)
            found = self._pairs[key] = compare()
        return found


def _allows(docs: list[Doc]) -> tuple[bool, bool]:
    """(any Allow, an Allow of everything): what escalations and self-grants see of a group."""
    statements = [s for doc in docs for s in doc.policy.statements]
    return (
        any(s.effect is Effect.ALLOW for s in statements),
        any(_is_full_wildcard(s) for s in statements),
    )


def policy_after(
    stored: Stored,
    estate: Estate,
    before: Before,
    *,
    now: datetime,
    facts: tuple[set[int], set[str]],
) -> tuple[AccessSnapshot, AccessSnapshot] | str:
    """(before, after) a change of identity policies, boundaries, SCPs or memberships that
    ``estate`` holds applied (``before``: the estate as loaded), re-evaluating only the
    principals whose policies change; or why it cannot be had so.

    - Access edges: when what those principals' policies say about sts:AssumeRole is unchanged
      (the statements' content, wherever they sit), no edge can change; otherwise their access
      groups (those holding only such principals) and their own edges are evaluated again,
      into the roles trusting them: by ARN, through their account or ``*``.
    - The administrator status, escalations and findings (MFA, stale credentials) of those
      principals are evaluated again per method, only where what their policies say about the
      method's actions changes (`incremental_powers.powers_after`); a change of whether an IAM
      group allows anything, or everything, or of the roles a service may assume (an RCP), has
      every method of every principal of the account evaluated again (their targets).
    - The stored reach graph gets the new edges out of them and their groups, and the paths to
      administrators and sensitive roles are searched again.
    """
    old_levels = before.accounts
    scp_changed = {
        aid for aid, acc in estate.accounts.items() if acc.scp_levels != old_levels[aid][0]
    }
    rcp_changed = {
        aid for aid, acc in estate.accounts.items() if acc.rcp_levels != old_levels[aid][1]
    }
    contents = _Contents()
    rcp_accounts = set()
    for aid in rcp_changed:
        if contents.levels(old_levels[aid][1]) != contents.levels(estate.accounts[aid].rcp_levels):
            rcp_accounts.add(aid)
    # Of a principal whose own policies are the same objects, only its account's SCPs
    # changed: whether they say something else about sts:AssumeRole is asked per account.
    scps_differ = {
        aid: contents.levels(old_levels[aid][0]) != contents.levels(estate.accounts[aid].scp_levels)
        for aid in scp_changed
    }
    affected: list[Actor] = []
    changes: list[Change] = []
    edges_change = False
    own_changed = 0
    for actor in estate.actors:
        docs, boundary, group_pks = before.actors[id(actor)]
        account = actor.account.account_id
        # Lists of Docs compare by identity (a Doc has no equality of its own).
        own_same = boundary is actor.boundary and docs == actor.docs
        if own_same and account not in scp_changed and group_pks == actor.group_pks:
            continue
        affected.append(actor)
        own_changed += not own_same
        change = Change(actor, docs, boundary, old_levels[account][0], group_pks)
        changes.append(change)
        if not edges_change:
            edges_change = (
                scps_differ.get(account, False) if own_same else contents.differ(change, actor)
            )
    if own_changed > WIDEST_CHANGE:
        raise ChangeTooWide(
            f"the change touches the policies of {own_changed:,} principals, more than the "
            f"{WIDEST_CHANGE:,} a what-if answers: at that width its answer outgrows memory"
        )
    # Whether an IAM group allows anything (an escalation target) or everything (a self-grant
    # target) is asked by every principal of its account.
    wide = {
        group.account.account_id
        for group in estate.groups
        if _allows(before.groups[group.pk]) != _allows(group.docs)
    }
    everything = [a for a in estate.actors if a.account.account_id in wide]
    grouping = group_principals(estate) if edges_change else None
    if rcp_accounts:
        state = stored.state
    elif grouping is None:
        # No access edge changes: the comparison needs none.
        state = stored.state_from(set())
    else:
        state = stored.state_from(_sources(affected, grouping, stored._parts[0]["members"]))
    after = replace(
        state,
        rows=set(state.rows),
        members=dict(state.members),
        admins=dict(state.admins),
        findings=dict(state.findings),
        classes=dict(state.classes),
        refs=dict(state.refs),
    )
    graph = stored.graph()
    if graph is None:
        return f"analysis #{stored.run.pk} kept no reach graph"
    if grouping is not None:
        _edges_after(estate, affected, grouping, after, graph)
    if rcp_accounts:
        # What an RCP says about sts:AssumeRole decides every edge into its accounts' roles.
        services = stored.services()
        _role_edges_after(
            estate, [r for r in estate.roles if r.account.account_id in rcp_accounts], after, graph
        )
        changed = {arn for arn, _ in services ^ _services(after)}
        # The roles a service may assume are the PassRole targets of their accounts.
        accounts = {estate.by_arn[arn].account.account_id for arn in changed}
        everything += [a for a in estate.actors if a.account.account_id in accounts]
    found = powers_after(
        estate,
        changes,
        everything,
        after,
        graph,
        _service_edges(_services(after) if rcp_accounts else stored.services(), estate),
        now=now,
        facts=facts,
    )
    if isinstance(found, str):
        return found
    evaluated, admins = found
    part = replace(estate, users=[a for a in evaluated if a.kind == "user"], roles=[])
    sensitive = match_sensitive_roles(load_sensitive_rules(), estate.roles)
    after.reach, after.sensitive = reach_of(graph, list(after.admins), sensitive)
    users = {actor.arn for actor in part.users}
    after.findings = {
        key: summary
        for key, summary in after.findings.items()
        if not (summary["principal"] in users and summary["kind"] in _STALE_OR_MFA)
    }
    after.findings.update(
        finding_identity(record) for record in find_findings(part, [], admins, now)
    )
    return state, after


def _changed_groups(affected: list[Actor], grouping: Grouping) -> list[AccessGroupInfo]:
    """The access groups holding only principals whose policies change."""
    ids = {id(actor) for actor in affected}
    return [
        group for group in grouping.groups if all(id(member) in ids for member in group.members)
    ]


def _sources(affected: list[Actor], grouping: Grouping, members: Mapping[str, str]) -> set[str]:
    """The sources whose edges a change of these principals' policies may change, or that
    the comparison reads for them: the principals, their access groups before and after."""
    found = {actor.arn for actor in affected}
    found.update(members[arn] for arn in list(found) if arn in members)
    found.update(grouping.group_of[id(actor)].source for actor in affected)
    found.update(group.source for group in _changed_groups(affected, grouping))
    return found


def _edges_after(
    estate: Estate,
    affected: list[Actor],
    grouping: Grouping,
    after: AccessSnapshot,
    reach: ReachGraph,
) -> None:
    """Replace in ``after`` (and the reach graph) the access edges out of these principals
    and out of the access groups that hold only such principals, evaluated again."""
    ids = {id(actor) for actor in affected}
    groups = _changed_groups(affected, grouping)
    accounts = {actor.account.account_id for actor in affected}
    arns = {actor.arn for actor in affected}
    roles = []
    for role in estate.roles:
        if role.trust is None or role.trust.unknown:
            continue
        for name in principals_named_in(role.trust.policy, action=None):
            if name.kind is not PrincipalKind.AWS:
                continue
            if (
                name.is_wildcard
                or (name.is_account and name.account_id in accounts)
                or name.value in arns
            ):
                roles.append(role)
                break
    by_account: dict[str, list[AccessGroupInfo]] = defaultdict(list)
    for group in groups:
        by_account[group.account.account_id].append(group)
    own = Grouping(
        groups,
        grouping.group_of,
        dict(by_account),
        {
            arn: {key: found for key, found in statements.items() if key in ids}
            for arn, statements in grouping.specific.items()
        },
    )
    result = compute_role_edges(estate, roles, own, Evaluator())
    kept = [
        edge
        for edge in result.edges
        if edge.source_kind == SourceKind.GROUP
        or (edge.actor is not None and id(edge.actor) in ids)
    ]
    sources = {group.source for group in groups}
    old_groups = {after.members[arn] for arn in arns if arn in after.members}
    new_members = {actor.arn: grouping.group_of[id(actor)].source for actor in affected}
    after.members.update(new_members)
    held = set(after.members.values())
    gone = sources | arns | {source for source in old_groups if source not in held}
    after.rows = {line for line in after.rows if line[: line.index(SEP)] not in gone}
    added = state_of_results(EdgeResult(kept, grouping, [], {}, result.classes), [], {}, [])
    after.rows |= added.rows
    after.classes.update(added.classes)
    after.refs.update(added.refs)
    # The reach graph, linked as `ReachGraph.build` links them.
    graph = reach.graph
    for source in gone:
        if source in graph:
            if source.startswith(GROUP_PREFIX):
                graph.remove_edges_from([(source, node) for node in list(graph._succ[source])])
            else:
                graph.remove_edges_from(
                    [
                        (source, node)
                        for node in list(graph._succ[source])
                        if not node.startswith(ESCALATE_PREFIX)
                    ]
                )
        if VIA_PREFIX + source in graph:
            graph.remove_node(VIA_PREFIX + source)
    possible: dict[str, set[str]] = defaultdict(set)
    refused: dict[str, set[str]] = defaultdict(set)
    for edge in kept:
        if edge.possible:
            possible[edge.source].add(edge.target.arn)
        elif edge.actor is not None:
            refused[edge.source].add(edge.target.arn)
    for role_class in result.classes:
        for grant in role_class.grants:
            if grant.possible:
                possible[grant.source].update(role.arn for role in role_class.roles)
    for source, targets in possible.items():
        if source.startswith(GROUP_PREFIX):
            graph.add_edges_from((source, target) for target in targets)
        else:
            via = VIA_PREFIX + source
            graph.add_edge(source, via)
            graph.add_edges_from((via, target) for target in targets)
    for arn, joined in new_members.items():
        targets = set()
        if joined in graph:
            for node in graph._succ[joined]:
                targets.update(graph._succ[node] if node.startswith(CLASS_PREFIX) else (node,))
        if not targets:
            continue
        denied = refused.get(arn, set())
        if denied & targets:
            via = VIA_PREFIX + arn
            graph.add_edge(arn, via)
            graph.add_edges_from((via, target) for target in targets - denied)
        else:
            graph.add_edge(arn, joined)


def _role_edges_after(
    estate: Estate, roles: list[Actor], after: AccessSnapshot, reach: ReachGraph
) -> None:
    """Replace in ``after`` (and the reach graph) every access edge into these roles, and the
    findings their edges decide, evaluated again."""
    arns = {role.arn for role in roles}
    result = compute_role_edges(estate, roles, group_principals(estate), Evaluator())
    kept = _without_roles(after, arns)
    added = state_of_results(result, [], {}, [])
    after.rows = kept.rows | added.rows
    after.classes = {**kept.classes, **added.classes}
    after.refs.update(added.refs)
    by_group: dict[str, list[str]] = defaultdict(list)
    for arn, group in after.members.items():
        by_group[group].append(arn)
    possible: dict[str, set[str]] = defaultdict(set)
    refused: dict[str, set[str]] = defaultdict(set)
    for edge in result.edges:
        if edge.possible:
            possible[edge.target.arn].add(edge.source)
        elif edge.actor is not None:
            refused[edge.target.arn].add(edge.source)
    for role_class in result.classes:
        sources = {grant.source for grant in role_class.grants if grant.possible}
        for role in role_class.roles:
            possible[role.arn] |= sources
    for role in roles:
        reach.replace_incoming(role.arn, sorted(possible[role.arn]), refused[role.arn], by_group)
    found = trust_findings(replace(estate, roles=roles), result.edges)
    after.findings = {
        key: summary
        for key, summary in after.findings.items()
        if not (summary["principal"] in arns and summary["kind"] in TRUST_FINDINGS)
    }
    after.findings.update(finding_identity(record) for record in found)


def _service_edges(pairs: set[tuple[str, str]], estate: Estate) -> list[EdgeRecord]:
    """Possible service edges, (role, ``service:…``), as the escalations read them (which
    roles a service may assume)."""
    found = []
    for target, source in pairs:
        role = estate.by_arn.get(target)
        if role is not None:
            found.append(EdgeRecord(source, SourceKind.SERVICE, role, ASSUME_ROLE, "allow"))
    return found
