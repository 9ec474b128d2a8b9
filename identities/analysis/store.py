"""Write one analysis run's results: delete the previous rows and insert the new ones.

The caller runs this inside one transaction, so readers see either the previous results or the
new ones. Large tables go in with PostgreSQL's COPY (several times faster than INSERT), with
`bulk_create` on other databases.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import orjson
from django.db.models import Model

from identities.analysis.admins import AdminRecord
from identities.analysis.edges import EdgeRecord, EdgeResult, RoleClass, SourceKind
from identities.analysis.escalations import EscalationResult
from identities.analysis.estate import Actor, Estate
from identities.analysis.findings import FindingRecord
from identities.analysis.reach import Reached
from identities.db import delete_all, insert_rows, refresh_planner_statistics
from identities.models import (
    AccessGroup,
    AccessGroupMember,
    Administrator,
    AdminPath,
    EscalationEdge,
    EscalationGroup,
    EscalationGroupMember,
    Finding,
    RoleClassGrant,
    RoleClassMember,
    StoredAccessEdge,
)

logger = logging.getLogger(__name__)

BATCH = 5000


def clear_results() -> None:
    """Delete every analysis row (children first, so each delete is one statement)."""
    delete_all(
        (
            AdminPath,
            Administrator,
            Finding,
            EscalationEdge,
            EscalationGroupMember,
            EscalationGroup,
            StoredAccessEdge,
            RoleClassGrant,
            RoleClassMember,
            AccessGroupMember,
            AccessGroup,
        )
    )


def store_results(
    estate: Estate,
    result: EdgeResult,
    admins: Sequence[AdminRecord],
    admin_paths: dict[str, tuple[Reached, tuple[str, ...]]],
    findings: Sequence[FindingRecord],
    escalations: EscalationResult | None = None,
) -> dict[str, int]:
    """Replace the stored results with these; returns row counts by table.

    ``admin_paths`` maps a source (as edges name it) to its chain to the nearest administrator
    and the condition keys of the chain's hops.
    """
    clear_results()
    groups = result.grouping.groups
    insert_rows(
        AccessGroup,
        ["key", "account_id", "kind", "label", "policies", "member_count"],
        (
            {
                "key": group.key,
                "account_id": group.account.pk,
                "kind": group.kind,
                "label": group.label[:2000],
                "policies": group.policy_labels,
                "member_count": len(group.members),
            }
            for group in groups
        ),
        batch_size=BATCH,
    )
    group_pk = _insert_members(groups, AccessGroup, AccessGroupMember)
    insert_rows(
        StoredAccessEdge,
        ["source_user_id", "source_role_id", "target_id", *_GRANT_COLUMNS],
        (
            {
                **_principal_pks(edge.actor, "source_"),
                "target_id": edge.target.pk,
                **_grant_columns(edge, group_pk),
            }
            for edge in result.edges
        ),
        batch_size=BATCH,
    )
    store_classes(result.classes, group_pk)
    insert_rows(
        Administrator,
        [
            "account_id",
            "user_id",
            "role_id",
            "arn",
            "basis",
            "condition_keys",
            "statements",
            "reason",
            "via_arn",
        ],
        (
            {
                "account_id": record.actor.account.pk,
                **_principal_pks(record.actor),
                "arn": record.actor.arn,
                "basis": record.basis,
                "condition_keys": list(record.condition_keys),
                "statements": list(record.statements),
                "reason": record.reason,
                "via_arn": record.via.arn if record.via else "",
            }
            for record in admins
        ),
        batch_size=BATCH,
    )
    admin_pk = dict(Administrator.objects.values_list("arn", "pk"))
    kinds = {edge.source: edge.source_kind for edge in result.edges}
    insert_rows(
        AdminPath,
        [*PATH_FIELDS, "administrator_id"],
        path_rows(estate, admin_paths, kinds, "administrator_id", admin_pk),
        batch_size=BATCH,
    )
    insert_rows(
        Finding,
        [
            "kind",
            "severity",
            "account_id",
            "principal_arn",
            "user_id",
            "role_id",
            "title",
            "detail",
            "data",
        ],
        (
            {
                "kind": finding.kind,
                "severity": finding.severity,
                "account_id": finding.account.pk if finding.account else None,
                "principal_arn": finding.principal_arn,
                **_principal_pks(finding.actor),
                "title": finding.title[:1000],
                "detail": finding.detail,
                "data": finding.data,
            }
            for finding in findings
        ),
        batch_size=BATCH,
    )
    escalation_count = store_escalations(escalations) if escalations is not None else 0
    counts = {
        "access_groups": len(groups),
        "escalations": escalation_count,
        "access_edges": result.edge_count,
        "administrators": len(admins),
        "admin_paths": len(admin_paths),
        "findings": len(findings),
    }
    logger.info("stored %s", counts)
    return counts


def store_escalations(result: EscalationResult) -> int:
    """Insert the escalation groups, their members and the escalation edges; returns the
    number of edge rows."""
    groups = result.groups
    insert_rows(
        EscalationGroup,
        ["key", "account_id", "kind", "label", "member_count"],
        (
            {
                "key": group.key,
                "account_id": group.members[0].account.pk,
                "kind": group.members[0].kind,
                "label": group.label[:2000],
                "member_count": len(group.members),
            }
            for group in groups
        ),
        batch_size=BATCH,
    )
    group_pk = _insert_members(groups, EscalationGroup, EscalationGroupMember)
    rows = []
    for record in result.records:
        group = record.group
        actor = record.sources[0]
        rows.append(
            {
                "source": f"group:{group.key}" if group else actor.arn,
                "source_kind": "group" if group else actor.kind,
                **_principal_pks(None if group else actor, "source_"),
                "source_group_id": group_pk[group.key] if group else None,
                "account_id": actor.account.pk,
                "method": record.method.id,
                "status": record.status,
                "targets": [arn for arn, _ in record.targets],
                "condition_keys": list(record.condition_keys),
                "granted_by": list(record.granted_by),
            }
        )
    insert_rows(EscalationEdge, list(rows[0]) if rows else ["source"], rows, batch_size=BATCH)
    return len(rows)


PATH_FIELDS = ("source", "source_kind", "source_user_id", "source_role_id", "hops", "path",
               "condition_keys")  # fmt: skip


def path_rows(
    estate: Estate,
    paths: Mapping[str, tuple[Reached, tuple[str, ...]]],
    kinds: Mapping[str, str],
    target_field: str,
    target_pk: Mapping[str, int],
) -> Iterator[dict[str, object]]:
    """The rows of principals' chains to their nearest target (`AdminPath`, `SensitivePath`):
    `PATH_FIELDS` and ``target_field``, the key of the chain's last ARN; ``kinds`` gives the
    kind of sources that are not estate principals."""
    for source, (reached, keys) in sorted(paths.items()):
        actor = estate.by_arn.get(source)
        yield {
            "source": source,
            "source_kind": actor.kind if actor else kinds.get(source, SourceKind.EXTERNAL),
            **_principal_pks(actor, "source_"),
            target_field: target_pk[reached.path[-1]],
            "hops": reached.hops,
            "path": list(reached.path),
            "condition_keys": list(keys),
        }


def _principal_pks(actor: Actor | None, prefix: str = "") -> dict[str, int | None]:
    """The user and role foreign keys of a row about ``actor``: one set when it is an estate
    user or role."""
    return {
        f"{prefix}user_id": actor.pk if actor and actor.kind == "user" else None,
        f"{prefix}role_id": actor.pk if actor and actor.kind == "role" else None,
    }


class _Group(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def members(self) -> Sequence[Actor]: ...


def _insert_members(
    groups: Iterable[_Group], group_model: type[Model], member_model: type[Model]
) -> dict[str, int]:
    """Insert the members of groups just inserted; returns the groups' pks by key."""
    group_pk: dict[str, int] = dict(group_model._default_manager.values_list("key", "pk"))
    insert_rows(
        member_model,
        ["group_id", "user_id", "role_id", "arn"],
        (
            {
                "group_id": group_pk[group.key],
                **_principal_pks(actor),
                "arn": actor.arn,
            }
            for group in groups
            for actor in group.members
        ),
        batch_size=BATCH,
    )
    return group_pk


# The columns a stored access edge and a role class's grant share.
_GRANT_COLUMNS = (
    "source",
    "source_kind",
    "source_group_id",
    "action",
    "via_pass_role",
    "outcome",
    "condition_keys",
    "condition_values",
    "granted_by",
    "denied_layer",
    "reasons",
    "notes",
)


def _grant_columns(grant: EdgeRecord, group_pk: dict[str, int]) -> dict[str, object]:
    return {
        "source": grant.source,
        "source_kind": grant.source_kind,
        "source_group_id": group_pk[grant.group.key] if grant.group else None,
        "action": grant.action,
        "via_pass_role": grant.via_pass_role,
        "outcome": grant.outcome,
        "condition_keys": list(grant.condition_keys),
        "condition_values": grant.condition_values,
        "granted_by": list(grant.granted_by),
        "denied_layer": grant.denied_layer,
        "reasons": list(grant.reasons),
        "notes": list(grant.notes),
    }


def store_classes(classes: Sequence[RoleClass], group_pk: dict[str, int]) -> None:
    """Insert the grants of each role class once and its member roles (the `AccessEdge` view
    writes them out)."""
    insert_rows(
        RoleClassGrant,
        ["role_class", *_GRANT_COLUMNS],
        (
            {"role_class": role_class.index, **_grant_columns(grant, group_pk)}
            for role_class in classes
            for grant in role_class.grants
        ),
        batch_size=BATCH,
    )
    insert_rows(
        RoleClassMember,
        ["role_class", "role_id", "trust_label"],
        (
            {
                "role_class": role_class.index,
                "role_id": role.pk,
                # As JSON writes it: the view puts it into granted_by's JSON text.
                "trust_label": orjson.dumps(label).decode()[1:-1],
            }
            for role_class in classes
            for role, label in zip(role_class.roles, role_class.labels, strict=True)
        ),
        batch_size=BATCH,
    )


def refresh_statistics() -> None:
    """Let PostgreSQL's planner see the new row counts at once: with stale statistics it scans
    the whole edge table for one role's edges."""
    refresh_planner_statistics(
        {
            StoredAccessEdge: (
                "target_id",
                "outcome",
                "source_user_id",
                "source_role_id",
                "source_group_id",
            ),
            AccessGroupMember: ("group_id", "user_id", "role_id"),
            AdminPath: ("administrator_id", "source_user_id", "source_role_id"),
            Finding: ("kind", "severity", "account_id"),
            EscalationEdge: ("source", "method"),
            EscalationGroupMember: ("arn", "group_id"),
            RoleClassGrant: ("role_class", "source_group_id"),
            RoleClassMember: ("role_class", "role_id"),
        }
    )
