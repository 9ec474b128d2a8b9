"""Read side of choke points: the stored reach graph, the targets and the grants of the hops that
matter, handed to the pure ranking in `identities.analysis.choke_points`.

Everything is read through the one reader of stored edges (`identities.queries.access`), the
escalations reader and the estate's group memberships and attachments; nothing is evaluated.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from identities.analysis.choke_points import (
    IDENTITY,
    MEMBERSHIP,
    TRUST,
    ChokeGraph,
    ChokeItem,
    ChokePoint,
    HopEvidence,
    ItemCut,
    build_choke_graph,
    hop_kind,
    necessary_items,
    parse_statement_ref,
    rank_choke_points,
    statement_cuts,
)
from identities.analysis.reach import CLASS_PREFIX, ESCALATE_PREFIX, GROUP_PREFIX, VIA_PREFIX
from identities.arns import SourceKind, classify_arn
from identities.models import (
    GroupMembership,
    InlinePolicy,
    PolicyAttachment,
)
from identities.queries import access
from identities.queries.escalations import escalations_from
from identities.queries.findings import administrators
from identities.queries.sensitive import sensitive_roles

ADMIN, SENSITIVE, ALL = "admin", "sensitive", "all"
TARGET_CHOICES = (ADMIN, SENSITIVE, ALL)


@dataclass
class ChokeReport:
    """The ranked choke points and what they were computed over."""

    target: str
    points: list[ChokePoint] = field(default_factory=list)
    targets: int = 0
    principals: int = 0  # that can reach a target
    critical_hops: int = 0
    seconds: float = 0.0


def target_arns(target: str) -> set[str]:
    """The ARNs of administrators, sensitive roles, or both (``target``: admin|sensitive|all)."""
    if target not in TARGET_CHOICES:
        raise ValueError(f"target {target!r}: one of {', '.join(TARGET_CHOICES)}")
    found: set[str] = set()
    if target in (ADMIN, ALL):
        found.update(administrators().values_list("arn", flat=True))
    if target in (SENSITIVE, ALL):
        found.update(sensitive_roles().values_list("arn", flat=True))
    return found


def hop_evidence(choke: ChokeGraph, graph: nx.DiGraph) -> dict[tuple[str, str], HopEvidence]:
    """The grants of every critical hop: stored edges (access groups' own rows), role class
    grants split into their identity and trust halves, escalations."""
    pairs: dict[tuple[str, str], tuple[str, str]] = {}  # hop -> the stored edge's pair
    layer_of: dict[tuple[str, str], str] = {}
    escalation_hops: dict[tuple[str, str], tuple[str, str]] = {}
    for hop in choke.critical_hops:
        start, end = hop
        kind = hop_kind(hop)
        if kind == "edge":
            source = start.removeprefix(VIA_PREFIX)
            pairs[hop] = (source, end)
        elif kind == "class" and start.startswith(CLASS_PREFIX):
            group = min(graph.predecessors(start))
            pairs[hop], layer_of[hop] = (group, end), TRUST
        elif kind == "class":
            role = min(graph.successors(end))
            pairs[hop], layer_of[hop] = (start, role), IDENTITY
        elif kind == "escalation":
            holder = start.removeprefix(ESCALATE_PREFIX)
            if holder.startswith(GROUP_PREFIX):
                holder = min(graph.predecessors(start))
            escalation_hops[hop] = (holder, end)
    found: dict[tuple[str, str], HopEvidence] = {}
    edges = access.edges_between(set(pairs.values())) if pairs else {}
    for hop, pair in pairs.items():
        rows = edges.get(pair)
        if not rows:
            continue
        refs = tuple(tuple(row.granted_by) for row in rows)
        if hop in layer_of:
            refs = tuple(tuple(_of_layer(row_refs, layer_of[hop])) for row_refs in refs)
        found[hop] = HopEvidence(refs, all(row.conditional for row in rows))
    if escalation_hops:
        by_principal = escalations_from(holder for holder, _ in escalation_hops.values())
        for hop, (holder, target) in escalation_hops.items():
            ways = [e for e in by_principal.get(holder, ()) if (e.target or holder) == target]
            if ways:
                found[hop] = HopEvidence(
                    tuple(tuple(way.granted_by) for way in ways),
                    all(way.conditional for way in ways),
                )
    return found


def _of_layer(refs: Iterable[str], layer: str) -> list[str]:
    kept = []
    for ref in refs:
        item = parse_statement_ref(ref)
        if item is not None and item.layer == layer:
            kept.append(ref)
    return kept


def membership_cuts(
    choke: ChokeGraph, evidence: dict[tuple[str, str], HopEvidence]
) -> dict[ChokeItem, ItemCut]:
    """(user, IAM group) -> what taking the user out of the group cuts: the user, where a
    critical hop of its holds through one identity statement it gets through that group only."""
    wanted: dict[tuple[str, ChokeItem], tuple[tuple[str, str], bool]] = {}
    users: set[str] = set()
    for hop, grant in evidence.items():
        for item in necessary_items(grant):
            if item.layer != IDENTITY:
                continue
            for principal in choke.dominated.get(hop, ()):
                if classify_arn(principal) is SourceKind.USER:
                    wanted[(principal, item)] = (hop, grant.conditional)
                    users.add(principal)
    if not wanted:
        return {}
    groups_of: dict[str, list[str]] = defaultdict(list)
    for user, group in GroupMembership.objects.filter(user__arn__in=users).values_list(
        "user__arn", "group__arn"
    ):
        groups_of[user].append(group)
    groups = {group for found in groups_of.values() for group in found}
    carried: dict[str, set[str]] = defaultdict(set)  # owner ARN -> policy references it carries
    for owner, policy in PolicyAttachment.objects.filter(group__arn__in=groups).values_list(
        "group__arn", "policy__arn"
    ):
        carried[owner].add(policy)
    for owner, policy in PolicyAttachment.objects.filter(user__arn__in=users).values_list(
        "user__arn", "policy__arn"
    ):
        carried[owner].add(policy)
    for owner, name in InlinePolicy.objects.filter(group__arn__in=groups).values_list(
        "group__arn", "name"
    ):
        carried[owner].add(f"{owner}#{name}")
    found: dict[ChokeItem, ItemCut] = defaultdict(ItemCut)
    for (user, item), (hop, conditional) in wanted.items():
        if item.policy in carried.get(user, ()) or item.policy.startswith(f"{user}#"):
            continue  # the user holds the policy itself
        through = [group for group in groups_of.get(user, ()) if item.policy in carried[group]]
        if len(through) == 1:
            found[ChokeItem(MEMBERSHIP, user=user, group=through[0])].add(hop, [user], conditional)
    return dict(found)


def choke_points(target: str = ADMIN, *, limit: int | None = None) -> ChokeReport:
    """The greedy covering set of changes that cut the principals' paths to ``target``."""
    clock = time.perf_counter()
    targets = target_arns(target)
    reach = access.reach_graph()
    report = ChokeReport(target=target, targets=len(targets))
    if reach is None or not targets:
        return report
    choke = build_choke_graph(reach.graph, targets)
    evidence = hop_evidence(choke, reach.graph)
    cuts = statement_cuts(choke, evidence)
    cuts.update(membership_cuts(choke, evidence))
    report.points = rank_choke_points(cuts, limit=limit)
    report.principals = len(choke.principals)
    report.critical_hops = len(choke.dominated)
    report.seconds = round(time.perf_counter() - clock, 2)
    return report
