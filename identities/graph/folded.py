"""The members of a folded node ("roles × 600"), so that a person picks one of them to add to
the graph instead of drilling into the same folded picture again.

A node folded in memory (`identities.graph.fold`) carries its members; one folded by the
database (`identities.graph.overview`) stands for every principal or policy (managed or inline) of its kind
in its account, read here.
"""

from __future__ import annotations

from typing import Any

from identities import models
from identities.graph.build import GraphError, describe_node

# What a folded node of the database overview stands for: its `of` -> the rows of its account.
_PRINCIPALS: dict[str, type[models.IamUser] | type[models.IamGroup] | type[models.IamRole]] = {
    "user": models.IamUser,
    "group": models.IamGroup,
    "role": models.IamRole,
}
_OWNER_KINDS = ("user", "group", "role")


def folded_node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    """The folded node ``node_id`` of a built graph; GraphError when the view has none."""
    for node in data["nodes"]:
        if node["id"] == node_id and node["kind"] == "aggregate":
            return node
    raise GraphError(f"No folded node {node_id!r} in this view: it may have changed; reload it.")


def folded_member_ids(data: dict[str, Any], node_id: str) -> list[str]:
    """The node ids a folded node of ``data`` stands for, sorted."""
    node = folded_node(data, node_id)
    members = data.get("folded_members", {}).get(node_id)
    if members:
        return sorted(members)
    return database_members(node.get("of", ""), node.get("account", ""))


def database_members(of: str, account: str) -> list[str]:
    """The node ids of every user, group or role (``of``) of ``account``, or of its
    customer-managed policies, or of the AWS-managed policies: what a node the database folded
    stands for. Read without building the view again."""
    if of in _PRINCIPALS:
        names = (
            _PRINCIPALS[of]
            .objects.filter(account__account_id=account)
            .values_list("name", flat=True)
        )
        return [f"{of}:{account}:{name}" for name in sorted(names)]
    if of in {"policy-aws", "policy-customer"}:
        policies = models.ManagedPolicy.objects.filter(is_aws_managed=of == "policy-aws")
        if of == "policy-customer":
            policies = policies.filter(account__account_id=account)
        arns = policies.values_list("arn", flat=True).distinct()
        return [f"policy:{arn}" for arn in sorted(set(arns))]
    if of == "inline":
        return sorted(_inline_ids(account))
    return []


def _inline_ids(account: str) -> list[str]:
    """The node ids of the inline policies of ``account``'s users, groups and roles."""
    rows = models.InlinePolicy.objects.filter(account__account_id=account).values_list(
        "name", "user__name", "group__name", "role__name"
    )
    ids = []
    for name, *owners in rows:
        owner_kind, owner = next(
            (kind, owner) for kind, owner in zip(_OWNER_KINDS, owners, strict=True) if owner
        )
        ids.append(f"inline:{owner_kind}:{account}:{owner}:{name}")
    return ids


def folded_member_rows(ids: list[str], q: str = "") -> list[dict[str, str]]:
    """Kind, name and account of each member id (`describe_node`) whose name or id holds
    ``q`` (any case)."""
    needle = q.strip().lower()
    rows = []
    for node_id in ids:
        described = describe_node(node_id)
        if described is None:
            continue
        if needle and needle not in described["label"].lower() and needle not in node_id.lower():
            continue
        rows.append(described)
    return rows


def is_folded_id(node_id: str) -> bool:
    """Whether ``node_id`` names a folded node (``agg:…``), which has no row of its own."""
    return node_id.startswith("agg:")


def folded_edge(data: dict[str, Any], source: str, target: str, kind: str) -> dict[str, Any]:
    """What a drawn edge with a folded end stands for: the edges of ``kind`` the view ``data``
    merged between ``source`` and ``target`` (one per outcome), how many each carries, and each
    end with the list its folded node opens (``members_url``). GraphError when the view draws
    no such edge."""
    drawn = [
        edge
        for edge in data["edges"]
        if edge["source"] == source and edge["target"] == target and edge["kind"] == kind
    ]
    if not drawn:
        raise GraphError(
            f"No {kind} edge from {source!r} to {target!r} in this view: "
            "it may have changed; reload it."
        )
    by_outcome: dict[str, int] = {}
    conditions: set[str] = set()
    requirements: set[str] = set()
    for edge in drawn:
        outcome = edge.get("outcome", "")
        by_outcome[outcome] = by_outcome.get(outcome, 0) + edge.get("count", 1)
        conditions.update(edge.get("conditions") or ())
        requirements.update(edge.get("requirements") or ())
    return {
        "count": sum(by_outcome.values()),
        "outcomes": sorted(by_outcome.items(), key=lambda item: (-item[1], item[0])),
        "conditions": sorted(conditions),
        "requirements": sorted(requirements),
        "ends": [_edge_end(data, source), _edge_end(data, target)],
    }


def _edge_end(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    """One end of a folded edge: its label and, for a folded node, its member count and the URL
    of its list of members."""
    if is_folded_id(node_id):
        node = folded_node(data, node_id)
        return {
            "id": node_id,
            "label": node["label"],
            "account": node.get("account_name") or node.get("account", ""),
            "count": node.get("count", 0),
            "members_url": node["members_url"],
        }
    for drawn in data["nodes"]:
        if drawn["id"] == node_id:
            return {
                "id": node_id,
                "label": drawn["label"],
                "account": drawn.get("account_name") or drawn.get("account", ""),
            }
    raise GraphError(f"No node {node_id!r} in this view: it may have changed; reload it.")
