"""Escalation edges in the graphs: a principal that can become another user or role (an access
key for a user, a role passed to a service, a rewritten trust policy, …) gets one ``escalate``
edge to it, a kind of its own beside the role assumptions, with the catalogue methods behind it.
Read through `identities.queries.escalations` only, like the Escalations page and the command.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.urls import reverse

from identities.analysis.reach import ESCALATE_PREFIX, GROUP_PREFIX
from identities.graph.build import EDGE_LIMIT, Builder, principal_node_id, split_node_id
from identities.models import IamRole, IamUser
from identities.queries.access import escalation_hops
from identities.queries.escalations import (
    PROVEN,
    UNCONDITIONAL,
    Escalation,
    PairSummary,
    count_escalations_by_account,
    read_escalation_pairs,
)
from identities.queries.shared_cache import shared_for_run

ESCALATE = "escalate"


def escalation_details(escalation: Escalation) -> dict[str, Any]:
    """What a page says about one escalation: the method (catalogue id, title, what it yields),
    proven or potential, the remediation and the references."""
    method = escalation.info
    return {
        "method": method.id,
        "method_title": method.title,
        "method_url": f"{reverse('identities:escalation-catalogue')}#{method.id}",
        "status": escalation.status,
        "yields": method.yields,
        "description": method.description,
        "remediation": method.remediation,
        "references": list(method.references),
        "permissions": list(method.actions),
    }


def _pair_attrs(pair: PairSummary) -> dict[str, Any]:
    """One edge for every method from a principal to a target: unconditional when one method
    is, proven when one is; the condition keys only when each method needs one."""
    keys = [] if pair.unconditional else sorted(pair.conditions)
    return {
        "outcome": "allow" if pair.unconditional else "conditional",
        "status": "proven" if pair.proven else "potential",
        "methods": sorted(pair.methods),
        "conditions": keys,
        "requirements": list(keys),
    }


def _escalating_into(targets: Iterable[str]) -> set[str]:
    """The principals with an escalation edge into one of ``targets`` (ARNs), read from the
    escalation hops of the current run's reach graph (``escalate:…`` before the target)."""
    hops = escalation_hops()
    if hops is None:
        return set()
    found: set[str] = set()
    for target in targets:
        for hop in hops.into.get(target, ()):
            if hop.startswith(ESCALATE_PREFIX + GROUP_PREFIX):
                found.update(p for p in hops.members.get(hop, ()) if p != target)
            else:
                found.add(hop.removeprefix(ESCALATE_PREFIX))
    return found


def _escalation_targets(asked: Mapping[str, set[str] | None]) -> dict[str, set[str]] | None:
    """Source ARN -> the users and roles it can escalate to (by ARN) among those it is asked
    about (every one, for None), read from the escalation hops of the current run's reach
    graph (its own ``escalate:ARN`` hop and its escalation group's); None without one.

    A hop's targets are read once per set of targets asked about: the thousands of members of
    an escalation group share them (their sets are read, never changed)."""
    hops = escalation_hops()
    if hops is None:
        return None
    onto_of: dict[tuple[str, int], set[str]] = {}
    found: dict[str, set[str]] = {}
    for source, wanted in asked.items():
        sets = []
        for hop in hops.out.get(source, ()):
            key = (hop, id(wanted))
            if (onto := onto_of.get(key)) is None:
                leads = hops.onto.get(hop, frozenset())
                onto = set(leads) if wanted is None else wanted.intersection(leads)
                onto_of[key] = onto
            if onto:
                sets.append(onto)
        if not sets:
            continue
        targets = sets[0] if len(sets) == 1 else set().union(*sets)
        if source in targets:
            targets = targets - {source}
        if targets:
            found[source] = targets
    return found


def _principal_rows(arns: Iterable[str]) -> dict[str, tuple[str, int, str, str]]:
    """ARN -> (kind, pk, name, account id) of the users and roles of the estate."""
    wanted = sorted(set(arns))
    found: dict[str, tuple[str, int, str, str]] = {}
    if not wanted:
        return found
    for kind, model in (("user", IamUser), ("role", IamRole)):
        for start in range(0, len(wanted), 500):
            rows = model.objects.filter(arn__in=wanted[start : start + 500]).values_list(
                "arn", "pk", "name", "account__account_id"
            )
            for arn, pk, name, account_id in rows:
                found[arn] = (kind, pk, name, account_id)
    return found


def _drawn_arns(builder: Builder) -> dict[str, str]:
    """ARN -> node id of the users and roles drawn (by primary key, else by account and name);
    each node keeps its ARN (``arn``), so that a view growing hop by hop asks once."""
    graph = builder.graph
    for kind, model in (("user", IamUser), ("role", IamRole)):
        nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == kind and "arn" not in d]
        by_pk = {builder.pks[n]: n for n in nodes if n in builder.pks}
        for start in range(0, len(by_pk), 500):  # no query when there is none
            chunk = list(by_pk)[start : start + 500]
            for pk, arn in model.objects.filter(pk__in=chunk).values_list("pk", "arn"):
                graph.nodes[by_pk[pk]]["arn"] = arn
        with_pk = set(by_pk.values())
        for node_id in nodes:
            if node_id not in with_pk:
                account_id, _, name = split_node_id(node_id)[1].partition(":")
                graph.nodes[node_id]["arn"] = (
                    model.objects.filter(account__account_id=account_id, name=name)
                    .values_list("arn", flat=True)
                    .first()
                )
    return {
        data["arn"]: node_id
        for node_id, data in graph.nodes(data=True)
        if data["kind"] in {"user", "role"} and data.get("arn")
    }


def add_escalation_edges(
    builder: Builder,
    *,
    add_ends: bool = True,
    out_of: Iterable[str] | None = None,
    into: Iterable[str] | None = None,
    cache_as: str = "",
) -> tuple[set[str], set[str], int]:
    """Draw the escalations out of the ``out_of`` nodes and into the ``into`` nodes (every user
    and role drawn, for None), at most ``EDGE_LIMIT`` edges (proven and unconditional first).
    With ``add_ends`` the other end is added when the scope keeps it, else only escalations
    between drawn principals are. Returns the targets added, the sources added and how many
    edges were left out. ``cache_as`` names a picture whose principals are the same for every
    request (a whole account): its edges are then ranked once per analysis run."""
    scope = builder.scope
    if not scope.keeps_kind(ESCALATE):
        return set(), set(), 0
    node_of = _drawn_arns(builder)
    arn_of = {node_id: arn for arn, node_id in node_of.items()}
    leaving = set(node_of) if out_of is None else {arn_of[n] for n in out_of if n in arn_of}
    entering = set(node_of) if into is None else {arn_of[n] for n in into if n in arn_of}
    if not leaving and not entering:
        return set(), set(), 0
    drawn = set(node_of)
    # Each source with the targets it is asked about (None: every target).
    asked: dict[str, set[str] | None] = {}
    if add_ends:
        asked.update((arn, None) for arn in leaving)
        # A source found by its target may show its escalations onto any principal drawn.
        for arn in _escalating_into(entering) - leaving:
            asked[arn] = drawn
    else:
        asked.update((arn, drawn) for arn in leaving)
    # The reach graph knows which principals each one escalates to: only the sources with an
    # escalation onto a target asked about are read, onto those targets.
    known = _escalation_targets(asked)
    if known is not None:
        asked = {arn: known[arn] for arn in asked if arn in known}

    def ranked() -> tuple[list[tuple[tuple[str, str], dict[str, Any]]], int]:
        onto = set().union(*(found for found in asked.values() if found is not None))
        every = None in asked.values()
        found = read_escalation_pairs(asked, None if every else onto, scope.conditional)
        ranking = []
        for (source, target), flags in found.flags.items():
            wanted = asked.get(source)
            if wanted is not None and target not in wanted:
                continue
            if (source in node_of and target in node_of) or (
                add_ends and (source in leaving or target in entering)
            ):
                # Proven first, then unconditional, then by ARNs.
                ranking.append((not flags & PROVEN, not flags & UNCONDITIONAL, (source, target)))
        shown = [pair for *_, pair in heapq.nsmallest(EDGE_LIMIT, ranking)]
        summaries = found.summaries(set(shown))
        return [(pair, _pair_attrs(summaries[pair])) for pair in shown], len(ranking)

    if cache_as:
        # The same principals drawn for every request of this name: ranked once per run.
        shown, total = shared_for_run(f"graph:escalations:{cache_as}:{scope.conditional}", ranked)
    else:
        shown, total = ranked()
    rows = _principal_rows({arn for (pair, _) in shown for arn in pair} - set(node_of))
    added: tuple[set[str], set[str]] = (set(), set())
    for (source, target), attrs in shown:
        for end, arn in enumerate((target, source)):
            if arn not in node_of and arn in rows:
                kind, pk, name, account_id = rows[arn]
                node_id = principal_node_id(kind, account_id, name)
                if builder.node(node_id, kind, name, account_id, arn=arn):
                    builder.pks[node_id] = pk
                    node_of[arn] = node_id
                    added[end].add(node_id)
        if source in node_of and target in node_of:
            builder.edge(
                node_of[source], node_of[target], ESCALATE, key=(ESCALATE, attrs["outcome"]),
                **{k: list(v) if isinstance(v, list) else v for k, v in attrs.items()},
            )  # fmt: skip
    return added[0], added[1], total - len(shown)


def add_escalation_counts(
    builder: Builder, account_id: str, node_of: Callable[[str, str], str | None]
) -> None:
    """The folded pictures: one ``escalate`` edge per (source account's users or roles,
    target account's users or roles, outcome), with the number of escalations it stands for.
    ``node_of(of, account id)`` gives the folded node (or None when the scope hides it)."""
    scope = builder.scope
    if not scope.keeps_kind(ESCALATE):
        return
    for row in count_escalations_by_account(account_id or None):
        if scope.conditional == "only" and row.outcome == "allow":
            continue
        if scope.conditional == "none" and row.outcome == "conditional":
            continue
        source = node_of(row.source_of, row.source_account)
        target = node_of(row.target_of, row.target_account)
        if source is None or target is None or source == target:
            continue
        key = (ESCALATE, row.outcome)
        if builder.graph.has_edge(source, target, key):
            builder.graph.edges[source, target, key]["count"] += row.n
        else:
            builder.graph.add_edge(
                source, target, key=key, kind=ESCALATE, outcome=row.outcome, count=row.n
            )
