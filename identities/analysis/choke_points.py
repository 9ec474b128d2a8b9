"""Choke points: the few changes that cut the most principals' paths to an administrator (or to a
role marked sensitive), over the stored reach graph.

A *path* here is a principal's ability to reach a target at all: a principal that can reach two
administrators has one path to cut, not two (cutting one route leaves the other). The search
works on the stored graph (`identities.analysis.reach`) restricted to what can reach a target,
with every target joined to one sink and targets' own edges left out (a principal that reaches an
administrator through another one already has one). The dominator tree of the reversed graph
from the sink tells, for every hop, which principals lose *every* path when it goes (as networkx
`immediate_dominators` would; see `build_choke_graph` for the hops; its edge cuts are what a
minimum cut between the principals and the sink is made of).

A hop is granted by evidence: the statements of the trust policy and of the identity policies
(`granted_by` of the stored edge or escalation), the statements the analysis found it cannot do
without (``needs``: `identities.analysis.evaluation.Evaluator.needed`), and for a user the IAM
group that carries the identity policy. An *item* — one statement, one group membership, or one
attachment of a managed policy to a user, group or role — cuts a hop when the hop holds through
it alone: a statement the hop needs (where nothing says which: the only trust statement, the only
identity statement), the only group the statement reaches the user through, the one attachment
through which every principal holding the hop has the managed policy of such a statement. An item
cuts the principals a hop it cuts dominates, and those a hop node dominates (an access group's
node, a principal's own, a principal with several hop nodes) when it cuts every hop onwards from
that node (one identity statement granting an access group all its roles). A principal whose cut
hops are all conditional counts half (`CONDITIONAL_WEIGHT`): a condition already guards that
path.

`rank_choke_points` is greedy: take the item that cuts the most weight, drop the principals it
cuts from every other item, repeat — a covering set, each item with the principals it adds. What
the dominators show is a lower bound: routes in parallel further on that one item cuts together
are not seen. `cut_by` counts exactly what an item's `Removal` cuts (hops gone for everyone,
hops some principals no longer hold, administrators that are ones no more) by walking again only
the part of the graph that can lose its path, and the read side counts every item that way
before ranking (`identities.queries.choke_points.verified_ranking`).

Every item names the ``what_if`` change that removes it (`ChokeItem.what_if`), so its effect can
be checked against a full evaluation.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from identities.analysis.reach import (
    CLASS_PREFIX,
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    HOP_PREFIXES,
    VIA_PREFIX,
)

CONDITIONAL_WEIGHT = 0.5
# A hop node with more hops onwards than this is not searched for one statement they all need.
MAX_ONWARDS = 200
SINK = "choke:sink"
STATEMENT, MEMBERSHIP, ATTACHMENT = "statement", "membership", "attachment"
TRUST, IDENTITY = "trust", "identity"

# "statement 'Sid' (Statement[2]) of trust policy deploy (arn:aws:iam::1:role/deploy)"
_REF = re.compile(
    r"^statement (?:'(?P<sid>[^']*)' )?\(Statement\[(?P<index>\d+)\]\) of "
    r"(?P<kind>trust policy|customer-managed policy|AWS-managed policy|inline policy) "
    r"(?P<name>\S+)(?: \((?P<arn>[^()\s]+)\))?$"
)


@dataclass(frozen=True, order=True)
class ChokeItem:
    """One change: remove a statement (``policy`` as ``what_if`` names it: a role ARN for its
    trust policy, a managed policy ARN, OWNER_ARN#NAME), take a user out of an IAM group, or
    detach a managed policy (``policy``) from a user, group or role (``principal``)."""

    kind: str  # STATEMENT | MEMBERSHIP | ATTACHMENT
    policy: str = ""  # STATEMENT, ATTACHMENT
    sid: str = ""
    index: int = -1
    layer: str = ""  # TRUST | IDENTITY
    user: str = ""  # MEMBERSHIP
    group: str = ""
    principal: str = ""  # ATTACHMENT

    @property
    def what_if(self) -> list[str]:
        """The ``what_if`` arguments that make this change."""
        if self.kind == MEMBERSHIP:
            return ["--remove-membership", self.user, self.group]
        if self.kind == ATTACHMENT:
            return ["--detach", self.policy, self.principal]
        return ["--remove-statement", self.policy, self.sid or str(self.index)]

    def as_dict(self) -> dict[str, object]:
        if self.kind == MEMBERSHIP:
            return {"kind": MEMBERSHIP, "user": self.user, "group": self.group}
        if self.kind == ATTACHMENT:
            return {"kind": ATTACHMENT, "policy": self.policy, "principal": self.principal}
        return {
            "kind": f"{self.layer}_statement",
            "policy": self.policy,
            "sid": self.sid or None,
            "index": self.index,
        }

    @property
    def label(self) -> str:
        if self.kind == MEMBERSHIP:
            return f"membership of {self.user} in {self.group}"
        if self.kind == ATTACHMENT:
            return f"attachment of {self.policy} to {self.principal}"
        which = f"'{self.sid}'" if self.sid else f"[{self.index}]"
        return f"{self.layer} statement {which} of {self.policy}"


@functools.lru_cache(maxsize=65536)
def parse_statement_ref(ref: str) -> ChokeItem | None:
    """The item a ``granted_by`` reference names (trust and identity statements; None for the
    others: SCPs, boundaries, unknown documents)."""
    found = _REF.match(ref)
    if found is None or not found["arn"]:
        return None
    kind, arn = found["kind"], found["arn"]
    if kind == "trust policy":
        policy, layer = arn, TRUST
    elif kind == "inline policy":
        policy, layer = f"{arn}#{found['name']}", IDENTITY
    else:
        policy, layer = arn, IDENTITY
    return ChokeItem(STATEMENT, policy, found["sid"] or "", int(found["index"]), layer)


@dataclass(frozen=True)
class HopEvidence:
    """What grants one hop: its statement references and whether it holds only under
    conditions; several tuples of references when several escalation methods grant it.
    ``needs``, beside each tuple: the references the evaluation found the way cannot do
    without, where those are not the ones alone in their layer (None: they are)."""

    refs: tuple[tuple[str, ...], ...]  # one tuple of references per way the hop holds
    conditional: bool = False
    needs: tuple[tuple[str, ...] | None, ...] = ()
    necessary: frozenset[ChokeItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Asked of every hop several times over (statements, memberships, attachments).
        needs = self.needs or (None,) * len(self.refs)
        object.__setattr__(self, "necessary", _necessary(tuple(zip(self.refs, needs, strict=True))))


def necessary_items(evidence: HopEvidence) -> frozenset[ChokeItem]:
    """The statements the hop holds through alone: in every way it holds, those it cannot do
    without (``needs``), else the only trust statement or the only identity statement (an
    escalation: its only statement)."""
    return evidence.necessary


@functools.lru_cache(maxsize=65536)  # hops share their grants: an access group's, a policy's
def _necessary(
    ways: tuple[tuple[tuple[str, ...], tuple[str, ...] | None], ...],
) -> frozenset[ChokeItem]:
    common: set[ChokeItem] | None = None
    for refs, needs in ways:
        if needs is not None:
            alone = {item for item in map(parse_statement_ref, needs) if item is not None}
        else:
            items = [item for item in map(parse_statement_ref, refs) if item is not None]
            alone = set()
            for layer in (TRUST, IDENTITY):
                of_layer = [item for item in items if item.layer == layer]
                if len(of_layer) == 1:
                    alone.add(of_layer[0])
        common = alone if common is None else common & alone
    return frozenset(common or ())


@dataclass
class ChokeGraph:
    """What the dominator tree of the reversed reach graph tells: ``dominated[(u, v)]``, the
    principals that lose every path to a target without the hop ``u -> v``."""

    targets: frozenset[str]
    principals: frozenset[str]
    dominated: dict[tuple[str, str], set[str]]
    # A hop node (an access group's, a principal's own, …) every path of these principals
    # takes, and its hops onwards: a statement all of them need cuts the principals at once.
    # A principal with several hop nodes every path of these takes is one too: its hops
    # onwards are those of its hop nodes (when `MAX_ONWARDS` at most).
    through: dict[str, set[str]] = field(default_factory=dict)
    onwards: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # The restricted graph reversed, numbered from the sink (0): what `cut_by` walks.
    labels: list[str] = field(default_factory=list, repr=False)
    number: dict[str, int] = field(default_factory=dict, repr=False)
    out: list[list[int]] = field(default_factory=list, repr=False)
    into: list[list[int]] = field(default_factory=list, repr=False)
    # Target -> the hop nodes it leads on to within the restricted graph (numbers): left out
    # while it is a target, its way on once it is one no more (`cut_by`).
    target_hops: dict[str, list[int]] = field(default_factory=dict, repr=False)
    # Every node's next node on a shortest path from the sink (the sink's own: 0).
    parent: list[int] = field(default_factory=list, repr=False)
    # What `cut_by` works out once for every item: by the id of a list of hops principals no
    # longer hold (kept here, so the id stays its own), the ends each hop node loses; by hop
    # node and those ends, the ends it keeps.
    gone_of: dict[int, tuple[object, dict[int, frozenset[int]]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    ends_kept: dict[tuple[int, frozenset[int]], list[int]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def all_hops(self) -> list[tuple[str, str]]:
        """Every granted hop of the restricted graph (a hop node to what it leads to)."""
        labels, out = self.labels, self.out
        return [
            (labels[before], labels[at])
            for at in range(1, len(labels))
            for before in out[at]
            if labels[before].startswith(HOP_PREFIXES)
        ]

    @property
    def critical_hops(self) -> list[tuple[str, str]]:
        """The hops whose grants tell what cuts: dominators, and the hops onwards of a
        dominating hop node (unless it has more than `MAX_ONWARDS`)."""
        hops = set(self.dominated)
        for node in self.through:
            if len(self.onwards[node]) <= MAX_ONWARDS:
                hops.update(self.onwards[node])
        return sorted(hops)


def build_choke_graph(graph: nx.DiGraph, targets: Collection[str]) -> ChokeGraph:
    """Restrict ``graph`` (the reach graph: principal -> hop node -> principal) to what can
    reach ``targets`` and find the hops each principal cannot do without.

    The restricted graph is reversed and numbered as it is walked (lists of numbers, not a
    networkx graph: tens of thousands of principals and hops at 50 accounts), and its dominator
    tree is `immediate_dominators`'. A granted hop ``h -> v`` (``h`` a hop node) is the reversed
    edge ``v -> h``; it dominates a principal exactly when ``h`` does and that edge is the only
    one into ``h`` (``h`` has one hop onwards within the restricted graph): with a second one,
    every path through the first could take the second. So no node of its own is needed per
    hop, and the hops onwards of a hop node are read off ``graph`` for the few that dominate."""
    wanted = frozenset(target for target in targets if target in graph)
    pred = graph._pred
    labels: list[str] = [SINK]
    number: dict[str, int] = {SINK: 0}
    out: list[list[int]] = [[]]  # the reversed graph: from the sink towards the principals
    into: list[list[int]] = [[]]
    stack = []
    for target in wanted:
        number[target] = len(labels)
        labels.append(target)
        out.append([])
        into.append([0])
        out[0].append(number[target])
        stack.append(target)
    while stack:
        label = stack.pop()
        at = number[label]
        successors = out[at]
        for before in pred[label]:
            if before in wanted:
                continue
            end = number.get(before)
            if end is None:
                end = number[before] = len(labels)
                labels.append(before)
                out.append([])
                into.append([])
                stack.append(before)
            successors.append(end)
            into[end].append(at)
    idom = immediate_dominators(out, into)
    is_hop = [label.startswith(HOP_PREFIXES) for label in labels]
    is_hop[0] = True  # the sink is no principal
    dominated: dict[tuple[str, str], set[str]] = defaultdict(set)
    through: dict[str, set[str]] = defaultdict(set)
    spread: dict[str, set[str]] = defaultdict(set)
    principals = []
    for at, label in enumerate(labels):
        if is_hop[at] or label in wanted:
            continue
        principals.append(label)
        if len(into[at]) > 1:
            spread[label].add(label)
        step = idom[at]
        while step != 0:
            if is_hop[step]:
                through[labels[step]].add(label)
                if len(into[step]) == 1:
                    dominated[(labels[step], labels[into[step][0]])].add(label)
            elif len(into[step]) > 1:
                spread[labels[step]].add(label)
            step = idom[step]
    succ = graph._succ
    onwards = {
        hop_node: [(hop_node, after) for after in succ[hop_node] if after in number]
        for hop_node in through
    }
    for principal in spread:
        hops = [
            (labels[hop_node], labels[after])
            for hop_node in into[number[principal]]
            for after in into[hop_node]
        ]
        if len(hops) <= MAX_ONWARDS:
            onwards[principal] = hops
    spread = {principal: found for principal, found in spread.items() if principal in onwards}
    target_hops = {
        target: [number[after] for after in succ[target] if after in number] for target in wanted
    }
    return ChokeGraph(
        wanted,
        frozenset(principals),
        dict(dominated),
        {**through, **spread},
        onwards,
        labels,
        number,
        out,
        into,
        target_hops,
        shortest_path_parents(out),
    )


def shortest_path_parents(out: list[list[int]]) -> list[int]:
    """Breadth first from node 0 over ``out``: every node's parent (0's own: 0; -1: not
    reached)."""
    parent = [-1] * len(out)
    parent[0] = 0
    level = [0]
    while level:
        following = []
        for at in level:
            for after in out[at]:
                if parent[after] == -1:
                    parent[after] = at
                    following.append(after)
        level = following
    return parent


def exact_cut(choke: ChokeGraph, killed: Collection[tuple[str, str]]) -> set[str]:
    """The principals that lose every path to a target when the hops ``killed`` go (for every
    principal holding them): `cut_by` of those hops."""
    return cut_by(choke, Removal(hops=tuple(killed)))


@dataclass(frozen=True)
class Removal:
    """What one item takes out of the graph: ``hops`` (hop node, what it leads to) gone for
    every principal going through the hop node (a statement's); ``held``, principal -> hops
    of its own hop nodes it alone no longer holds (a policy detached from it or from its
    group, a group it leaves: an access group's other members keep them); ``targets`` that
    are targets no more (administrators it alone makes one)."""

    hops: Collection[tuple[str, str]] = ()
    held: Mapping[str, Collection[tuple[str, str]]] = field(default_factory=dict)
    targets: Collection[str] = ()


def cut_by(choke: ChokeGraph, removal: Removal) -> set[str]:
    """The principals that lose every path to a target once ``removal`` is made: those the
    walk from the targets no longer finds. What the dominators tell is part of it; this also
    finds principals with routes in parallel that the same item cuts together.

    Only part of the graph is walked again. A node is sure to keep its path when one of the
    edges into it that stay comes from a node whose shortest path from the targets
    (`ChokeGraph.parent`) meets no node whose edges in change (a *changed* node). The region
    that may lose its path starts with the changed nodes not sure to keep it (none: the item
    cuts nothing) and grows by what they lead to that is not sure either; every node outside
    it keeps its path (follow a lost one's shortest path back: some node on it would be in
    the region). The region's nodes with an edge from outside it keep theirs, and the walk
    goes on from them within the region."""
    removed, replaced = _changed_edges(choke, removal)
    changed = {end for _, end in removed}
    changed.update(replaced)

    def kept(at: int) -> list[int] | Iterable[int]:
        """The starts of the edges into ``at`` once the removal is made."""
        if at in replaced:
            return replaced[at]
        return (start for start in choke.into[at] if (start, at) not in removed)

    intact = _intact_paths(choke.parent, changed)
    stack = [at for at in changed if not any(map(intact, kept(at)))]
    if not stack:
        return set()
    out, labels = choke.out, choke.labels
    region, sure = set(stack), set()
    while stack:
        for after in out[stack.pop()]:
            if after in region or after in sure:
                continue
            if any(map(intact, kept(after))):
                sure.add(after)
            else:
                region.add(after)
                stack.append(after)
    extra: dict[int, list[int]] = defaultdict(list)  # the replaced edges, from their start
    for end, starts in replaced.items():
        for start in starts:
            extra[start].append(end)
    found = [at for at in region if any(start not in region for start in kept(at))]
    seen = set(found)
    stack = found
    while stack:
        at = stack.pop()
        for after in out[at]:
            if after not in seen and after not in replaced and (at, after) not in removed:
                seen.add(after)
                stack.append(after)
        for after in extra.get(at, ()):
            if after not in seen:
                seen.add(after)
                stack.append(after)
    principals = choke.principals
    return {labels[at] for at in region - seen if labels[at] in principals}


def _intact_paths(parent: list[int], changed: Collection[int]) -> Callable[[int], bool]:
    """Whether a node's shortest path from the targets (``parent``: the next node towards the
    sink, 0) meets none of ``changed``; each node's answer kept for the nodes after it."""
    known: dict[int, bool] = {0: True}

    def intact(at: int) -> bool:
        path = []
        while at not in known and at not in changed:
            path.append(at)
            at = parent[at]
        answer = known.get(at, False)
        for node in path:
            known[node] = answer
        return answer

    return intact


def _changed_edges(
    choke: ChokeGraph, removal: Removal
) -> tuple[set[tuple[int, int]], dict[int, list[int]]]:
    """``removal`` on the reversed graph: the edges (start, end) that go, and the nodes whose
    edges in are replaced (a target no more: by those of its hop nodes; a principal holding
    fewer hops: through a hop node it keeps every hop of, else from the ends of the hops of
    it that it keeps)."""
    number, into = choke.number, choke.into
    removed: set[tuple[int, int]] = set()
    for start, end in removal.hops:
        hop_node, after = number.get(start), number.get(end)
        if hop_node is not None and after is not None:
            removed.add((after, hop_node))
    replaced: dict[int, list[int]] = {}
    for target in removal.targets:
        if target in number:
            replaced[number[target]] = list(choke.target_hops.get(target, ()))
    # Members of one access group losing one policy share their list of hops (`Removal`):
    # what it takes away from each hop node is found once, for every item.
    gone_of = choke.gone_of
    ends_kept = choke.ends_kept if not removed else {}  # with no hop gone for everyone
    for principal, hops in removal.held.items():
        at = number.get(principal)
        if at is None or (principal in choke.targets and at not in replaced):
            continue  # reaches no target, or is one
        known = gone_of.get(id(hops))
        if known is None:
            found: dict[int, set[int]] = defaultdict(set)  # hop node -> the ends it loses
            for start, end in hops:
                hop_node, after = number.get(start), number.get(end)
                if hop_node is not None and after is not None:
                    found[hop_node].add(after)
            known = gone_of[id(hops)] = (hops, {n: frozenset(e) for n, e in found.items()})
        gone = known[1]
        if not gone:
            continue
        starts: list[int] = []
        for hop_node in replaced.get(at, into[at]):
            lost = gone.get(hop_node)
            if not lost:
                starts.append(hop_node)
                continue
            ends = ends_kept.get((hop_node, lost))
            if ends is None:
                ends = ends_kept[(hop_node, lost)] = [
                    after
                    for after in into[hop_node]
                    if after not in lost and (after, hop_node) not in removed
                ]
            starts.extend(ends)
        replaced[at] = starts
    return removed, replaced


def immediate_dominators(out: list[list[int]], into: list[list[int]]) -> list[int]:
    """The immediate dominator of every node of a graph given as lists of successors (``out``)
    and predecessors (``into``), from node 0, which reaches every node (itself for 0).

    Cooper, Harvey and Kennedy's iterative algorithm ("A Simple, Fast Dominance Algorithm",
    2001), as networkx's `immediate_dominators` is, on numbers instead of a graph's dicts."""
    count = len(out)
    order: list[int] = []  # postorder
    visited = [False] * count
    visited[0] = True
    stack = [(0, iter(out[0]))]
    while stack:
        at, successors = stack[-1]
        for successor in successors:
            if not visited[successor]:
                visited[successor] = True
                stack.append((successor, iter(out[successor])))
                break
        else:
            stack.pop()
            order.append(at)
    rank = [0] * count
    for position, at in enumerate(order):
        rank[at] = position
    idom = [-1] * count
    idom[0] = 0
    changed = True
    while changed:
        changed = False
        for at in reversed(order[:-1]):  # reverse postorder, without node 0 (last)
            new = -1
            for before in into[at]:
                if idom[before] == -1:
                    continue
                if new == -1:
                    new = before
                    continue
                left, right = before, new
                while left != right:
                    while rank[left] < rank[right]:
                        left = idom[left]
                    while rank[right] < rank[left]:
                        right = idom[right]
                new = left
            if idom[at] != new:
                idom[at] = new
                changed = True
    return idom


def hop_kind(hop: tuple[str, str]) -> str:
    """``edge`` (a hop node to a role: a stored access edge), ``escalation`` (an escalation
    node to a principal), ``member`` (a principal into its access group), ``class`` (a role
    class's hops) or ``own`` (a principal into its own hop node)."""
    start, end = hop
    if start.startswith(ESCALATE_PREFIX):
        return "escalation"
    if start.startswith(CLASS_PREFIX) or end.startswith(CLASS_PREFIX):
        return "class"
    if start.startswith((VIA_PREFIX, GROUP_PREFIX)):
        return "edge"
    if end.startswith(GROUP_PREFIX):
        return "member"
    return "own"


@dataclass
class ChokePoint:
    """One pick of the greedy covering: the item, the principals it cuts that earlier picks
    did not, their weight (conditional paths count `CONDITIONAL_WEIGHT`)."""

    rank: int
    item: ChokeItem
    principals: list[str]
    weight: float
    conditional: bool
    hops: list[tuple[str, str]]

    def as_dict(self) -> dict[str, object]:
        """The object ``choke_points --format json`` prints (a contract: see the README)."""
        return {
            "rank": self.rank,
            "item": self.item.as_dict(),
            "label": self.item.label,
            "paths_cut": self.weight,
            "principals": len(self.principals),
            "conditional": self.conditional,
            "what_if": self.item.what_if,
        }


@dataclass
class ItemCut:
    """What removing one item cuts: principal -> whether every cut hop of it is conditional,
    and the hops (u, v of the reach graph) it cuts."""

    principals: dict[str, bool] = field(default_factory=dict)
    hops: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self, hops: Iterable[tuple[str, str]], principals: Iterable[str], conditional: bool
    ) -> None:
        """The item cuts ``principals`` at ``hops`` (all of them, or one when a list of one)."""
        self.hops.update(hops)
        found = self.principals
        if conditional:
            for principal in principals:
                found.setdefault(principal, True)
        else:
            found.update(dict.fromkeys(principals, False))


def statement_cuts(
    choke: ChokeGraph, evidence: Mapping[tuple[str, str], HopEvidence]
) -> dict[ChokeItem, ItemCut]:
    """Statement -> what removing it cuts, over the critical hops whose grants are known: a
    dominating hop's principals, and a dominating hop node's when every hop onwards from it
    holds through the statement alone."""
    found: dict[ChokeItem, ItemCut] = defaultdict(ItemCut)
    for hop, grant in evidence.items():
        principals = choke.dominated.get(hop)
        if not principals:
            continue
        for item in necessary_items(grant):
            found[item].add((hop,), principals, grant.conditional)
    for node, principals in choke.through.items():
        hops = choke.onwards[node]
        if len(hops) < 2 or len(hops) > MAX_ONWARDS:
            continue  # one hop onwards is a dominator itself (above)
        common = _common_necessary(hops, evidence)
        if common:
            conditional = all(evidence[hop].conditional for hop in hops)
            for item in common:
                found[item].add(hops, principals, conditional)
    return dict(found)


def _common_necessary(
    hops: Iterable[tuple[str, str]], evidence: Mapping[tuple[str, str], HopEvidence]
) -> frozenset[ChokeItem]:
    """The items every one of ``hops`` holds through alone (none when a grant is unknown)."""
    common: frozenset[ChokeItem] | None = None
    for hop in hops:
        grant = evidence.get(hop)
        if grant is None:
            return frozenset()
        common = grant.necessary if common is None else common & grant.necessary
        if not common:
            return frozenset()
    return common or frozenset()


def rank_choke_points(
    cuts: Mapping[ChokeItem, ItemCut], *, limit: int | None = None
) -> list[ChokePoint]:
    """The greedy covering set: repeatedly the item cutting the most remaining weight (ties:
    statements before attachments and memberships, then by name, so the output is stable)."""
    covered: set[str] = set()
    picked: list[ChokePoint] = []
    # Lazy greedy: an item's weight only falls as others cover its principals, so the heap's
    # top, once brought up to date and still on top, is the best.
    heap = [
        (-_weight(cut.principals), item.kind != STATEMENT, item)
        for item, cut in cuts.items()
        if cut.principals
    ]
    heapq.heapify(heap)
    while heap and (limit is None or len(picked) < limit):
        stale, not_statement, item = heapq.heappop(heap)
        principals = {p: c for p, c in cuts[item].principals.items() if p not in covered}
        if not principals:
            continue
        weight = _weight(principals)
        if weight < -stale:
            heapq.heappush(heap, (-weight, not_statement, item))
            continue
        covered.update(principals)
        picked.append(
            ChokePoint(
                rank=len(picked) + 1,
                item=item,
                principals=sorted(principals),
                weight=weight,
                conditional=all(principals.values()),
                hops=sorted(cuts[item].hops),
            )
        )
    return picked


def _weight(principals: Mapping[str, bool]) -> float:
    return sum(CONDITIONAL_WEIGHT if conditional else 1.0 for conditional in principals.values())
