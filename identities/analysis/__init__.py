"""The access analysis: who can assume which role, who is an administrator, what to look at.

`analyse_estate()` runs after every import and sync (and alone through ``manage.py analyse``):

1. load the estate with one query per table and parse every policy once (`estate`);
2. sort users and roles into access groups and compute the access edges with the policy engine,
   indexed by the principals trust policies name and cached by normalised request (`edges`,
   `evaluation`);
3. find the administrators (`admins`), the escalations (`escalations`, methods catalogued in
   `escalation_methods`) and, through role chaining and escalation on a networkx graph of the
   direct edges, the principals that can become an administrator (`reach`);
4. collect findings (`findings`);
5. replace the stored results in one transaction (`store`), recording in it what changed since
   the previous analysis (`history`); a failure leaves the previous ones and records nothing.

Pages read the stored rows (`identities.access` is the read side); nothing is recomputed per page
view except the searches over the stored graph. ``explain`` evaluates one pair live.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from identities.analysis.admins import find_administrators
from identities.analysis.edges import EdgeResult, compute_edges
from identities.analysis.escalations import (
    EscalationResult,
    compute_escalations,
    load_escalation_facts,
)
from identities.analysis.estate import load_estate
from identities.analysis.evaluation import Evaluator
from identities.analysis.findings import find_findings
from identities.analysis.groups import group_principals
from identities.analysis.history import record_history, state_of_results
from identities.analysis.reach import Reached, ReachGraph
from identities.analysis.sensitive import (
    load_sensitive_rules,
    match_sensitive_roles,
    store_sensitive,
)
from identities.analysis.store import refresh_statistics, store_results
from identities.analysis.subjects import display_keys
from identities.models import AnalysisRun, SyncRun

logger = logging.getLogger(__name__)

__all__ = ["AnalysisSummary", "analyse_estate", "graph_of_edges"]


class AnalysisSummary(dict):  # type: ignore[type-arg]
    """Counts and timings of one run (a dict, so Celery can return it); prints as one line."""

    def __str__(self) -> str:
        return (
            f"{self.get('access_edges', 0)} access edges from {self.get('access_groups', 0)} "
            f"access groups, {self.get('administrators', 0)} administrators, "
            f"{self.get('admin_paths', 0)} principals that can reach one, "
            f"{self.get('findings', 0)} findings (analysis #{self.get('run')})"
        )


@contextmanager
def _without_gc() -> Iterator[None]:
    # The analysis allocates millions of long-lived objects and no cycles worth collecting;
    # the cyclic collector's full passes over them cost more than half the run time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def graph_of_edges(result: EdgeResult, escalations: EscalationResult | None = None) -> ReachGraph:
    """The reach graph of freshly computed edges (possible edges, refusals, memberships) and
    escalations."""
    edges = []
    refused = []
    for edge in result.edges:
        pair = (edge.source, edge.target.arn)
        if edge.possible:
            edges.append(pair)
        elif edge.actor is not None:
            refused.append(pair)
    memberships = [
        (actor.arn, group.source) for group in result.grouping.groups for actor in group.members
    ]
    classes = [
        (c.node, [grant.source for grant in c.grants], [role.arn for role in c.roles])
        for c in result.classes
    ]
    if escalations is None:
        return ReachGraph.build(edges, memberships, refused, classes=classes)
    return ReachGraph.build(
        edges,
        memberships,
        refused,
        escalations.reach_edges(),
        escalations.reach_memberships(),
        classes=classes,
    )


def _chain_keys(
    result: EdgeResult, chains: dict[str, Reached], escalations: EscalationResult
) -> dict[str, tuple[str, ...]]:
    """The condition keys of every hop of each chain, sorted."""
    hop_keys: dict[tuple[str, str], tuple[str, ...]] = {}
    for edge in result.edges:
        if edge.possible:
            hop_keys[(edge.source, edge.target.arn)] = edge.condition_keys
    class_of = result.class_of()
    for role_class in result.classes:
        for grant in role_class.grants:
            hop_keys[(grant.source, role_class.node)] = grant.condition_keys
    group_of = {
        actor.arn: group.source for group in result.grouping.groups for actor in group.members
    }
    found: dict[str, tuple[str, ...]] = {}
    for source, reached in chains.items():
        keys: set[str] = set()
        for start, end in zip(reached.path, reached.path[1:], strict=False):
            own = hop_keys.get((start, end))
            if own is None:
                own = hop_keys.get((group_of.get(start, ""), end))
            if own is None and end in class_of:
                own = hop_keys.get((group_of.get(start, ""), class_of[end].node))
            if own is None:
                own = escalations.keys_between(start, end)
            keys.update(own or ())
        found[source] = display_keys(keys)
    return found


def analyse_estate(
    *, now: datetime | None = None, run: AnalysisRun | None = None
) -> AnalysisSummary:
    """Analyse the whole estate and store the results, replacing the previous ones atomically.

    ``now`` is the reference time for stale credentials (default: the current time). ``run`` is
    a running AnalysisRun to record into (the single-flight queue claims one), else a new one.
    """
    now = now or timezone.now()
    newest_sync = (
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is None:
        run = AnalysisRun.objects.create(started_at=timezone.now(), sync_run=newest_sync)
    else:
        run.sync_run = newest_sync
        run.save(update_fields=["sync_run"])
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    try:
        with _without_gc():
            estate = load_estate()
            lap("load")
            evaluator = Evaluator()
            grouping = group_principals(estate)
            result = compute_edges(estate, grouping, evaluator)
            lap("edges")
            admins = find_administrators(estate, result.edges)
            lap("administrators")
            profiled, other_versions = load_escalation_facts()
            escalations = compute_escalations(
                estate,
                result.edges,
                admins,
                now=now,
                profiled=profiled,
                other_versions=other_versions,
            )
            lap("escalations")
            graph = graph_of_edges(result, escalations)
            chains = graph.nearest(record.actor.arn for record in admins)
            keys = _chain_keys(result, chains, escalations)
            admin_paths = {source: (reached, keys[source]) for source, reached in chains.items()}
            # Roles staff marked sensitive: reached over the same graph, as administrators are.
            sensitive = match_sensitive_roles(load_sensitive_rules(), estate.roles)
            sensitive_chains = graph.nearest(sensitive) if sensitive else {}
            sensitive_keys = _chain_keys(result, sensitive_chains, escalations)
            sensitive_paths = {
                source: (reached, sensitive_keys[source])
                for source, reached in sensitive_chains.items()
            }
            lap("reach")
            findings = find_findings(estate, result.edges, admins, now)
            lap("findings")
            graph.needs = result.needs()
            blob = graph.to_bytes()
            state = state_of_results(
                result, admins, admin_paths, findings, estate.accounts, sensitive_paths, escalations
            )
            with transaction.atomic():
                counts = store_results(estate, result, admins, admin_paths, findings, escalations)
                counts["sensitive_paths"] = store_sensitive(
                    estate,
                    sensitive,
                    sensitive_paths,
                    {edge.source: edge.source_kind for edge in result.edges},
                )
                AnalysisRun.objects.exclude(pk=run.pk).update(graph=None)
                lap("store")
                record_history(run, state, now)
                lap("history")
                run.status = AnalysisRun.Status.SUCCEEDED
                run.finished_at = timezone.now()
                run.counts = {**counts, **result.stats, **escalations.stats}
                run.timings = timings
                run.notes = [*estate.notes, *result.notes][:1000]
                run.graph = blob
                run.save()
            refresh_statistics()
    except Exception as exc:
        logger.exception("analysis %s failed", run.pk)
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=AnalysisRun.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
            timings=timings,
        )
        raise
    summary = AnalysisSummary(run=run.pk, **counts, seconds=round(sum(timings.values()), 1))
    logger.info("analysis %s: %s in %s", run.pk, summary, timings)
    return summary
