"""What every graph is made of: node ids, the in-memory builder, the kinds and labels, and the
limits of a view. Pure: no query, no URL.

Node ids are permalink-friendly and survive re-imports: ``user:<account id>:<name>``,
``group:…``, ``role:…``, ``policy:<ARN>`` (one node per AWS-managed policy, whatever the
number of accounts holding a copy), ``inline:<owner kind>:<account id>:<owner>:<policy name>``
(IAM names never contain ``:``), and outside parties ``service:<principal>``,
``federated:<provider ARN or web identity>``, ``account:<id>`` (an account root outside the
estate), ``external:<ARN>``, ``anyone``; ``access-group:<key>`` for the principals of an
account that share their access, ``agg:…`` for folded nodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from identities.arns import (
    SourceKind,
    account_of,
    classify_arn,
    federated_protocol,
    is_account_id,
    is_aws_managed_policy,
    parse_arn,
    root_arn,
)
from identities.arns import outside_kind as _outside_kind_of

AGGREGATE_THRESHOLD = 1500
# A folded view draws at most this many edges, the heaviest (see thin_out).
EDGE_LIMIT = 400
# A neighbourhood stops growing past this many nodes (it is then folded to fit the threshold).
COLLECT_LIMIT = 20000
# An access view around a node takes a further hop only from a frontier (the nodes its last hop
# reached) of at most this many nodes, unless asked for every hop (`full`): from wider ones
# the next hop reads tens of thousands of edges (a group that can assume a thousand roles,
# then everything those roles can assume) that fold into per-account nodes anyway.
WIDE_FRONTIER = 1000
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

IDENTITY_EDGE_KINDS = ("member", "attached", "inline", "boundary", "escalate")
# ``escalate``: a principal can become another one by an escalation method (not an sts call).
ACCESS_EDGE_KINDS = ("assume", "federated", "service", "anyone", "outside", "escalate")
_FILTERABLE_KINDS = frozenset(IDENTITY_EDGE_KINDS + ACCESS_EDGE_KINDS)
EDGE_KIND_LABELS = {
    "member": "member of",
    "attached": "has managed policy",
    "inline": "has inline policy",
    "boundary": "bounded by",
    "assume": "can assume",
    "pass-role": "can pass to a service",
    "escalate": "can escalate to",
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
# A key holds whatever a name holds, a newline included; never NUL (PostgreSQL refuses it).
_NODE_ID = re.compile(r"(?P<kind>[a-z-]+)(?::(?P<key>[^\x00]+))?")


class GraphError(ValueError):
    """A focus, source or target that names no node of the estate."""


# --- node ids -------------------------------------------------------------------------------


def principal_node_id(kind: str, account_id: str, name: str) -> str:
    return f"{kind}:{account_id}:{name}"


def split_node_id(node_id: str) -> tuple[str, str]:
    """``("role", "444444444444:deploy")`` from ``"role:444444444444:deploy"``."""
    match = _NODE_ID.fullmatch(node_id or "")
    if not match:
        raise GraphError(f"Not a node id: {node_id!r}")
    return match["kind"], match["key"] or ""


def account_and_name(key: str) -> tuple[str, str]:
    account_id, _, name = key.partition(":")
    if not is_account_id(account_id) or not name:
        raise GraphError(f"Expected <account id>:<name>, got {key!r}")
    return account_id, name


def policy_kind(arn: str) -> str:
    return "policy-aws" if is_aws_managed_policy(arn) else "policy-customer"


def policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


# --- the graph in memory --------------------------------------------------------------------


@dataclass
class Scope:
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
class Builder:
    scope: Scope
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    pks: dict[str, int] = field(default_factory=dict)
    truncated: bool = False
    # Edges held back for `fold_graph` by `later_edge`, by (source, target, key).
    pending: dict[tuple[str, str, Any], dict[str, Any]] = field(default_factory=dict)

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

    def seed_all(self, node_ids: Iterable[str], seed: Callable[[str], None]) -> set[str]:
        """Seed each named node not in the graph yet with ``seed``, skipping the ids that name
        nothing (a stale link or junk); returns the ids asked for that are in the graph."""
        wanted = {node_id for node_id in node_ids if node_id}
        for node_id in sorted(wanted - set(self.graph)):
            try:
                seed(node_id)
            except GraphError:
                continue
        return {node_id for node_id in wanted if node_id in self.graph}

    def edge(self, source: str, target: str, kind: str, **extra: Any) -> None:
        if source in self.graph and target in self.graph and self.scope.keeps_kind(kind):
            key = extra.pop("key", kind)
            self.graph.add_edge(source, target, key=key, kind=kind, **extra)

    def later_edge(self, source: str, target: str, kind: str) -> None:
        """`edge`, held in ``pending`` for `fold_graph` rather than drawn: a neighbourhood's
        thousands of policy edges mostly fold into a few, and the fold reads none of them."""
        if source in self.graph and target in self.graph and self.scope.keeps_kind(kind):
            self.pending[(source, target, kind)] = {"kind": kind}


# Members of an access group are drawn one by one up to this many; past it the group node alone
# stands for them (its panel lists them).
MEMBER_LIMIT = 25
SOURCE_CATEGORY = {
    "user": "assume",
    "role": "assume",
    "group": "assume",
    "account": "outside",
    "external": "outside",
    "service": "service",
    "federated": "federated",
    "anyone": "anyone",
}


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
        account_id = account_of(provider)
        protocol = federated_protocol(provider)
        label = f"{provider.rsplit('/', 1)[-1]} ({protocol})" if account_id else provider
        return f"federated:{provider}", "federated", label, account_id
    account_id = account_of(source)
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
        return root_arn(key)
    if kind == "external":
        return key
    if kind == "access-group":
        return f"group:{key}"
    raise GraphError(f"{node_id!r} is not an outside party or access group")


OUTSIDE_KINDS = ("account", "external", "service", "federated", "anyone")


def arn_node_id(arn: str) -> str:
    """The node id of an ARN (or ``*``, ``service:…``, ``federated:…``) in a chain."""
    if arn == "*":
        return "anyone"
    if arn.startswith(("service:", "federated:")):
        return arn
    if arn.startswith("group:"):
        return f"access-group:{arn.removeprefix('group:')}"
    kind = classify_arn(arn)
    parsed = parse_arn(arn)
    if parsed is not None and kind in (SourceKind.USER, SourceKind.ROLE):
        return principal_node_id(str(kind), parsed.account, parsed.name)
    if parsed is not None and kind == SourceKind.ACCOUNT:
        return f"account:{parsed.account}"
    return f"external:{arn}"


def outside_kind(source: str) -> str:
    """The source kind of a chain's principal that is not a user or role of the estate."""
    return str(_outside_kind_of(source))


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
        label, account = policy_name(key), ""
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
