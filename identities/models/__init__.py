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
    EscalationEdge,
    EscalationGroup,
    EscalationGroupMember,
    Finding,
    PrincipalKind,
    RoleClassGrant,
    RoleClassMember,
    StoredAccessEdge,
)
from identities.models.api import ApiToken
from identities.models.audit import AuditEvent
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
from identities.models.exports import Export
from identities.models.review import (
    AccessChange,
    AccessDiff,
    AccessState,
    EdgeReview,
    FindingEvent,
    NotificationDelivery,
    NotificationDestination,
    NotificationSettings,
    SuppressionRule,
    TrackedFinding,
    TriageStatus,
)
from identities.models.runs import AccountSyncConfig, Change, SyncRun, SyncSettings
from identities.models.sensitive import SensitivePath, SensitiveRole, SensitiveTarget
from identities.models.what_if import WhatIfJob, WhatIfProposal

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Export",
    "AccessChange",
    "AccessDiff",
    "AccessState",
    "EdgeReview",
    "FindingEvent",
    "NotificationDelivery",
    "NotificationDestination",
    "NotificationSettings",
    "SuppressionRule",
    "TrackedFinding",
    "TriageStatus",
    "AccessEdge",
    "StoredAccessEdge",
    "RoleClassGrant",
    "RoleClassMember",
    "AccessGroup",
    "AccessGroupMember",
    "AccessKey",
    "Account",
    "AccountSyncConfig",
    "AdminPath",
    "Administrator",
    "AnalysisRun",
    "Change",
    "EscalationEdge",
    "EscalationGroup",
    "EscalationGroupMember",
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
    "SensitivePath",
    "SensitiveRole",
    "SensitiveTarget",
    "SyncSettings",
    "WhatIfJob",
    "WhatIfProposal",
]
