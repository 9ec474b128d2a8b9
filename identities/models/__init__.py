"""The tables, by family: the estate (`estate`), sync runs and their configuration (`runs`),
analysis results (`analysis`).

Only `ingest` writes estate rows; only `analysis` writes edges and findings. Every model is
re-exported here: Django and every importer use `from identities.models import X`.
"""

from __future__ import annotations

from identities.models.analysis import (
    AccessEdge,
    AccessGroup,
    AccessGroupMember,
    Administrator,
    AdminPath,
    AnalysisRun,
    Finding,
    PrincipalKind,
)
from identities.models.estate import (
    AccessKey,
    Account,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    IdentityProvider,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    OrgNode,
    OrgPolicy,
    PolicyAttachment,
    PolicyVersion,
    Principal,
)
from identities.models.runs import AccountSyncConfig, Change, SyncRun, SyncSettings

__all__ = [
    "AccessEdge",
    "AccessGroup",
    "AccessGroupMember",
    "AccessKey",
    "Account",
    "AccountSyncConfig",
    "AdminPath",
    "Administrator",
    "AnalysisRun",
    "Change",
    "Finding",
    "GroupMembership",
    "IamGroup",
    "IamRole",
    "IamUser",
    "IdentityProvider",
    "InlinePolicy",
    "InstanceProfile",
    "ManagedPolicy",
    "OrgNode",
    "OrgPolicy",
    "PolicyAttachment",
    "PolicyVersion",
    "Principal",
    "PrincipalKind",
    "SyncRun",
    "SyncSettings",
]
