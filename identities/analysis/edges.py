"""Access edges: for every role, every principal that can assume it, and why.

Never a loop over every principal times every role. Trust policies are indexed by the principals
they name (`principals_named_in`):

- a service, a SAML/OIDC provider, ``*``, or an account or principal outside the synced
  accounts is evaluated once per role;
- a user or role named by ARN is evaluated on its own ("member");
- an account root of a synced account delegates to that account's principals: they are
  evaluated once per *access group*, the principals of that account with the same identity
  statements about sts:AssumeRole, the same permissions boundary and the same SCPs. Identity
  statements that name roles by exact ARN are kept out of the group key and indexed by that ARN,
  so a user with an inline "assume these two roles" policy still shares its group; for those two
  roles it is evaluated on its own. A group is first tested with cheap Action/ARN matching; only
  groups whose Allow statements could cover the role reach the engine.

A member's own result (when it has one for a role) replaces its group's for that role.
Roles trusting ``*`` get one edge from ``*`` (anyone in the world) and, like a trusted account
root, an edge from every access group of every synced account that can use the trust: groups of
the role's own account need no identity-based Allow ("For IAM users and roles within your
account, no other permissions are required"), groups of other accounts do. Roles whose trust
policies read alike (same statements, same account) share the groups' verdicts, and when the
groups' Resource patterns match them alike, the whole list of verdicts. Those roles form a
*role class* (`RoleClass`): their group edges are kept and stored once per class, not once per
role (a million rows for fifty accounts), and written out by whoever reads them (the AccessEdge
view, the reach graph's class nodes, the history).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from identities.analysis.estate import (
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_SAML,
    ASSUME_ROLE_WITH_WEB_IDENTITY,
    UNKNOWN_DOCUMENT_KEY,
    AccountInfo,
    Actor,
    Doc,
    Estate,
)
from identities.analysis.evaluation import Evaluator, Verdict
from identities.analysis.groups import AccessGroupInfo, Grouping, group_principals
from identities.analysis.reach import CLASS_PREFIX
from identities.analysis.requirements import Requirements, request_statements
from identities.analysis.subjects import (
    RESOURCE_TAG_PREFIXES,
    Subject,
    Target,
    anyone_subject,
    federated_subject,
    member_subject,
    outsider_subject,
    resource_key_known,
    service_subject,
)
from identities.policy import (
    Outcome,
    PrincipalKind,
    Statement,
    match_resource,
    principals_named_in,
)

logger = logging.getLogger(__name__)


class SourceKind:
    USER = "user"
    ROLE = "role"
    GROUP = "group"
    ACCOUNT = "account"  # the root of an account outside the synced set
    EXTERNAL = "external"  # a user or role ARN of an account outside the synced set
    SERVICE = "service"
    FEDERATED = "federated"
    ANYONE = "anyone"


def _known_key(key: str, subject: Subject) -> bool:
    return subject.lookup(key)[0] or resource_key_known(key)


@dataclass(eq=False)
class EdgeRecord:
    source: str
    source_kind: str
    target: Actor
    action: str
    outcome: str  # allow | conditional | denied
    actor: Actor | None = None
    group: AccessGroupInfo | None = None
    via_pass_role: bool = False
    condition_keys: tuple[str, ...] = ()
    condition_values: dict[str, str] = field(default_factory=dict)  # key -> requirement
    granted_by: tuple[str, ...] = ()
    # The statements of granted_by the edge cannot do without, when they are not simply those
    # alone in their layer (one trust statement, one identity statement); None when they are.
    needs: tuple[str, ...] | None = None
    denied_layer: str = ""
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def possible(self) -> bool:
        return self.outcome != "denied"


_OUTCOMES = {
    Outcome.ALLOW: "allow",
    Outcome.CONDITIONAL_ALLOW: "conditional",
    Outcome.EXPLICIT_DENY: "denied",
    Outcome.IMPLICIT_DENY: "denied",
}


# Stands for the trust policy's label in the statement references of a role class's grants.
TRUST_MARK = "{trust policy}"


@dataclass(eq=False)
class RoleClass:
    """Roles trusting ``*`` whose group edges are alike: trust policies that read the same
    (same statements, same account) and the same answer from every access group.

    Their group edges are kept once (``grants``, the first role's, each trust statement
    reference with its policy's label replaced by TRUST_MARK) with the member roles and their
    trust policies' labels: a role trusting ``*`` has an edge from nearly every access group of
    the estate, a million rows for fifty accounts if written out. `expanded` writes them out;
    the stored rows are expanded by a database view (see `identities.models.AccessEdge`).
    """

    index: int
    grants: list[EdgeRecord] = field(default_factory=list)
    roles: list[Actor] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # each role's trust policy label

    @property
    def node(self) -> str:
        return f"{CLASS_PREFIX}{self.index}"

    def expanded(self) -> Iterator[EdgeRecord]:
        """The grants as the edges they stand for, one per (grant, member role)."""
        for role, label in zip(self.roles, self.labels, strict=True):
            for grant in self.grants:
                yield EdgeRecord(
                    source=grant.source,
                    source_kind=grant.source_kind,
                    target=role,
                    action=grant.action,
                    outcome=grant.outcome,
                    group=grant.group,
                    condition_keys=grant.condition_keys,
                    condition_values=grant.condition_values,
                    granted_by=tuple(ref.replace(TRUST_MARK, label) for ref in grant.granted_by),
                    needs=None
                    if grant.needs is None
                    else tuple(ref.replace(TRUST_MARK, label) for ref in grant.needs),
                    notes=grant.notes,
                )


@dataclass
class EdgeResult:
    """``edges``: the edges as stored one by one; ``classes``: the group edges of roles
    trusting ``*``, kept per class (`RoleClass`). `all_edges` yields both."""

    edges: list[EdgeRecord]
    grouping: Grouping
    notes: list[str]
    stats: dict[str, int]
    classes: list[RoleClass] = field(default_factory=list)

    @property
    def edge_count(self) -> int:
        return len(self.edges) + sum(len(c.grants) * len(c.roles) for c in self.classes)

    def all_edges(self) -> Iterator[EdgeRecord]:
        yield from self.edges
        for role_class in self.classes:
            yield from role_class.expanded()

    def needs(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(source, role ARN) -> the statements of ``granted_by`` the possible edge cannot do
        without, for the edges where those are not simply the ones alone in their layer."""
        found = {
            (edge.source, edge.target.arn): edge.needs
            for edge in self.edges
            if edge.needs is not None and edge.possible
        }
        for role_class in self.classes:
            grants = [grant for grant in role_class.grants if grant.needs is not None]
            for role, label in zip(role_class.roles, role_class.labels, strict=True):
                for grant in grants:
                    assert grant.needs is not None
                    found[(grant.source, role.arn)] = tuple(
                        ref.replace(TRUST_MARK, label) for ref in grant.needs
                    )
        return found

    def class_of(self) -> dict[str, RoleClass]:
        """Role ARN -> its class."""
        return {role.arn: c for c in self.classes for role in c.roles}


@dataclass
class _Answers:
    """The groups' verdicts for a role trusting ``*``: possible or refused (``verdicts``), those
    that depend on who the member is (``specific``), and a key equal for equal verdicts."""

    verdicts: list[tuple[AccessGroupInfo, Verdict]]
    specific: list[AccessGroupInfo]
    signature: tuple[tuple[int, int], ...]


class _Builder:
    def __init__(self, estate: Estate, grouping: Grouping, evaluator: Evaluator) -> None:
        self.estate = estate
        self.grouping = grouping
        self.evaluator = evaluator
        self.edges: list[EdgeRecord] = []
        self.notes: list[str] = []
        self.members: dict[int, Subject] = {}
        self._actors = {id(actor): actor for actor in estate.actors}
        self.stats: dict[str, int] = defaultdict(int)
        self._uniform_verdicts: dict[tuple[object, ...], list[tuple[AccessGroupInfo, Verdict]]] = {}
        self._contents: dict[int, tuple[object, Doc]] = {}  # keeps the Doc alive for its id
        self._rcp_shareable: dict[str, bool] = {}
        self._matched_verdicts: dict[tuple[object, ...], Verdict] = {}
        self._classes: dict[tuple[object, ...], RoleClass] = {}
        self._answers: dict[tuple[object, ...], _Answers] = {}
        self._patterns: tuple[frozenset[str], tuple[str, ...]] | tuple[()] | None = None
        self._values: dict[tuple[object, ...], dict[str, str]] = {}
        self._uniform: dict[str, list[AccessGroupInfo]] = {}
        self.requirements = Requirements()
        self._needs: dict[int, frozenset[tuple[str, int]] | None] = {}

    def member(self, actor: Actor) -> Subject:
        found = self.members.get(id(actor))
        if found is None:
            group = self.grouping.group_of[id(actor)]
            found = member_subject(actor, group.identity, group.boundary)
            self.members[id(actor)] = found
        return found

    def emit(
        self,
        subject: Subject,
        target: Target,
        action: str,
        source: str,
        source_kind: str,
        *,
        verdict: Verdict,
        extra: tuple[Statement, ...] = (),
        actor: Actor | None = None,
        group: AccessGroupInfo | None = None,
        keep_denied: bool = True,
        notes: tuple[str, ...] = (),
        sink: list[EdgeRecord] | None = None,
    ) -> None:
        outcome = _OUTCOMES[verdict.outcome]
        if outcome == "denied" and not keep_denied:
            return
        record = EdgeRecord(
            source=source,
            source_kind=source_kind,
            target=target.role,
            action=action,
            outcome=outcome,
            actor=actor,
            group=group,
            via_pass_role=source_kind == SourceKind.SERVICE and not target.role.is_service_linked,
            condition_keys=verdict.condition_keys,
            denied_layer=verdict.deciding_layer,
            notes=notes + verdict.ambiguities,
        )
        if outcome == "denied":
            # The cached verdict may come from another role of the same shape: recompute the
            # texts for this pair (refused named candidates are few).
            decision, _ = self.evaluator.decide(subject, target, action, extra)
            record.reasons = tuple(reason.text for reason in decision.reasons)
        else:
            assert target.role.trust is not None
            trust = target.role.trust.trust_statements(action)
            identity = subject.identity + extra
            granted = [
                trust[position] if section == "trust" else identity[position]
                for section, position in verdict.granting
            ]
            record.granted_by = tuple(statement.ref for statement in granted)
            needed = self._needed_beyond_alone(subject, target, action, verdict, extra)
            if needed is not None:
                record.needs = tuple(
                    statement.ref
                    for statement, slot in zip(granted, verdict.granting, strict=True)
                    if slot in needed
                )
            if verdict.condition_keys:
                # The same statements of the same requester and trust content read the same.
                content = self._content_key(target)
                memo = (
                    verdict.condition_keys,
                    verdict.granting,
                    content if content is not None else id(target.role.trust),
                    target.account.account_id,
                    action,
                    id(subject),
                    tuple(id(statement) for statement in extra),
                )
                values = self._values.get(memo)
                if values is None:
                    values = self._values[memo] = self.requirements.of(
                        verdict.condition_keys,
                        granted,
                        lambda: request_statements(subject, target, action, trust, identity),
                    )
                record.condition_values = values
            if UNKNOWN_DOCUMENT_KEY in verdict.condition_keys:
                missing = sorted(
                    {
                        s.source.label
                        for s in (*identity, *(subject.boundary or ()))
                        if s.conditions and s.conditions[0].key == UNKNOWN_DOCUMENT_KEY
                    }
                )
                record.notes += (
                    "depends on policy documents the bundle does not hold: " + "; ".join(missing),
                )
        self.stats[f"edges_{outcome}"] += 1
        (self.edges if sink is None else sink).append(record)

    def _needed_beyond_alone(
        self,
        subject: Subject,
        target: Target,
        action: str,
        verdict: Verdict,
        extra: tuple[Statement, ...],
    ) -> frozenset[tuple[str, int]] | None:
        """The granting slots the request cannot do without (`Evaluator.needed`), or None when
        they are those alone in their section (what ``granted_by`` tells by itself)."""
        key = id(verdict)  # cached verdicts live as long as the evaluator
        if key in self._needs:
            return self._needs[key]
        needed = self.evaluator.needed(subject, target, action, verdict, extra)
        sections = [section for section, _ in verdict.granting]
        alone = tuple(slot for slot in verdict.granting if sections.count(slot[0]) == 1)
        found = None if needed == alone else frozenset(needed)
        self._needs[key] = found
        return found

    def _emit_outside(
        self, subject: Subject, target: Target, action: str, source: str, source_kind: str
    ) -> None:
        """The edge of a party that is no synced user or role: one answer for it alone."""
        self.emit(
            subject,
            target,
            action,
            source,
            source_kind,
            verdict=self.evaluator.verdict(subject, target, action),
        )

    def role(self, role: Actor) -> None:
        trust = role.trust
        assert trust is not None
        if trust.unknown:
            self.notes.append(f"{role.arn}: trust policy unknown ({trust.unknown}); no edges")
            return
        target = Target(role)
        named = principals_named_in(trust.policy, action=None)
        individuals: dict[int, Actor] = {}
        delegated: set[str] = set()
        anyone = False
        accounts = self.estate.accounts
        for name in named:
            if name.kind is PrincipalKind.SERVICE:
                self._emit_outside(
                    service_subject(name.value),
                    target,
                    ASSUME_ROLE,
                    f"service:{name.value}",
                    SourceKind.SERVICE,
                )
            elif name.kind is PrincipalKind.FEDERATED:
                action = (
                    ASSUME_ROLE_WITH_SAML
                    if ":saml-provider/" in name.value
                    else ASSUME_ROLE_WITH_WEB_IDENTITY
                )
                self._emit_outside(
                    federated_subject(name.value),
                    target,
                    action,
                    f"federated:{name.value}",
                    SourceKind.FEDERATED,
                )
            elif name.kind is not PrincipalKind.AWS:
                self.notes.append(
                    f"{role.arn}: trust names {name.kind.value} {name.value}; skipped"
                )
            elif name.is_wildcard:
                anyone = True
            elif name.is_account:
                account_id = name.account_id or ""
                if account_id in accounts:
                    delegated.add(account_id)
                else:
                    root = f"arn:aws:iam::{account_id}:root"
                    self._emit_outside(
                        outsider_subject(root), target, ASSUME_ROLE, root, SourceKind.ACCOUNT
                    )
            else:
                actor = self.estate.by_arn.get(name.value)
                if actor is not None:
                    individuals[id(actor)] = actor
                elif name.account_id and name.account_id in accounts:
                    self.notes.append(
                        f"{role.arn}: trust names {name.value}, which is not in the synced "
                        "account (deleted, or a session ARN)"
                    )
                elif name.account_id:
                    self._emit_outside(
                        outsider_subject(name.value),
                        target,
                        ASSUME_ROLE,
                        name.value,
                        SourceKind.EXTERNAL,
                    )
                else:
                    self.notes.append(
                        f"{role.arn}: trust names {name.value!r}, not an ARN (a deleted "
                        "principal's unique id?); skipped"
                    )
        if anyone:
            self._emit_outside(anyone_subject(), target, ASSUME_ROLE, "*", SourceKind.ANYONE)
        if anyone or delegated:
            # Principals the trust mentions anywhere (a Deny, a NotPrincipal) are decided on their
            # own: a group's answer cannot know they are singled out.
            for statement in trust.policy.statements:
                for spec in statement.principals or ():
                    actor = self.estate.by_arn.get(spec.value) if spec.kind == "AWS" else None
                    if actor is not None and (anyone or actor.account.account_id in delegated):
                        individuals[id(actor)] = actor
            for actor_id in self.grouping.specific.get(role.arn, {}):
                actor = self._actor_by_id(actor_id)
                if anyone or actor.account.account_id in delegated:
                    individuals[actor_id] = actor
        # "*" reaches every synced account's principals: those of the role's own account need
        # no identity-based Allow, so no group of that account is prefiltered.
        label = self._class_label(target) if anyone else None
        if label is None:
            for account_id in sorted(accounts if anyone else delegated):
                prefilter = not (anyone and account_id == role.account.account_id)
                for group, verdict in self._group_verdicts(account_id, target, prefilter=prefilter):
                    if verdict.principal_specific:
                        for actor in group.members:
                            individuals[id(actor)] = actor
                    else:
                        self._emit_group(group, target, verdict)
        else:
            answers = self._anyone_answers(target)
            for group in answers.specific:
                for actor in group.members:
                    individuals[id(actor)] = actor
            self._classify(target, label, answers)
        for actor in individuals.values():
            subject = self.member(actor)
            extra = tuple(self.grouping.specific.get(role.arn, {}).get(id(actor), ()))
            verdict = self.evaluator.verdict(subject, target, ASSUME_ROLE, extra)
            self.emit(
                subject,
                target,
                ASSUME_ROLE,
                actor.arn,
                SourceKind.USER if actor.kind == "user" else SourceKind.ROLE,
                verdict=verdict,
                extra=extra,
                actor=actor,
            )

    def _emit_group(
        self,
        group: AccessGroupInfo,
        target: Target,
        verdict: Verdict,
        sink: list[EdgeRecord] | None = None,
    ) -> None:
        self.emit(
            group.subject,
            target,
            ASSUME_ROLE,
            group.source,
            SourceKind.GROUP,
            verdict=verdict,
            group=group,
            keep_denied=False,
            sink=sink,
        )

    def _class_label(self, target: Target) -> str | None:
        """The label of the role's trust policy when its group edges may join a class: its
        trust statements read like others' (`_content_key`) and all carry that label."""
        trust = target.role.trust
        assert trust is not None
        label = trust.policy.source.label
        statements = trust.trust_statements(ASSUME_ROLE)
        if TRUST_MARK in label or any(s.source.label != label for s in statements):
            return None
        return label if self._content_key(target) is not None else None

    def _anyone_answers(self, target: Target) -> _Answers:
        """Every group's verdict for a role trusting ``*`` whose trust policy reads like others'
        (`_class_label`). The same for roles whose trust policy reads the same and that the
        groups' Resource patterns match alike (`_matches`): then cached."""
        matches = self._matches(target.arn)
        key = (self._content_key(target), matches) if matches is not None else None
        found = self._answers.get(key) if key is not None else None
        if found is not None:
            self.stats["anyone_answers_shared"] += 1
            return found
        answers: list[tuple[AccessGroupInfo, Verdict]] = []
        specific: list[AccessGroupInfo] = []
        for account_id in sorted(self.estate.accounts):
            prefilter = account_id != target.account.account_id
            for group, verdict in self._group_verdicts(account_id, target, prefilter=prefilter):
                if verdict.principal_specific:
                    specific.append(group)
                else:
                    answers.append((group, verdict))
        found = _Answers(
            answers, specific, tuple((group.index, id(verdict)) for group, verdict in answers)
        )
        if key is not None:
            self._answers[key] = found
        return found

    def _matches(self, arn: str) -> tuple[object, ...] | None:
        """What every group's Resource patterns (and exact ARNs) say of ``arn``: all that a
        group's verdict for a role depends on besides its trust policy and account, or None
        when some group's verdict may depend on the role otherwise (`resource_bits`)."""
        if self._patterns is None:
            literals: set[str] = set()
            wildcards: dict[str, None] = {}
            usable = True
            for group in self.grouping.groups:
                if group.uniform:
                    continue
                if group._patterns is None:
                    usable = False
                    break
                for exact, patterns in (
                    *group._patterns,
                    *((group._allow_patterns,) if group._allow_patterns is not None else ()),
                ):
                    literals.update(exact)
                    wildcards.update(dict.fromkeys(patterns))
            self._patterns = (frozenset(literals), tuple(wildcards)) if usable else ()
        if not self._patterns:
            return None
        literals_all, wildcards_all = self._patterns
        return (
            arn if arn in literals_all else None,
            tuple(match_resource(pattern, arn) for pattern in wildcards_all),
        )

    def _classify(self, target: Target, label: str, answers: _Answers) -> None:
        """Put a role trusting ``*`` in the class of the roles whose trust policy reads the same
        and whose groups answered the same (the same cached verdicts), or start one."""
        trust = target.role.trust
        assert trust is not None
        refs = tuple(s.ref.replace(label, TRUST_MARK) for s in trust.trust_statements(ASSUME_ROLE))
        key = (self._content_key(target), refs, answers.signature)
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = RoleClass(len(self._classes))
            marked = {
                s.ref: s.ref.replace(label, TRUST_MARK) for s in trust.trust_statements(ASSUME_ROLE)
            }
            for group, verdict in answers.verdicts:
                self._emit_group(group, target, verdict, found.grants)
            for grant in found.grants:
                grant.granted_by = tuple(marked.get(ref, ref) for ref in grant.granted_by)
                if grant.needs is not None:
                    grant.needs = tuple(marked.get(ref, ref) for ref in grant.needs)
        else:
            for grant in found.grants:
                self.stats[f"edges_{grant.outcome}"] += 1
        found.roles.append(target.role)
        found.labels.append(label)

    def _group_verdicts(
        self, account_id: str, target: Target, *, prefilter: bool = True
    ) -> Iterator[tuple[AccessGroupInfo, Verdict]]:
        """The verdict of every group of ``account_id`` for ``target`` (prefiltered ones left out).

        Groups whose statements cover every role ("uniform") get the same verdicts for every role
        whose trust policy reads the same (same statements, same account: `_content_key`) or has
        the same shape for them: those lists are cached. ``prefilter`` false: evaluate groups
        even when no Allow of theirs can cover the role (a same-account "*" trust needs none).
        """
        groups = self.grouping.by_account.get(account_id, ())
        uniform = self._uniform.get(account_id)
        if uniform is None:
            uniform = self._uniform[account_id] = [group for group in groups if group.uniform]
        content = self._content_key(target)
        memo = (content, account_id) if content is not None else None
        cached = self._uniform_verdicts.get(memo) if memo is not None else None
        shape = None
        if cached is None:
            shape = self._shape(uniform, target)
            cached = self._uniform_verdicts.get(shape) if shape is not None else None
        if cached is None:
            cached = [
                (group, self.evaluator.verdict(group.subject, target, ASSUME_ROLE))
                for group in uniform
            ]
            if shape is not None:
                self._uniform_verdicts[shape] = cached
        else:
            self.stats["group_verdicts_shared"] += len(cached)
        if memo is not None:
            self._uniform_verdicts[memo] = cached
        yield from cached
        for group in groups:
            if group.uniform:
                continue
            if prefilter and not group.may_allow(target.arn):
                self.stats["groups_prefiltered"] += 1
                continue
            yield group, self._verdict(group, target, memo)

    def _verdict(
        self, group: AccessGroupInfo, target: Target, memo: tuple[object, ...] | None
    ) -> Verdict:
        """A group's verdict for a role its statements do not all read alike (``uniform``):
        for roles whose trust policy reads the same (``memo``), a function of which of the
        group's Resource patterns match the role, cached by those matches."""
        bits = group.resource_bits(target.arn) if memo is not None else None
        if bits is None:
            return self.evaluator.verdict(group.subject, target, ASSUME_ROLE)
        key = (memo, group.index, bits)
        found = self._matched_verdicts.get(key)
        if found is None:
            found = self._matched_verdicts[key] = self.evaluator.verdict(
                group.subject, target, ASSUME_ROLE
            )
        else:
            self.stats["group_verdicts_shared"] += 1
        return found

    def _content_key(self, target: Target) -> tuple[object, ...] | None:
        """The role's trust statements as written and its account, or None when a uniform
        group's verdict may still depend on the role itself (Resource patterns, policy
        variables, resource tags in the trust policy; Resource patterns in its RCPs)."""
        trust = target.role.trust
        assert trust is not None
        found = self._contents.get(id(trust))
        if found is None:
            statements = trust.trust_statements(ASSUME_ROLE)
            shareable = all(
                s.resources is None
                and not any(
                    c.key.lower().startswith(RESOURCE_TAG_PREFIXES)
                    or any("${" in v for v in c.values)
                    for c in s.conditions
                )
                for s in statements
            )
            content: object = (
                tuple(
                    (
                        s.effect,
                        s.actions,
                        s.not_action,
                        s.principals,
                        s.not_principal,
                        s.conditions,
                        s.substitute_variables,
                    )
                    for s in statements
                )
                if shareable
                else None
            )
            found = self._contents[id(trust)] = (content, trust)
        content = found[0]
        if content is None or not self._rcps_shareable(target.account):
            return None
        return ("content", content, target.account.account_id)

    def _rcps_shareable(self, account: AccountInfo) -> bool:
        found = self._rcp_shareable.get(account.account_id)
        if found is None:
            found = all(
                s.resources is None or all(p == "*" for p in s.resources)
                for level in account.rcp_levels
                for doc in level
                for s in doc.statements_for(ASSUME_ROLE)
            )
            self._rcp_shareable[account.account_id] = found
        return found

    def _shape(self, groups: list[AccessGroupInfo], target: Target) -> tuple[object, ...] | None:
        """The role's trust policy and RCPs as these groups see them, or None when some
        condition key's value is known (it may differ between roles: no sharing)."""
        parts: list[object] = [
            bool(groups) and groups[0].account is target.account,
            bool(target.account.rcp_levels),
        ]
        seen: set[tuple[str, bool, int]] = set()
        for group in groups:
            subject = group.subject
            marker = (subject.principal.value, subject.has_boundary, subject.profile)
            if marker in seen:
                continue
            seen.add((subject.principal.value, subject.has_boundary, subject.profile))
            part, keys, variables = self.evaluator.target_part(subject, target, ASSUME_ROLE)
            if variables or any(_known_key(key, subject) for key in keys):
                return None
            parts.append((marker, part))
        return tuple(parts)

    def _actor_by_id(self, actor_id: int) -> Actor:
        return self._actors[actor_id]


def compute_edges(
    estate: Estate, grouping: Grouping | None = None, evaluator: Evaluator | None = None
) -> EdgeResult:
    """Every access edge of the estate (possible ones, and refused named candidates)."""
    return compute_role_edges(estate, estate.roles, grouping, evaluator)


def compute_role_edges(
    estate: Estate,
    roles: Iterable[Actor],
    grouping: Grouping | None = None,
    evaluator: Evaluator | None = None,
) -> EdgeResult:
    """The access edges into these roles (a what-if re-evaluates only the roles it changes)."""
    grouping = grouping or group_principals(estate)
    evaluator = evaluator or Evaluator()
    builder = _Builder(estate, grouping, evaluator)
    for role in roles:
        builder.role(role)
    classes = list(builder._classes.values())
    stats = dict(builder.stats)
    stats["role_classes"] = len(classes)
    stats["engine_calls"] = evaluator.calls
    stats["cache_hits"] = evaluator.hits
    stats["access_groups"] = len(grouping.groups)
    logger.info("access edges: %s", stats)
    return EdgeResult(builder.edges, grouping, builder.notes, stats, classes)
