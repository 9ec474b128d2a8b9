"""Read side of choke points: the stored reach graph, the targets and the grants of the hops that
matter, handed to the pure ranking in `identities.analysis.choke_points`.

The grants of the hops are read from the stored edges (`grants_between`, the rule of
`identities.queries.access.edges_between`) and escalations (with the trust of a role passed to a
service: `service_trusts`), with the estate's group memberships and policy attachments; nothing
is evaluated. Every statement, attachment and membership that could cut a path is counted
exactly (`verified_ranking`) before the greedy ranking.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import networkx as nx
import orjson
from django.db import connection
from django.db.models import Manager, Model, Q, QuerySet, TextField
from django.db.models.functions import Cast

from identities.analysis.choke_points import (
    ATTACHMENT,
    IDENTITY,
    MAX_ONWARDS,
    MEMBERSHIP,
    STATEMENT,
    TRUST,
    ChokeGraph,
    ChokeItem,
    ChokePoint,
    HopEvidence,
    ItemCut,
    Removal,
    build_choke_graph,
    cut_by,
    hop_kind,
    necessary_items,
    parse_statement_ref,
    rank_choke_points,
    statement_cuts,
)
from identities.analysis.reach import (
    CLASS_PREFIX,
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    VIA_PREFIX,
    ReachGraph,
    is_hop_node,
)
from identities.arns import SourceKind, classify_arn
from identities.models import (
    AccessEdge,
    AccessGroupMember,
    GroupMembership,
    IamGroup,
    IamRole,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
)
from identities.policy import Layer, PolicyParseError, PolicySource, Statement, parse_policy
from identities.policy.match import statement_matches_action
from identities.queries import access
from identities.queries.access import POSSIBLE
from identities.queries.escalations import Escalation, escalations_from
from identities.queries.findings import administrators
from identities.queries.sensitive import sensitive_roles
from identities.queries.shared_cache import shared_for_run, warmer

M = TypeVar("M", bound=Model)
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


def hop_evidence(
    choke: ChokeGraph,
    graph: nx.DiGraph,
    needs: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
    hops: Iterable[tuple[str, str]] | None = None,
) -> dict[tuple[str, str], HopEvidence]:
    """The grants of every critical hop (or of ``hops``): stored edges (access groups' own
    rows), role class grants split into their identity and trust halves, escalations;
    ``needs``: the stored edges' statements they cannot do without, where not those alone in
    their layer (`ReachGraph.needs`)."""
    pairs: dict[tuple[str, str], tuple[str, str]] = {}  # hop -> the stored edge's pair
    layer_of: dict[tuple[str, str], str] = {}
    escalation_hops: dict[tuple[str, str], tuple[str, str]] = {}
    for hop in choke.critical_hops if hops is None else hops:
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
    grants = grants_between(set(pairs.values()), needs) if pairs else {}
    for hop, pair in pairs.items():
        rows = grants.get(pair)
        if not rows:
            continue
        refs = tuple(row_refs for row_refs, _, _ in rows)
        row_needs = tuple(row_need for _, _, row_need in rows)
        if hop in layer_of:
            refs = tuple(tuple(_of_layer(row_refs, layer_of[hop])) for row_refs in refs)
            row_needs = tuple(
                None if need is None else tuple(_of_layer(need, layer_of[hop]))
                for need in row_needs
            )
        found[hop] = HopEvidence(refs, all(conditional for _, conditional, _ in rows), row_needs)
    if escalation_hops:
        by_principal = escalations_from(holder for holder, _ in escalation_hops.values())
        by_pair: dict[tuple[str, str], list[Escalation]] = defaultdict(list)
        for holder, found_ways in by_principal.items():
            for way in found_ways:
                by_pair[(holder, way.target or holder)].append(way)
        statements = statements_of(
            {ref for ways in by_pair.values() for w in ways for ref in w.granted_by}
        )
        trusts = service_trusts(
            {(way.info.service, way.target) for ways in by_pair.values() for way in ways},
            needs,
        )
        for hop, (holder, target) in escalation_hops.items():
            ways = by_pair.get((holder, target))
            if ways:
                way_refs: list[tuple[str, ...]] = []
                way_needs: list[tuple[str, ...] | None] = []
                for way in ways:
                    trust = trusts.get((way.info.service, way.target), ())
                    way_refs.append((*way.granted_by, *trust))
                    need = escalation_needs(way, statements)
                    way_needs.append(None if need is None else (*need, *trust))
                found[hop] = HopEvidence(
                    tuple(way_refs), all(way.conditional for way in ways), tuple(way_needs)
                )
    return found


def service_trusts(
    pairs: Iterable[tuple[str | None, str | None]],
    needs: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
) -> dict[tuple[str | None, str | None], tuple[str, ...]]:
    """(service, role ARN) -> the trust statements the role trusts the service by alone (the
    stored edge from ``service:SERVICE`` to the role): an escalation passing the role to the
    service, or using a resource running with it, cannot do without them."""
    wanted = {
        (f"service:{service}", role): (service, role) for service, role in pairs if service and role
    }
    grants = grants_between(set(wanted), needs) if wanted else {}
    found: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
    for pair, rows in grants.items():
        grant = HopEvidence(
            tuple(refs for refs, _, _ in rows),
            all(conditional for _, conditional, _ in rows),
            tuple(need for _, _, need in rows),
        )
        alone = {item for item in grant.necessary if item.layer == TRUST}
        found[wanted[pair]] = tuple(
            dict.fromkeys(
                ref for refs, _, _ in rows for ref in refs if parse_statement_ref(ref) in alone
            )
        )
    return found


def escalation_needs(
    way: Escalation, statements: Mapping[str, Statement | None]
) -> tuple[str, ...] | None:
    """The statements of an escalation's ``granted_by`` it cannot do without: for some
    permission of its method, the only one of them allowing the action (an escalation cites the
    statements that granted each of its permissions). None when a statement cannot be read."""
    cited: dict[str, Statement] = {}
    for ref in way.granted_by:
        statement = statements.get(ref)
        if statement is None:
            return None
        cited[ref] = statement
    needed: list[str] = []
    for permission in way.info.permissions:
        allowing = [
            ref
            for ref, statement in cited.items()
            if statement_matches_action(statement, permission.action)
        ]
        if len(allowing) == 1 and allowing[0] not in needed:
            needed.append(allowing[0])
    return tuple(needed)


def statements_of(refs: Iterable[str]) -> dict[str, Statement | None]:
    """The parsed identity statement each reference names (None when not found), read from
    the stored documents: managed policies' default versions, inline policies."""
    wanted = {ref: parse_statement_ref(ref) for ref in refs}
    managed = {item.policy for item in wanted.values() if item and "#" not in item.policy}
    inline = {item.policy for item in wanted.values() if item and "#" in item.policy}
    documents: dict[str, Any] = {}
    for arn, document in ManagedPolicy.objects.filter(arn__in=managed).values_list(
        "arn", "document"
    ):
        documents.setdefault(arn, document)
    owners = {policy.split("#", 1)[0] for policy in inline}
    rows = InlinePolicy.objects.filter(
        Q(user__arn__in=owners) | Q(group__arn__in=owners) | Q(role__arn__in=owners)
    ).values_list("user__arn", "group__arn", "role__arn", "name", "document")
    for user, group, role, name, document in rows:
        documents[f"{user or group or role}#{name}"] = document
    parsed: dict[str, dict[int, Statement]] = {}
    found: dict[str, Statement | None] = {}
    for ref, item in wanted.items():
        if item is None or item.layer != IDENTITY or documents.get(item.policy) is None:
            found[ref] = None
            continue
        if item.policy not in parsed:
            try:
                policy = parse_policy(documents[item.policy], PolicySource(Layer.IDENTITY, ref))
            except PolicyParseError:
                policy = None
            parsed[item.policy] = (
                {statement.index: statement for statement in policy.statements} if policy else {}
            )
        found[ref] = parsed[item.policy].get(item.index)
    return found


# A stored edge's statement references, whether it is conditional, and the references it
# cannot do without when not those alone in their layer (None).
Grant = tuple[tuple[str, ...], bool, tuple[str, ...] | None]


def grants_between(
    pairs: set[tuple[str, str]], needs: Mapping[tuple[str, str], tuple[str, ...]] | None = None
) -> dict[tuple[str, str], list[Grant]]:
    """What grants the possible stored edge from each source (an ARN or ``group:KEY``) to each
    role ARN of ``pairs``: `access.edges_between` reduced to the references and whether the
    edge is conditional (an access group's edge holds for a member without an edge of its own
    to the role), with its ``needs`` (by source and role ARN). Only two columns are read and
    each distinct reference list parsed once: the hops of a large estate number tens of
    thousands."""
    needs = needs or {}
    sources = {source for source, _ in pairs}
    group_of = dict(
        _where_in(AccessGroupMember.objects, "arn", sources).values_list("arn", "group__key")
    )
    wanted = sources | {GROUP_PREFIX + key for key in group_of.values()}
    targets = {target for _, target in pairs}
    role_of = dict(_where_in(IamRole.objects, "arn", targets).values_list("pk", "arn"))
    rows = _where_in(_where_in(AccessEdge.objects, "source", wanted), "target_id", role_of)
    parsed: dict[str, tuple[str, ...]] = {}
    own: set[tuple[str, str]] = set()
    found: dict[tuple[str, str], list[Grant]] = defaultdict(list)
    for source, target_id, outcome, granted_by in rows.values_list(
        "source", "target_id", "outcome", Cast("granted_by", TextField())
    ):
        target = role_of[target_id]
        if not source.startswith(GROUP_PREFIX):
            own.add((source, target))
        if outcome not in POSSIBLE:
            continue
        refs = parsed.get(granted_by)
        if refs is None:
            refs = parsed[granted_by] = tuple(orjson.loads(granted_by) or ())
        found[(source, target)].append(
            (refs, outcome == AccessEdge.Outcome.CONDITIONAL, needs.get((source, target)))
        )
    for source, target in pairs:
        group = group_of.get(source)
        if group is not None and (source, target) not in own:
            found[(source, target)].extend(found.get((GROUP_PREFIX + group, target), ()))
    return {pair: found[pair] for pair in pairs if found.get(pair)}


def _where_in(rows: Manager[M] | QuerySet[M], column: str, values: Collection[Any]) -> QuerySet[M]:
    """``rows`` whose ``column`` is one of ``values``: one array parameter on PostgreSQL, where
    a list of tens of thousands of values spelled out in the query takes seconds to build."""
    if connection.vendor != "postgresql":
        return rows.filter(**{f"{column}__in": list(values)})
    table = rows.model._meta.db_table
    return rows.extra(where=[f'"{table}"."{column}" = ANY(%s)'], params=[list(values)])


def _of_layer(refs: Iterable[str], layer: str) -> list[str]:
    kept = []
    for ref in refs:
        item = parse_statement_ref(ref)
        if item is not None and item.layer == layer:
            kept.append(ref)
    return kept


def membership_cuts(
    choke: ChokeGraph, evidence: dict[tuple[str, str], HopEvidence], graph: nx.DiGraph
) -> dict[ChokeItem, ItemCut]:
    """(user, IAM group) -> what taking the user out of the group cuts: the user, where a
    critical hop of its holds through one identity statement it gets through that group only,
    the user holding the hop itself and going on from its start only."""
    wanted: dict[tuple[str, ChokeItem], tuple[tuple[str, str], bool]] = {}
    users: set[str] = set()
    for hop, grant in evidence.items():
        dominated = choke.dominated.get(hop)
        items = [item for item in necessary_items(grant) if item.layer == IDENTITY]
        if not dominated or not items:
            continue
        holders = hop_holders(hop, graph)
        for item in items:
            for principal in dominated & holders:
                if classify_arn(principal) is SourceKind.USER and graph.out_degree(principal) == 1:
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
            found[ChokeItem(MEMBERSHIP, user=user, group=through[0])].add(
                (hop,), [user], conditional
            )
    return dict(found)


def hop_holders(hop: tuple[str, str], graph: nx.DiGraph) -> set[str]:
    """The principals whose identity policies grant ``hop``: a principal's own hop node's
    principal, an access group's (or escalation group's) members; none for trust hops."""
    start, end = hop
    kind = hop_kind(hop)
    if kind == "class" and not end.startswith(CLASS_PREFIX):
        return set()  # the trust half of a role class's hop
    if kind not in ("edge", "class", "escalation"):
        return set()
    holder = start.removeprefix(ESCALATE_PREFIX).removeprefix(VIA_PREFIX)
    if holder.startswith((GROUP_PREFIX, ESCALATE_PREFIX)):
        return {node for node in graph.predecessors(start) if not is_hop_node(node)}
    return {holder}


@dataclass(frozen=True)
class _Site:
    """Where an identity statement cuts: its hops, the principals every path of which takes
    one of them, whether all of them are conditional, their holders."""

    hops: tuple[tuple[str, str], ...]
    principals: frozenset[str]
    conditional: bool
    holders: frozenset[str]


def _identity_sites(
    choke: ChokeGraph, evidence: dict[tuple[str, str], HopEvidence], graph: nx.DiGraph
) -> dict[str, list[_Site]]:
    """Managed policy ARN -> the sites it grants alone (by one statement a hop): a dominating
    hop, or every hop onwards from a dominating hop node."""
    found: dict[str, list[_Site]] = defaultdict(list)
    holders_of: dict[str, frozenset[str]] = {}  # by hop node: an access group's are many

    def add(hops: list[tuple[str, str]], principals: Iterable[str], policies: set[str]) -> None:
        if not policies:
            return
        holders = holders_of.get(hops[0][0])
        if holders is None:
            holders = holders_of[hops[0][0]] = frozenset(hop_holders(hops[0], graph))
        if not holders:
            return
        site = _Site(
            tuple(hops),
            frozenset(principals),
            all(evidence[hop].conditional for hop in hops),
            holders,
        )
        for policy in policies:
            found[policy].append(site)

    for hop, grant in evidence.items():
        if choke.dominated.get(hop):
            add([hop], choke.dominated[hop], set(_managed(grant)))
    for node, principals in choke.through.items():
        hops = choke.onwards[node]
        if not is_hop_node(node):
            continue  # a principal's several hop nodes: their holders differ
        if 2 <= len(hops) <= MAX_ONWARDS and all(hop in evidence for hop in hops):
            # Each hop onwards may need another statement of the policy: detaching it takes
            # them all.
            common = _managed(evidence[hops[0]])
            for hop in hops[1:]:
                if not common:
                    break
                common = common & _managed(evidence[hop])
            add(hops, principals, set(common))
    return found


def _managed(grant: HopEvidence) -> frozenset[str]:
    """The managed policies of which one identity statement alone grants the hop."""
    return _managed_of(necessary_items(grant))


@functools.lru_cache(maxsize=65536)  # hops share their necessary items
def _managed_of(items: frozenset[ChokeItem]) -> frozenset[str]:
    return frozenset(
        item.policy
        for item in items
        if item.layer == IDENTITY and "#" not in item.policy and ":policy/" in item.policy
    )


def attachment_cuts(
    choke: ChokeGraph, evidence: dict[tuple[str, str], HopEvidence], graph: nx.DiGraph
) -> dict[ChokeItem, ItemCut]:
    """(managed policy, user/group/role) -> what detaching the policy from it cuts, where a
    statement of the policy alone grants a dominating hop (or every hop onwards from a
    dominating hop node): the principals behind it when every principal holding the hop has
    the policy through that one attachment (its own, or, for users, one IAM group's); else,
    each holder with one attachment of the policy whose one way on is the hop's start."""
    sites = _identity_sites(choke, evidence, graph)
    if not sites:
        return {}
    carriers = _carriers(list(sites))
    found: dict[ChokeItem, ItemCut] = defaultdict(ItemCut)
    one_carrier: dict[tuple[frozenset[str], str], str] = {}  # "" when not one

    def carrier_of(holders: frozenset[str], policy: str) -> str:
        """The one attachment through which all of ``holders`` have ``policy``, or ""."""
        key = (holders, policy)
        if key not in one_carrier:
            of_holders = [carriers.get((holder, policy), set()) for holder in holders]
            one = all(len(through) == 1 for through in of_holders)
            union = set.union(*of_holders) if one else set()
            one_carrier[key] = next(iter(union)) if len(union) == 1 else ""
        return one_carrier[key]

    for policy, of_policy in sites.items():
        for site in of_policy:
            carrier = carrier_of(site.holders, policy)
            if carrier:
                item = ChokeItem(ATTACHMENT, policy=policy, principal=carrier)
                found[item].add(site.hops, site.principals, site.conditional)
                continue
            # Holders with different attachments: one whose only way on is the site's hop node
            # is cut by its own one attachment.
            for principal in site.principals & site.holders:
                own = carriers.get((principal, policy), set())
                if len(own) == 1 and graph.out_degree(principal) == 1:
                    item = ChokeItem(ATTACHMENT, policy=policy, principal=next(iter(own)))
                    found[item].add(site.hops, [principal], site.conditional)
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
    evidence = hop_evidence(choke, reach.graph, reach.needs)
    cuts = statement_cuts(choke, evidence)
    cuts.update(membership_cuts(choke, evidence, reach.graph))
    cuts.update(attachment_cuts(choke, evidence, reach.graph))
    kept = target_arns(SENSITIVE) if target in (SENSITIVE, ALL) else set()
    report.points = verified_ranking(choke, evidence, cuts, reach, limit=limit, kept=kept)
    report.principals = len(choke.principals)
    report.critical_hops = len(choke.dominated)
    report.seconds = round(time.perf_counter() - clock, 2)
    return report


Hop = tuple[str, str]


def verified_ranking(
    choke: ChokeGraph,
    evidence: dict[Hop, HopEvidence],
    cuts: dict[ChokeItem, ItemCut],
    reach: ReachGraph,
    *,
    limit: int | None = None,
    kept: Collection[str] = (),
) -> list[ChokePoint]:
    """The greedy covering set over exact counts. Every item that could cut a path
    (`candidate_items`, and those of ``cuts``) cuts the principals that lose every path once
    what it removes is gone (`item_removals`, `cut_by`, over the grants of every hop of the
    graph), not only those the dominators show (routes in parallel that it cuts together are
    found too); ``cuts`` is replaced in place by these, the dominators' estimate only telling
    which principals count half. An item is kept when it cuts a principal's path to the
    targets as they are (so not a change to an administrator alone, such as the statement
    making it one); one that also makes administrators ones no more is then counted with
    them no longer targets, unless they are targets anyway (``kept``: the sensitive roles,
    when they are targets too)."""
    rest = [hop for hop in choke.all_hops if hop not in evidence]
    every = {**evidence, **hop_evidence(choke, reach.graph, reach.needs, rest)}
    admins = _admin_statements(choke.targets - set(kept))
    items = set(cuts) | candidate_items(choke, every, admins)
    for item, removal in item_removals(items, every, reach.graph, admins).items():
        estimate = cuts.pop(item, None)
        principals = cut_by(choke, replace(removal, targets=()))
        if not principals:
            continue  # on no principal's way to the targets as they are
        if removal.targets:
            principals = cut_by(choke, removal)
        hops = [*removal.hops, *(hop for held in removal.held.values() for hop in held)]
        conditional = bool(hops) and all(every[hop].conditional for hop in hops)
        flags = estimate.principals if estimate else {}
        cuts[item] = ItemCut(
            {p: flags.get(p, conditional) for p in principals},
            estimate.hops if estimate else set(hops),
        )
    return rank_choke_points(cuts, limit=limit)


def candidate_items(
    choke: ChokeGraph,
    every: Mapping[Hop, HopEvidence],
    admins: Mapping[str, frozenset[ChokeItem]],
) -> set[ChokeItem]:
    """Every item that could cut a path: each statement a hop holds through alone or that
    makes an administrator one (``admins``), each attachment of a managed policy with such a
    statement to a user, group or role, each membership of a user in an IAM group carrying
    one (attached or inline), of the principals that reach a target or are one."""
    found = {item for grant in every.values() for item in grant.necessary}
    found.update(item for making in admins.values() for item in making)
    policies = {item.policy for item in found if item.layer == IDENTITY}
    managed = [policy for policy in policies if "#" not in policy and ":policy/" in policy]
    present = choke.principals | choke.targets
    groups = {
        policy.split("#", 1)[0] for policy in policies if ":group/" in policy.split("#", 1)[0]
    }
    rows = _where_in(PolicyAttachment.objects, "policy_id", _ids(ManagedPolicy, managed))
    for policy, user, group, role in rows.values_list(
        "policy__arn", "user__arn", "group__arn", "role__arn"
    ):
        if group:
            groups.add(group)
        if group or user in present or role in present:
            found.add(ChokeItem(ATTACHMENT, policy=policy, principal=group or user or role))
    members = _where_in(GroupMembership.objects, "group_id", _ids(IamGroup, groups))
    for user, group in members.values_list("user__arn", "group__arn"):
        if user in present:
            found.add(ChokeItem(MEMBERSHIP, user=user, group=group))
    return found


def _ids(model: type[ManagedPolicy] | type[IamGroup], arns: Collection[str]) -> list[int]:
    return list(_where_in(model.objects, "arn", arns).values_list("pk", flat=True))


def item_removals(
    items: Iterable[ChokeItem],
    every: Mapping[Hop, HopEvidence],
    graph: nx.DiGraph,
    admins: Mapping[str, frozenset[ChokeItem]],
) -> dict[ChokeItem, Removal]:
    """What each item takes out of the graph (``every``: the grants of every hop; ``admins``:
    the statements that make each administrator one, of those that are targets). A
    statement: every hop that holds through it alone, and the administrators it alone makes
    one. An attachment or a membership: for each principal that loses a policy by it
    (`policies_lost`), the hops of its hop nodes that hold through one statement of a lost
    policy alone, and whether it is an administrator no more (every statement making it one
    is of a lost policy)."""
    items = list(items)
    by_statement: dict[ChokeItem, list[Hop]] = defaultdict(list)
    by_policy: dict[tuple[str, str], set[Hop]] = defaultdict(set)  # (hop node, policy)
    for hop, grant in every.items():
        for statement in grant.necessary:
            by_statement[statement].append(hop)
            if statement.layer == IDENTITY:
                by_policy[(hop[0], statement.policy)].add(hop)
    made_by: dict[ChokeItem, list[str]] = defaultdict(list)
    for arn, statements in admins.items():
        if len(statements) == 1:
            made_by[next(iter(statements))].append(arn)
    found = {
        item: Removal(hops=by_statement.get(item, []), targets=made_by.get(item, []))
        for item in items
        if item.kind == STATEMENT
    }
    succ = graph._succ
    # One list for the hops of a hop node that hold through one statement of the policies lost
    # alone: an access group's members share it (`cut_by` works each list out once).
    of_node: dict[tuple[str, frozenset[str]], list[Hop]] = {}
    for item, lost in policies_lost([i for i in items if i.kind != STATEMENT]).items():
        held: dict[str, list[Hop]] = {}
        targets = []
        for principal, policies in lost.items():
            lists = []
            for hop_node in succ.get(principal, ()):
                if not is_hop_node(hop_node):
                    continue
                key = (hop_node, frozenset(policies))
                found_hops = of_node.get(key)
                if found_hops is None:
                    found_hops = of_node[key] = [
                        hop for policy in policies for hop in by_policy.get((hop_node, policy), ())
                    ]
                if found_hops:
                    lists.append(found_hops)
            hops = lists[0] if len(lists) == 1 else [hop for part in lists for hop in part]
            if hops:
                held[principal] = hops
            making = admins.get(principal)
            if making and all(statement.policy in policies for statement in making):
                targets.append(principal)
        found[item] = Removal(held=held, targets=targets)
    return found


def policies_lost(items: Iterable[ChokeItem]) -> dict[ChokeItem, dict[str, set[str]]]:
    """Attachment or membership -> principal -> the policies it no longer has once the item
    goes: a managed policy detached from a user, group or role is lost by those that have it
    through that attachment only (the principal, the group's members); a user taken out of
    a group loses the group's inline policies and the managed policies it has through that
    group only."""
    items = list(items)
    attachments = [item for item in items if item.kind == ATTACHMENT]
    memberships = [item for item in items if item.kind == MEMBERSHIP]
    groups = {item.group for item in memberships}
    of_group: dict[str, set[str]] = defaultdict(set)  # group -> its managed policies
    inline: dict[str, set[str]] = defaultdict(set)
    if groups:
        for group, policy in PolicyAttachment.objects.filter(
            group__arn__in=list(groups)
        ).values_list("group__arn", "policy__arn"):
            of_group[group].add(policy)
        for group, name in InlinePolicy.objects.filter(group__arn__in=list(groups)).values_list(
            "group__arn", "name"
        ):
            inline[group].add(f"{group}#{name}")
    policies = {item.policy for item in attachments}
    policies.update(policy for found in of_group.values() for policy in found)
    carriers = _carriers(policies) if policies else {}
    only: dict[tuple[str, str], list[str]] = defaultdict(list)  # (policy, carrier) -> holders
    for (holder, policy), through in carriers.items():
        if len(through) == 1:
            only[(policy, next(iter(through)))].append(holder)
    found: dict[ChokeItem, dict[str, set[str]]] = {}
    for item in attachments:
        holders = only.get((item.policy, item.principal), ())
        found[item] = {holder: {item.policy} for holder in holders}
    for item in memberships:
        lost = {
            policy
            for policy in of_group.get(item.group, ())
            if carriers.get((item.user, policy)) == {item.group}
        }
        found[item] = {item.user: lost | inline.get(item.group, set())}
    return found


def _carriers(policies: Collection[str]) -> dict[tuple[str, str], set[str]]:
    """(principal, managed policy ARN) -> what it has the policy through: the principal itself
    (attached to it), the IAM groups of a user that carry it."""
    carriers: dict[tuple[str, str], set[str]] = defaultdict(set)
    of_group: dict[str, set[str]] = defaultdict(set)
    for policy, user, group, role in PolicyAttachment.objects.filter(
        policy__arn__in=list(policies)
    ).values_list("policy__arn", "user__arn", "group__arn", "role__arn"):
        if group:
            of_group[group].add(policy)
        elif user or role:
            carriers[(user or role, policy)].add(user or role)
    for user, group in GroupMembership.objects.filter(group__arn__in=list(of_group)).values_list(
        "user__arn", "group__arn"
    ):
        for policy in of_group[group]:
            carriers[(user, policy)].add(group)
    return dict(carriers)


def _admin_statements(targets: Collection[str]) -> dict[str, frozenset[ChokeItem]]:
    """Administrator ARN (of ``targets``) -> the statements that make it one
    (`Administrator.statements`, those naming a trust or identity statement)."""
    rows = administrators().filter(arn__in=list(targets)).values_list("arn", "statements")
    found = {}
    for arn, refs in rows:
        items = frozenset(item for item in map(parse_statement_ref, refs or ()) if item)
        if items:
            found[arn] = items
    return found


PAGE_LIMIT = 25  # the changes the Choke points page shows


def stored_report(target: str = ADMIN) -> ChokeReport:
    """Every choke point to ``target``, computed once per analysis run for every process
    (`shared_cache.shared_for_run`) and stored when the analysis finishes
    (`warm_choke_points`), so that neither a page nor the command computes them. Without a
    sensitive role, those to both are those to administrators."""
    if target == ALL and not sensitive_roles().exists():
        return replace(stored_report(ADMIN), target=ALL)
    return shared_for_run(f"choke-points:{target}", lambda: choke_points(target))


def page_report(target: str = ADMIN) -> ChokeReport:
    """The first `PAGE_LIMIT` choke points to ``target`` (`stored_report`)."""
    report = stored_report(target)
    return replace(report, points=report.points[:PAGE_LIMIT])


@warmer("choke-points")
def warm_choke_points() -> dict[str, float]:
    """Store the choke points of the current run for every target; seconds each."""
    return {target: stored_report(target).seconds for target in TARGET_CHOICES}
