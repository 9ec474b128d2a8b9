"""Administrators: principals whose effective permissions amount to full access.

A principal is an administrator when, through every layer that applies to it (identity-based
policies, permissions boundary, SCPs, explicit denies):

- **full**: a statement allows ``"Action": "*"`` on ``"Resource": "*"`` and a sample of
  sensitive actions across services (:data:`FULL_PROBES`) is allowed on ``*``; or
- **escalation**: it may grant itself that: put or attach a policy on itself, add itself to a
  group with full access, write a new default version of a customer-managed policy it carries.

A principal that can *become* an administrator (an access key for an administrator user, an
administrator role passed to a service, a rewritten trust policy) is not one: it reaches one
through an escalation edge (`escalations`), and the reach analysis lists it.

Principals are evaluated once per *admin group* (same account, kind, statements about the probed
actions, boundary); a group whose statements use policy variables or principal-specific keys is
split into its members. Cheap Action matching decides which checks reach the engine.
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html#jf_administrator
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from identities.analysis.edges import EdgeRecord
from identities.analysis.estate import Actor, Doc, Estate, GroupInfo
from identities.analysis.subjects import display_keys
from identities.policy.conditions import RequestContext, substitute
from identities.policy.document import Effect, Layer, Policy, PolicySource, Statement
from identities.policy.evaluate import Decision, Outcome, evaluate_request
from identities.policy.match import Principal, match_resource, statement_matches_action

logger = logging.getLogger(__name__)

FULL_PROBES = (
    "iam:CreateUser",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:CreateAccessKey",
    "iam:PassRole",
    "ec2:RunInstances",
    "s3:GetObject",
    "s3:DeleteBucket",
    "kms:Decrypt",
    "lambda:CreateFunction",
    "dynamodb:DeleteTable",
    "secretsmanager:GetSecretValue",
)
SELF_GRANT = {
    "user": ("iam:PutUserPolicy", "iam:AttachUserPolicy"),
    "role": ("iam:PutRolePolicy", "iam:AttachRolePolicy"),
}
TAKE_OVER_USER = ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")
TAKE_OVER_ROLE = ("iam:UpdateAssumeRolePolicy",)
# Services that run code with a role passed to them, and the call that starts them.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
COMPUTE = {
    "ec2.amazonaws.com": "ec2:RunInstances",
    "lambda.amazonaws.com": "lambda:CreateFunction",
    "ecs-tasks.amazonaws.com": "ecs:RunTask",
    "cloudformation.amazonaws.com": "cloudformation:CreateStack",
    "codebuild.amazonaws.com": "codebuild:CreateProject",
    "glue.amazonaws.com": "glue:CreateJob",
    "sagemaker.amazonaws.com": "sagemaker:CreateNotebookInstance",
}
ADMIN_ACTIONS = tuple(
    dict.fromkeys(
        [
            *FULL_PROBES,
            *SELF_GRANT["user"],
            *SELF_GRANT["role"],
            "iam:AddUserToGroup",
            "iam:CreatePolicyVersion",
            *TAKE_OVER_USER,
            *TAKE_OVER_ROLE,
            "iam:PassRole",
            *COMPUTE.values(),
        ]
    )
)
_PRINCIPAL_KEYS = ("aws:principalarn", "aws:username", "aws:userid", "aws:principaltag/")
_IDENTITY = PolicySource(Layer.IDENTITY, "identity-based policies")


@dataclass(eq=False)
class AdminRecord:
    actor: Actor
    basis: str  # full | escalation
    condition_keys: tuple[str, ...]
    statements: tuple[str, ...]
    reason: str
    via: Actor | None = None

    @property
    def conditional(self) -> bool:
        return bool(self.condition_keys)


@dataclass(eq=False)
class _AdminGroup:
    members: list[Actor]
    identity: tuple[Statement, ...]
    boundary: Doc | None

    @property
    def first(self) -> Actor:
        return self.members[0]


_ACTIONS_RELEVANT: dict[tuple[tuple[str, ...], bool], bool] = {}


def _relevant(statement: Statement) -> bool:
    """Could the statement matter to one of the admin checks? (Action and Resource, cheaply.)"""
    actions = (statement.actions, statement.not_action)
    relevant = _ACTIONS_RELEVANT.get(actions)
    if relevant is None:
        relevant = any(statement_matches_action(statement, action) for action in ADMIN_ACTIONS)
        _ACTIONS_RELEVANT[actions] = relevant
    if not relevant:
        return False
    if statement.resources is None or statement.not_resource:
        return True
    return any(
        p == "*"
        or "${" in p
        or p.startswith(("*", "arn:*", "arn:aws:*", "arn:aws:iam:", "arn:aws:iam:*"))
        for p in statement.resources
    )


def _principal_specific(statements: Iterable[Statement]) -> bool:
    for statement in statements:
        if any("${" in p for p in statement.resources or ()):
            return True
        for condition in statement.conditions:
            key = condition.key.lower()
            if key.startswith(_PRINCIPAL_KEYS) or any("${" in v for v in condition.values):
                return True
    return False


def _admin_groups(estate: Estate) -> list[_AdminGroup]:
    relevant_of: dict[int, tuple[Statement, ...]] = {}

    def relevant(doc: Doc) -> tuple[Statement, ...]:
        found = relevant_of.get(id(doc))
        if found is None:
            found = tuple(s for s in doc.policy.statements if _relevant(s))
            relevant_of[id(doc)] = found
        return found

    groups: dict[tuple[object, ...], _AdminGroup] = {}
    for actor in estate.actors:
        docs = [doc for doc in dict.fromkeys(actor.docs) if relevant(doc)]
        if not any(s.effect is Effect.ALLOW for doc in docs for s in relevant(doc)):
            continue  # nothing it holds could make it an administrator
        statements = tuple(s for doc in docs for s in relevant(doc))
        boundary = actor.boundary
        extra: tuple[object, ...] = ()
        allows = [s for s in statements if s.effect is Effect.ALLOW]
        if any(statement_matches_action(s, "iam:CreatePolicyVersion") for s in allows):
            extra += tuple(
                doc.key for doc in actor.docs if doc.policy.source.kind == "customer-managed policy"
            )
        if any(statement_matches_action(s, "iam:AddUserToGroup") for s in allows):
            extra += tuple(actor.group_pks)
        key = (
            actor.account.account_id,
            actor.kind,
            actor.is_service_linked,
            tuple(doc.key for doc in docs),
            boundary.key if boundary else None,
            extra,
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = _AdminGroup([], statements, boundary)
        group.members.append(actor)
    return list(groups.values())


class _Checker:
    """Engine calls for the admin checks, cached per group, action and resource signature.

    Two resources get the same answer when every Resource pattern of the statements involved
    matches both or neither (e.g. ``iam:CreateAccessKey`` on ``*`` for any administrator user).
    """

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.calls = 0
        self._cache: dict[tuple[object, ...], Decision] = {}
        self._allowing: dict[tuple[int, str], tuple[Statement, ...]] = {}
        self._involved: dict[tuple[int, int, str], tuple[str, ...]] = {}
        self._probes: dict[tuple[object, ...], tuple[bool, frozenset[str], str]] = {}
        self._specific: dict[tuple[int, tuple[str, ...]], bool] = {}
        self._contexts: dict[int, RequestContext] = {}

    def decide(
        self,
        group: _AdminGroup,
        actor: Actor,
        action: str,
        resource: str,
        extra_values: dict[str, tuple[str, ...]] | None = None,
    ) -> Decision:
        patterns = self._patterns(group, actor, action)
        key = (
            id(group),
            id(actor) if self.specific(group, (action,)) else None,
            action,
            tuple(match_resource(p, resource) for p in patterns),
            tuple(sorted((extra_values or {}).items())),
        )
        found = self._cache.get(key)
        if found is None:
            found = self._decide(group, actor, action, resource, extra_values)
            self._cache[key] = found
        return found

    def probe(
        self, group: _AdminGroup, actor: Actor, action: str
    ) -> tuple[bool, frozenset[str], str]:
        """(possible, condition keys, why not) for ``action`` on ``*``, shared between groups
        whose statements say the same (AWS-managed policies, the same inline documents in many
        accounts) under the same SCPs; texts citing a group's own statements are not shared."""
        content = (
            action,
            actor.kind,
            actor.account.is_management or actor.is_service_linked,
            tuple(_content(s) for s in group.identity),
            None
            if group.boundary is None
            else tuple(_content(s) for s in group.boundary.statements_for(action)),
            tuple(tuple(id(doc) for doc in level) for level in actor.account.scp_levels),
        )
        found = self._probes.get(content)
        if found is None or (not found[0] and not found[2]):
            decision = self.decide(group, actor, action, "*")
            shareable = all(r.layer in (Layer.SCP, Layer.RCP) for r in decision.reasons)
            text = _denied_text(decision) if not decision.possible else ""
            found = (decision.possible, decision.condition_keys, text if shareable else "")
            self._probes[content] = found
            return decision.possible, decision.condition_keys, text
        return found

    def specific(self, group: _AdminGroup, actions: tuple[str, ...]) -> bool:
        """Do the statements about these actions use variables or keys that differ between
        members? Then members are checked one by one."""
        memo = (id(group), actions)
        found = self._specific.get(memo)
        if found is None:
            statements = list(group.identity)
            if group.boundary is not None:
                statements.extend(group.boundary.policy.statements)
            found = _principal_specific(
                s for s in statements if any(statement_matches_action(s, a) for a in actions)
            )
            self._specific[memo] = found
        return found

    def resource_dependent(self, group: _AdminGroup, actor: Actor, action: str) -> bool:
        return bool(self._patterns(group, actor, action))

    def _patterns(self, group: _AdminGroup, actor: Actor, action: str) -> tuple[str, ...]:
        memo = (id(group), id(actor.account), action)
        found = self._involved.get(memo)
        if found is None:
            statements = [s for s in group.identity if statement_matches_action(s, action)]
            if group.boundary is not None:
                statements.extend(group.boundary.statements_for(action))
            for level in actor.account.scp_levels:
                for doc in level:
                    statements.extend(doc.statements_for(action))
            found = tuple(
                dict.fromkeys(p for s in statements for p in s.resources or () if p != "*")
            )
            self._involved[memo] = found
        return found

    def _decide(
        self,
        group: _AdminGroup,
        actor: Actor,
        action: str,
        resource: str,
        extra_values: dict[str, tuple[str, ...]] | None,
    ) -> Decision:
        self.calls += 1
        account = actor.account
        scp_levels: list[list[Policy]] = []
        if not account.is_management and not actor.is_service_linked:
            scp_levels = [
                [Policy(doc.policy.source, doc.statements_for(action)) for doc in level]
                for level in account.scp_levels
            ]
        values: dict[str, tuple[str, ...]] = {
            f"aws:principaltag/{key.lower()}": (value,) for key, value in actor.tags.items()
        }
        values.update(extra_values or {})
        request = RequestContext(
            principal=Principal.aws(actor.arn), action=action, resource=resource, values=values
        )
        boundary = actor.boundary
        return evaluate_request(
            request=request,
            identity_policies=[Policy(_IDENTITY, group.identity)],
            boundary=(
                Policy(boundary.policy.source, boundary.statements_for(action))
                if boundary
                else None
            ),
            scp_levels=scp_levels,
            principal_account=account.account_id,
            resource_account=account.account_id,
        )

    def _allowing_statements(self, group: _AdminGroup, action: str) -> tuple[Statement, ...]:
        memo = (id(group), action)
        statements = self._allowing.get(memo)
        if statements is None:
            statements = tuple(
                s
                for s in group.identity
                if s.effect is Effect.ALLOW and statement_matches_action(s, action)
            )
            self._allowing[memo] = statements
        return statements

    def may(self, group: _AdminGroup, action: str) -> bool:
        """Cheap: does some Allow statement of the group cover the action on some resource?"""
        return bool(self._allowing_statements(group, action))

    def allows_every(self, group: _AdminGroup, action: str) -> bool:
        """Cheap: does one Allow statement of the group cover the action on every resource?
        Then `allows` holds whatever the resource."""
        return any(
            s.resources is None or s.not_resource or "*" in s.resources
            for s in self._allowing_statements(group, action)
        )

    def allows(
        self, group: _AdminGroup, action: str, resource: str, actor: Actor | None = None
    ) -> bool:
        """Cheap: does some Allow statement of the group cover the action (and resource)?

        With ``actor``, policy variables in Resource are filled in with its values first.
        """
        for statement in self._allowing_statements(group, action):
            if resource == "*" or statement.resources is None or statement.not_resource:
                return True
            for pattern in statement.resources:
                if "${" in pattern:
                    if actor is None:
                        return True
                    done = substitute(pattern, self._context(actor))
                    if done.text is None:
                        if done.failure is None:
                            return True  # depends on a key nobody knows
                        continue
                    pattern = done.text
                if match_resource(pattern, resource):
                    return True
        return False

    def _context(self, actor: Actor) -> RequestContext:
        found = self._contexts.get(id(actor))
        if found is None:
            found = RequestContext(
                principal=Principal.aws(actor.arn), action="iam:GetUser", resource=actor.arn
            )
            self._contexts[id(actor)] = found
        return found


def _content(statement: Statement) -> tuple[object, ...]:
    """What a statement says, whatever policy it is in."""
    return (
        statement.effect,
        statement.actions,
        statement.not_action,
        statement.resources,
        statement.not_resource,
        tuple((c.operator.name, c.key.lower(), c.values) for c in statement.conditions),
        statement.substitute_variables,
    )


def identity_grants(decision: Decision) -> tuple[str, ...]:
    """The identity-based Allow statements that granted ``decision`` (references)."""
    return tuple(
        dict.fromkeys(
            reason.statement.ref
            for reason in decision.reasons
            if reason.statement is not None
            and reason.effect is Effect.ALLOW
            and reason.layer is Layer.IDENTITY
        )
    )


def _is_full_wildcard(statement: Statement) -> bool:
    return (
        statement.effect is Effect.ALLOW
        and not statement.not_action
        and any(a in ("*", "*:*") for a in statement.actions)
        and not statement.not_resource
        and (statement.resources is None or "*" in statement.resources)
    )


def _denied_text(decision: Decision) -> str:
    for reason in decision.reasons:
        if reason.effect is Effect.DENY or decision.outcome is Outcome.IMPLICIT_DENY:
            return reason.text
    return decision.reasons[0].text if decision.reasons else "denied"


def find_administrators(estate: Estate, edges: list[EdgeRecord]) -> list[AdminRecord]:
    """Every administrator of the estate with the statements that make it one."""
    checker = _Checker(estate)
    groups = _admin_groups(estate)
    found: dict[int, AdminRecord] = {}
    blocked: dict[int, str] = {}

    for group in groups:
        if not any(_is_full_wildcard(s) for s in group.identity):
            continue
        per_member = checker.specific(group, FULL_PROBES)
        for actor in group.members if per_member else group.members[:1]:
            _full(checker, group, actor, [actor] if per_member else group.members, found, blocked)

    admin_iam_groups = _admin_iam_groups(estate)
    for group in groups:
        if id(group.first) in found or not _may_self_grant(group):
            continue
        per_member = checker.specific(group, _SELF_ACTIONS) or _resource_specific(group.identity)
        for member in group.members if per_member else group.members[:1]:
            record = _self_grant(checker, group, member, admin_iam_groups, blocked.get(id(member)))
            if record is None:
                continue
            for actor in [member] if per_member else group.members:
                found[id(actor)] = AdminRecord(
                    actor, record.basis, record.condition_keys, record.statements, record.reason
                )

    logger.info(
        "administrators: %d (%d admin groups, %d engine calls)",
        len(found),
        len(groups),
        checker.calls,
    )
    return sorted(found.values(), key=lambda record: record.actor.arn)


_SELF_ACTIONS = (
    *SELF_GRANT["user"],
    *SELF_GRANT["role"],
    "iam:AddUserToGroup",
    "iam:CreatePolicyVersion",
)


def _may_self_grant(group: _AdminGroup) -> bool:
    return any(
        s.effect is Effect.ALLOW and statement_matches_action(s, action)
        for s in group.identity
        for action in _SELF_ACTIONS
    )


def _resource_specific(statements: Iterable[Statement]) -> bool:
    """Self-grant statements limited to some users/roles: members must be checked one by one."""
    return any(
        s.effect is Effect.ALLOW
        and any(statement_matches_action(s, action) for action in _SELF_ACTIONS)
        and s.resources is not None
        and any(p != "*" for p in s.resources)
        for s in statements
    )


def _full(
    checker: _Checker,
    group: _AdminGroup,
    actor: Actor,
    members: list[Actor],
    found: dict[int, AdminRecord],
    blocked: dict[int, str],
) -> None:
    """Full access: every probe allowed on ``*`` through every layer."""
    keys: set[str] = set()
    refs: tuple[str, ...] = ()
    denied: list[str] = []
    for action in FULL_PROBES:
        possible, found_keys, text = checker.probe(group, actor, action)
        if not possible:
            denied.append(f"{action}: {text}")
            continue
        keys |= found_keys
        if not refs:
            refs = identity_grants(checker.decide(group, actor, action, "*"))
    if denied:
        for member in members:
            blocked[id(member)] = "; ".join(denied)
        return
    shown = display_keys(keys)
    text = "allows every action on every resource (" + ", ".join(refs) + ")"
    if shown:
        text += f", only if conditions on {', '.join(shown)} are met"
    for member in members:
        found[id(member)] = AdminRecord(member, "full", shown, refs, text)


def _admin_iam_groups(estate: Estate) -> dict[str, list[GroupInfo]]:
    """IAM groups carrying an ``Allow * on *`` statement, by account (AddUserToGroup targets)."""
    found: dict[str, list[GroupInfo]] = defaultdict(list)
    for group in estate.groups:
        if any(_is_full_wildcard(s) for doc in group.docs for s in doc.policy.statements):
            found[group.account.account_id].append(group)
    return found


def _suffix(blocked: str | None) -> str:
    return f" (not every action is allowed: {blocked})" if blocked else ""


def _self_grant(
    checker: _Checker,
    group: _AdminGroup,
    actor: Actor,
    admin_iam_groups: dict[str, list[GroupInfo]],
    blocked: str | None,
) -> AdminRecord | None:
    checks: list[tuple[str, str, str]] = [
        (action, actor.arn, f"{action} on itself") for action in SELF_GRANT[actor.kind]
    ]
    if actor.kind == "user":
        for iam_group in admin_iam_groups.get(actor.account.account_id, []):
            if iam_group.pk not in actor.group_pks:
                checks.append(
                    (
                        "iam:AddUserToGroup",
                        iam_group.arn,
                        f"iam:AddUserToGroup on {iam_group.arn}, which allows everything",
                    )
                )
    for doc in dict.fromkeys(actor.docs):
        arn = doc.policy.source.arn or ""
        if doc.policy.source.kind == "customer-managed policy" and arn:
            checks.append(
                (
                    "iam:CreatePolicyVersion",
                    arn,
                    f"iam:CreatePolicyVersion on {arn}, a policy it carries",
                )
            )
    for action, resource, what in checks:
        if not checker.allows(group, action, resource, actor):
            continue
        decision = checker.decide(group, actor, action, resource)
        if decision.possible:
            keys = display_keys(decision.condition_keys)
            refs = identity_grants(decision)
            text = f"can grant itself full access: {what} is allowed by {', '.join(refs)}"
            if keys:
                text += f", only if conditions on {', '.join(keys)} are met"
            return AdminRecord(actor, "escalation", keys, refs, text + _suffix(blocked))
    return None
