"""The rows that go with a removed row: a deleted user's memberships, attachments, inline
policies and access keys; a deleted group's, role's, policy's or instance profile's relations.

The database removes them by cascade, before the relation tables are compared, so without this
they would vanish from the change set. Each is recorded as removed under the same kind and key
the comparison of its own table would have used (see `apply._apply_account`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.db import models

from identities.models import (
    AccessKey,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
)

if TYPE_CHECKING:
    from identities.ingest.apply import ChangeLog

Describe = Callable[[dict[str, Any]], str]


def _owner(row: dict[str, Any]) -> str:
    return row["user__arn"] or row["group__arn"] or row["role__arn"] or "?"


_MEMBERSHIP = (
    "membership",
    GroupMembership,
    ("user__arn", "group__arn"),
    lambda row: f"{row['user__arn']} in {row['group__arn']}",
)
_ATTACHMENT = (
    "attachment",
    PolicyAttachment,
    ("policy__arn", "user__arn", "group__arn", "role__arn"),
    lambda row: f"{row['policy__arn']} on {_owner(row)}",
)
_INLINE = (
    "inline_policy",
    InlinePolicy,
    ("name", "user__arn", "group__arn", "role__arn"),
    lambda row: f"{_owner(row)} inline {row['name']}",
)
_KEY = (
    "access_key",
    AccessKey,
    ("user__arn", "slot"),
    lambda row: f"{row['user__arn']} key {row['slot']}",
)
_VERSION = (
    "policy_version",
    PolicyVersion,
    ("policy__arn", "version_id"),
    lambda row: f"{row['policy__arn']} {row['version_id']}",
)
_PROFILE_ROLE = (
    "instance_profile_role",
    InstanceProfile.roles.through,
    ("iamrole__arn", "instanceprofile_id"),
    lambda row: f"{row['iamrole__arn']} in profile {row['instanceprofile_id']}",
)

# model removed -> [(relation, the relation's column that points at the removed row)]
DEPENDENTS: dict[type[models.Model], list[tuple[Any, str]]] = {
    ManagedPolicy: [(_VERSION, "policy_id"), (_ATTACHMENT, "policy_id")],
    IamGroup: [(_MEMBERSHIP, "group_id"), (_ATTACHMENT, "group_id"), (_INLINE, "group_id")],
    IamUser: [
        (_MEMBERSHIP, "user_id"),
        (_ATTACHMENT, "user_id"),
        (_INLINE, "user_id"),
        (_KEY, "user_id"),
    ],
    IamRole: [(_ATTACHMENT, "role_id"), (_INLINE, "role_id"), (_PROFILE_ROLE, "iamrole_id")],
    InstanceProfile: [(_PROFILE_ROLE, "instanceprofile_id")],
}


def record_cascade(
    model: type[models.Model],
    pks: Iterable[int],
    changes: ChangeLog,
    account_id: str,
    *,
    record: bool = True,
) -> None:
    """Record as removed every row that deleting the `model` rows `pks` takes with it."""
    pks = list(pks)
    for (kind, relation, columns, describe), column in DEPENDENTS.get(model, []):
        rows = relation._default_manager.filter(**{f"{column}__in": pks}).values(*columns)
        for row in rows.order_by("pk"):
            changes.add(account_id, kind, "removed", describe(row), record=record)
