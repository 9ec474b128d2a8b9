"""Who can do this? Every principal of the estate whose effective permissions allow one action
on one resource, evaluated live with the engine (the ``who_can`` command and page).

Principals are asked once per group of those with the same statements about the action, the
same boundary and account (member by member when the statements depend on who asks), so the
question costs a few engine calls, not one per principal. Only identity-based permissions
are evaluated (with groups, boundaries, SCPs and explicit denies): a resource that names an
account is asked about for that account's principals; other accounts' principals would also
need the resource's own policy, which the estate does not hold (except trust policies: who can
assume a role is the access edges, which `identities.queries.who_can` answers that question
from). ``aws:CurrentTime`` and ``aws:TokenIssueTime`` are now.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from identities.analysis.admins import _AdminGroup, _Checker, identity_grants
from identities.analysis.estate import Actor, Estate, load_estate
from identities.analysis.subjects import display_keys
from identities.models import IamRole, IamUser
from identities.policy import Effect


@dataclass(frozen=True)
class Allowed:
    principal: str
    kind: str  # user | role
    account_id: str
    conditions: tuple[str, ...]
    granted_by: tuple[str, ...]

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)

    def as_row(self) -> dict[str, object]:
        return {
            "principal": self.principal,
            "kind": self.kind,
            "account": self.account_id,
            "conditional": self.conditional,
            "conditions": list(self.conditions),
            "granted_by": list(self.granted_by),
        }


def question_error(action: str, resource: str) -> str:
    """What is wrong with the question "who may ``action`` on ``resource``?", or ""."""
    service, _, name = action.partition(":")
    if not service or not name:
        return f"{action!r} is not an action (service:Name)"
    if resource != "*" and not resource.startswith("arn:"):
        return f"{resource!r} is not an ARN (or *)"
    return ""


def resource_account(resource: str) -> str | None:
    """The account an ARN names (None for ``*`` and ARNs without one, such as S3 buckets)."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or not parts[4].isdigit():
        return None
    return parts[4]


def account_principals(account_id: str) -> set[str]:
    """The ARNs of the users and roles of one account."""
    users = IamUser.objects.filter(account__account_id=account_id).values_list("arn", flat=True)
    roles = IamRole.objects.filter(account__account_id=account_id).values_list("arn", flat=True)
    return set(users) | set(roles)


def who_can(
    action: str, resource: str, *, now: datetime, estate: Estate | None = None
) -> list[Allowed]:
    """Every user and role allowed ``action`` on ``resource``, sorted by ARN. Without
    ``estate``, the estate is loaded: for a resource that names an account, only that
    account's principals (with their groups and policies), the only ones asked about."""
    account = resource_account(resource)
    if estate is None:
        estate = load_estate(only=account_principals(account) if account else None)
    checker = _Checker(estate)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    values: dict[str, tuple[str, ...]] = {
        "aws:currenttime": (stamp,),
        "aws:tokenissuetime": (stamp,),
    }
    groups: dict[tuple[object, ...], _AdminGroup] = {}
    for actor in estate.actors:
        if account is not None and actor.account.account_id != account:
            continue
        docs = [doc for doc in dict.fromkeys(actor.docs) if doc.statements_for(action)]
        statements = tuple(s for doc in docs for s in doc.statements_for(action))
        if not any(s.effect is Effect.ALLOW for s in statements):
            continue
        key = (
            actor.account.account_id,
            actor.kind,
            actor.is_service_linked,
            tuple(doc.key for doc in docs),
            actor.boundary.key if actor.boundary else None,
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = _AdminGroup([], statements, actor.boundary)
        group.members.append(actor)
    found: list[Allowed] = []
    for group in groups.values():
        specific = checker.specific(group, (action,))
        for actor in group.members if specific else group.members[:1]:
            decision = checker.decide(group, actor, action, resource, values)
            if not decision.possible:
                continue
            keys = display_keys(decision.condition_keys)
            refs = identity_grants(decision)
            members: list[Actor] = [actor] if specific else group.members
            found.extend(Allowed(m.arn, m.kind, m.account.account_id, keys, refs) for m in members)
    return sorted(found, key=lambda allowed: allowed.principal)
