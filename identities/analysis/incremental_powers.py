"""The administrators and escalations of a what-if's "after", re-evaluating only the principals,
and of those only the escalation methods, that the change touches.

A method's escalations of a principal (`escalations.compute_escalations`) are decided by what
its identity policies, permissions boundary and SCPs say about the method's actions (the
statements' content and references: a row names the statements that grant it), by its
administrator status (an administrator with full access escalates by nothing, one that can
grant itself anything only by self-grants), and by its targets: the users, roles and IAM groups
of its account, the roles a service may assume, its own IAM groups and customer-managed
policies. Its administrator status is decided likewise by what they say about the full-access
probes and the self-grant actions, its IAM groups and customer-managed policies, and the IAM
groups of its account that allow everything.

So, for each principal whose policies change, the actions whose statements change are found
(`_Said`, per distinct set of documents, not per principal); only the methods needing one of
them are evaluated again, and only where the principal's Allow statements could grant the
method before or after; its administrator status only when those actions are probes or
self-grants it could be granted. What to evaluate again depends on those policies alone, so
it is decided once per pair of policy sets (before and after: the same documents, boundary
and SCPs, `_decide`); the principals are then evaluated one by one (what their policies grant
may depend on their own ARN, name or tags). A principal whose IAM groups or customer-managed policies
change, whose administrator status changes, or whose targets change (given by the caller) has
every method evaluated again. The stored rows of the other methods are kept (made the
principal's own: its escalation group's rows are shared with principals left alone), so the
comparison (`escalation_history.diff_escalations`) expands only the principals touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import networkx as nx

from identities.analysis.admins import (
    _SELF_ACTIONS,
    ADMIN_ACTIONS,
    FULL_PROBES,
    AdminRecord,
    _content,
    _is_full_wildcard,
    find_administrators,
)
from identities.analysis.edges import EdgeRecord
from identities.analysis.escalation_history import EscalationRows, escalation_rows
from identities.analysis.escalation_methods import ESCALATION_ACTIONS, EVALUATED, Targets
from identities.analysis.escalations import _CUSTOMER, compute_escalations
from identities.analysis.estate import Actor, Doc, Estate
from identities.analysis.history import AccessSnapshot
from identities.analysis.reach import ESCALATE_PREFIX, ReachGraph
from identities.policy import Effect

Levels = tuple[tuple[Doc, ...], ...]

# The actions administrator status and escalations are decided on.
POWERS = tuple(dict.fromkeys((*ADMIN_ACTIONS, *ESCALATION_ACTIONS)))
# Of a rewritten trust policy: granted by the trust itself.
_TRUST_ACTIONS = ("sts:AssumeRole",)
# Methods whose targets are principals (the reach graph's escalation edges).
_PRINCIPAL_TARGETS = frozenset(
    method.id
    for method in EVALUATED
    if method.targets in (Targets.USER, Targets.ROLE, Targets.PASSED_ROLE, Targets.SERVICE_ROLE)
)
_NONE: frozenset[str] = frozenset()
ALL_METHODS = frozenset(method.id for method in EVALUATED)
_ACTIONS_OF = {method.id: method.actions for method in EVALUATED}
_ACTION_SETS = {method.id: frozenset(method.actions) for method in EVALUATED}
# The key of a document's `admin_flags` in its memo.
_ADMIN_FLAGS = "incremental_powers.admin_flags"


@dataclass(frozen=True)
class Change:
    """A principal whose policies a proposal changes, with what it held before."""

    actor: Actor
    docs: list[Doc]
    boundary: Doc | None
    scps: Levels
    group_pks: list[int]


class _Said:
    """Which actions of `POWERS` the statements of two sets of policies say something
    different about (content and references, in order), memoised per documents compared."""

    def __init__(self) -> None:
        self._statements: dict[tuple[int, str], tuple[object, ...]] = {}
        self._changed: dict[tuple[object, ...], frozenset[str]] = {}
        self._possible: dict[tuple[object, ...], frozenset[str]] = {}
        self._method_actions: dict[frozenset[str], frozenset[str]] = {}
        self._needing: dict[frozenset[str], frozenset[str]] = {}
        self._kept: list[object] = []  # keeps the objects whose id() keys the memos alive

    def _of(self, doc: Doc, action: str) -> tuple[object, ...]:
        key = (id(doc), action)
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = tuple(
                (s.ref, _content(s)) for s in doc.statements_for(action)
            )
            self._kept.append(doc)
        return found

    def identity(self, old: list[Doc], new: list[Doc]) -> frozenset[str]:
        olds, news = tuple(dict.fromkeys(old)), tuple(dict.fromkeys(new))
        if olds == news:  # the same documents (a Doc compares by identity)
            return _NONE
        return self._changed_actions(
            ("identity", tuple(map(id, olds)), tuple(map(id, news))),
            (olds, news),
            lambda action: (
                tuple(s for doc in olds for s in self._of(doc, action))
                != tuple(s for doc in news for s in self._of(doc, action))
            ),
        )

    def boundary(self, old: Doc | None, new: Doc | None) -> frozenset[str]:
        if old is new:
            return _NONE
        return self._changed_actions(
            ("boundary", id(old), id(new)),
            (old, new),
            lambda action: (
                (old is None or new is None) or self._of(old, action) != self._of(new, action)
            ),
        )

    def scps(self, old: Levels, new: Levels) -> frozenset[str]:
        if old is new:
            return _NONE
        # An SCP allows only through an Allow at every level: the levels stay apart.
        return self._changed_actions(
            ("scps", id(old), id(new)),
            (old, new),
            lambda action: (
                tuple(tuple(self._of(doc, action) for doc in level) for level in old)
                != tuple(tuple(self._of(doc, action) for doc in level) for level in new)
            ),
        )

    def _changed_actions(
        self, key: tuple[object, ...], kept: object, differs: Callable[[str], bool]
    ) -> frozenset[str]:
        """The actions of `POWERS` that ``differs``, once per ``key`` (``kept`` holds the
        objects whose id() the key is made of)."""
        found = self._changed.get(key)
        if found is None:
            self._kept.append(kept)
            found = self._changed[key] = frozenset(a for a in POWERS if differs(a))
        return found

    def possible(
        self, docs: list[Doc], boundary: Doc | None, methods: frozenset[str] = ALL_METHODS
    ) -> frozenset[str]:
        """Those of ``methods`` these policies may grant at all (`escalations._Evaluator.may`):
        an Allow of each action (but sts:AssumeRole through a rewritten trust) in the identity
        policies, and in the boundary if there is one."""
        actions = self._actions_of(methods)
        allowed = actions.intersection(_TRUST_ACTIONS).union(
            *(self._allowed(doc, actions) for doc in docs)
        )
        if boundary is not None:
            allowed &= self._allowed(boundary, actions)
        key = (allowed, methods)
        found = self._possible.get(key)
        if found is None:
            found = self._possible[key] = frozenset(
                method for method in methods if _ACTION_SETS[method] <= allowed
            )
        return found

    def _actions_of(self, methods: frozenset[str]) -> frozenset[str]:
        found = self._method_actions.get(methods)
        if found is None:
            found = frozenset(action for method in methods for action in _ACTIONS_OF[method])
            self._method_actions[methods] = found
        return found

    @staticmethod
    def _allowed(doc: Doc, actions: frozenset[str]) -> frozenset[str]:
        """Those of ``actions`` an Allow statement of ``doc`` covers (kept with the document,
        for every what-if of the process)."""
        found = doc.memo.get(actions)
        if found is None:
            found = doc.memo[actions] = frozenset(a for a in actions if _allows(doc, a))
        return found

    def needing(self, actions: frozenset[str]) -> frozenset[str]:
        """The methods that need one of these actions."""
        found = self._needing.get(actions)
        if found is None:
            found = self._needing[actions] = frozenset(
                method.id for method in EVALUATED if not actions.isdisjoint(method.actions)
            )
        return found

    def admin_flags(self, docs: list[Doc]) -> tuple[bool, bool]:
        """(an Allow of everything, an Allow of a self-grant action): whether the full-access
        probes, or the self-grant checks, are asked of a principal with these policies."""
        full = grants = False
        for doc in docs:
            found = doc.memo.get(_ADMIN_FLAGS)
            if found is None:
                found = doc.memo[_ADMIN_FLAGS] = (
                    any(_is_full_wildcard(s) for s in doc.policy.statements),
                    any(_allows(doc, action) for action in _SELF_ACTIONS),
                )
            full, grants = full or found[0], grants or found[1]
        return full, grants


def _allows(doc: Doc, action: str) -> bool:
    """Does an Allow statement of ``doc`` cover ``action`` (on some resource)?"""
    return any(s.effect is Effect.ALLOW for s in doc.statements_for(action))


def _held(docs: list[Doc]) -> tuple[str | None, ...]:
    """The customer-managed policies among ``docs`` (self-grant and escalation targets)."""
    return tuple(doc.policy.source.arn for doc in docs if doc.policy.source.kind == _CUSTOMER)


# (every method and the administrator status evaluated again, the methods evaluated again,
# the administrator status evaluated again) of a principal whose policies change.
_Decision = tuple[bool, frozenset[str], bool]


def _every_method(
    said: _Said, old: Change | None, actor: Actor, methods: frozenset[str] = ALL_METHODS
) -> frozenset[str]:
    """Those of ``methods`` the principal's policies may grant, before (``old``) or after."""
    possible = said.possible(actor.docs, actor.boundary, methods)
    if old is None or (old.boundary is actor.boundary and old.docs == actor.docs):
        return possible
    return possible | said.possible(old.docs, old.boundary, methods)


def _decide(said: _Said, change: Change, actor: Actor) -> _Decision:
    """What to evaluate again of a principal whose policies were ``change``'s and are now
    ``actor``'s (its IAM groups unchanged): a function of those policies alone."""
    same = change.docs == actor.docs  # the same documents (a Doc compares by identity)
    if not same and _held(change.docs) != _held(actor.docs):
        return True, _NONE, False
    actions = said.scps(change.scps, actor.account.scp_levels)
    if not same or change.boundary is not actor.boundary:
        actions = (
            actions
            | said.identity(change.docs, actor.docs)
            | said.boundary(change.boundary, actor.boundary)
        )
    if not actions:
        return False, _NONE, False
    wanted = said.needing(actions)
    if wanted:
        wanted = _every_method(said, change, actor, wanted)
    probes, grants = not actions.isdisjoint(FULL_PROBES), not actions.isdisjoint(_SELF_ACTIONS)
    if not (probes or grants):
        return False, wanted, False
    flags = [said.admin_flags(actor.docs)]
    if not same:
        flags.append(said.admin_flags(change.docs))
    admin = (probes and any(full for full, _ in flags)) or (
        grants and any(grant for _, grant in flags)
    )
    return False, wanted, admin


def powers_after(
    estate: Estate,
    changes: Sequence[Change],
    everything: Iterable[Actor],
    after: AccessSnapshot,
    graph: ReachGraph,
    service_edges: list[EdgeRecord],
    *,
    now: datetime,
    facts: tuple[set[int], set[str]],
) -> tuple[list[Actor], list[AdminRecord]] | str:
    """Make the administrators and escalations of ``after`` (and the escalation edges of the
    reach graph) those of ``estate``, re-evaluating what ``changes`` touch (see the module
    docstring); ``everything``: principals whose targets changed (every method, and their
    administrator status, evaluated again). ``service_edges``: the possible service edges
    after the change. (The principals whose administrator status was evaluated again, their
    records), or why it cannot be had so."""
    if after.escalations is None:
        return "the stored analysis kept no escalations to start from"
    said = _Said()
    old_of = {id(change.actor): change for change in changes}
    methods: dict[int, frozenset[str]] = {}
    admin_again: dict[int, Actor] = {}
    by_id: dict[int, Actor] = {}
    everyone = {id(actor): actor for actor in everything}
    # What is asked of a principal below depends only on its policies before and after, never
    # on the principal itself: it is decided once per such pair of policy sets (principals
    # share their IAM groups', managed policies and SCPs), then each principal is evaluated.
    decided: dict[tuple[object, ...], _Decision] = {}
    for change in changes:
        actor = change.actor
        key = id(actor)
        by_id[key] = actor
        if change.group_pks != actor.group_pks:
            everyone[key] = actor
            continue
        policies = (
            tuple(change.docs),
            tuple(actor.docs),
            change.boundary,
            actor.boundary,
            id(change.scps),
            id(actor.account.scp_levels),
        )
        decision = decided.get(policies)
        if decision is None:
            decision = decided[policies] = _decide(said, change, actor)
        every, wanted, admin = decision
        if every:
            everyone[key] = actor
            continue
        if wanted:
            methods[key] = wanted
        if admin:
            admin_again[key] = actor

    for key, actor in everyone.items():
        by_id[key] = actor
        admin_again[key] = actor
        methods[key] = _every_method(said, old_of.get(key), actor)
    # Every principal evaluated again needs its administrator status (escalations ask it).
    for key in methods:
        admin_again.setdefault(key, by_id[key])
    again = {id(actor) for actor in admin_again.values()}
    part = replace(
        estate,
        users=[a for a in estate.users if id(a) in again],
        roles=[a for a in estate.roles if id(a) in again],
    )
    admins = find_administrators(part, [])
    basis = {record.actor.arn: record.basis for record in admins}
    for key, actor in admin_again.items():
        if after.admins.get(actor.arn) != basis.get(actor.arn):
            # What its status lets it escalate by changed: every method it may be granted.
            methods[key] = _every_method(said, old_of.get(key), actor)
        after.admins.pop(actor.arn, None)
    after.admins.update(basis)
    by_arn = {by_id[key].arn: wanted for key, wanted in methods.items() if wanted}
    profiled, other_versions = facts
    escalations = compute_escalations(
        estate,
        service_edges,
        admins,
        now=now,
        profiled=profiled,
        other_versions=other_versions,
        sources=[
            by_id[key]
            for key, wanted in methods.items()
            if wanted and not by_id[key].is_service_linked
        ],
        methods=by_arn,
    )
    after.escalations, changed = _rows_replaced(
        after.escalations, by_arn, escalation_rows(escalations, by_principal=True)
    )
    _link_escalations(graph, changed, after.escalations)
    return list(admin_again.values()), admins


def _rows_replaced(
    rows: EscalationRows, methods: Mapping[str, Collection[str]], added: EscalationRows
) -> tuple[EscalationRows, list[str]]:
    """(``rows`` with the escalations of these principals by these methods (by ARN) those of
    ``added`` (one row per principal), the principals whose escalations changed). A changed
    principal's other rows, its escalation group's among them, are kept as its own; one whose
    escalations by these methods are what they were keeps its rows as they were."""
    members = rows["members"]
    lists = rows["targets"]
    wanted = set(methods) | {members[arn] for arn in methods if arn in members}
    by_source: dict[str, list[list[Any]]] = defaultdict(list)
    for row in rows["rows"]:
        if row[0] in wanted:
            by_source[row[0]].append(row)
    new_rows: dict[str, list[list[Any]]] = defaultdict(list)
    for row in added["rows"]:
        new_rows[row[0]].append(row)

    def own_rows(arn: str) -> Iterator[tuple[list[Any], list[str]]]:
        """Its rows and their targets but itself: its own first, then its group's (as the
        comparison reads them); none of its group's whose only target is itself."""
        for source in (arn, members.get(arn)):
            for row in by_source.get(source or "", ()):
                listed = lists[row[3]]
                if source != arn and arn in listed:
                    listed = [target for target in listed if target != arn]
                    if not listed:
                        continue
                yield row, listed

    def said(found: Iterable[tuple[list[Any], list[str]]]) -> list[tuple[Any, ...]]:
        return sorted(
            (row[1], row[2], tuple(listed), tuple(row[4]), tuple(row[5])) for row, listed in found
        )

    changed = [
        arn
        for arn, again in methods.items()
        if said((row, listed) for row, listed in own_rows(arn) if row[1] in again)
        != said((row, added["targets"][row[3]]) for row in new_rows.get(arn, ()))
    ]
    gone = set(changed)
    found = [row for row in rows["rows"] if row[0] not in gone]
    targets = list(lists)
    new_lists: dict[tuple[str, ...], int] = {}

    def index_of(listed: Iterable[str]) -> int:
        key = tuple(listed)
        at = new_lists.get(key)
        if at is None:
            at = new_lists[key] = len(targets)
            targets.append(list(key))
        return at

    for arn in changed:
        again = methods[arn]
        for row, listed in own_rows(arn):
            if row[1] not in again:
                at = row[3] if listed is lists[row[3]] else index_of(listed)
                found.append([arn, row[1], row[2], at, row[4], row[5]])
        for row in new_rows.get(arn, ()):
            at = index_of(added["targets"][row[3]])
            found.append([arn, row[1], row[2], at, row[4], row[5]])
    escalations = {
        "rows": found,
        "targets": targets,
        "members": {arn: group for arn, group in members.items() if arn not in gone},
    }
    return escalations, changed


def _link_escalations(graph: ReachGraph, arns: Iterable[str], rows: EscalationRows) -> None:
    """Make the escalation edges out of these principals lead to the principals their (own)
    ``rows`` target: through the escalation group nodes they are linked to where those lead
    to none but such principals, and through their own node (as `ReachGraph.build` links a
    principal's own escalations) to the rest. Either is one hop: the searches see the same."""
    nodes = graph.graph
    succ = nodes._succ
    principals = set(arns)
    targets: dict[str, set[str]] = {arn: set() for arn in principals}
    for source, method, _, at, _, _ in rows["rows"]:
        if source in principals and method in _PRINCIPAL_TARGETS:
            targets[source].update(rows["targets"][at])
    for arn, found in targets.items():
        node = ESCALATE_PREFIX + arn
        through: set[str] = set()
        for hop in [hop for hop in succ.get(arn, ()) if hop.startswith(ESCALATE_PREFIX)]:
            if hop == node:
                continue
            shared = set(succ[hop])
            shared.discard(arn)
            if shared <= found:
                through |= shared
            else:
                nodes.remove_edge(arn, hop)
        own = found - through
        before = set(succ[node]) if node in succ else set()
        if not own:
            if node in succ:
                nodes.remove_node(node)
            continue
        nodes.add_edge(arn, node)
        nodes.remove_edges_from((node, target) for target in before - own)
        _add_edges(nodes, node, sorted(own - before))


def _add_edges(nodes: nx.DiGraph, source: str, targets: Iterable[str]) -> None:
    """``nodes.add_edges_from((source, target) for target in targets)`` (no attributes), on
    the adjacency dicts themselves: an escalation node may lead to thousands of principals."""
    succ, pred = nodes._succ, nodes._pred
    if source not in succ:
        nodes.add_node(source)
    out = succ[source]
    for target in targets:
        if target in out:
            continue
        if target not in succ:
            nodes.add_node(target)
        out[target] = pred[target][source] = {}
