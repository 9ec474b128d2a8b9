"""Read side of the graph pages: the detail panel of a node or an edge, search suggestions, and
the exact policy statements behind an access edge. Nothing here writes or re-evaluates a policy;
access edges come from the stored analysis through `identities.queries.access`, so a panel
shows what the graph draws and the path finder finds.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.db.models import Q

from identities import models
from identities.arns import AWS_MANAGED_ACCOUNT, parse_arn
from identities.graph.build import (
    EDGE_KIND_LABELS,
    NODE_KIND_LABELS,
    GraphError,
    arn_node_id,
    node_source,
    outside_node,
    principal_node_id,
    split_node_id,
)
from identities.graph.escalations import escalation_details
from identities.graph.identity import PRINCIPAL_MODELS, principal_field
from identities.queries.access import (
    DirectAccess,
    access_into,
    access_out_of,
    edges_between,
)
from identities.queries.escalations import escalations_of
from identities.queries.graph_edges import member_arns, outside_sources

logger = logging.getLogger(__name__)

PANEL_LIMIT = 15
SUGGEST_LIMIT = 6


# --- the exact statements behind an edge ------------------------------------------------------

_REF = re.compile(
    r"^statement (?:'(?P<sid>.*)' )?\(Statement\[(?P<index>\d+)\]\) of "
    r"(?P<kind>.+?) (?P<name>\S+) \((?P<arn>[^()]+)\)$"
)


def _statements_of(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def resolve_statements(refs: list[str], account_id: str | None = None) -> list[dict[str, Any]]:
    """Each analysis reference ("statement 'Sid' (Statement[0]) of trust policy deploy (ARN)")
    with the statement itself, read from the stored document (None when it cannot be found).

    `account_id` is the account whose identity policies the edge was evaluated with: an
    AWS-managed policy is read from that account's copy, never from another account's."""
    resolved = []
    for ref in refs:
        match = _REF.match(ref)
        statement = None
        warning = ""
        if match:
            document, warning = _document_for(
                match["kind"], match["name"], match["arn"], account_id
            )
            statements = _statements_of(document)
            index = int(match["index"])
            statement = statements[index] if index < len(statements) else None
        resolved.append({"ref": ref, "statement": statement, "warning": warning})
    return resolved


def _document_for(kind: str, name: str, arn: str, account_id: str | None) -> tuple[Any, str]:
    if kind == "trust policy":
        role = models.IamRole.objects.filter(arn=arn, account__account_id=_arn_account(arn))
        return role.values_list("trust_policy", flat=True).first(), ""
    if kind.startswith("inline policy"):
        owner = Q(user__arn=arn) | Q(group__arn=arn) | Q(role__arn=arn)
        inline = models.InlinePolicy.objects.filter(
            owner, name=name, account__account_id=_arn_account(arn)
        )
        return inline.values_list("document", flat=True).first(), ""
    if "policy" in kind or kind.startswith("permissions boundary"):
        policy, warning = managed_policy_copy(arn, account_id)
        return (policy.document if policy is not None else None), warning
    return None, ""


def _arn_account(arn: str) -> str:
    parsed = parse_arn(arn)
    return parsed.account if parsed is not None else ""


def managed_policy_copy(
    arn: str, account_id: str | None
) -> tuple[models.ManagedPolicy | None, str]:
    """The copy of a managed policy that `account_id` holds, and a warning when the accounts'
    copies of one AWS-managed policy differ.

    Every account lists its own copy of the AWS-managed policies it uses, so one account can
    list a rewritten `AdministratorAccess`: its copy is shown for its own principals only.
    Without an account (a policy node), the copy most accounts hold is shown. A customer-managed
    policy is only ever read from the account its ARN names.
    """
    owner = _arn_account(arn)
    copies = models.ManagedPolicy.objects.select_related("account").filter(arn=arn)
    if owner != AWS_MANAGED_ACCOUNT:
        return copies.filter(account__account_id=owner).first(), ""
    found = list(copies.filter(is_aws_managed=True).order_by("account__account_id"))
    by_text: dict[str, list[models.ManagedPolicy]] = {}
    for policy in found:
        by_text.setdefault(_canonical(policy.document), []).append(policy)
    if account_id is not None:
        shown = next((p for p in found if p.account.account_id == account_id), None)
    else:
        # The most common document; on a tie, the copy of the lowest account id.
        common = max(by_text.values(), key=len, default=[])
        shown = common[0] if common else None
    if shown is None or len(by_text) < 2:
        return shown, ""
    others = sorted(
        p.account.account_id
        for text, holders in by_text.items()
        if text != _canonical(shown.document)
        for p in holders
    )
    warning = (
        f"The accounts' copies of this AWS-managed policy differ: this is account "
        f"{shown.account.account_id}'s copy; {', '.join(others)} hold a different document."
    )
    logger.warning("copies of %s differ between accounts", arn)
    return shown, warning


def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


# --- node panels ------------------------------------------------------------------------------


def _edge_row(
    other_id: str,
    other_label: str,
    other_kind: str,
    access: DirectAccess,
    *,
    incoming: bool,
    node_id: str,
) -> dict[str, Any]:
    return {
        "source": other_id if incoming else node_id,
        "target": node_id if incoming else other_id,
        "edge_kind": "assume",
        "id": other_id,
        "label": other_label,
        "kind": other_kind,
        "kind_label": NODE_KIND_LABELS.get(other_kind, other_kind),
        "outcome": access.outcome,
        "conditions": list(access.condition_keys),
        "requirements": [text for _, text in access.requirements],
        "action": access.action,
        "incoming": incoming,
    }


def _arn_name(arn: str) -> str:
    parsed = parse_arn(arn)
    return parsed.name if parsed is not None else arn


def _source_of(access: DirectAccess) -> tuple[str, str, str]:
    """(node id, label, kind) of an edge's source."""
    kind = access.source_kind
    if kind in {"user", "role"}:
        return arn_node_id(access.source), _arn_name(access.source), kind
    if kind == "group":
        return f"access-group:{access.group}", access.group_label, "access-group"
    node_id, node_kind, label, _ = outside_node(access.source, kind)
    return node_id, label, node_kind


def _incoming(role: models.IamRole, node_id: str) -> tuple[list[dict[str, Any]], int]:
    """Who can assume the role, access groups as one row each (as the graph draws them)."""
    found = sorted(access_into(role, expand_groups=False), key=lambda a: (a.source_kind, a.source))
    rows = []
    for access in found[:PANEL_LIMIT]:
        other, label, kind = _source_of(access)
        rows.append(_edge_row(other, label, kind, access, incoming=True, node_id=node_id))
    return rows, len(found)


def _outgoing(
    principal: models.IamUser | models.IamRole | str, node_id: str
) -> tuple[list[dict[str, Any]], int]:
    """The roles a principal (or a source string) can assume: its own edges, and its access
    group's where its own edge does not replace them."""
    found = [(arn_node_id(access.target), access) for access in access_out_of(principal)]
    found.sort(key=lambda item: split_node_id(item[0])[1].split(":", 1))
    rows = []
    for other, access in found[:PANEL_LIMIT]:
        label = _arn_name(access.target)
        rows.append(_edge_row(other, label, "role", access, incoming=False, node_id=node_id))
    return rows, len(found)


def _risk(kind: str, pk: int) -> dict[str, Any]:
    owner = {f"{kind}_id": pk}
    source = {f"source_{kind}_id": pk}
    admin = models.Administrator.objects.filter(**owner).values("basis", "reason").first()
    path = (
        models.AdminPath.objects.filter(**source).values("hops", "path", "condition_keys").first()
    )
    findings = list(models.Finding.objects.filter(**owner).values("severity", "title"))
    return {"admin": admin, "admin_path": path, "findings": findings}


def node_panel(node_id: str) -> dict[str, Any]:
    """Everything the panel beside the graph shows about one node (raises GraphError)."""
    kind, key = split_node_id(node_id)
    panel: dict[str, Any] = {
        "id": node_id,
        "kind": kind,
        "kind_label": NODE_KIND_LABELS.get(kind, kind),
        "can_focus_identity": kind in {"user", "group", "role", "policy", "inline"},
        "can_focus_access": kind not in {"group", "policy", "inline"},
    }
    if kind in {"user", "group", "role"}:
        account_id, _, name = key.partition(":")
        model = PRINCIPAL_MODELS[kind]
        obj = model.objects.select_related("account").filter(
            account__account_id=account_id, name=name
        )
        found = obj.first()
        if found is None:
            raise GraphError(f"No IAM {kind} named {name!r} in account {account_id}.")
        panel.update(
            label=found.name, object=found, account=found.account, url=found.get_absolute_url()
        )
        panel.update(_principal_panel(kind, found, node_id))
    elif kind == "policy":
        policy, warning = managed_policy_copy(key, None)
        if policy is None:
            raise GraphError(f"No managed policy {key}.")
        users = models.PolicyAttachment.objects.filter(policy__arn=key)
        panel.update(
            label=policy.name,
            object=policy,
            account=None if policy.is_aws_managed else policy.account,
            url=policy.get_absolute_url(),
            kind_label=NODE_KIND_LABELS[
                "policy-aws" if policy.is_aws_managed else "policy-customer"
            ],
            document=policy.document,
            copy_warning=warning,
            attachment_count=users.count(),
        )
    elif kind == "inline":
        owner_kind, account_id, owner, name = (key.split(":", 3) + ["", "", ""])[:4]
        if owner_kind not in {"user", "group", "role"}:
            raise GraphError(f"Not an inline policy id: {node_id!r}")
        inline = (
            models.InlinePolicy.objects.select_related("account")
            .filter(account__account_id=account_id, name=name, **{f"{owner_kind}__name": owner})
            .first()
        )
        if inline is None:
            raise GraphError(f"No inline policy {name!r} on {owner_kind} {owner}.")
        owner_url = principal_node_id(owner_kind, account_id, owner)
        panel.update(
            label=name,
            object=inline,
            account=inline.account,
            document=inline.document,
            owner=f"{owner_kind} {owner}",
            owner_id=owner_url,
        )
    elif kind == "access-group":
        group = models.AccessGroup.objects.select_related("account").filter(key=key).first()
        if group is None:
            raise GraphError(f"No access group {key} in the current analysis.")
        members = member_arns(group)
        panel.update(
            label=group.label,
            object=group,
            account=group.account,
            policies=group.policies,
            members=[{"arn": arn, "id": arn_node_id(arn)} for arn in members[:PANEL_LIMIT]],
            member_count=group.member_count,
        )
        panel["out"], panel["out_count"] = _outgoing(f"group:{group.key}", node_id)
    elif kind in {"service", "federated", "account", "external", "anyone"}:
        source = node_source(node_id)
        panel.update(label=key or "Anyone (*)", source=source)
        panel["out"], panel["out_count"] = _outgoing(source, node_id)
        if not panel["out_count"]:
            raise GraphError(f"No access edge comes from {source}.")
        if kind == "account":
            panel["account"] = models.Account.objects.filter(account_id=key).first()
    else:
        raise GraphError(f"No panel for {kind} nodes.")
    return panel


def _principal_panel(
    kind: str, obj: models.IamUser | models.IamGroup | models.IamRole, node_id: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    owner: dict[str, Any] = {kind: obj}
    found["policies"] = list(
        models.PolicyAttachment.objects.filter(**owner)
        .order_by("policy__name")
        .values_list("policy__name", "policy__arn", "policy__is_aws_managed")
    )
    found["inline_policies"] = list(
        models.InlinePolicy.objects.filter(**owner).order_by("name").values_list("name", flat=True)
    )
    if kind == "user":
        found["groups"] = list(
            models.GroupMembership.objects.filter(user_id=obj.pk)
            .order_by("group__name")
            .values_list("group__name", flat=True)
        )
    if kind == "group":
        members = models.GroupMembership.objects.filter(group_id=obj.pk).order_by("user__name")
        found["group_members"] = list(members.values_list("user__name", flat=True)[:PANEL_LIMIT])
        found["member_count"] = members.count()
        return found
    assert isinstance(obj, models.IamUser | models.IamRole)
    found["out"], found["out_count"] = _outgoing(obj, node_id)
    if isinstance(obj, models.IamRole):
        found["in"], found["in_count"] = _incoming(obj, node_id)
    found["risk"] = _risk(kind, obj.pk)
    return found


# --- edge panels ------------------------------------------------------------------------------


def edge_panel(source: str, target: str, kind: str) -> dict[str, Any]:
    """The edge between two nodes with the statements behind it (raises GraphError)."""
    panel: dict[str, Any] = {
        "source": source,
        "target": target,
        "kind": kind,
        "relation": EDGE_KIND_LABELS.get(kind, kind),
    }
    source_kind, source_key = split_node_id(source)
    target_kind, target_key = split_node_id(target)
    panel["source_label"] = _short_label(source_kind, source_key)
    panel["target_label"] = _short_label(target_kind, target_key)
    if kind in {"attached", "boundary"}:
        holder = source_key.partition(":")[0] if source_kind in PRINCIPAL_MODELS else None
        policy, warning = managed_policy_copy(target_key, holder)
        if policy is None:
            raise GraphError(f"No managed policy {target_key}.")
        panel["documents"] = [
            {"label": policy.name, "document": policy.document, "warning": warning}
        ]
    elif kind == "inline":
        owner_kind, account_id, owner, name = (target_key.split(":", 3) + ["", "", ""])[:4]
        document = (
            models.InlinePolicy.objects.filter(
                account__account_id=account_id, name=name, **{f"{owner_kind}__name": owner}
            )
            .values_list("document", flat=True)
            .first()
        )
        panel["documents"] = [{"label": name, "document": document}]
    elif kind == "member":
        panel["documents"] = []
    elif kind == "in-group":
        group = (
            models.AccessGroup.objects.filter(key=target_key).values("label", "policies").first()
        )
        if group is None:
            raise GraphError(f"No access group {target_key}.")
        panel["group"] = group
    elif kind == "escalate":
        panel["escalations"] = _escalation_edges(source_kind, source_key, target_kind, target_key)
        if not panel["escalations"]:
            raise GraphError(f"No stored escalation from {source} to {target}.")
    else:
        panel["access"] = _access_edges(source, source_kind, source_key, target_key)
        if not panel["access"]:
            raise GraphError(f"No stored access edge from {source} to {target}.")
    return panel


def _short_label(kind: str, key: str) -> str:
    if kind in {"user", "group", "role"}:
        account_id, _, name = key.partition(":")
        return f"{name} ({account_id})"
    if kind == "policy":
        return key.rsplit("/", 1)[-1]
    if kind == "inline":
        return key.rsplit(":", 1)[-1]
    return key or "Anyone (*)"


def _access_edges(source: str, source_kind: str, source_key: str, target_key: str) -> list[dict]:
    """The stored edges from a node to a role, refused ones included (the member's own edge
    replaces its group's, as everywhere)."""
    target = principal_field("role", target_key, "arn")
    if source_kind in {"user", "role"}:
        arn = principal_field(source_kind, source_key, "arn")
    else:
        arn = node_source(source)
    found = edges_between([(arn, target)], include_refused=True).get((arn, target), [])
    return [
        {
            "source": access.source,
            "source_kind": access.source_kind,
            "statements": resolve_statements(list(access.granted_by), _identity_account(access)),
            "action": access.action,
            "outcome": access.outcome,
            "condition_keys": list(access.condition_keys),
            "requirements": list(access.requirements),
            "granted_by": list(access.granted_by),
            "reasons": list(access.reasons),
            "notes": list(access.notes),
            "denied_layer": access.denied_layer,
            "via_pass_role": access.via_pass_role,
            "source_group__label": access.group_label,
        }
        for access in found
    ]


def _escalation_edges(
    source_kind: str, source_key: str, target_kind: str, target_key: str
) -> list[dict[str, Any]]:
    """Every escalation from a user or role to another one: method, status, conditions, the
    statements that grant it, remediation and references (`identities.queries.escalations`)."""
    if source_kind not in {"user", "role"} or target_kind not in {"user", "role"}:
        return []
    arn = principal_field(source_kind, source_key, "arn")
    target = principal_field(target_kind, target_key, "arn")
    return [
        {
            **escalation_details(escalation),
            "conditions": list(escalation.conditions),
            "granted_by": list(escalation.granted_by),
            "statements": resolve_statements(list(escalation.granted_by), _arn_account(arn)),
        }
        for escalation in escalations_of(arn)
        if escalation.target == target
    ]


def _identity_account(access: DirectAccess) -> str | None:
    """The account whose identity policies the edge's source holds."""
    if access.group:
        found = models.AccessGroup.objects.filter(key=access.group)
        return found.values_list("account__account_id", flat=True).first()
    return _arn_account(access.source) or None


# --- suggestions ------------------------------------------------------------------------------


def suggest_nodes(q: str, view: str, limit: int = SUGGEST_LIMIT) -> list[dict[str, str]]:
    """Nodes whose name (or ARN, for outside parties) contains ``q``, for the focus box."""
    q = q.strip()
    if len(q) < 2:
        return []
    found: list[dict[str, str]] = []
    kinds = ["user", "role"] + (["group"] if view == "identity" else [])
    for kind in kinds:
        model = PRINCIPAL_MODELS[kind]
        rows = (
            model.objects.filter(Q(name__icontains=q) | Q(arn__icontains=q))
            .order_by("name", "account__name")
            .values_list("name", "account__account_id", "account__name")[:limit]
        )
        for name, account_id, account_name in rows:
            found.append(
                {
                    "id": principal_node_id(kind, account_id, name),
                    "label": name,
                    "kind": kind,
                    "kind_label": NODE_KIND_LABELS[kind],
                    "account": account_name or account_id,
                }
            )
    if view == "identity":
        policies = (
            models.ManagedPolicy.objects.filter(name__icontains=q)
            .order_by("name", "arn")
            .values_list("name", "arn", "is_aws_managed")
            .distinct()[:limit]
        )
        for name, arn, aws in policies:
            found.append(
                {
                    "id": f"policy:{arn}",
                    "label": name,
                    "kind": "policy",
                    "kind_label": NODE_KIND_LABELS["policy-aws" if aws else "policy-customer"],
                    "account": "AWS" if aws else arn.split(":")[4],
                }
            )
    else:
        for source, source_kind in outside_sources(q, limit):
            node_id, kind, label, account_id = outside_node(source, source_kind)
            found.append(
                {
                    "id": node_id,
                    "label": label,
                    "kind": kind,
                    "kind_label": NODE_KIND_LABELS[kind],
                    "account": account_id,
                }
            )
    return found
