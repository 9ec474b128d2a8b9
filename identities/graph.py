"""Graphs for one page: small networkx graphs read from the estate tables and the stored access
edges, laid out on the server and returned as plain JSON-able dicts.

Every public builder returns ``{"nodes": [...], "edges": [...], "aggregated": bool, "stats":
{...}}``. Positions are computed here, never in the browser, and depend only on the data: nodes
are ordered by sorted keys and barycentres, so the same data gives the same picture. Past
``AGGREGATE_THRESHOLD`` nodes a view folds users by IAM group, roles by account and policies by
kind, in that order, until it fits, and each folded node carries the view to drill into.

Node ids are permalink-friendly and survive re-imports: ``user:<account id>:<name>``,
``group:…``, ``role:…``, ``policy:<ARN>`` (one node per AWS-managed policy, whatever the
number of accounts holding a copy), ``inline:<owner kind>:<account id>:<owner>:<policy name>``
(IAM names never contain ``:``), and outside parties ``service:<principal>``,
``federated:<provider ARN or web identity>``, ``account:<id>`` (an account root outside the
estate), ``external:<ARN>``, ``anyone``.

The analysis computes access edges once per import; nothing here re-evaluates a policy.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit
from xml.sax.saxutils import escape

import networkx as nx
import orjson
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from identities.analysis.reach import GROUP_PREFIX, VIA_PREFIX, is_hop_node, load_graph
from identities.models import (
    AccessEdge,
    AccessGroup,
    AccessGroupMember,
    Account,
    Administrator,
    AnalysisRun,
    Finding,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
)

logger = logging.getLogger(__name__)

AGGREGATE_THRESHOLD = 1500
# A folded view draws at most this many edges, the heaviest (see _thin_out).
EDGE_LIMIT = 400
# A neighbourhood stops growing past this many nodes (it is then folded to fit the threshold).
COLLECT_LIMIT = 20000
MAX_DEPTH = 4
MAX_PATH_LENGTH = 6
MAX_PATHS = 50

COLUMN_WIDTH = 320
ROW_HEIGHT = 58
BAND_GAP = 90
NODE_WIDTH = 190
NODE_WIDTH_MAX = 270
LABEL_WIDTH = 34  # characters a line of a node label holds at NODE_WIDTH_MAX
# Width over height of the canvas the account boxes are packed for.
CANVAS_ASPECT = 1.8

IDENTITY_EDGE_KINDS = ("member", "attached", "inline", "boundary")
ACCESS_EDGE_KINDS = ("assume", "federated", "service", "anyone", "outside")
_FILTERABLE_KINDS = frozenset(IDENTITY_EDGE_KINDS + ACCESS_EDGE_KINDS)
EDGE_KIND_LABELS = {
    "member": "member of",
    "attached": "has managed policy",
    "inline": "has inline policy",
    "boundary": "bounded by",
    "assume": "can assume",
    "pass-role": "can pass to a service",
    "in-group": "shares access of",
    "folded": "folded edges",
}
NODE_KIND_LABELS = {
    "user": "IAM user",
    "group": "IAM group",
    "role": "IAM role",
    "policy-aws": "AWS-managed policy",
    "policy-customer": "Customer-managed policy",
    "inline": "Inline policy",
    "service": "AWS service",
    "federated": "Federated provider",
    "account": "Account outside the estate",
    "external": "Principal outside the estate",
    "anyone": "Anyone (*)",
    "access-group": "Principals with the same access",
    "aggregate": "Folded nodes",
    "box": "Account",
    "column": "Column",
}
PRINCIPAL_KINDS = ("user", "group", "role")
_NODE_ID = re.compile(r"^(?P<kind>[a-z-]+)(?::(?P<key>.+))?$")


class GraphError(ValueError):
    """A focus, source or target that names no node of the estate."""


# --- node ids -------------------------------------------------------------------------------


def principal_node_id(kind: str, account_id: str, name: str) -> str:
    return f"{kind}:{account_id}:{name}"


def split_node_id(node_id: str) -> tuple[str, str]:
    """``("role", "444444444444:deploy")`` from ``"role:444444444444:deploy"``."""
    match = _NODE_ID.match(node_id or "")
    if not match:
        raise GraphError(f"Not a node id: {node_id!r}")
    return match["kind"], match["key"] or ""


def _account_and_name(key: str) -> tuple[str, str]:
    account_id, _, name = key.partition(":")
    if not re.fullmatch(r"\d{12}", account_id) or not name:
        raise GraphError(f"Expected <account id>:<name>, got {key!r}")
    return account_id, name


def _policy_kind(arn: str) -> str:
    return "policy-aws" if ":iam::aws:policy/" in arn else "policy-customer"


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


# --- URLs without a reverse() per node ------------------------------------------------------


class _Urls:
    """Prefixes reversed once per request; a node's URL is then string formatting."""

    def __init__(self) -> None:
        self.panel = reverse("identities:graph-node", args=["K", "X"]).removesuffix("K/X")
        account = reverse("identities:account-detail", args=["000000000000"])
        self.account = account.removesuffix("000000000000/")

    def panel_url(self, node_id: str) -> str:
        kind, key = split_node_id(node_id)
        return f"{self.panel}{kind}/{quote(key or '-', safe=':/@+=,.-_*')}"

    def detail_url(self, node_id: str) -> str:
        kind, key = split_node_id(node_id)
        if kind in PRINCIPAL_KINDS:
            account_id, name = key.split(":", 1)
            return f"{self.account}{account_id}/{kind}s/{quote(name, safe='@+=,.-_')}/"
        if kind.startswith("policy-") or kind == "policy":
            return ""
        return ""


# --- the graph in memory --------------------------------------------------------------------


@dataclass
class _Scope:
    """What a view shows and hides."""

    edge_kinds: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    hide_aws_managed: bool = False
    conditional: str = ""  # "" | "only" | "none"
    show_denied: bool = False

    def keeps_kind(self, kind: str) -> bool:
        # Structural edges (a member to its access group) are not a filter choice.
        return not self.edge_kinds or kind in self.edge_kinds or kind not in _FILTERABLE_KINDS

    def keeps_account(self, account_id: str) -> bool:
        # Outside parties and AWS-managed policies belong to no account of the estate.
        return not self.accounts or not account_id or account_id in self.accounts


@dataclass
class _Builder:
    scope: _Scope
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    pks: dict[str, int] = field(default_factory=dict)
    truncated: bool = False

    def node(self, node_id: str, kind: str, label: str, account: str = "", **extra: Any) -> bool:
        """Add a node unless the filters hide it; True when it is (now) in the graph."""
        if node_id in self.graph:
            return True
        if kind == "policy-aws" and self.scope.hide_aws_managed:
            return False
        if not self.scope.keeps_account(account):
            return False
        self.graph.add_node(node_id, kind=kind, label=label, account=account, **extra)
        return True

    def edge(self, source: str, target: str, kind: str, **extra: Any) -> None:
        if source in self.graph and target in self.graph and self.scope.keeps_kind(kind):
            key = extra.pop("key", kind)
            self.graph.add_edge(source, target, key=key, kind=kind, **extra)


# --- identity view: users -> groups -> policies <- roles ------------------------------------

_PRINCIPAL_VALUES = ("pk", "name", "account__account_id")


def _add_principal(builder: _Builder, kind: str, pk: int, name: str, account_id: str) -> str:
    node_id = principal_node_id(kind, account_id, name)
    if builder.node(node_id, kind, name, account_id):
        builder.pks[node_id] = pk
    return node_id


def _add_policy(builder: _Builder, arn: str, name: str, account_id: str) -> str:
    kind = _policy_kind(arn)
    node_id = f"policy:{arn}"
    builder.node(node_id, kind, name, "" if kind == "policy-aws" else account_id)
    return node_id


def _add_inline(builder: _Builder, pk: int, name: str, owner_kind: str, owner_name: str,
                account_id: str) -> str:  # fmt: skip
    node_id = f"inline:{owner_kind}:{account_id}:{owner_name}:{name}"
    if builder.node(node_id, "inline", name, account_id, owner=f"{owner_kind} {owner_name}"):
        builder.pks[node_id] = pk
    return node_id


def _load_identity_edges(
    builder: _Builder,
    *,
    users: Q | None,
    groups: Q | None,
    roles: Q | None,
    policy_arns: Iterable[str] = (),
    inline_pks: Iterable[int] = (),
) -> None:
    """Add the identity edges touching the principals matched by the three Q objects (None:
    none), the managed policies with these ARNs and the inline policies with these pks."""
    scope = builder.scope
    policy_arns = list(policy_arns)
    inline_pks = list(inline_pks)
    nothing = Q(pk__in=[])
    owners = {"user": users, "group": groups, "role": roles}

    if scope.keeps_kind("member") and (users is not None or groups is not None):
        where = nothing
        if users is not None:
            where |= Q(user__in=IamUser.objects.filter(users).values("pk"))
        if groups is not None:
            where |= Q(group__in=IamGroup.objects.filter(groups).values("pk"))
        rows = GroupMembership.objects.filter(where).values_list(
            "user_id", "user__name", "user__account__account_id",
            "group_id", "group__name", "group__account__account_id",
        )  # fmt: skip
        for user_pk, user, user_account, group_pk, group, group_account in rows:
            source = _add_principal(builder, "user", user_pk, user, user_account)
            target = _add_principal(builder, "group", group_pk, group, group_account)
            builder.edge(source, target, "member")

    if scope.keeps_kind("attached"):
        where = nothing
        for kind, q in owners.items():
            if q is not None:
                model = {"user": IamUser, "group": IamGroup, "role": IamRole}[kind]
                where |= Q(**{f"{kind}__in": model.objects.filter(q).values("pk")})
        if policy_arns:
            where |= Q(policy__arn__in=policy_arns)
        if scope.hide_aws_managed:
            where &= Q(policy__is_aws_managed=False)
        rows = PolicyAttachment.objects.filter(where).values_list(
            "policy__arn", "policy__name", "policy__account__account_id",
            "user_id", "user__name", "user__account__account_id",
            "group_id", "group__name", "group__account__account_id",
            "role_id", "role__name", "role__account__account_id",
        )  # fmt: skip
        for arn, name, policy_account, *owner_columns in rows:
            target = _add_policy(builder, arn, name, policy_account)
            for index, kind in enumerate(PRINCIPAL_KINDS):
                pk, owner, account_id = owner_columns[index * 3 : index * 3 + 3]
                if pk is not None:
                    source = _add_principal(builder, kind, pk, owner, account_id)
                    builder.edge(source, target, "attached")

    if scope.keeps_kind("inline"):
        where = Q(pk__in=inline_pks) if inline_pks else nothing
        for kind, q in owners.items():
            if q is not None:
                model = {"user": IamUser, "group": IamGroup, "role": IamRole}[kind]
                where |= Q(**{f"{kind}__in": model.objects.filter(q).values("pk")})
        rows = InlinePolicy.objects.filter(where).values_list(
            "pk", "name", "account__account_id",
            "user_id", "user__name", "group_id", "group__name", "role_id", "role__name",
        )  # fmt: skip
        for pk, name, account_id, *owner_columns in rows:
            for index, kind in enumerate(PRINCIPAL_KINDS):
                owner_pk, owner = owner_columns[index * 2 : index * 2 + 2]
                if owner_pk is not None:
                    source = _add_principal(builder, kind, owner_pk, owner, account_id)
                    target = _add_inline(builder, pk, name, kind, owner, account_id)
                    builder.edge(source, target, "inline")

    if scope.keeps_kind("boundary"):
        for kind, model, q in (("user", IamUser, users), ("role", IamRole, roles)):
            where = nothing
            if q is not None:
                where |= q
            if policy_arns:
                where |= Q(boundary_arn__in=policy_arns)
            rows = (
                model.objects.filter(where)
                .exclude(boundary_arn="")
                .values_list(*_PRINCIPAL_VALUES, "boundary_arn")
            )
            for pk, name, account_id, boundary_arn in rows:
                source = _add_principal(builder, kind, pk, name, account_id)
                target = _add_policy(builder, boundary_arn, _policy_name(boundary_arn), account_id)
                builder.edge(source, target, "boundary")


def _grow_identity(builder: _Builder, frontier: set[str]) -> set[str]:
    """Add every identity neighbour of the frontier nodes; return the nodes that are new."""
    before = set(builder.graph)
    by_kind: dict[str, list[int]] = defaultdict(list)
    arns: list[str] = []
    for node_id in frontier:
        kind, key = split_node_id(node_id)
        if kind == "policy":
            arns.append(key)
        elif node_id in builder.pks:
            by_kind[kind].append(builder.pks[node_id])
    _load_identity_edges(
        builder,
        users=Q(pk__in=by_kind["user"]) if by_kind["user"] else None,
        groups=Q(pk__in=by_kind["group"]) if by_kind["group"] else None,
        roles=Q(pk__in=by_kind["role"]) if by_kind["role"] else None,
        policy_arns=arns,
        inline_pks=by_kind["inline"],
    )
    return set(builder.graph) - before


def _seed_identity_node(builder: _Builder, node_id: str) -> None:
    """Put one named node in the graph, or raise GraphError when the estate has no such node."""
    kind, key = split_node_id(node_id)
    if kind in PRINCIPAL_KINDS:
        account_id, name = _account_and_name(key)
        model = {"user": IamUser, "group": IamGroup, "role": IamRole}[kind]
        pk = (
            model.objects.filter(account__account_id=account_id, name=name)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise GraphError(f"No IAM {kind} named {name!r} in account {account_id}.")
        builder.graph.add_node(node_id, kind=kind, label=name, account=account_id)
        builder.pks[node_id] = pk
    elif kind == "policy":
        row = ManagedPolicy.objects.filter(arn=key).values_list("name", "account__account_id")
        found = row.first()
        if found is None:
            raise GraphError(f"No managed policy {key}.")
        kind = _policy_kind(key)
        builder.graph.add_node(
            node_id, kind=kind, label=found[0], account="" if kind == "policy-aws" else found[1]
        )
    elif kind == "inline":
        owner_kind, account_id, owner, name = (key.split(":", 3) + ["", "", ""])[:4]
        if owner_kind not in PRINCIPAL_KINDS:
            raise GraphError(f"Not an inline policy id: {node_id!r}")
        pk = (
            InlinePolicy.objects.filter(
                account__account_id=account_id, name=name, **{f"{owner_kind}__name": owner}
            )
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise GraphError(f"No inline policy {name!r} on {owner_kind} {owner}.")
        builder.graph.add_node(
            node_id, kind="inline", label=name, account=account_id, owner=f"{owner_kind} {owner}"
        )
        builder.pks[node_id] = pk
    else:
        raise GraphError(f"The identity view has no {kind} nodes.")


def build_identity_graph(
    *,
    account_id: str = "",
    focus: str = "",
    depth: int = 2,
    expand: Iterable[str] = (),
    edge_kinds: Iterable[str] = (),
    accounts: Iterable[str] = (),
    hide_aws_managed: bool = False,
    threshold: int = AGGREGATE_THRESHOLD,
) -> dict[str, Any]:
    """Users → groups → policies ← roles, in four columns, for one account or around a node.

    With ``focus`` the view is every node within ``depth`` hops of it (edges taken in either
    direction); with ``account_id`` it is every user, group and role of the account and their
    policies. ``expand`` merges in the neighbours of further nodes. A user's policies are its
    own and those of its groups:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html
    """
    scope = _Scope(
        edge_kinds=frozenset(edge_kinds) & frozenset(IDENTITY_EDGE_KINDS),
        accounts=frozenset(accounts),
        hide_aws_managed=hide_aws_managed,
    )
    builder = _Builder(scope)
    folded_by_sql = False
    if focus:
        _seed_identity_node(builder, focus)
        frontier = {focus}
        for _ in range(max(0, min(depth, MAX_DEPTH))):
            if len(builder.graph) > COLLECT_LIMIT:
                builder.truncated = True
                break
            frontier = _grow_identity(builder, frontier)
            if not frontier:
                break
    else:
        in_scope = Q(account__account_id=account_id) if account_id else Q()
        if scope.accounts:
            in_scope &= Q(account__account_id__in=sorted(scope.accounts))
        if not account_id and _principal_count("", scope.accounts) > threshold:
            _load_identity_overview(builder)
            folded_by_sql = True
        else:
            for kind, model in (("user", IamUser), ("group", IamGroup), ("role", IamRole)):
                for pk, name, account in model.objects.filter(in_scope).values_list(
                    *_PRINCIPAL_VALUES
                ):
                    _add_principal(builder, kind, pk, name, account)
            _load_identity_edges(builder, users=in_scope, groups=in_scope, roles=in_scope)
    expanded = [node_id for node_id in expand if node_id]
    for node_id in expanded:
        if node_id not in builder.graph:
            try:
                _seed_identity_node(builder, node_id)
            except GraphError:
                continue
    if expanded:
        _grow_identity(builder, set(expanded))
    graph, folded = _fold(builder.graph, threshold, _identity_fold_steps, focus=focus)
    if folded_by_sql:
        folded = ["users", "roles", "policies"]
    positions, columns = _layout_columns(graph)
    return _serialise(
        graph,
        positions,
        view="identity",
        extra_nodes=columns,
        stats={"truncated": builder.truncated, "folded": folded, "focus": focus},
        pks=builder.pks,
    )


def _load_identity_overview(builder: _Builder) -> None:
    """The identity view of an estate past the threshold: per account, its users, groups,
    roles, customer-managed and inline policies as one node each (AWS-managed policies as one
    node), the memberships and attachments between them counted by the database."""
    scope = builder.scope
    account_of = dict(Account.objects.values_list("pk", "account_id"))

    def node(of: str, account: str) -> str | None:
        if of == "policy-aws":
            if scope.hide_aws_managed:
                return None
            account = ""
        elif not scope.keeps_account(account):
            return None
        node_id = f"agg:{of}:{account}" if account else f"agg:{of}"
        if node_id not in builder.graph:
            label = {
                "user": "users",
                "group": "groups",
                "role": "roles",
                "policy-aws": "AWS-managed policies",
                "policy-customer": "customer-managed policies",
                "inline": "inline policies",
            }[of]
            drill = {"view": "identity", "account": account} if account else {"hide_aws": ""}
            builder.graph.add_node(
                node_id, kind="aggregate", label=label, account=account, of=of, count=0,
                drill=drill, sample=[],
            )  # fmt: skip
        return node_id

    def link(source: str | None, target: str | None, kind: str, n: int) -> None:
        if source and target and scope.keeps_kind(kind):
            key = (kind, "")
            if builder.graph.has_edge(source, target, key):
                builder.graph.edges[source, target, key]["count"] += n
            else:
                builder.graph.add_edge(source, target, key=key, kind=kind, count=n)

    for model, of in ((IamUser, "user"), (IamGroup, "group"), (IamRole, "role")):
        for account_pk, n in model.objects.values_list("account_id").annotate(n=Count("pk")):
            if node_id := node(of, account_of[account_pk]):
                builder.graph.nodes[node_id]["count"] = n
    for account_pk, n in (
        ManagedPolicy.objects.filter(is_aws_managed=False)
        .values_list("account_id")
        .annotate(n=Count("pk"))
    ):
        if node_id := node("policy-customer", account_of[account_pk]):
            builder.graph.nodes[node_id]["count"] = n
    if aws := node("policy-aws", ""):
        builder.graph.nodes[aws]["count"] = (
            ManagedPolicy.objects.filter(is_aws_managed=True).values("arn").distinct().count()
        )
    for account_pk, n in GroupMembership.objects.values_list("group__account_id").annotate(
        n=Count("pk")
    ):
        account = account_of[account_pk]
        link(node("user", account), node("group", account), "member", n)
    for owner in PRINCIPAL_KINDS:
        rows = (
            PolicyAttachment.objects.filter(**{f"{owner}__isnull": False})
            .values_list("policy__account_id", "policy__is_aws_managed")
            .annotate(n=Count("pk"))
        )
        for account_pk, aws_managed, n in rows:
            account = account_of[account_pk]
            target = node("policy-aws" if aws_managed else "policy-customer", account)
            link(node(owner, account), target, "attached", n)
        inline = (
            InlinePolicy.objects.filter(**{f"{owner}__isnull": False})
            .values_list("account_id")
            .annotate(n=Count("pk"))
        )
        for account_pk, n in inline:
            account = account_of[account_pk]
            inline_node = node("inline", account)
            link(node(owner, account), inline_node, "inline", n)
            if inline_node:
                builder.graph.nodes[inline_node]["count"] += n


# --- access view: who can assume what ------------------------------------------------------

# Members of an access group are drawn one by one up to this many; past it the group node alone
# stands for them (its panel lists them).
MEMBER_LIMIT = 25
_SOURCE_CATEGORY = {
    "user": "assume",
    "role": "assume",
    "group": "assume",
    "account": "outside",
    "external": "outside",
    "service": "service",
    "federated": "federated",
    "anyone": "anyone",
}
_EDGE_VALUES = (
    "source",
    "source_kind",
    "source_user_id",
    "source_role_id",
    "source_group_id",
    "target_id",
    "action",
    "outcome",
    "conditions_text",
    "via_pass_role",
)
_KIND = _EDGE_VALUES.index("source_kind")
_OUTCOME = _EDGE_VALUES.index("outcome")
_ARN_ACCOUNT = re.compile(r"^arn:[\w-]+:(?:iam|sts)::(\d{12}):")


def outside_node(source: str, source_kind: str) -> tuple[str, str, str, str]:
    """(node id, kind, label, account) of an access edge source that is not an IAM principal
    of the estate."""
    if source_kind == "anyone":
        return "anyone", "anyone", "Anyone (*)", ""
    if source_kind == "service":
        name = source.removeprefix("service:")
        return f"service:{name}", "service", name, ""
    if source_kind == "federated":
        provider = source.removeprefix("federated:")
        match = _ARN_ACCOUNT.match(provider)
        kind = "SAML" if ":saml-provider/" in provider else "OIDC"
        label = f"{provider.rsplit('/', 1)[-1]} ({kind})" if match else provider
        return f"federated:{provider}", "federated", label, match[1] if match else ""
    match = _ARN_ACCOUNT.match(source)
    account_id = match[1] if match else ""
    if source_kind == "account":
        return f"account:{account_id}", "account", f"account {account_id} (root)", account_id
    return f"external:{source}", "external", source.split(":", 5)[-1], account_id


def node_source(node_id: str) -> str:
    """The ``AccessEdge.source`` string of an outside or access-group node id."""
    kind, key = split_node_id(node_id)
    if kind == "anyone":
        return "*"
    if kind in {"service", "federated"}:
        return node_id
    if kind == "account":
        return f"arn:aws:iam::{key}:root"
    if kind == "external":
        return key
    if kind == "access-group":
        return f"group:{key}"
    raise GraphError(f"{node_id!r} is not an outside party or access group")


def _group_label(label: str, kind: str, count: int) -> str:
    # "users of acme-dev with PowerUserAccess" sits in the acme-dev box: drop the account.
    rest = label.split(" with ", 1)[1] if " with " in label else label
    noun = kind if count == 1 else f"{kind}s"
    return f"{count} {noun} with {rest}"


class _AccessLoader:
    """Adds access edges and access-group memberships to a builder, hop by hop."""

    def __init__(self, builder: _Builder) -> None:
        self.builder = builder
        self.group_pks: dict[str, int] = {}
        self.big_groups: set[str] = set()
        # pk -> (name, account id) of users and roles, pk -> row of access groups
        self.names: dict[str, dict[int, tuple[str, str]]] = {"user": {}, "role": {}}
        self.groups: dict[int, tuple[str, str, str, int, str]] = {}

    def learn(self, kind: str, pks: Iterable[int]) -> None:
        """Fetch the names of the users or roles (or access groups) not known yet."""
        if kind == "group":
            missing = {pk for pk in pks if pk is not None and pk not in self.groups}
            if missing:
                rows = AccessGroup.objects.filter(pk__in=missing).values_list(
                    "pk", "key", "label", "kind", "member_count", "account__account_id"
                )
                for pk, *row in rows:
                    self.groups[pk] = tuple(row)  # type: ignore[assignment]
            return
        known = self.names[kind]
        missing = {pk for pk in pks if pk is not None and pk not in known}
        if missing:
            model = IamUser if kind == "user" else IamRole
            for pk, name, account_id in model.objects.filter(pk__in=missing).values_list(
                "pk", "name", "account__account_id"
            ):
                known[pk] = (name, account_id)

    # nodes

    def principal(self, kind: str, name: str, account_id: str, pk: int | None = None) -> str:
        node_id = principal_node_id(kind, account_id, name)
        if self.builder.node(node_id, kind, name, account_id) and pk is not None:
            self.builder.pks[node_id] = pk
        return node_id

    def group(self, pk: int, key: str, label: str, kind: str, count: int, account_id: str) -> str:
        node_id = f"access-group:{key}"
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

    def edges(self, parts: Iterable[Q]) -> None:
        """Add the stored edges matching any of ``parts`` that the scope keeps.

        One query per part, each on one indexed column, and the outcome and kind filters
        applied here: an OR across columns (or an outcome filter the planner misjudges on a
        freshly loaded table) can turn into a scan of every edge of the estate.
        """
        scope = self.builder.scope
        outcomes = {"allow", "conditional"}
        if scope.show_denied:
            outcomes.add("denied")
        if scope.conditional == "only":
            outcomes.discard("allow")
        elif scope.conditional == "none":
            outcomes.discard("conditional")
        kinds = {k for k, category in _SOURCE_CATEGORY.items() if scope.keeps_kind(category)}
        seen: set[int] = set()
        rows = []
        for part in parts:
            query = AccessEdge.objects.filter(part).annotate(
                conditions_text=Cast("condition_keys", TextField())
            )
            for pk, *row in query.values_list("pk", *_EDGE_VALUES):
                if pk in seen or row[_OUTCOME] not in outcomes or row[_KIND] not in kinds:
                    continue
                seen.add(pk)
                rows.append(row)
        self.learn("user", (row[2] for row in rows))
        self.learn("role", (pk for row in rows for pk in (row[3], row[5])))
        self.learn("group", (row[4] for row in rows))
        for row in rows:
            self._add_edge(row)

    def _add_edge(self, row: list[Any]) -> None:
        (
            source, source_kind, user_pk, role_pk, group_pk, target_pk, action, outcome,
            conditions_text, via_pass_role,
        ) = row  # fmt: skip
        if source_kind == "user":
            source_id = self.principal("user", *self.names["user"][user_pk], user_pk)
        elif source_kind == "role":
            source_id = self.principal("role", *self.names["role"][role_pk], role_pk)
        elif source_kind == "group":
            source_id = self.group(group_pk, *self.groups[group_pk])
        else:
            source_id = self.outside(source, source_kind)
        target_id = self.principal("role", *self.names["role"][target_pk], target_pk)
        conditions = orjson.loads(conditions_text) if outcome != "allow" and conditions_text else []
        self.builder.edge(
            source_id,
            target_id,
            _SOURCE_CATEGORY[source_kind],
            key=("assume", outcome),
            outcome=outcome,
            conditions=conditions,
            action=action,
            via="pass-role" if via_pass_role else "",
        )

    def members(self, group_node_ids: Iterable[str]) -> None:
        """Link the members of these access groups (the small ones) to their group."""
        wanted = {
            self.group_pks[n]: n
            for n in group_node_ids
            if n in self.group_pks and n not in self.big_groups
        }
        if not wanted:
            return
        rows = list(
            AccessGroupMember.objects.filter(group_id__in=wanted).values_list(
                "group_id", "user_id", "role_id"
            )
        )
        self.learn("user", (user_pk for _, user_pk, _ in rows))
        self.learn("role", (role_pk for _, _, role_pk in rows))
        for group_pk, user_pk, role_pk in rows:
            if user_pk is not None:
                member = self.principal("user", *self.names["user"][user_pk], user_pk)
            else:
                member = self.principal("role", *self.names["role"][role_pk], role_pk)
            self.builder.edge(member, wanted[group_pk], "in-group", key=("in-group", ""))

    def groups_of(self, node_ids: Iterable[str]) -> None:
        """Add the access group of each user or role (if the group has possible edges)."""
        users = [
            self.builder.pks[n] for n in node_ids if n.startswith("user:") and n in self.builder.pks
        ]
        roles = [
            self.builder.pks[n] for n in node_ids if n.startswith("role:") and n in self.builder.pks
        ]
        if not users and not roles:
            return
        with_edges = AccessEdge.objects.filter(source_group=OuterRef("group_id"))
        rows = (
            AccessGroupMember.objects.filter(Q(user_id__in=users) | Q(role_id__in=roles))
            .filter(Exists(with_edges))
            .values_list(
                "group_id", "group__key", "group__label", "group__kind", "group__member_count",
                "group__account__account_id", "user__name", "role__name",
            )
        )  # fmt: skip
        for pk, key, label, kind, count, account_id, user, role in rows:
            group_id = self.group(pk, key, label, kind, count, account_id)
            member = principal_node_id(kind, account_id, user or role)
            self.builder.edge(member, group_id, "in-group", key=("in-group", ""))

    def grow(self, frontier: set[str]) -> set[str]:
        """One hop in both directions from the frontier; returns the new nodes."""
        before = set(self.builder.graph)
        roles = [
            self.builder.pks[n] for n in frontier if n.startswith("role:") and n in self.builder.pks
        ]
        users = [
            self.builder.pks[n] for n in frontier if n.startswith("user:") and n in self.builder.pks
        ]
        groups = [self.group_pks[n] for n in frontier if n in self.group_pks]
        outside = [node_source(n) for n in frontier if self.builder.graph.nodes[n].get("outside")]
        parts = []
        if roles:
            parts += [Q(target_id__in=roles), Q(source_role_id__in=roles)]
        if users:
            parts.append(Q(source_user_id__in=users))
        if groups:
            parts.append(Q(source_group_id__in=groups))
        if outside:
            parts.append(Q(source__in=outside))
        self.edges(parts)
        self.groups_of(frontier)
        self.members(n for n in frontier if n in self.group_pks)
        return set(self.builder.graph) - before

    def reach(self, up: set[str], down: set[str]) -> tuple[set[str], set[str]]:
        """One role assumption further in each direction: who can assume the ``up`` roles, and
        what the ``down`` principals can assume. An access group and its members count as one
        step with their edges (their edges are the members' edges); returns the new nodes of
        each direction."""
        graph = self.builder.graph
        before = set(graph)
        roles = [self.builder.pks[n] for n in up if n.startswith("role:") and n in self.builder.pks]
        if roles:
            self.edges([Q(target_id__in=roles)])
        sources = (set(graph) - before) | up
        self.members(n for n in sources if n in self.group_pks)
        new_up = set(graph) - before
        before = set(graph)
        self.groups_of(down)
        reached = (set(graph) - before) | down
        parts = []
        own_roles = [
            self.builder.pks[n] for n in down if n.startswith("role:") and n in self.builder.pks
        ]
        own_users = [
            self.builder.pks[n] for n in down if n.startswith("user:") and n in self.builder.pks
        ]
        groups = [self.group_pks[n] for n in reached if n in self.group_pks]
        outside = [node_source(n) for n in down if graph.nodes[n].get("outside")]
        if own_roles:
            parts.append(Q(source_role_id__in=own_roles))
        if own_users:
            parts.append(Q(source_user_id__in=own_users))
        if groups:
            parts.append(Q(source_group_id__in=groups))
        if outside:
            parts.append(Q(source__in=outside))
        self.edges(parts)
        return new_up, set(graph) - before


def _seed_access_node(loader: _AccessLoader, node_id: str) -> None:
    builder = loader.builder
    kind, key = split_node_id(node_id)
    if kind in {"user", "role"}:
        _seed_identity_node(builder, node_id)
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
        source_kind = (
            AccessEdge.objects.filter(source=source).values_list("source_kind", flat=True).first()
        )
        if source_kind is None:
            raise GraphError(f"No access edge comes from {source}.")
        loader.outside(source, source_kind)
    else:
        raise GraphError(f"The access view has no {kind} nodes.")


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
) -> dict[str, Any]:
    """Who can assume what: principals → roles, in one box per account, from the stored edges.

    Scope: around the ``focus`` node, ``depth`` role assumptions each way (who can reach it,
    and what it can reach; an access group counts with its members), or every edge into or
    out of ``account_id``, or the whole estate. ``expand`` merges in every neighbour of a node. An edge from an access group holds for each of its members (the
    analysis stores a member's own answer when it differs):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html
    """
    scope = _Scope(
        edge_kinds=frozenset(edge_kinds) & frozenset(ACCESS_EDGE_KINDS),
        accounts=frozenset(accounts),
        conditional=conditional if conditional in {"only", "none"} else "",
        show_denied=show_denied,
    )
    builder = _Builder(scope)
    loader = _AccessLoader(builder)
    folded_by_sql = False
    if focus:
        _seed_access_node(loader, focus)
        up, down = {focus}, {focus}
        for _ in range(max(0, min(depth, MAX_DEPTH))):
            if len(builder.graph) > COLLECT_LIMIT:
                builder.truncated = True
                break
            up, down = loader.reach(up, down)
            if not up and not down:
                break
    else:
        where = _account_edges(account_id) if account_id else [Q()]
        # An account holding half the threshold in principals overflows it with the parties
        # it trusts or is trusted by; below that, the database counts what would be drawn.
        folded_by_sql = _principal_count(account_id) > threshold // 2 or (
            _access_size(where, scope) > threshold
        )
        if folded_by_sql:
            _load_access_overview(builder, where, account_id)
        else:
            loader.edges(where)
            loader.members(list(loader.group_pks))
    expanded = [node_id for node_id in expand if node_id]
    for node_id in expanded:
        if node_id not in builder.graph:
            try:
                _seed_access_node(loader, node_id)
            except GraphError:
                continue
    if expanded:
        loader.grow(set(expanded))
    graph, folded = _fold(builder.graph, threshold, _access_fold_steps, focus=focus)
    if not focus and folded_by_sql:
        folded = ["users", "roles", "access groups"]
    hidden = _thin_out(graph, EDGE_LIMIT) if folded else 0
    names = _account_names()
    positions, boxes, parents = _layout_access(graph, names)
    return _serialise(
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
            "edges_hidden": hidden,
        },
        pks=builder.pks,
    )


def _thin_out(graph: nx.MultiDiGraph, limit: int) -> int:
    """Keep the ``limit`` heaviest folded edges (those standing for the most edges) so that
    an aggregated picture stays readable; returns how many were left out."""
    if graph.number_of_edges() <= limit:
        return 0
    ranked = sorted(
        graph.edges(keys=True, data="count", default=1),
        key=lambda edge: (-edge[3], edge[0], edge[1], str(edge[2])),
    )
    dropped = ranked[limit:]
    graph.remove_edges_from((u, v, k) for u, v, k, _ in dropped)
    return len(dropped)


_OUTSIDE_KINDS = ("account", "external", "service", "federated", "anyone")


def _account_edges(account_id: str) -> list[Q]:
    """The edges into or out of one account, as one query per indexed column."""
    # Key lists rather than joins: the planner picks the foreign-key indexes for them.
    in_account = Q(account__account_id=account_id)
    roles = list(IamRole.objects.filter(in_account).values_list("pk", flat=True))
    users = list(IamUser.objects.filter(in_account).values_list("pk", flat=True))
    groups = list(AccessGroup.objects.filter(in_account).values_list("pk", flat=True))
    return [
        Q(target_id__in=roles),
        Q(source_role_id__in=roles),
        Q(source_user_id__in=users),
        Q(source_group_id__in=groups),
    ]


def _scope_filter(scope: _Scope) -> Q:
    outcomes = ["allow", "conditional"] + (["denied"] if scope.show_denied else [])
    if scope.conditional == "only":
        outcomes.remove("allow")
    elif scope.conditional == "none":
        outcomes.remove("conditional")
    kinds = [k for k, category in _SOURCE_CATEGORY.items() if scope.keeps_kind(category)]
    where = Q(outcome__in=outcomes, source_kind__in=kinds)
    if scope.accounts:
        accounts = sorted(scope.accounts)
        where &= Q(target__account__account_id__in=accounts) & (
            Q(source_kind__in=_OUTSIDE_KINDS)
            | Q(source_user__account__account_id__in=accounts)
            | Q(source_role__account__account_id__in=accounts)
            | Q(source_group__account__account_id__in=accounts)
        )
    return where


def _principal_count(account_id: str, accounts: Iterable[str] = ()) -> int:
    """Users and roles of the account (of the estate, or of ``accounts``, without one): a view
    holding them all is past the threshold whatever its edges."""
    in_scope = Q(account__account_id=account_id) if account_id else Q()
    if accounts:
        in_scope &= Q(account__account_id__in=sorted(accounts))
    return IamUser.objects.filter(in_scope).count() + IamRole.objects.filter(in_scope).count()


def _access_size(parts: list[Q], scope: _Scope) -> int:
    """About how many nodes the edges of ``parts`` draw (targets, sources and the members of
    small access groups), counted by the database."""
    total = 0
    for part in parts:
        edges = AccessEdge.objects.filter(part).filter(_scope_filter(scope))
        counts = edges.aggregate(
            targets=Count("target_id", distinct=True),
            groups=Count("source_group_id", distinct=True),
            users=Count("source_user_id", distinct=True),
            roles=Count("source_role_id", distinct=True),
            outside=Count("source", distinct=True, filter=Q(source_kind__in=_OUTSIDE_KINDS)),
        )
        members = AccessGroup.objects.filter(
            pk__in=edges.filter(source_group__isnull=False).values("source_group_id"),
            member_count__lte=MEMBER_LIMIT,
        ).aggregate(n=Sum("member_count"))
        total += sum(value or 0 for value in counts.values()) + (members["n"] or 0)
        if total > COLLECT_LIMIT:
            break
    return total


_index_cache: dict[str, Any] = {"key": None, "value": None}


def _account_index() -> tuple[dict[int, int], dict[int, int]]:
    """Account pk of every role and every user, read once per analysis run and process: the
    overview groups edges by role and user keys instead of joining 50,000-row tables."""
    key = (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .values_list("pk", "finished_at")
        .first()
    )
    if key is None or _index_cache["key"] != key:
        roles = dict(IamRole.objects.values_list("pk", "account_id"))
        users = dict(IamUser.objects.values_list("pk", "account_id"))
        _index_cache.update(key=key, value=(roles, users))
    return _index_cache["value"]


def _load_access_overview(builder: _Builder, parts: list[Q], account_id: str = "") -> None:
    """Users and roles of each account folded into one node each, outside parties kept, the
    edges between them counted by the database (GROUP BY), never one row per edge.

    For one account the edges into it and out of it are grouped by source and target key and
    mapped to accounts here; for the estate, one GROUP BY per kind of source joins only the
    table that holds the source's account.
    """
    scope = builder.scope
    account_of = dict(Account.objects.values_list("pk", "account_id"))
    groups = {
        pk: (account_pk, kind)
        for pk, account_pk, kind in AccessGroup.objects.values_list("pk", "account_id", "kind")
    }
    counts: dict[tuple[str, str, Any], dict[str, Any]] = {}
    if account_id:
        role_account, user_account = _account_index()
        into, *out = parts
        rows: Iterable[dict[str, Any]] = (
            AccessEdge.objects.filter(into)
            .filter(_scope_filter(scope))
            .values(
                "source", "source_kind", "source_group_id", "source_user_id", "source_role_id",
                "outcome",
            )
            .annotate(n=Count("pk"))
            .order_by()
        )  # fmt: skip
        for row in rows:
            row["target_account"] = None
            row["source_account"] = (
                groups[row["source_group_id"]][0]
                if row["source_group_id"]
                else user_account.get(row["source_user_id"])
                or role_account.get(row["source_role_id"])
            )
            row["source_group__kind"] = (
                groups[row["source_group_id"]][1] if row["source_group_id"] else ""
            )
            row["outside_source"] = row["source"]
        _add_overview_rows(builder, rows, account_of, account_id, counts)
        leaving = Q(pk__in=[])
        for part in out:
            leaving |= part
        rows = (
            AccessEdge.objects.filter(leaving)
            .filter(_scope_filter(scope))
            .values("source_kind", "source_group_id", "target_id", "outcome")
            .annotate(n=Count("pk"))
            .order_by()
        )
        own = next(pk for pk, value in account_of.items() if value == account_id)
        kept = []
        for row in rows:
            target_account = role_account.get(row["target_id"])
            if target_account == own:
                continue  # counted with the edges into the account
            row["target_account"] = target_account
            row["source_group__kind"] = (
                groups[row["source_group_id"]][1] if row["source_group_id"] else ""
            )
            kept.append(row)
        _add_overview_rows(builder, kept, account_of, account_id, counts)
    else:
        for source_kinds, source_column in _OVERVIEW_SOURCES:
            columns: dict[str, Any] = {"target_account": F("target__account_id")}
            if source_column:
                columns["source_account"] = F(source_column)
            else:
                columns["outside_source"] = F("source")
            rows = (
                AccessEdge.objects.filter(source_kind__in=source_kinds)
                .filter(_scope_filter(scope))
                .annotate(**columns)
                .values("source_kind", "source_group__kind", "outcome", *columns)
                .annotate(n=Count("pk"))
                .order_by()
            )
            _add_overview_rows(builder, rows, account_of, account_id, counts)
    for (source_id, target_id, key), data in counts.items():
        builder.graph.add_edge(source_id, target_id, key=key, **data)
    # Every user and role is in exactly one access group: their sizes sum to the counts.
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for account_pk, kind, n in AccessGroup.objects.values_list(
        "account_id", "kind", "member_count"
    ):
        sizes[(kind, account_of[account_pk])] += n
    for _, data in builder.graph.nodes(data=True):
        if data["kind"] == "aggregate":
            data["count"] = sizes.get((data["of"], data["account"]), 0)


# One GROUP BY per kind of source, each joining only the table that holds its account.
_OVERVIEW_SOURCES = (
    (("group",), "source_group__account_id"),
    (("user",), "source_user__account_id"),
    (("role",), "source_role__account_id"),
    (_OUTSIDE_KINDS, ""),
)


def _add_overview_rows(
    builder: _Builder,
    rows: Iterable[dict[str, Any]],
    account_of: dict[int, str],
    account_id: str,
    counts: dict[tuple[str, str, Any], dict[str, Any]],
) -> None:
    for row in rows:
        kind = row["source_kind"]
        if kind in _OUTSIDE_KINDS:
            node_id, node_kind, label, source_account = outside_node(row["outside_source"], kind)
            if node_id not in builder.graph:
                builder.graph.add_node(
                    node_id, kind=node_kind, label=label, account=source_account, outside=True
                )
            source_id: str | None = node_id
        else:
            of = "user" if kind == "user" or row["source_group__kind"] == "user" else "role"
            source = (
                account_of.get(row["source_account"]) if "source_account" in row else account_id
            )
            source_id = _overview_node(builder, of, source)
        target = account_of.get(row["target_account"]) if row.get("target_account") else account_id
        target_id = _overview_node(builder, "role", target)
        category = _SOURCE_CATEGORY[kind]
        if source_id is None or target_id is None or source_id == target_id:
            continue
        slot = (source_id, target_id, (category, row["outcome"]))
        if slot in counts:
            counts[slot]["count"] += row["n"]
        else:
            counts[slot] = {"kind": category, "outcome": row["outcome"], "count": row["n"]}


def _overview_node(builder: _Builder, of: str, account_id: str | None) -> str | None:
    if not account_id or not builder.scope.keeps_account(account_id):
        return None
    node_id = f"agg:{of}s:{account_id}"
    if node_id not in builder.graph:
        builder.graph.add_node(
            node_id,
            kind="aggregate",
            label=f"{of}s",
            account=account_id,
            of=of,
            count=0,
            drill={"view": "access", "account": account_id, "accounts": account_id},
            sample=[],
        )
    return node_id


def _access_fold_steps(graph: nx.MultiDiGraph) -> list[_FoldStep]:
    """Users by the access group they share, roles by account, access groups by account."""
    group_of: dict[str, str] = {}
    for source, target, kind in graph.edges(data="kind"):
        if kind == "in-group" and (source not in group_of or target < group_of[source]):
            group_of[source] = target

    def users(node_id: str, data: dict[str, Any]) -> tuple[str, str, str, dict[str, str]] | None:
        if data["kind"] != "user":
            return None
        group = group_of.get(node_id)
        account = data["account"]
        if group:
            return (
                f"agg:users:{group}",
                "users sharing this access",
                account,
                {"view": "access", "focus": group, "depth": "1"},
            )
        return f"agg:users:{account}", "users", account, {"view": "access", "account": account}

    def roles(node_id: str, data: dict[str, Any]) -> tuple[str, str, str, dict[str, str]] | None:
        if data["kind"] != "role":
            return None
        account = data["account"]
        return f"agg:roles:{account}", "roles", account, {"view": "access", "account": account}

    def groups(node_id: str, data: dict[str, Any]) -> tuple[str, str, str, dict[str, str]] | None:
        if data["kind"] != "access-group":
            return None
        account = data["account"]
        return (
            f"agg:access-groups:{account}",
            "access groups",
            account,
            {"view": "access", "account": account},
        )

    return [("users", users), ("roles", roles), ("access groups", groups)]


def _layout_access(
    graph: nx.MultiDiGraph, names: dict[str, str], roots: Iterable[str] = (), chain: bool = False
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]], dict[str, str]]:
    labels: dict[str, str] = {}
    for node_id in graph:
        data = graph.nodes[node_id]
        band = _band_of(data)
        if band not in labels:
            labels[band] = _band_label(band, data, names)
    positions, boxes = _layout_bands(graph, labels, list(roots) or None, chain=chain)
    parents = {node_id: f"box:{_band_of(graph.nodes[node_id])}" for node_id in graph}
    for box in boxes:
        band = box["id"].removeprefix("box:")
        box["outside"] = not band.startswith("4:")
    return positions, boxes, parents


def _band_label(band: str, data: dict[str, Any], names: dict[str, str]) -> str:
    if band == "0:anyone":
        return "Anyone — any AWS account"
    if band == "1:services":
        return "AWS services"
    if band == "2:web-identity":
        return "Web identity providers"
    account_id = data["account"]
    if band.startswith("3:external:"):
        return f"Outside the estate · {account_id or 'unknown account'}"
    name = names.get(account_id, "")
    return f"{name} · {account_id}" if name and name != account_id else account_id


# --- path finder ----------------------------------------------------------------------------

_reach_cache: dict[str, Any] = {"key": None, "graph": None}


def _reach_graph() -> nx.DiGraph | None:
    """The stored reach graph of the newest analysis (see analysis.reach), cached per process
    until another analysis run replaces it."""
    run = (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED, graph__isnull=False)
        .order_by("-finished_at", "-pk")
        .values_list("pk", "finished_at")
        .first()
    )
    if run is None:
        return None
    if _reach_cache["key"] != run:
        blob = AnalysisRun.objects.filter(pk=run[0]).values_list("graph", flat=True).first()
        loaded = load_graph(blob)
        _reach_cache.update(key=run, graph=loaded.graph if loaded else None)
    return _reach_cache["graph"]


def _arn_node_id(arn: str) -> str:
    """The node id of an ARN (or ``*``, ``service:…``, ``federated:…``) in a chain."""
    if arn == "*":
        return "anyone"
    if arn.startswith(("service:", "federated:")):
        return arn
    if arn.startswith("group:"):
        return f"access-group:{arn.removeprefix('group:')}"
    match = re.match(r"^arn:[\w-]+:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)$", arn)
    if match:
        return principal_node_id(match[2], match[1], match[3])
    match = re.match(r"^arn:[\w-]+:iam::(\d{12}):root$", arn)
    if match:
        return f"account:{match[1]}"
    return f"external:{arn}"


def _node_reach_key(node_id: str) -> str:
    kind, key = split_node_id(node_id)
    if kind in {"user", "role"}:
        account_id, name = _account_and_name(key)
        model = IamUser if kind == "user" else IamRole
        arn = (
            model.objects.filter(account__account_id=account_id, name=name)
            .values_list("arn", flat=True)
            .first()
        )
        if arn is None:
            raise GraphError(f"No IAM {kind} named {name!r} in account {account_id}.")
        return arn
    return node_source(node_id)


def _hop_details(
    reach: nx.DiGraph, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored edge behind each (hop node, role ARN) pair of the reach graph."""
    sources: dict[str, str] = {}
    for hop, _ in pairs:
        if hop.startswith(GROUP_PREFIX):
            sources[hop] = hop
        else:
            sources[hop] = hop.removeprefix(VIA_PREFIX)
    # A member refused some of its group's roles reaches the others through its own hop node;
    # those edges are the group's.
    members = [s for s in sources.values() if not s.startswith(GROUP_PREFIX)]
    group_of = {
        arn: f"group:{key}"
        for arn, key in AccessGroupMember.objects.filter(arn__in=members).values_list(
            "arn", "group__key"
        )
    }
    wanted = set(sources.values()) | set(group_of.values())
    roles = {role for _, role in pairs}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    rows = AccessEdge.objects.filter(
        source__in=wanted, target__arn__in=roles, outcome__in=["allow", "conditional"]
    ).values(
        "pk", "source", "target__arn", "action", "outcome", "condition_keys", "granted_by",
        "via_pass_role", "source_group__label",
    )  # fmt: skip
    for row in rows:
        found[(row["source"], row["target__arn"])] = row
    details: dict[tuple[str, str], dict[str, Any]] = {}
    for hop, role in pairs:
        source = sources[hop]
        row = found.get((source, role)) or found.get((group_of.get(source, ""), role))
        if row is not None:
            details[(hop, role)] = row
    return details


def find_paths(
    *,
    source: str,
    target: str,
    max_length: int = 4,
    mode: str = "shortest",
    conditional: str = "",
    limit: int = MAX_PATHS,
) -> dict[str, Any]:
    """Chains of role assumptions from one principal to a role: the shortest ones, or every
    simple chain of at most ``max_length`` hops (``mode="all"``), from the stored edges.

    ``conditional="none"`` keeps only hops that need no condition; ``"only"`` keeps chains with
    at least one conditional hop. Each hop lists the stored edge behind it: action, outcome,
    condition keys and the statements that grant it. Role chaining:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
    """
    max_length = max(1, min(max_length, MAX_PATH_LENGTH))
    start, end = _node_reach_key(source), _node_reach_key(target)
    reach = _reach_graph()
    chains: list[list[tuple[str, str, dict[str, Any]]]] = []
    if reach is not None and start in reach and end in reach and start != end:
        chains = _search_chains(reach, start, end, max_length, mode, conditional, limit)
    builder = _Builder(_Scope())
    loader = _AccessLoader(builder)
    for node_id in (source, target):
        _seed_access_node(loader, node_id)
    graph = builder.graph
    paths = []
    for chain in chains:
        hops = []
        for hop_source, hop_target, row in chain:
            source_id, target_id = _arn_node_id(hop_source), _arn_node_id(hop_target)
            for node_id, arn in ((source_id, hop_source), (target_id, hop_target)):
                if node_id not in graph:
                    kind, key = split_node_id(node_id)
                    label = key.rsplit(":", 1)[-1] if kind in {"user", "role"} else key
                    if kind in {"user", "role"}:
                        graph.add_node(node_id, kind=kind, label=label, account=key.split(":")[0])
                    else:
                        _, kind, label, account_id = outside_node(arn, _outside_kind(arn))
                        graph.add_node(
                            node_id, kind=kind, label=label, account=account_id, outside=True
                        )
            category = "assume"
            if hop_source.startswith("service:"):
                category = "service"
            elif hop_source.startswith("federated:"):
                category = "federated"
            elif hop_source == "*":
                category = "anyone"
            graph.add_edge(
                source_id,
                target_id,
                key=("assume", row["outcome"]),
                kind=category,
                outcome=row["outcome"],
                conditions=list(row["condition_keys"]),
                action=row["action"],
            )
            hops.append(
                {
                    "source": source_id,
                    "target": target_id,
                    "source_arn": hop_source,
                    "target_arn": hop_target,
                    "action": row["action"],
                    "outcome": row["outcome"],
                    "conditions": list(row["condition_keys"]),
                    "granted_by": list(row["granted_by"]),
                    "via_group": row["source_group__label"] or "",
                    "kind": category,
                    "edge": f"{source_id}|{category}|{row['outcome']}|{target_id}",
                }
            )
        paths.append({"length": len(hops), "hops": hops})
    names = _account_names()
    positions, boxes, parents = _layout_access(graph, names, roots=[source], chain=True)
    data = _serialise(
        graph,
        positions,
        view="paths",
        extra_nodes=boxes,
        parents=parents,
        account_names=names,
        stats={"paths": len(paths), "mode": mode, "max_length": max_length},
    )
    highlight = {source, target}
    for path in paths:
        for hop in path["hops"]:
            highlight.update((hop["source"], hop["target"], hop["edge"]))
    data["paths"] = paths
    data["highlight"] = sorted(highlight) if paths else []
    data["source"], data["target"] = source, target
    return data


def _outside_kind(source: str) -> str:
    if source == "*":
        return "anyone"
    if source.startswith("service:"):
        return "service"
    if source.startswith("federated:"):
        return "federated"
    return "account" if source.endswith(":root") else "external"


def _search_chains(
    reach: nx.DiGraph,
    start: str,
    end: str,
    max_length: int,
    mode: str,
    conditional: str,
    limit: int,
) -> list[list[tuple[str, str, dict[str, Any]]]]:
    """Chains as lists of (principal, role, stored edge) hops, shortest first, then by ARNs.

    Every hop is two edges of the reach graph (principal -> hop node -> role), so the search
    runs on the part of the graph within ``2 * max_length`` edges of both ends.
    """
    cutoff = 2 * max_length
    ahead = nx.single_source_shortest_path_length(reach, start, cutoff=cutoff)
    behind = nx.single_source_shortest_path_length(reach.reverse(copy=False), end, cutoff=cutoff)
    keep = {n for n, d in ahead.items() if n in behind and d + behind[n] <= cutoff}
    sub = nx.DiGraph(reach.subgraph(keep))
    pairs = {(u, v) for u, v in sub.edges if is_hop_node(u)}
    details = _hop_details(reach, pairs)
    for u, v in list(sub.edges):
        if not is_hop_node(u):
            continue
        row = details.get((u, v))
        if row is None or (conditional == "none" and row["outcome"] == "conditional"):
            sub.remove_edge(u, v)
    if start not in sub or end not in sub or not nx.has_path(sub, start, end):
        return []
    if mode == "all":
        raw = nx.all_simple_paths(sub, start, end, cutoff=cutoff)
    else:
        raw = nx.all_shortest_paths(sub, start, end)
    found: dict[tuple[str, ...], list[tuple[str, str, dict[str, Any]]]] = {}
    for count, path in enumerate(raw):
        if count >= limit * 10:
            break
        principals = tuple(node for node in path if not is_hop_node(node))
        hops = [
            (path[i], path[i + 2], details[(path[i + 1], path[i + 2])])
            for i in range(0, len(path) - 2, 2)
        ]
        if conditional == "only" and all(row["outcome"] != "conditional" for _, _, row in hops):
            continue
        found.setdefault(principals, hops)
    ordered = sorted(found.items(), key=lambda item: (len(item[0]), item[0]))
    return [hops for _, hops in ordered[:limit]]


# --- folding (aggregation) -------------------------------------------------------------------

_FoldStep = tuple[str, Callable[[str, dict[str, Any]], tuple[str, str, str, dict[str, str]] | None]]


def _identity_fold_steps(graph: nx.MultiDiGraph) -> list[_FoldStep]:
    """Users by their first IAM group, roles by account, policies by kind (and account)."""
    first_group: dict[str, str] = {}
    for source, target, kind in graph.edges(data="kind"):
        if kind == "member" and (source not in first_group or target < first_group[source]):
            first_group[source] = target

    def users(node_id: str, data: dict[str, Any]) -> tuple[str, str, str, dict[str, str]] | None:
        if data["kind"] != "user":
            return None
        group = first_group.get(node_id)
        if group:
            group_name = graph.nodes[group]["label"] if group in graph else group
            return (
                f"agg:users:{group}",
                f"users in {group_name}",
                data["account"],
                {"view": "identity", "focus": group, "depth": "1"},
            )
        return (
            f"agg:users:{data['account']}:nogroup",
            "users in no group",
            data["account"],
            {"view": "identity", "account": data["account"]},
        )

    return [("users", users), ("roles", _fold_roles_by_account), ("policies", _fold_policies)]


def _fold_roles_by_account(
    node_id: str, data: dict[str, Any]
) -> tuple[str, str, str, dict[str, str]] | None:
    if data["kind"] != "role":
        return None
    account = data["account"]
    return f"agg:roles:{account}", "roles", account, {"account": account}


def _fold_policies(
    node_id: str, data: dict[str, Any]
) -> tuple[str, str, str, dict[str, str]] | None:
    kind = data["kind"]
    if kind == "policy-aws":
        return "agg:policy-aws", "AWS-managed policies", "", {"hide_aws": "1"}
    if kind in {"policy-customer", "inline"}:
        account = data["account"]
        label = "customer-managed policies" if kind == "policy-customer" else "inline policies"
        return f"agg:{kind}:{account}", label, account, {"account": account}
    return None


def _fold(
    graph: nx.MultiDiGraph,
    threshold: int,
    steps_of: Callable[[nx.MultiDiGraph], list[_FoldStep]],
    focus: str = "",
) -> tuple[nx.MultiDiGraph, list[str]]:
    """Fold nodes, step after step, until at most ``threshold`` nodes are left.

    Each step maps some of the remaining original nodes to folded nodes; the steps needed are
    decided on the counts alone, then the graph is contracted once. Edges between folded
    nodes merge into one edge per (source, target, kind, outcome) with a count and the union
    of their condition keys. The focus node is never folded. Returns the graph (the same one
    when nothing folds) and the names of the steps applied.
    """
    count = graph.number_of_nodes()
    if count <= threshold:
        return graph, []
    mapping: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    attrs: dict[str, dict[str, Any]] = {}
    applied: list[str] = []
    for name, key_of in steps_of(graph):
        if count <= threshold:
            break
        step: dict[str, str] = {}
        for node_id, data in graph.nodes(data=True):
            if node_id == focus or node_id in mapping:
                continue
            found = key_of(node_id, data)
            if found is None:
                continue
            agg_id, label, account, drill = found
            step[node_id] = agg_id
            if agg_id not in attrs:
                attrs[agg_id] = {"label": label, "account": account, "drill": drill}
                attrs[agg_id]["of"] = data["kind"]
        if step:
            applied.append(name)
            count += len(set(step.values())) - len(step)
            mapping.update(step)
    for node_id, agg_id in mapping.items():
        members[agg_id].append(node_id)
    folded = nx.MultiDiGraph()
    for node_id, data in graph.nodes(data=True):
        if node_id not in mapping:
            folded.add_node(node_id, **data)
    for agg_id, data in attrs.items():
        ids = sorted(members[agg_id])
        folded.add_node(
            agg_id,
            kind="aggregate",
            label=data["label"],
            account=data["account"],
            count=len(ids),
            of=data["of"],
            drill=data["drill"],
            sample=ids[:5],
        )
    merged: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for source, target, key, data in graph.edges(keys=True, data=True):
        new_source, new_target = mapping.get(source, source), mapping.get(target, target)
        if new_source == new_target:
            continue
        if new_source == source and new_target == target:
            folded.add_edge(source, target, key=key, **data)
            continue
        slot = (new_source, new_target, (data["kind"], data.get("outcome", "")))
        edge = merged.get(slot)
        if edge is None:
            edge = merged[slot] = {
                "kind": data["kind"],
                "outcome": data.get("outcome", ""),
                "count": 0,
                "conditions": set(),
            }
        edge["count"] += data.get("count", 1)
        edge["conditions"].update(data.get("conditions") or ())
    for (source, target, key), data in merged.items():
        data["conditions"] = sorted(data["conditions"])
        folded.add_edge(source, target, key=key, **data)
    return folded, applied


# --- layouts --------------------------------------------------------------------------------

_IDENTITY_COLUMNS = {
    "user": 0,
    "group": 1,
    "policy-aws": 2,
    "policy-customer": 2,
    "inline": 2,
    "role": 3,
}
_COLUMN_TITLES = ("Users", "Groups", "Policies", "Roles")
_AGGREGATE_COLUMNS = {"user": 0, "role": 3, "policy-aws": 2, "policy-customer": 2, "inline": 2}


def _sort_key(graph: nx.MultiDiGraph, node_id: str) -> tuple[str, str, str]:
    data = graph.nodes[node_id]
    return (data["account"], data["label"].lower(), node_id)


def _order_column(graph: nx.MultiDiGraph, nodes: list[str], placed: dict[str, float]) -> list[str]:
    """Nodes ordered by the mean height of their placed neighbours (either direction), then
    by account, name and id; nodes with no placed neighbour go last."""

    def key(node_id: str) -> tuple[float, tuple[str, str, str]]:
        neighbours = set(graph.predecessors(node_id)) | set(graph.successors(node_id))
        centre = _barycentre_float(placed, neighbours)
        return (math.inf if centre is None else centre, _sort_key(graph, node_id))

    return sorted(nodes, key=key)


def _layout_columns(
    graph: nx.MultiDiGraph,
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    """Four columns (users, groups, policies, roles), each centred on y = 0.

    Groups are sorted by account and name; users follow their groups, policies the users,
    groups and roles that hold them, roles their policies; then policies and roles are
    ordered once more against each other. Ties break on account, name and id, so the order
    depends only on the data.
    """
    columns: dict[int, list[str]] = defaultdict(list)
    for node_id, data in graph.nodes(data=True):
        kind = data["kind"] if data["kind"] != "aggregate" else data.get("of", "")
        column = _IDENTITY_COLUMNS.get(kind)
        if column is not None:
            columns[column].append(node_id)
    placed: dict[str, float] = {}

    def place(column: int, order: list[str]) -> None:
        columns[column] = order
        top = -(len(order) - 1) * ROW_HEIGHT / 2
        for index, node_id in enumerate(order):
            placed[node_id] = top + index * ROW_HEIGHT

    place(1, sorted(columns[1], key=lambda n: _sort_key(graph, n)))
    place(0, _order_column(graph, columns[0], placed))
    place(2, _order_column(graph, columns[2], placed))
    place(3, _order_column(graph, columns[3], placed))
    place(2, _order_column(graph, columns[2], placed))
    place(3, _order_column(graph, columns[3], placed))
    positions: dict[str, tuple[float, float]] = {}
    headers: list[dict[str, Any]] = []
    tallest = max((len(nodes) for nodes in columns.values()), default=0)
    for column in range(4):
        nodes = columns[column]
        if not nodes:
            continue
        for node_id in nodes:
            positions[node_id] = (column * COLUMN_WIDTH, placed[node_id])
        headers.append(
            {
                "id": f"column:{column}",
                "kind": "column",
                "label": f"{_COLUMN_TITLES[column]} · {len(nodes)}",
                "x": column * COLUMN_WIDTH,
                "y": -(tallest - 1) * ROW_HEIGHT / 2 - ROW_HEIGHT * 1.2,
            }
        )
    return positions, headers


def _hop_layers(graph: nx.MultiDiGraph, roots: Iterable[str] = ()) -> dict[str, int]:
    """Hop distance from the roots (the given ones, else the nodes nothing points to); a part
    no root reaches (a cycle) starts again from its smallest node."""
    layer: dict[str, int] = {}
    starts = sorted(roots) or sorted(n for n in graph if graph.in_degree(n) == 0)
    for group in (starts, *([n] for n in sorted(graph))):
        queue = deque(n for n in group if n in graph and n not in layer)
        for node_id in queue:
            layer[node_id] = 0
        while queue:
            node_id = queue.popleft()
            for successor in sorted(set(graph.successors(node_id))):
                if successor not in layer:
                    layer[successor] = layer[node_id] + 1
                    queue.append(successor)
    return layer


def _band_of(data: dict[str, Any]) -> str:
    kind = data["kind"]
    if kind == "anyone":
        return "0:anyone"
    if kind == "service":
        return "1:services"
    if kind == "federated" and not data["account"]:
        return "2:web-identity"
    if kind in {"account", "external"}:
        return f"3:external:{data['account']}"
    return f"4:{data['account']}"


def _layout_bands(
    graph: nx.MultiDiGraph,
    band_labels: dict[str, str],
    roots: list[str] | None = None,
    *,
    chain: bool = False,
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    """One box per account (a band); inside it, columns by hop distance from the roots.

    Each band keeps only the columns it uses, ordered left to right by hop distance, and a
    column is ordered by the mean row of the nodes that point into it, then by name. Bands
    never overlap, so an account box holds exactly its principals; they are packed in rows
    (outside parties first, then accounts by name) to fill a landscape canvas. With ``chain``
    (the path finder) every band keeps the global columns and the bands stack, so each hop
    moves one column to the right.
    """
    layer = _hop_layers(graph, roots or ())
    bands: dict[str, list[str]] = defaultdict(list)
    for node_id in graph:
        bands[_band_of(graph.nodes[node_id])].append(node_id)
    band_order = sorted(bands, key=lambda b: (b[:2], band_labels.get(b, b), b))
    local: dict[str, tuple[float, float]] = {}
    local_y: dict[str, float] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for band in band_order:
        columns: dict[int, list[str]] = defaultdict(list)
        for node_id in bands[band]:
            columns[layer[node_id]].append(node_id)
        rows = 0
        for index_of_hop, hop in enumerate(sorted(columns)):
            column = hop if chain else index_of_hop

            def key(node_id: str) -> tuple[float, bool, tuple[str, str, str]]:
                centre = _barycentre_float(local_y, graph.predecessors(node_id))
                # Providers head their column: an edge leaving the users below them then
                # never crosses them.
                last = graph.nodes[node_id]["kind"] != "federated"
                return (math.inf if centre is None else centre, last, _sort_key(graph, node_id))

            ordered = sorted(columns[hop], key=key)
            for index, node_id in enumerate(ordered):
                local[node_id] = (column * COLUMN_WIDTH, index * ROW_HEIGHT)
                local_y[node_id] = index * ROW_HEIGHT
            rows = max(rows, len(ordered))
        sizes[band] = (
            (max(columns) if chain else len(columns) - 1) * COLUMN_WIDTH + NODE_WIDTH_MAX,
            (rows - 1) * ROW_HEIGHT + ROW_HEIGHT,
        )
    if chain:
        offsets, top = {}, 0.0
        for band in band_order:
            offsets[band] = (0.0, top)
            top += sizes[band][1] + BAND_GAP
    else:
        offsets = _pack_bands(band_order, sizes)
    positions = {}
    for band in band_order:
        dx, dy = offsets[band]
        for node_id in bands[band]:
            lx, ly = local[node_id]
            positions[node_id] = (dx + lx, dy + ly)
    boxes = [
        {"id": f"box:{band}", "kind": "box", "label": band_labels.get(band, band)}
        for band in band_order
    ]
    return positions, boxes


def _pack_bands(
    order: list[str], sizes: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """Top-left corners of the bands, packed in rows (shelves) in the given order.

    Tries a range of row widths and keeps the packing that a CANVAS_ASPECT canvas shows
    largest, so a few wide account boxes sit side by side and many stack into a grid.
    """
    widest = max((w for w, _ in sizes.values()), default=0.0)
    total = sum(w + BAND_GAP for w, _ in sizes.values())
    best: tuple[float, dict[str, tuple[float, float]]] | None = None
    for step in range(25):
        limit = widest + (total - widest) * step / 24
        offsets: dict[str, tuple[float, float]] = {}
        x = y = shelf = right = 0.0
        for band in order:
            width, height = sizes[band]
            if x > 0 and x + width > limit:
                x, y, shelf = 0.0, y + shelf + BAND_GAP, 0.0
            offsets[band] = (x, y)
            right = max(right, x + width)
            x += width + BAND_GAP
            shelf = max(shelf, height)
        bottom = y + shelf
        scale = min(CANVAS_ASPECT / max(right, 1.0), 1.0 / max(bottom, 1.0))
        if best is None or scale > best[0] * 1.001:
            best = (scale, offsets)
    return best[1] if best else {}


def _barycentre_float(positions: dict[str, float], neighbours: Iterable[str]) -> float | None:
    found = [positions[n] for n in neighbours if n in positions]
    return sum(found) / len(found) if found else None


# --- serialisation --------------------------------------------------------------------------

_INTERNAL_ATTRS = {"kind", "label", "account"}


def _serialise(
    graph: nx.MultiDiGraph,
    positions: dict[str, tuple[float, float]],
    *,
    view: str,
    extra_nodes: Iterable[dict[str, Any]] = (),
    parents: dict[str, str] | None = None,
    stats: dict[str, Any] | None = None,
    account_names: dict[str, str] | None = None,
    pks: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The JSON the page and the exports share: nodes sorted by id, then edges sorted by ends."""
    urls = _Urls()
    names = account_names if account_names is not None else _account_names()
    flags = _risk_flags({n: pk for n, pk in (pks or {}).items() if n in graph})
    many_accounts = len({d["account"] for _, d in graph.nodes(data=True) if d["account"]}) > 1
    nodes: list[dict[str, Any]] = [dict(node) for node in extra_nodes]
    for node_id in sorted(graph):
        data = graph.nodes[node_id]
        x, y = positions.get(node_id, (0.0, 0.0))
        kind = data["kind"]
        account_name = names.get(data["account"], data["account"])
        label = data["label"]
        node: dict[str, Any] = {
            "id": node_id,
            "kind": kind,
            "label": label,
            "account": data["account"],
            "account_name": account_name,
            "x": round(x, 1),
            "y": round(y, 1),
            "display": _display(label, data.get("count") if kind == "aggregate" else None),
            "w": 0,
            "title": f"{NODE_KIND_LABELS.get(kind, kind)}: {data.get('title') or label}"
            + (f" · {account_name}" if account_name else ""),
        }
        if kind == "aggregate":
            drill = dict(data["drill"])
            node["drill_url"] = view_url(drill.pop("view", view), drill)
        else:
            node["panel"] = urls.panel_url(node_id)
            if url := urls.detail_url(node_id):
                node["url"] = url
        if many_accounts and not parents and account_name:
            node["sub"] = account_name
            node["display"] += f"\n{_shorten(account_name, LABEL_WIDTH)}"
        node["w"] = _node_width(node["display"])
        node["h"] = 18 + 13 * (node["display"].count("\n") + 1)
        if data.get("outside"):
            node["outside"] = True
        if node_id in flags:
            node["flags"] = flags[node_id]
        for name in ("count", "of", "owner", "sample"):
            if name in data:
                node[name] = data[name]
        if parents and node_id in parents:
            node["parent"] = parents[node_id]
        nodes.append(node)
    labels = {node["id"]: node["label"] for node in nodes}
    edges: list[dict[str, Any]] = []
    for source, target, _key, data in sorted(
        graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], str(e[2]))
    ):
        kind = data["kind"]
        edge: dict[str, Any] = {
            "id": f"{source}|{kind}|{data.get('outcome', '')}|{target}",
            "source": source,
            "target": target,
            "kind": kind,
            "summary": f"{labels[source]} {EDGE_KIND_LABELS.get(kind, kind)} {labels[target]}",
        }
        if kind in _ACCESS_KINDS:
            edge["summary"] = f"{labels[source]} can assume {labels[target]}"
            if data.get("outcome") == "denied":
                edge["summary"] = f"{labels[source]} is refused {labels[target]}"
        for name in ("outcome", "conditions", "count", "action", "via"):
            if name in data and data[name] not in ("", None, ()):
                edge[name] = data[name]
        edges.append(edge)
    principal_nodes = [n for n in nodes if n["kind"] not in {"column", "box"}]
    return {
        "view": view,
        "nodes": nodes,
        "edges": edges,
        "aggregated": bool(stats and stats.get("folded")),
        "links": _links(),
        "stats": {
            "nodes": len(principal_nodes),
            "edges": len(edges),
            "by_kind": _count_by(principal_nodes, "kind"),
            **(stats or {}),
        },
    }


_ACCESS_KINDS = frozenset(ACCESS_EDGE_KINDS)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _display(label: str, count: int | None) -> str:
    """A label in at most two lines of at most 34 characters (nodes grow to 270 px)."""
    lines: list[str] = []
    rest = label
    while rest and len(lines) < 2:
        if len(rest) <= LABEL_WIDTH:
            lines.append(rest)
            rest = ""
            break
        cut = rest.rfind(" ", 0, LABEL_WIDTH)
        cut = cut if cut > 10 else LABEL_WIDTH
        lines.append(rest[:cut])
        rest = rest[cut:].lstrip()
    if rest:
        lines[-1] = _shorten(lines[-1] + " " + rest, LABEL_WIDTH)
    text = "\n".join(lines)
    return f"{text}\n× {count}" if count is not None else text


def _node_width(display: str) -> int:
    """Room for the longest line of the label at 12 px (about 7 px a character)."""
    longest = max((len(line) for line in display.split("\n")), default=0)
    return int(min(NODE_WIDTH_MAX, max(110, 7 * longest + 28)))


def _risk_flags(pks: dict[str, int]) -> dict[str, list[str]]:
    """``admin`` for administrators, ``finding`` for principals with a finding (two queries
    over the principals drawn, by primary key)."""
    by_pk: dict[tuple[str, int], str] = {}
    users, roles = [], []
    for node_id, pk in pks.items():
        if node_id.startswith("user:"):
            users.append(pk)
            by_pk[("user", pk)] = node_id
        elif node_id.startswith("role:"):
            roles.append(pk)
            by_pk[("role", pk)] = node_id
    if not users and not roles:
        return {}
    flags: dict[str, list[str]] = defaultdict(list)
    for model, flag in ((Administrator, "admin"), (Finding, "finding")):
        for kind, pks_of_kind in (("user", users), ("role", roles)):
            if not pks_of_kind:
                continue
            owned = model.objects.filter(**{f"{kind}_id__in": pks_of_kind})
            for pk in owned.values_list(f"{kind}_id", flat=True).order_by().distinct():
                node_id = by_pk[(kind, pk)]
                if flag not in flags[node_id]:
                    flags[node_id].append(flag)
    return dict(flags)


def _count_by(items: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item[key]] += 1
    return dict(sorted(counts.items()))


def _account_names() -> dict[str, str]:
    return {
        account_id: name or alias or account_id
        for account_id, name, alias in Account.objects.values_list("account_id", "name", "alias")
    }


# --- page helpers ---------------------------------------------------------------------------

TABLE_LIMIT = 1000
_VIEW_URLS = {
    "identity": "identities:graph-identity",
    "access": "identities:graph-access",
    "paths": "identities:graph-paths",
}


def empty_graph(view: str) -> dict[str, Any]:
    """A view with nothing in it (a path finder before both ends are chosen)."""
    return {
        "view": view,
        "nodes": [],
        "edges": [],
        "aggregated": False,
        "stats": {"nodes": 0, "edges": 0, "by_kind": {}},
        "links": _links(),
        "paths": [],
        "highlight": [],
    }


def view_of_url(url: str) -> str:
    """ "identity", "access" or "paths" when the URL is one of the graph pages, else ""."""
    path = urlsplit(url).path
    for view, name in _VIEW_URLS.items():
        if path == reverse(name):
            return view
    return ""


def url_with(url: str, params: dict[str, str], drop: Iterable[str] = ()) -> str:
    """The URL's path and query with ``params`` set and the ``drop`` parameters removed."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params and k not in drop]
    query.extend((k, v) for k, v in params.items() if v != "")
    return f"{parts.path}?{urlencode(query)}" if query else parts.path


def node_panel_url(node_id: str) -> str:
    """The URL of a node's detail panel."""
    return _Urls().panel_url(node_id)


def view_url(view: str, params: dict[str, str]) -> str:
    return url_with(reverse(_VIEW_URLS[view]), params)


def panel_links(node_id: str, current_url: str) -> dict[str, str]:
    """The graph links of a node's panel: expand it in the current view, focus it, find paths."""
    kind, _ = split_node_id(node_id)
    view = view_of_url(current_url)
    links = {}
    if view in {"identity", "access"}:
        present = [v for k, v in parse_qsl(urlsplit(current_url).query) if k == "expand"]
        parts = urlsplit(current_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "node"]
        if node_id not in present:
            query.append(("expand", node_id))
        query.append(("node", node_id))
        links["expand"] = f"{parts.path}?{urlencode(query)}"
    if kind in {"user", "group", "role", "policy", "inline"}:
        links["identity"] = view_url("identity", {"focus": node_id, "node": node_id})
    if kind not in {"group", "policy", "inline"}:
        links["access"] = view_url("access", {"focus": node_id, "node": node_id})
        links["paths_from"] = view_url("paths", {"source": node_id})
    if kind == "role":
        links["paths_to"] = view_url("paths", {"target": node_id})
    return links


def describe_node(node_id: str) -> dict[str, str] | None:
    """Kind and name of a node id, for the "Focus: …" line (no query; None when malformed)."""
    if not node_id:
        return None
    try:
        kind, key = split_node_id(node_id)
    except GraphError:
        return None
    if kind in PRINCIPAL_KINDS:
        account_id, _, name = key.partition(":")
        label, account = name, account_id
    elif kind == "policy":
        label, account = _policy_name(key), ""
    elif kind == "inline":
        label, account = key.rsplit(":", 1)[-1], key.split(":")[1] if ":" in key else ""
    else:
        label, account = key or "Anyone (*)", ""
    return {
        "id": node_id,
        "kind": kind,
        "kind_label": NODE_KIND_LABELS.get(kind, kind),
        "label": label,
        "account": account,
    }


def table_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The view's edges as rows (source, relation, target, details), at most TABLE_LIMIT,
    then the nodes no edge touches: the same information as the picture."""
    nodes = {node["id"]: node for node in data["nodes"]}
    rows = []
    touched: set[str] = set()
    for edge in data["edges"]:
        source, target = nodes[edge["source"]], nodes[edge["target"]]
        touched.update((edge["source"], edge["target"]))
        if len(rows) >= TABLE_LIMIT:
            continue
        relation = EDGE_KIND_LABELS.get(edge["kind"], edge["kind"])
        if edge.get("action"):
            relation = f"can assume ({edge['action']})"
        rows.append({"source": source, "target": target, "relation": relation, "edge": edge})
    for node_id, node in nodes.items():
        if node_id not in touched and node["kind"] not in {"box", "column"}:
            if len(rows) >= TABLE_LIMIT:
                break
            rows.append({"source": node, "target": None, "relation": "", "edge": None})
    return rows


def _links() -> dict[str, str]:
    return {"edge": reverse("identities:graph-edge")}


# --- exports --------------------------------------------------------------------------------


def graph_to_graphml(data: dict[str, Any]) -> str:
    """The view as GraphML (yEd, Gephi, networkx read it): scalar attributes only, lists joined
    by newlines, positions as x/y."""
    graph = nx.MultiDiGraph()
    for node in data["nodes"]:
        if node["kind"] in {"column"}:
            continue
        graph.add_node(node["id"], **_scalar_attrs(node, skip={"id"}))
    for edge in data["edges"]:
        graph.add_edge(
            edge["source"],
            edge["target"],
            key=edge["id"],
            **_scalar_attrs(edge, skip={"source", "target"}),
        )
    return "\n".join(nx.generate_graphml(graph, named_key_ids=True, edge_id_from_attribute="id"))


def _scalar_attrs(item: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in item.items():
        if key in skip or value is None:
            continue
        if isinstance(value, list | tuple):
            attrs[key] = "\n".join(str(v) for v in value)
        elif isinstance(value, dict):
            attrs[key] = "&".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            attrs[key] = value
    return attrs


_SVG_FILL = {
    "user": ("#dbeafe", "#1d4ed8"),
    "group": ("#ccfbf1", "#0f766e"),
    "role": ("#ede9fe", "#6d28d9"),
    "policy-aws": ("#ffedd5", "#c2410c"),
    "policy-customer": ("#fef3c7", "#b45309"),
    "inline": ("#f1f5f9", "#475569"),
    "service": ("#e0e7ff", "#4338ca"),
    "federated": ("#fae8ff", "#a21caf"),
    "account": ("#fee2e2", "#b91c1c"),
    "external": ("#fee2e2", "#b91c1c"),
    "anyone": ("#fecaca", "#991b1b"),
    "access-group": ("#e0f2fe", "#0369a1"),
    "aggregate": ("#f8fafc", "#334155"),
}
_SVG_EDGE = {"conditional": "#b45309", "denied": "#94a3b8"}


def graph_to_svg(data: dict[str, Any], highlight: Iterable[str] = ()) -> str:
    """The view drawn as a standalone SVG from the server's positions (what the page shows,
    without client state), for tickets and audit evidence."""
    half_w, half_h = NODE_WIDTH / 2, 15
    nodes = {n["id"]: n for n in data["nodes"] if "x" in n}
    boxes = [n for n in data["nodes"] if n["kind"] == "box"]
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in nodes.values():
        if node.get("parent"):
            children[node["parent"]].append(node)
    box_rects = {}
    for box in boxes:
        members = children.get(box["id"], [])
        if not members:
            continue
        x0 = min(n["x"] for n in members) - half_w - 16
        x1 = max(n["x"] for n in members) + half_w + 16
        y0 = min(n["y"] for n in members) - half_h - 34
        y1 = max(n["y"] for n in members) + half_h + 16
        box_rects[box["id"]] = (x0, y0, x1, y1)
    xs = [n["x"] for n in nodes.values()] or [0]
    ys = [n["y"] for n in nodes.values()] or [0]
    min_x = min([min(xs) - half_w, *(r[0] for r in box_rects.values())]) - 20
    min_y = min([min(ys) - half_h, *(r[1] for r in box_rects.values())]) - 20
    max_x = max([max(xs) + half_w, *(r[2] for r in box_rects.values())]) + 20
    max_y = max([max(ys) + half_h, *(r[3] for r in box_rects.values())]) + 20
    width, height = max_x - min_x, max_y - min_y
    marked = set(highlight)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{min_x:.0f} {min_y:.0f} '
        f'{width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#64748b"/></marker>',
        '<marker id="arrow-hl" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#1d4ed8"/></marker>',
        "</defs>",
        f'<rect x="{min_x:.0f}" y="{min_y:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'fill="#ffffff"/>',
    ]
    for box in boxes:
        if box["id"] not in box_rects:
            continue
        x0, y0, x1, y1 = box_rects[box["id"]]
        out.append(
            f'<g class="box"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
            f'height="{y1 - y0:.1f}" rx="8" fill="#f8fafc" stroke="#cbd5e1"/>'
            f'<text x="{x0 + 10:.1f}" y="{y0 + 18:.1f}" font-weight="bold" fill="#334155">'
            f"{escape(box['label'])}</text></g>"
        )
    for node in data["nodes"]:
        if node["kind"] == "column":
            out.append(
                f'<text x="{node["x"]:.1f}" y="{node["y"]:.1f}" text-anchor="middle" '
                f'font-weight="bold" fill="#475569">{escape(node["label"])}</text>'
            )
    for edge in data["edges"]:
        source, target = nodes.get(edge["source"]), nodes.get(edge["target"])
        if not source or not target:
            continue
        hl = edge["id"] in marked
        colour = "#1d4ed8" if hl else _SVG_EDGE.get(edge.get("outcome", ""), "#64748b")
        dash = ' stroke-dasharray="6 4"' if edge.get("outcome") == "conditional" else ""
        if edge.get("outcome") == "denied":
            dash = ' stroke-dasharray="2 3"'
        x1, y1, x2, y2 = _clip(source, target, half_w, half_h)
        title = f"{source['label']} {EDGE_KIND_LABELS.get(edge['kind'], edge['kind'])} "
        title += target["label"]
        if edge.get("conditions"):
            title += " when " + ", ".join(edge["conditions"])
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{3 if hl else 1.4}"{dash} marker-end="url(#{"arrow-hl" if hl else "arrow"})">'
            f"<title>{escape(title)}</title></line>"
        )
    for node in nodes.values():
        if node["kind"] in {"box", "column"}:
            continue
        fill, stroke = _SVG_FILL.get(node["kind"], ("#f1f5f9", "#475569"))
        hl = node["id"] in marked
        label = node["label"] if len(node["label"]) <= 26 else node["label"][:25] + "…"
        if node.get("count"):
            label = f"{label} ({node['count']})"
        out.append(
            f'<g class="node"><rect x="{node["x"] - half_w:.1f}" y="{node["y"] - half_h:.1f}" '
            f'width="{NODE_WIDTH}" height="{2 * half_h}" rx="6" fill="{fill}" '
            f'stroke="{"#1d4ed8" if hl else stroke}" stroke-width="{3 if hl else 1.2}"/>'
            f'<text x="{node["x"]:.1f}" y="{node["y"] + 4:.1f}" text-anchor="middle" '
            f'fill="#0f172a">{escape(label)}</text><title>{escape(node["id"])}</title></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _clip(
    source: dict[str, Any], target: dict[str, Any], half_w: float, half_h: float
) -> tuple[float, float, float, float]:
    """The segment between two node rectangles, cut at their borders."""
    x1, y1, x2, y2 = source["x"], source["y"], target["x"], target["y"]
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return x1, y1, x2, y2
    scale = min(
        half_w / abs(dx) if dx else math.inf,
        half_h / abs(dy) if dy else math.inf,
    )
    return x1 + dx * scale, y1 + dy * scale, x2 - dx * scale, y2 - dy * scale
