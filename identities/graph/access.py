"""The access view: who can assume what, principals → roles in one box per account, from the
stored edges (read through `identities.queries.access`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import networkx as nx

from identities.graph.build import (
    ACCESS_EDGE_KINDS,
    AGGREGATE_THRESHOLD,
    COLLECT_LIMIT,
    EDGE_LIMIT,
    MAX_DEPTH,
    MEMBER_LIMIT,
    SOURCE_CATEGORY,
    WIDE_FRONTIER,
    Builder,
    GraphError,
    Scope,
    node_source,
    outside_node,
    principal_node_id,
    split_node_id,
)
from identities.graph.cached import kept_for_run
from identities.graph.escalations import add_escalation_edges
from identities.graph.fold import EdgeKey, access_fold_steps, fold_graph, thin_out
from identities.graph.identity import account_names, risk_flags, seed_identity_node
from identities.graph.layout import bundle_parallel_edges, clear_edge_paths, layout_access
from identities.graph.overview import access_size, load_access_overview, principal_count
from identities.graph.serialise import serialise_graph
from identities.models import AccessGroup, IamRole, IamUser
from identities.queries.graph_edges import (
    EdgeSelection,
    Membership,
    StoredEdge,
    account_selection,
    any_of,
    first_source_kind,
    memberships,
    stored_edges,
)

# A neighbourhood's access edges wait for the fold rather than entering the graph one by one,
# and the members of a group are linked once (`AccessLoader`). False builds the plain way, each
# edge added as read and each group's members read again at each hop: the reference the tests
# compare the results with.
DEFER_EDGES = True


def _group_label(label: str, kind: str, count: int) -> str:
    # "users of acme-dev with PowerUserAccess" sits in the acme-dev box: drop the account.
    rest = label.split(" with ", 1)[1] if " with " in label else label
    noun = kind if count == 1 else f"{kind}s"
    return f"{count} {noun} with {rest}"


def _pks(pks: dict[str, int], node_ids: Iterable[str], kind: str) -> list[int]:
    prefix = f"{kind}:"
    return [pks[n] for n in node_ids if n.startswith(prefix) and n in pks]


class AccessLoader:
    """Adds access edges and access-group memberships to a builder, hop by hop.

    With ``defer_edges`` the access edges (``assume`` and the outside kinds) wait in
    ``pending`` for `fold_graph` instead of entering the graph: the nodes, the memberships and
    the escalations are drawn as they are read, and a neighbourhood that folds merges its tens
    of thousands of edges without drawing them one by one. The caller then hands ``pending``
    to `fold_graph`."""

    def __init__(self, builder: Builder, defer_edges: bool = False) -> None:
        self.builder = builder
        self.deferred: dict[EdgeKey, dict[str, Any]] | None = {} if defer_edges else None
        self.group_pks: dict[str, int] = {}
        self.big_groups: set[str] = set()
        # pk -> (name, account id, ARN) of users and roles, pk -> row of access groups
        self.names: dict[str, dict[int, tuple[str, str, str]]] = {"user": {}, "role": {}}
        self.groups: dict[int, tuple[str, str, str, int, str]] = {}
        self.node_ids: dict[tuple[str, int], str] = {}  # (kind, pk) -> node id, once made
        self.linked: set[int] = set()  # access groups whose members are all linked to them
        scope = builder.scope
        outcomes = {"allow", "conditional"}
        if scope.show_denied:
            outcomes.add("denied")
        if scope.conditional == "only":
            outcomes.discard("allow")
        elif scope.conditional == "none":
            outcomes.discard("conditional")
        self.outcomes = frozenset(outcomes)
        self.kinds = frozenset(k for k, c in SOURCE_CATEGORY.items() if scope.keeps_kind(c))

    def learn(self, kind: str, pks: Iterable[int | None]) -> None:
        """Fetch the names of the users or roles (or access groups) not known yet."""
        if kind == "group":
            missing = {pk for pk in pks if pk is not None and pk not in self.groups}
            if missing:
                rows = AccessGroup.objects.filter(any_of("pk", missing)).values_list(
                    "pk", "key", "label", "kind", "member_count", "account__account_id"
                )
                for pk, key, label, group_kind, count, account_id in rows:
                    self.groups[pk] = (key, label, group_kind, count, account_id)
            return
        known = self.names[kind]
        missing = {pk for pk in pks if pk is not None and pk not in known}
        if missing:
            model = IamUser if kind == "user" else IamRole
            for pk, name, account_id, arn in model.objects.filter(
                any_of("pk", missing)
            ).values_list("pk", "name", "account__account_id", "arn"):
                known[pk] = (name, account_id, arn)

    # nodes

    def principal(self, kind: str, pk: int) -> str:
        node_id = self.node_ids.get((kind, pk))
        if node_id is None:  # once per principal: a neighbourhood holds thousands of edges
            name, account_id, arn = self.names[kind][pk]
            node_id = self.node_ids[(kind, pk)] = principal_node_id(kind, account_id, name)
            # The ARN rides along: the escalation edges find the drawn principals by it.
            if self.builder.node(node_id, kind, name, account_id, arn=arn):
                self.builder.pks[node_id] = pk
        elif node_id in self.builder.graph:
            self.builder.pks[node_id] = pk
        return node_id

    def group(self, pk: int, key: str, label: str, kind: str, count: int, account_id: str) -> str:
        node_id = f"access-group:{key}"
        if node_id in self.group_pks:  # drawn: a group is the source of thousands of edges
            return node_id
        if self.builder.node(
            node_id,
            "access-group",
            _group_label(label, kind, count),
            account_id,
            count=count,
            of=kind,
            title=label,
        ):
            self.group_pks[node_id] = pk
            if count > MEMBER_LIMIT:
                self.big_groups.add(node_id)
        return node_id

    def outside(self, source: str, source_kind: str) -> str:
        node_id, kind, label, account_id = outside_node(source, source_kind)
        if node_id not in self.builder.graph:
            self.builder.graph.add_node(
                node_id, kind=kind, label=label, account=account_id, outside=True
            )
        return node_id

    # edges

    def edges(self, selection: EdgeSelection) -> None:
        """Add the stored edges of ``selection`` that the scope keeps."""
        self._add_edges(stored_edges(selection, outcomes=self.outcomes, source_kinds=self.kinds))

    @property
    def pending(self) -> dict[EdgeKey, dict[str, Any]]:
        """The access edges deferred for `fold_graph` (none without ``defer_edges``)."""
        return self.deferred or {}

    def _source(self, edge: StoredEdge) -> str:
        if edge.source_kind == "user" and edge.user_id is not None:
            return self.principal("user", edge.user_id)
        if edge.source_kind == "role" and edge.role_id is not None:
            return self.principal("role", edge.role_id)
        if edge.source_kind == "group" and edge.group_id is not None:
            return self.group(edge.group_id, *self.groups[edge.group_id])
        return self.outside(edge.source, edge.source_kind)

    def _add_edges(self, edges: list[StoredEdge]) -> None:
        self.learn("user", {edge.user_id for edge in edges})
        self.learn("role", {edge.role_id for edge in edges} | {edge.target_id for edge in edges})
        self.learn("group", {edge.group_id for edge in edges})
        deferred = self.deferred
        if deferred is None:
            for edge in edges:
                source_id = self._source(edge)
                target_id = self.principal("role", edge.target_id)
                self.builder.edge(source_id, target_id, key=("assume", edge.outcome), **_data(edge))
            return
        graph, keeps_kind = self.builder.graph, self.builder.scope.keeps_kind
        # Thousands of edges share a few sources and a few thousand targets: each end is
        # looked up once per batch, with whether it is drawn and its edges kept ("" when not;
        # a node the scope leaves out is never added later).
        sources: dict[tuple[str, str, int | None, int | None, int | None], str] = {}
        targets: dict[int, str] = {}
        keys = {outcome: ("assume", outcome) for outcome in self.outcomes}
        for edge in edges:
            ends = (edge.source_kind, edge.source, edge.user_id, edge.role_id, edge.group_id)
            start = sources.get(ends)
            if start is None:
                node_id = self._source(edge)
                kept = node_id in graph and keeps_kind(SOURCE_CATEGORY[edge.source_kind])
                start = sources[ends] = node_id if kept else ""
            end = targets.get(edge.target_id)
            if end is None:
                node_id = self.principal("role", edge.target_id)
                end = targets[edge.target_id] = node_id if node_id in graph else ""
            if start and end:
                # As `Builder.edge` would add it; the same edge read again replaces it.
                deferred[(start, end, keys[edge.outcome])] = _data(edge)

    def _inherited(self, member: Membership, roles: set[int] | None = None) -> list[StoredEdge]:
        """The group edges that hold for a member its own edges set apart, that the scope
        keeps (and that end in ``roles``, if given)."""
        return [
            edge
            for edge in member.inherited or ()
            if edge.outcome in self.outcomes
            and edge.source_kind in self.kinds
            and (roles is None or edge.target_id in roles)
        ]

    def _link(self, found: list[Membership], drawn_roles_only: bool) -> None:
        """A member to its group, or, when its own edges set it apart, to the group's roles
        that still hold for it (only those already drawn with ``drawn_roles_only``)."""
        self.learn("user", (member.user_id for member in found))
        self.learn("role", (member.role_id for member in found))
        self.learn("group", (member.group_id for member in found))
        roles = set(_pks(self.builder.pks, self.builder.graph, "role"))
        inherited = []
        for member in found:
            kind, pk = ("user", member.user_id) if member.user_id else ("role", member.role_id)
            assert pk is not None
            if member.inherited is None:
                group = self.group(member.group_id, *self.groups[member.group_id])
                self.builder.edge(self.principal(kind, pk), group, "in-group", key=("in-group", ""))
            else:
                inherited += self._inherited(member, roles if drawn_roles_only else None)
        self._add_edges(inherited)

    def members(self, group_node_ids: Iterable[str]) -> None:
        """Link the members of these access groups (the small ones) to their group."""
        wanted = [
            self.group_pks[n]
            for n in group_node_ids
            if n in self.group_pks and n not in self.big_groups
        ]
        if self.deferred is not None:
            wanted = [pk for pk in wanted if pk not in self.linked]
        if wanted:
            roles = set(_pks(self.builder.pks, self.builder.graph, "role"))
            found = memberships(groups=wanted, targets=roles)
            self._link(found, drawn_roles_only=True)
            # Linked again, a group whose members all hold its edges would add nothing; one
            # with a member set apart may, to the roles drawn since.
            self.linked.update(set(wanted) - {m.group_id for m in found if m.inherited is not None})

    def groups_of(self, node_ids: Iterable[str]) -> None:
        """Add the access group of each user or role (if the group has stored edges)."""
        node_ids = list(node_ids)
        users = _pks(self.builder.pks, node_ids, "user")
        roles = _pks(self.builder.pks, node_ids, "role")
        if users or roles:
            found = memberships(users=users, roles=roles, with_edges=True)
            self._link(found, drawn_roles_only=False)

    def _selection(self, sources: set[str], groups: Iterable[str]) -> EdgeSelection:
        """The edges from these principals, outside parties and access groups."""
        graph, pks = self.builder.graph, self.builder.pks
        return EdgeSelection(
            source_roles=_pks(pks, sources, "role"),
            source_users=_pks(pks, sources, "user"),
            source_groups=[self.group_pks[n] for n in groups if n in self.group_pks],
            sources=[node_source(n) for n in sources if graph.nodes[n].get("outside")],
        )

    def grow(self, frontier: set[str]) -> set[str]:
        """One hop in both directions from the frontier; returns the new nodes."""
        before = set(self.builder.graph)
        selection = self._selection(frontier, frontier)
        roles = _pks(self.builder.pks, frontier, "role")
        self.edges(replace(selection, targets=roles))
        self.groups_of(frontier)
        self.members(n for n in frontier if n in self.group_pks)
        add_escalation_edges(self.builder, out_of=frontier, into=frontier)
        return set(self.builder.graph) - before

    def reach(self, up: set[str], down: set[str]) -> tuple[set[str], set[str]]:
        """One role assumption further in each direction: who can assume the ``up`` roles, and
        what the ``down`` principals can assume. An access group and its members count as one
        step with their edges (their edges are the members' edges); returns the new nodes of
        each direction."""
        graph = self.builder.graph
        before = set(graph)
        roles = _pks(self.builder.pks, up, "role")
        if roles:
            self.edges(EdgeSelection(targets=roles))
        sources = (set(graph) - before) | up
        self.members(n for n in sources if n in self.group_pks)
        new_up = set(graph) - before
        before = set(graph)
        self.groups_of(down)
        reached = (set(graph) - before) | down
        self.edges(self._selection(down, reached))
        new_down = set(graph) - before
        # Escalations are a step too: who can become an ``up`` principal, whom ``down`` can become.
        targets, sources, _ = add_escalation_edges(self.builder, out_of=down, into=up)
        return new_up | sources, new_down | targets


def _data(edge: StoredEdge) -> dict[str, Any]:
    """The attributes of the graph edge drawn for a stored edge."""
    limited = edge.outcome != "allow"
    return {
        "kind": SOURCE_CATEGORY[edge.source_kind],
        "outcome": edge.outcome,
        "conditions": list(edge.conditions) if limited else [],
        "requirements": list(edge.requirements) if limited else [],
        "action": edge.action,
        "via": "pass-role" if edge.via_pass_role else "",
    }


def seed_access_node(loader: AccessLoader, node_id: str) -> None:
    builder = loader.builder
    kind, key = split_node_id(node_id)
    if kind in {"user", "role"}:
        seed_identity_node(builder, node_id)
    elif kind == "access-group":
        row = (
            AccessGroup.objects.filter(key=key)
            .values_list("pk", "key", "label", "kind", "member_count", "account__account_id")
            .first()
        )
        if row is None:
            raise GraphError(f"No access group {key} in the current analysis.")
        loader.group(*row)
    elif kind in {"anyone", "service", "federated", "account", "external"}:
        source = node_source(node_id)
        source_kind = first_source_kind(source)
        if source_kind is None:
            raise GraphError(f"No access edge comes from {source}.")
        loader.outside(source, source_kind)
    else:
        raise GraphError(f"The access view has no {kind} nodes.")


@kept_for_run("access")
def build_access_graph(
    *,
    account_id: str = "",
    focus: str = "",
    depth: int = 2,
    expand: Iterable[str] = (),
    edge_kinds: Iterable[str] = (),
    accounts: Iterable[str] = (),
    conditional: str = "",
    show_denied: bool = False,
    threshold: int = AGGREGATE_THRESHOLD,
    direction: str = "",
    full: bool = False,
) -> dict[str, Any]:
    """Who can assume what: principals → roles, in one box per account, from the stored edges.

    Scope: around the ``focus`` node, ``depth`` role assumptions each way (who can reach it,
    and what it can reach; an access group counts with its members; ``direction`` "in" or
    "out" asks only one of the two questions; past the first hop, a frontier of more than
    `WIDE_FRONTIER` nodes ends the growth unless ``full``), or every edge into or
    out of ``account_id``, or the whole estate. ``expand`` merges in every neighbour of a
    node. An edge from an access group holds for each of its members, unless the member's own
    edge for the role replaces it (`identities.queries.access`); such a member is drawn with
    its own edges instead of as one of the group:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html
    """
    scope = Scope(
        edge_kinds=frozenset(edge_kinds) & frozenset(ACCESS_EDGE_KINDS),
        accounts=frozenset(accounts),
        conditional=conditional if conditional in {"only", "none"} else "",
        show_denied=show_denied,
    )
    builder = Builder(scope)
    loader = AccessLoader(builder, defer_edges=DEFER_EDGES)
    folded_by_sql = False
    stopped: dict[str, int] | None = None
    if focus:
        seed_access_node(loader, focus)
        if focus not in builder.graph:  # e.g. `anyone:x`, seeded as `anyone`
            raise GraphError(f"Not a node id of the access view: {focus!r}")
        up = {focus} if direction != "out" else set()
        down = {focus} if direction != "in" else set()
        for hop in range(max(0, min(depth, MAX_DEPTH))):
            if len(builder.graph) > COLLECT_LIMIT:
                builder.truncated = True
                break
            frontier = len(up | down)
            if hop and not full and frontier > WIDE_FRONTIER:
                stopped = {"hops": hop, "frontier": frontier, "depth": depth}
                break
            up, down = loader.reach(up, down)
            if not up and not down:
                break
    else:
        where = account_selection(account_id) if account_id else EdgeSelection(every=True)
        # An account holding half the threshold in principals overflows it with the parties
        # it trusts or is trusted by; below that, the database counts what would be drawn.
        folded_by_sql = principal_count(account_id) > threshold // 2 or (
            access_size(where, scope) > threshold
        )
        if folded_by_sql:
            load_access_overview(builder, where, account_id)
        else:
            loader.edges(where)
            loader.members(list(loader.group_pks))
    expand = list(expand)
    if expanded := builder.seed_all(expand, lambda node_id: seed_access_node(loader, node_id)):
        loader.grow(expanded)
    escalations_hidden = 0
    if not folded_by_sql:
        # Around a focus, the steps above drew the escalations within reach: only those
        # between the principals drawn are left.
        *_, escalations_hidden = add_escalation_edges(builder, add_ends=not focus)
    graph, folded = fold_graph(
        builder.graph,
        # A view stopped at a wide frontier folds it, as the next hop would have.
        threshold if stopped is None else min(threshold, WIDE_FRONTIER),
        access_fold_steps,
        focus=focus,
        keep=expand,
        pending=loader.pending,
    )
    if not focus and folded_by_sql:
        folded = ["users", "roles", "access groups"]
    hidden = thin_out(graph, EDGE_LIMIT) if folded else 0
    names = account_names()
    positions, boxes, parents = layout_access(graph, names)
    data = serialise_graph(
        graph,
        positions,
        view="access",
        extra_nodes=boxes,
        parents=parents,
        account_names=names,
        stats={
            "truncated": builder.truncated,
            "folded": folded,
            "focus": focus,
            "direction": direction if focus else "",
            # Hops taken and the frontier they stopped at, when a wide one ended the growth.
            "stopped": stopped,
            "edges_hidden": hidden + escalations_hidden,
            # Asked for, and how many the view holds: "none in this view" is an answer too.
            "refused": _refused_count(graph) if show_denied else None,
        },
        flags=risk_flags(graph, builder.pks),
    )
    clear_edge_paths(data["nodes"], data["edges"])
    data["bundles"] = bundle_parallel_edges(data["nodes"], data["edges"])
    return data


def _refused_count(graph: nx.MultiDiGraph) -> int:
    """The refused candidates drawn (a folded edge counts the edges it stands for)."""
    return sum(
        data.get("count", 1)
        for *_, data in graph.edges(data=True)
        if data.get("outcome") == "denied"
    )
