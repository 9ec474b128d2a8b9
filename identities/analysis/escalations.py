"""Escalation edges: which principal can become which other principal (or grant itself
anything) through the methods of the catalogue (`escalation_methods`), decided by the engine.

A method holds for a principal only when its *effective* permissions allow every action the
method needs (identity policies of the principal and its groups, explicit denies, permissions
boundary, SCPs) on a target present in the estate:

- iam:PassRole on a role of its account that trusts the method's service (the access edges say
  which roles a service may assume), with ``iam:PassedToService`` set to that service; for EC2
  the role must also be in an instance profile;
- iam:CreateAccessKey, CreateLoginProfile, UpdateLoginProfile on the other users of its account
  its resource scope covers (a user with two keys, a login profile that exists or not, an MFA
  device rule some out);
- a policy version only on a customer-managed policy attached to the principal or its groups;
- the service actions (lambda:CreateFunction, …) on *some* resource: the principal names the
  function or stack it creates, so any Resource pattern of an Allow will do.

The permissions may come from different policies; a NotAction Allow that leaves them in counts.
Conditions on keys the analysis does not know make the escalation conditional with those keys;
``aws:CurrentTime`` and ``aws:TokenIssueTime`` are the analysis time, so a condition that cannot
hold for credentials issued now makes it impossible. Administrators (full access, or able to
grant themselves anything) are not sources of "become" edges: they can already do everything.

Principals are evaluated once per *escalation group* (same account, kind, statements about the
catalogue's actions, boundary, IAM groups and customer-managed policies), with the admin
analysis' checker, which caches decisions per resource signature; statements that depend on who
the member is (policy variables, principal keys) are decided member by member. A method's targets
with one resource signature share one answer (most statements cover every resource: one answer
then serves all), and the actions that need no target are decided once per account, kind and
statements about the action, for every group that has them.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from identities.analysis.admins import AdminRecord, _AdminGroup, _Checker, identity_grants
from identities.analysis.edges import EdgeRecord, SourceKind
from identities.analysis.escalation_methods import (
    ESCALATION_ACTIONS,
    EVALUATED,
    Method,
    Permission,
    Targets,
)
from identities.analysis.estate import Actor, Doc, Estate, GroupInfo
from identities.analysis.reach import ESCALATE_PREFIX
from identities.analysis.subjects import assume_role_allow, display_keys
from identities.models import InstanceProfile, PolicyVersion
from identities.policy.conditions import RequestContext, substitute
from identities.policy.document import Effect, Layer, Policy, PolicySource, PrincipalSpec, Statement
from identities.policy.evaluate import Decision, Outcome, evaluate_request
from identities.policy.match import Principal, match_resource, statement_matches_action

logger = logging.getLogger(__name__)

_CUSTOMER = "customer-managed policy"
_REWRITTEN_TRUST = PolicySource(Layer.TRUST, "trust policy as rewritten by the escalation")
_IDENTITY = PolicySource(Layer.IDENTITY, "identity-based policies")


@dataclass(eq=False)
class EscalationGroup:
    """Principals every escalation question treats alike (see the module docstring)."""

    key: str
    members: list[Actor]
    checked: _AdminGroup
    docs: tuple[Doc, ...]

    @property
    def node(self) -> str:
        """Its node in the reach graph."""
        return f"{ESCALATE_PREFIX}group:{self.key}"

    @property
    def label(self) -> str:
        first = self.members[0]
        names = ", ".join(sorted({doc.name for doc in self.docs}))
        text = f"{first.kind}s of {first.account.name} with {names}"
        if first.boundary is not None:
            text += f", within boundary {first.boundary.name}"
        return text


@dataclass(eq=False)
class EscalationRecord:
    """One method holding for every source (an escalation group's members, or one principal)
    on ``targets``: (ARN, principal or None) pairs, empty when it acts on the source itself.
    A source is never its own target (a group's record leaves it out for that member)."""

    sources: tuple[Actor, ...]
    method: Method
    targets: tuple[tuple[str, Actor | None], ...]
    condition_keys: tuple[str, ...]
    granted_by: tuple[str, ...]
    group: EscalationGroup | None = None

    @property
    def status(self) -> str:
        return self.method.status.value


@dataclass
class EscalationResult:
    records: list[EscalationRecord]
    stats: dict[str, int]
    _keys: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _node_of: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for record in self.records:
            source = record.group.node if record.group else record.sources[0].arn
            for arn, target in record.targets:
                if target is not None:
                    self._keys.setdefault((source, arn), record.condition_keys)
            if record.group is not None:
                for actor in record.sources:
                    self._node_of[actor.arn] = record.group.node

    @property
    def groups(self) -> list[EscalationGroup]:
        """The groups that have group-wide records."""
        return list({id(r.group): r.group for r in self.records if r.group}.values())

    def reach_edges(self) -> Iterator[tuple[str, str]]:
        """(source, principal ARN) pairs for the reach graph: a source is a principal's ARN or
        its escalation group's node (``escalate:group:…``)."""
        return iter(self._keys)

    def reach_memberships(self) -> Iterator[tuple[str, str]]:
        """(member ARN, group node) for the groups that have group-wide records."""
        return iter(self._node_of.items())

    def keys_between(self, source: str, target: str) -> tuple[str, ...] | None:
        """The condition keys of ``source``'s escalation to ``target`` (None: there is none)."""
        found = self._keys.get((source, target))
        if found is None and source in self._node_of:
            found = self._keys.get((self._node_of[source], target))
        return found


# -- groups --------------------------------------------------------------------------------------

_RELEVANT: dict[tuple[Effect, tuple[str, ...], bool], bool] = {}
# Allowed by the trust policy an escalation rewrites: only a Deny of it matters.
_TRUST_ACTIONS = ("sts:AssumeRole",)


def _relevant(statement: Statement) -> bool:
    memo = (statement.effect, statement.actions, statement.not_action)
    found = _RELEVANT.get(memo)
    if found is None:
        actions = ESCALATION_ACTIONS
        if statement.effect is Effect.ALLOW:
            actions = tuple(a for a in actions if a not in _TRUST_ACTIONS)
        found = any(statement_matches_action(statement, a) for a in actions)
        _RELEVANT[memo] = found
    return found


def _escalation_groups(actors: Iterable[Actor]) -> list[EscalationGroup]:
    """Users and roles that every escalation question treats alike (service-linked roles left
    out: only their service can use them)."""
    relevant_of: dict[int, tuple[Statement, ...]] = {}
    groups: dict[tuple[object, ...], EscalationGroup] = {}
    for actor in actors:
        if actor.is_service_linked:
            continue
        docs: list[Doc] = []
        for doc in dict.fromkeys(actor.docs):
            statements = relevant_of.get(id(doc))
            if statements is None:
                statements = tuple(s for s in doc.policy.statements if _relevant(s))
                relevant_of[id(doc)] = statements
            if statements:
                docs.append(doc)
        identity = tuple(s for doc in docs for s in relevant_of[id(doc)])
        allows = [s for s in identity if s.effect is Effect.ALLOW]
        if not allows:
            continue
        extra: tuple[object, ...] = ()
        if actor.kind == "user" and any(
            statement_matches_action(s, a) for s in allows for a in _GROUP_ACTIONS
        ):
            extra += tuple(actor.group_pks)
        if any(statement_matches_action(s, a) for s in allows for a in _POLICY_ACTIONS):
            extra += tuple(d.key for d in actor.docs if d.policy.source.kind == _CUSTOMER)
        key = (
            actor.account.account_id,
            actor.kind,
            tuple(doc.key for doc in docs),
            actor.boundary.key if actor.boundary else None,
            extra,
        )
        group = groups.get(key)
        if group is None:
            digest = hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()
            checked = _AdminGroup([], identity, actor.boundary)
            group = groups[key] = EscalationGroup(digest, checked.members, checked, tuple(docs))
        group.members.append(actor)
    return list(groups.values())


_GROUP_ACTIONS = ("iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:PutGroupPolicy")
_POLICY_ACTIONS = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")


# -- the estate's targets ------------------------------------------------------------------------


@dataclass
class _Targets:
    users: dict[str, list[Actor]]
    roles: dict[str, list[Actor]]
    groups: dict[str, list[GroupInfo]]
    group_by_pk: dict[int, GroupInfo]
    service_roles: dict[tuple[str, str], list[Actor]]  # (account id, service) -> roles
    profiled: set[int]  # pks of roles in an instance profile
    key_counts: dict[int, int]  # user pk -> access keys
    other_versions: set[str]  # customer-managed policies with a non-default version
    cache: dict[tuple[str, str], list[tuple[str, Actor | None, str | None]]] = field(
        default_factory=dict
    )


def _targets_of(
    estate: Estate, edges: Iterable[EdgeRecord], profiled: set[int], other_versions: set[str]
) -> _Targets:
    users: dict[str, list[Actor]] = defaultdict(list)
    for user in estate.users:
        users[user.account.account_id].append(user)
    roles: dict[str, list[Actor]] = defaultdict(list)
    for role in estate.roles:
        if not role.is_service_linked:
            roles[role.account.account_id].append(role)
    groups: dict[str, list[GroupInfo]] = defaultdict(list)
    for group in estate.groups:
        groups[group.account.account_id].append(group)
    service_roles: dict[tuple[str, str], list[Actor]] = defaultdict(list)
    for edge in edges:
        if edge.source_kind == SourceKind.SERVICE and edge.possible:
            role = edge.target
            if not role.is_service_linked:
                key = (role.account.account_id, edge.source.removeprefix("service:"))
                service_roles[key].append(role)
    key_counts: dict[int, int] = defaultdict(int)
    for access_key in estate.access_keys:
        key_counts[access_key.user_pk] += 1
    return _Targets(
        users,
        roles,
        groups,
        {group.pk: group for group in estate.groups},
        service_roles,
        profiled,
        key_counts,
        other_versions,
    )


def _in_scope(scope: tuple[frozenset[str], tuple[str, ...]], resource: str) -> bool:
    literals, patterns = scope
    return resource in literals or any(match_resource(p, resource) for p in patterns)


def _method_targets(
    method: Method, actor: Actor, found: _Targets
) -> list[tuple[str, Actor | None, str | None]]:
    """(resource ARN asked about, target principal, target ARN) for each candidate target
    (the principal itself among them: callers leave it out)."""
    account = actor.account.account_id
    kind = method.targets
    if kind in _SHARED_TARGETS:
        memo = (method.id, account)
        cached = found.cache.get(memo)
        if cached is None:
            cached = found.cache[memo] = _shared_targets(method, account, found)
        return cached
    if kind is Targets.SELF:
        return [(actor.arn, None, None)]
    if kind is Targets.OWN_GROUP:
        own = [found.group_by_pk[pk] for pk in actor.group_pks if pk in found.group_by_pk]
        return [(group.arn, None, group.arn) for group in own]
    if kind is Targets.OWN_POLICY:
        arns = dict.fromkeys(
            d.policy.source.arn
            for d in actor.docs
            if d.policy.source.kind == _CUSTOMER and d.policy.source.arn
        )
        if method.actions[0] == "iam:SetDefaultPolicyVersion":
            arns = {arn: None for arn in arns if arn in found.other_versions}
        return [(arn, None, arn) for arn in arns if arn]
    if kind is Targets.GROUP:
        return [
            (group.arn, None, group.arn)
            for group in found.groups.get(account, ())
            if group.pk not in actor.group_pks
            and any(s.effect is Effect.ALLOW for d in group.docs for s in d.policy.statements)
        ]
    return []


_SHARED_TARGETS = (Targets.USER, Targets.ROLE, Targets.PASSED_ROLE, Targets.SERVICE_ROLE)


def _shared_targets(
    method: Method, account: str, found: _Targets
) -> list[tuple[str, Actor | None, str | None]]:
    """The targets of a method that are the same for every principal of the account."""
    if method.targets is Targets.USER:
        return [(u.arn, u, u.arn) for u in found.users.get(account, ()) if _takes(method, u, found)]
    if method.targets is Targets.ROLE:
        return [(r.arn, r, r.arn) for r in found.roles.get(account, ())]
    assert method.service is not None
    return [
        (role.arn, role, role.arn)
        for role in dict.fromkeys(found.service_roles.get((account, method.service), ()))
        if not method.needs_instance_profile or role.pk in found.profiled
    ]


def _takes(method: Method, user: Actor, found: _Targets) -> bool:
    """Whether the user-credential method can work on this user, by its stored credentials.

    CreateAccessKey fails for a user with two keys; a console password gets past no MFA
    device; CreateLoginProfile needs a user without one, UpdateLoginProfile one with one
    (unknown without a credential report: both kept).
    """
    action = method.actions[0]
    if action == "iam:CreateAccessKey":
        return found.key_counts.get(user.pk, 0) < 2
    if user.mfa_active:
        return False
    if action == "iam:CreateLoginProfile":
        return user.password_enabled is not True
    return user.password_enabled is not False


# -- evaluation ----------------------------------------------------------------------------------


@dataclass
class _Answer:
    keys: set[str]
    refs: list[str]


class _Evaluator:
    """The admin checker's cached decisions, plus the questions only escalations ask."""

    def __init__(self, estate: Estate, now: datetime) -> None:
        self.checker = _Checker(estate)
        if not isinstance(now, datetime):
            raise TypeError(f"now must be a datetime, not {type(now).__name__}")
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Credentials used for the escalation are issued now.
        self.time_values: dict[str, tuple[str, ...]] = {
            "aws:currenttime": (stamp,),
            "aws:tokenissuetime": (stamp,),
        }
        self._any: dict[tuple[object, ...], Decision | None] = {}
        self._trust: dict[tuple[object, ...], Decision] = {}
        self._refs: dict[int, list[str]] = {}
        self._kept: list[Decision] = []  # keeps the decisions whose id() keys _refs alive
        self._signatures: dict[tuple[object, ...], dict[str, tuple[object, ...]]] = {}
        self._scopes: dict[tuple[frozenset[str], tuple[str, ...]], dict[str, bool]] = {}
        self._any_shared: dict[tuple[object, ...], Decision | None] = {}
        self._matches: dict[tuple[int, str], bool] = {}
        self.trust_calls = 0

    def may(self, group: _AdminGroup, method: Method) -> bool:
        """Cheap: does some Allow cover each action (identity, and boundary if any)?"""
        for action in method.actions:
            # sts:AssumeRole after a trust rewrite is granted by the trust policy itself.
            if action != "sts:AssumeRole" and not self.checker.may(group, action):
                return False
            boundary = group.boundary
            if boundary is not None and not any(
                s.effect is Effect.ALLOW for s in boundary.statements_for(action)
            ):
                return False
        return True

    def scope(
        self, group: _AdminGroup, actor: Actor, method: Method
    ) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """Cheap: the (exact ARNs, ARN patterns) the Allow statements of the method's
        target-acting permissions are limited to, or None when one covers every resource.
        Policy variables are filled in with ``actor``'s values."""
        literals: set[str] = set()
        patterns: list[str] = []
        context: RequestContext | None = None
        if not any(p.on == "target" for p in method.permissions):
            return None
        for permission in method.permissions:
            if permission.on != "target":
                continue
            for statement in self.checker._allowing_statements(group, permission.action):
                if statement.resources is None or statement.not_resource:
                    return None
                for pattern in statement.resources:
                    if "${" in pattern:
                        context = context or RequestContext(
                            principal=Principal.aws(actor.arn),
                            action=permission.action,
                            resource=actor.arn,
                            values={
                                f"aws:principaltag/{k.lower()}": (v,) for k, v in actor.tags.items()
                            },
                        )
                        done = substitute(pattern, context, enabled=statement.substitute_variables)
                        if done.text is None:
                            if done.failure is None:
                                return None  # depends on a key nobody knows
                            continue
                        pattern = done.text
                    if pattern == "*":
                        return None
                    if "*" in pattern or "?" in pattern or "\\" in pattern:
                        patterns.append(pattern)
                    else:
                        literals.add(pattern)
        return frozenset(literals), tuple(dict.fromkeys(patterns))

    def answer(
        self,
        group: _AdminGroup,
        actor: Actor,
        method: Method,
        resource: str | None = None,
    ) -> _Answer | None:
        """The permissions of ``method`` that act on ``resource`` (the target), or with
        ``resource`` None those that do not (asked once per group and method): the condition
        keys and granting statements, or None when one is not allowed."""
        keys: set[str] = set()
        refs: list[str] = []
        for permission in method.permissions:
            if (permission.on == "any") is (resource is not None):
                continue
            decision = self._decide(group, actor, method, permission, resource or "*")
            if decision is None or not decision.possible:
                return None
            keys |= decision.condition_keys
            refs.extend(ref for ref in self._grants(decision) if ref not in refs)
        return _Answer(keys, refs)

    def signature(
        self, group: _AdminGroup, actor: Actor, method: Method
    ) -> Callable[[str], tuple[object, ...]]:
        """A function of a target resource that is equal for two resources exactly when
        `answer` must be: it holds what `answer`'s cached decisions are keyed by (whether an
        Allow covers the resource, which Resource patterns of the statements involved match
        it). Most methods' statements cover every resource: then it is the same for all."""
        parts: list[tuple[bool, tuple[str, ...], tuple[str, ...] | None]] = []
        for permission in method.permissions:
            if permission.on == "any":
                continue
            if permission.on == "trust":
                patterns = self.checker._patterns(group, actor, "sts:AssumeRole")
                parts.append((True, patterns, ()))
                continue
            action = permission.action
            every = self.checker.allows_every(group, action)
            # The Resource patterns `allows` matches (None: it fills in policy variables).
            allowed: tuple[str, ...] | None = ()
            if not every:
                allowed = tuple(
                    p
                    for s in self.checker._allowing_statements(group, action)
                    for p in s.resources or ()
                )
                if any("${" in p for p in allowed):
                    allowed = None
            parts.append((every, self.checker._patterns(group, actor, action), allowed))
        if all(every and not patterns for every, patterns, _ in parts):
            return _same_for_all
        if any(allowed is None for _, _, allowed in parts):
            actions = [p.action for p in method.permissions if p.on != "any"]
            allows = self.checker.allows

            def of_actor(resource: str) -> tuple[object, ...]:
                return tuple(
                    (
                        every or allows(group, action, resource, actor),
                        tuple(match_resource(p, resource) for p in patterns),
                    )
                    for action, (every, patterns, _) in zip(actions, parts, strict=True)
                )

            return of_actor
        # Without policy variables the signature depends on the patterns alone: principals of
        # other groups with the same patterns share it (the same targets, asked many times).
        known = self._signatures.setdefault(tuple(parts), {})

        def of(resource: str) -> tuple[object, ...]:
            found = known.get(resource)
            if found is None:
                found = known[resource] = tuple(
                    (
                        every or any(match_resource(p, resource) for p in allowed or ()),
                        tuple(match_resource(p, resource) for p in patterns),
                    )
                    for every, patterns, allowed in parts
                )
            return found

        return of

    def in_scope(self, scope: tuple[frozenset[str], tuple[str, ...]]) -> Callable[[str], bool]:
        """`_in_scope` of ``scope``, remembered per resource for every principal whose scope
        is the same."""
        known = self._scopes.setdefault(scope, {})

        def check(resource: str) -> bool:
            found = known.get(resource)
            if found is None:
                found = known[resource] = _in_scope(scope, resource)
            return found

        return check

    def _grants(self, decision: Decision) -> list[str]:
        found = self._refs.get(id(decision))
        if found is None:
            found = self._refs[id(decision)] = list(identity_grants(decision))
            self._kept.append(decision)
        return found

    def _decide(
        self,
        group: _AdminGroup,
        actor: Actor,
        method: Method,
        permission: Permission,
        resource: str,
    ) -> Decision | None:
        action = permission.action
        values = dict(self.time_values)
        if action == "iam:PassRole" and method.service:
            values["iam:passedtoservice"] = (method.service,)
        if permission.on == "trust":
            return self._through_trust(group, actor, resource)
        if permission.on == "target":
            if not self.checker.allows(group, action, resource, actor):
                return None
            return self.checker.decide(group, actor, action, resource, values)
        specific = self.checker.specific(group, (action,))
        memo = (id(group), id(actor) if specific else None, action)
        if memo in self._any:
            return self._any[memo]
        # Groups of one account and kind whose statements about the action are the same (the
        # same managed policies, other policies that do not mention it) decide it alike.
        shared: tuple[object, ...] | None = None
        if not specific:
            shared = (
                actor.account.account_id,
                actor.kind,
                action,
                self._about(group, action),
                id(group.boundary),
                tuple(sorted(values.items())),
            )
            if shared in self._any_shared:
                self._any[memo] = self._any_shared[shared]
                return self._any[memo]
        best: Decision | None = None
        for candidate in _some_resources(group.identity, action):
            decision = self.checker.decide(group, actor, action, candidate, values)
            if decision.outcome is Outcome.ALLOW:
                best = decision
                break
            if decision.possible and best is None:
                best = decision
        self._any[memo] = best
        if shared is not None:
            self._any_shared[shared] = best
        return best

    def _about(self, group: _AdminGroup, action: str) -> tuple[int, ...]:
        """The ids of the group's statements that match ``action`` (Allow or Deny)."""
        found = []
        matches = self._matches
        for statement in group.identity:
            key = (id(statement), action)
            hit = matches.get(key)
            if hit is None:
                hit = matches[key] = statement_matches_action(statement, action)
            if hit:
                found.append(id(statement))
        return tuple(found)

    def _through_trust(self, group: _AdminGroup, actor: Actor, role_arn: str) -> Decision:
        """sts:AssumeRole once the role's trust policy names ``actor`` (same account): the
        trust grants by itself; the boundary and SCPs must still allow."""
        action = "sts:AssumeRole"
        patterns = self.checker._patterns(group, actor, action)
        memo = (
            id(group),
            id(actor) if self.checker.specific(group, (action,)) else 0,
            tuple(match_resource(p, role_arn) for p in patterns),
        )
        found = self._trust.get(memo)
        if found is None:
            self.trust_calls += 1
            account = actor.account
            trust = assume_role_allow(
                _REWRITTEN_TRUST, principals=(PrincipalSpec("AWS", actor.arn),)
            )
            scp_levels = []
            if not account.is_management:
                scp_levels = [
                    [Policy(doc.policy.source, doc.statements_for("sts:AssumeRole")) for doc in lv]
                    for lv in account.scp_levels
                ]
            boundary = actor.boundary
            found = evaluate_request(
                request=RequestContext(
                    principal=Principal.aws(actor.arn),
                    action="sts:AssumeRole",
                    resource=role_arn,
                    values={f"aws:principaltag/{k.lower()}": (v,) for k, v in actor.tags.items()},
                ),
                identity_policies=[Policy(_IDENTITY, group.identity)],
                resource_policy=Policy(_REWRITTEN_TRUST, (trust,)),
                boundary=(
                    Policy(boundary.policy.source, boundary.statements_for("sts:AssumeRole"))
                    if boundary
                    else None
                ),
                scp_levels=scp_levels,
                principal_account=account.account_id,
                resource_account=account.account_id,
            )
            self._trust[memo] = found
        return found


def _some_resources(statements: Iterable[Statement], action: str) -> list[str]:
    """Resources to ask about for a resource the principal creates or picks: ``*`` when an
    Allow covers every resource, and one instance of each Resource pattern of the others."""
    found: dict[str, None] = {}
    for statement in statements:
        if statement.effect is not Effect.ALLOW or not statement_matches_action(statement, action):
            continue
        if statement.resources is None or statement.not_resource:
            found["*"] = None
            continue
        for pattern in statement.resources:
            if pattern == "*" or "${" in pattern:
                found["*"] = None
            else:
                found[pattern.replace("*", "x").replace("?", "x")] = None
    return list(found) or ["*"]


Bucket = tuple[tuple[str, ...], tuple[str, ...]]  # condition keys, granting statements


def _same_for_all(resource: str) -> tuple[object, ...]:
    """The signature of every resource when the answer is the same for all."""
    return ()


# -- the stage -----------------------------------------------------------------------------------


def compute_escalations(
    estate: Estate,
    edges: Iterable[EdgeRecord],
    admins: Iterable[AdminRecord],
    *,
    now: datetime,
    profiled: set[int] | None = None,
    other_versions: set[str] | None = None,
    sources: Iterable[Actor] | None = None,
    methods: Mapping[str, Collection[str]] | None = None,
) -> EscalationResult:
    """Every escalation of the estate, grouped as the engine decided them.

    ``profiled``: pks of roles in an instance profile; ``other_versions``: ARNs of
    customer-managed policies with a non-default version (both read by the caller).
    ``sources``: only the escalations of these principals (a what-if re-evaluates those whose
    policies it changes); targets are still every principal of the estate. ``admins`` must
    then hold at least theirs. ``methods``: only these methods (ids) of each source, by its
    ARN (a what-if re-evaluates only the methods whose permissions it changes); a source it
    leaves out gets none.
    """
    evaluator = _Evaluator(estate, now)
    found = _targets_of(estate, edges, profiled or set(), other_versions or set())
    admin_basis = {record.actor.arn: record.basis for record in admins}
    records: list[EscalationRecord] = []
    groups = _escalation_groups(estate.actors if sources is None else sources)
    for group in groups:
        checked = group.checked
        for method in EVALUATED:
            if not evaluator.may(checked, method):
                continue
            members = [
                m
                for m in group.members
                if m.kind in method.kinds
                and _may_use(method, admin_basis.get(m.arn))
                and (methods is None or method.id in methods.get(m.arn, ()))
            ]
            if not members:
                continue
            whole = (
                len(members) == len(group.members)
                and method.targets is not Targets.SELF
                and not evaluator.checker.specific(checked, method.actions)
            )
            for actor in members[:1] if whole else members:
                fixed = evaluator.answer(checked, actor, method)
                if fixed is None:
                    continue
                buckets: dict[Bucket, list[tuple[str, Actor | None]]] = {}
                scope = evaluator.scope(checked, actor, method)
                in_scope = None if scope is None else evaluator.in_scope(scope)
                signature = evaluator.signature(checked, actor, method)
                # Targets of one signature share their answer: it is asked for the first only.
                bucket_of: dict[tuple[object, ...], list[tuple[str, Actor | None]] | None] = {}
                for resource, target, target_arn in _method_targets(method, actor, found):
                    if not whole and target is actor:
                        continue
                    if in_scope is not None and not in_scope(resource):
                        continue
                    sig = signature(resource)
                    if sig in bucket_of:
                        bucket = bucket_of[sig]
                    else:
                        part = evaluator.answer(checked, actor, method, resource)
                        bucket = bucket_of[sig] = (
                            None
                            if part is None
                            else buckets.setdefault(
                                (
                                    display_keys(fixed.keys | part.keys),
                                    tuple(dict.fromkeys([*part.refs, *fixed.refs])),
                                ),
                                [],
                            )
                        )
                    if bucket is not None and target_arn is not None:
                        bucket.append((target_arn, target))
                for (keys, refs), targets in buckets.items():
                    records.append(
                        EscalationRecord(
                            sources=tuple(members) if whole else (actor,),
                            method=method,
                            targets=tuple(targets),
                            condition_keys=keys,
                            granted_by=refs,
                            group=group if whole else None,
                        )
                    )
    stats: dict[str, int] = defaultdict(int)
    for record in records:
        stats[f"escalations_{record.status}"] += len(record.sources) * max(len(record.targets), 1)
    result = EscalationResult(records, dict(stats))
    result.stats.update(
        escalation_groups=len(groups),
        escalation_engine_calls=evaluator.checker.calls + evaluator.trust_calls,
    )
    logger.info("escalations: %s", result.stats)
    return result


def load_escalation_facts() -> tuple[set[int], set[str]]:
    """What the estate tables hold beyond `load_estate`: the pks of roles in an instance
    profile, and the ARNs of customer-managed policies with a non-default version."""
    profiled = set(
        InstanceProfile.roles.through.objects.values_list("iamrole_id", flat=True).distinct()
    )
    other_versions = set(
        PolicyVersion.objects.filter(is_default=False, policy__is_aws_managed=False)
        .values_list("policy__arn", flat=True)
        .distinct()
    )
    return profiled, other_versions


def _may_use(method: Method, basis: str | None) -> bool:
    """Administrators with full access need no escalation; those that can grant themselves
    anything are shown how (self-grant methods), not every principal they could become."""
    if basis == "full":
        return False
    return basis is None or method.self_grant
