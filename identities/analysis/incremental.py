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

Every other kind of change (identity policies, boundaries, SCPs/RCPs, memberships) changes
access groups and escalations across the estate: `incremental_after` says why it does not answer
and the what-if analyses the whole estate instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import orjson

from identities.analysis.edges import SourceKind, compute_role_edges
from identities.analysis.estate import Actor, Estate
from identities.analysis.evaluation import Evaluator
from identities.analysis.findings import TRUST_FINDINGS, trust_findings
from identities.analysis.groups import group_principals
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
from identities.analysis.reach import ReachGraph, load_graph
from identities.analysis.sensitive import load_sensitive_rules, match_sensitive_roles
from identities.models import AccessState, AnalysisRun, SyncRun

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

    def state_into(self, arns: set[str]) -> AccessSnapshot:
        """The state with only the edges into these roles: all a change of their trust
        policies can change (the comparison looks at the pairs that changed alone). Reading
        a million rows back costs more than the rest of such a what-if."""
        head, _, rows = decompress_snapshot(self.blob).partition(META_END)
        data = orjson.loads(head)
        classes = {
            node: [pair for pair in roles if pair[0] in arns]
            for node, roles in data.get("classes", {}).items()
            if any(pair[0] in arns for pair in roles)
        }
        text = rows.decode()
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


def stored_state(run: AnalysisRun) -> tuple[Stored | None, str]:
    """The current analysis' stored state, or None and why it cannot be the "before": the
    estate changed since (a sync or import finished after it started), or no state is kept."""
    if SyncRun.objects.filter(
        status=SyncRun.Status.SUCCEEDED, finished_at__gte=run.started_at
    ).exists():
        return None, f"the estate changed since analysis #{run.pk}"
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
        graph = load_graph(
            AnalysisRun.objects.filter(pk=stored.run.pk).values_list("graph", flat=True).first()
        )
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
    """(role, ``service:…``) of the state's possible service edges."""
    return {
        (edge.target, edge.source)
        for line in state.rows
        if line.startswith(SERVICE_PREFIX)
        for edge in state.edges(line)
        if edge.outcome in POSSIBLE
    }


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
