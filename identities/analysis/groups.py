"""Access groups: the principals of one account that every assume-role question treats alike.

A group holds the users or roles of one account with the same identity statements about
sts:AssumeRole, the same permissions boundary and the same SCPs (`group_principals`); the access
edges are computed per group (`identities.analysis.edges`). Identity statements that name roles
by exact ARN are kept out of the group key and indexed by that ARN (``Grouping.specific``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from identities.analysis.estate import ASSUME_ROLE, AccountInfo, Actor, Doc, Estate
from identities.analysis.subjects import Subject, group_subject, resource_key_known
from identities.policy import Effect, Statement, match_resource


@dataclass(eq=False)
class AccessGroupInfo:
    """Principals of one account that every assume-role question treats alike."""

    index: int
    key: str
    account: AccountInfo
    kind: str
    is_service_linked: bool
    identity: tuple[Statement, ...]
    boundary: tuple[Statement, ...] | None
    boundary_doc: Doc | None
    docs: tuple[Doc, ...]
    members: list[Actor] = field(default_factory=list)
    _subject: Subject | None = None

    @property
    def source(self) -> str:
        return f"group:{self.key}"

    @property
    def subject(self) -> Subject:
        if self._subject is None:
            self._subject = group_subject(
                self.account,
                self.kind,
                self.is_service_linked,
                self.identity,
                self.boundary,
                self.boundary_doc.policy.source if self.boundary_doc else None,
            )
        return self._subject

    @property
    def label(self) -> str:
        what = {"user": "users", "role": "roles"}[self.kind]
        if self.is_service_linked:
            what = "service-linked roles"
        names = sorted({_doc_name(doc) for doc in self.docs})
        text = f"{what} of {self.account.name}"
        text += (
            f" with {', '.join(names)}"
            if names
            else " with no identity statement about sts:AssumeRole"
        )
        if self.boundary_doc is not None:
            text += f", within boundary {self.boundary_doc.name}"
        return text

    @property
    def policy_labels(self) -> list[str]:
        labels = [doc.label for doc in self.docs]
        if self.boundary_doc is not None:
            labels.append(self.boundary_doc.label)
        return labels

    @cached_property
    def uniform(self) -> bool:
        """Do the group's statements (identity, boundary, SCPs) read the same for every role?"""
        statements = [*self.identity, *(self.boundary or ())]
        for level in self.subject.scp_levels:
            for doc in level:
                statements.extend(doc.statements_for(ASSUME_ROLE))
        return self._allow_patterns is None and all(
            (s.resources is None or all(p == "*" for p in s.resources))
            and not any(
                resource_key_known(c.key.lower()) or any("${" in v for v in c.values)
                for c in s.conditions
            )
            for s in statements
        )

    @cached_property
    def _allow_patterns(self) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """(exact ARNs, ARN patterns) the Allow statements are limited to, or None when one
        covers every role."""
        literals: set[str] = set()
        patterns: list[str] = []
        for statement in self.identity:
            if statement.effect is not Effect.ALLOW:
                continue
            # NotResource: cheap to get wrong, so left to the engine.
            if (
                statement.resources is None
                or statement.not_resource
                or any(p == "*" or "${" in p for p in statement.resources)
            ):
                return None
            for pattern in statement.resources:
                if "*" in pattern or "?" in pattern:
                    patterns.append(pattern)
                else:
                    literals.add(pattern)
        return frozenset(literals), tuple(dict.fromkeys(patterns))

    @cached_property
    def _patterns(self) -> tuple[tuple[frozenset[str], tuple[str, ...]], ...] | None:
        """(exact ARNs, ARN patterns) of each of the group's statements (identity, boundary,
        SCPs) with a Resource other than ``*``; None when a verdict may depend on the role in
        other ways (policy variables, conditions on the role's keys)."""
        statements = [*self.identity, *(self.boundary or ())]
        for level in self.subject.scp_levels:
            for doc in level:
                statements.extend(doc.statements_for(ASSUME_ROLE))
        found = []
        for s in statements:
            if any(
                resource_key_known(c.key.lower()) or any("${" in v for v in c.values)
                for c in s.conditions
            ):
                return None
            patterns = s.resources or ()
            if any("${" in p for p in patterns):
                return None
            if s.resources is not None and any(p != "*" for p in patterns):
                found.append(
                    (
                        frozenset(p for p in patterns if "*" not in p and "?" not in p),
                        tuple(p for p in patterns if ("*" in p or "?" in p) and p != "*"),
                    )
                )
        return tuple(found)

    def resource_bits(self, arn: str) -> tuple[bool, ...] | None:
        """Which of the group's Resource elements match ``arn`` (see `_patterns`)."""
        patterns = self._patterns
        if patterns is None:
            return None
        return tuple(
            arn in literals or any(match_resource(p, arn) for p in wildcards)
            for literals, wildcards in patterns
        )

    def may_allow(self, arn: str) -> bool:
        """Cheap test: could an Allow statement of the group cover ``arn`` at all?"""
        limited = self._allow_patterns
        if limited is None:
            return True
        literals, patterns = limited
        return arn in literals or any(match_resource(p, arn) for p in patterns)


def _doc_name(doc: Doc) -> str:
    source = doc.policy.source
    if source.kind == "inline policy" and source.arn:
        owner = source.arn.split(":", 5)[-1]
        kind, _, name = owner.partition("/")
        return f"{doc.name} ({kind} {name.rsplit('/', 1)[-1]})"
    return doc.name


def _is_specific(statement: Statement) -> bool:
    """An Allow naming roles by exact ARN only: indexed by those ARNs instead of grouped.

    Only for documents of one principal (its inline policies, a managed policy attached to it
    alone), which would otherwise make a group of it.
    """
    return (
        statement.effect is Effect.ALLOW
        and statement.resources is not None
        and not statement.not_resource
        and all("*" not in p and "?" not in p and "${" not in p for p in statement.resources)
    )


@dataclass
class Grouping:
    groups: list[AccessGroupInfo]
    group_of: dict[int, AccessGroupInfo]  # id(actor) -> group
    by_account: dict[str, list[AccessGroupInfo]]
    specific: dict[str, dict[int, list[Statement]]]  # role ARN -> id(actor) -> statements


def group_principals(estate: Estate) -> Grouping:
    """Sort every user and role into its access group and index exact-ARN statements."""
    groups: dict[tuple[object, ...], AccessGroupInfo] = {}
    group_of: dict[int, AccessGroupInfo] = {}
    specific: dict[str, dict[int, list[Statement]]] = defaultdict(dict)
    # A document several principals carry (a managed policy, a group's inline policy) stays in
    # the group key: the principals sharing it get one answer per role, not one each.
    uses: dict[int, int] = defaultdict(int)
    for actor in estate.actors:
        for doc in {id(doc): doc for doc in actor.docs}.values():
            uses[id(doc)] += 1
    for actor in estate.actors:
        general: list[tuple[str, int, Statement, Doc]] = []
        seen: set[int] = set()
        for doc in actor.docs:
            for statement in doc.statements_for(ASSUME_ROLE):
                if id(statement) in seen:
                    continue
                seen.add(id(statement))
                if uses[id(doc)] == 1 and _is_specific(statement):
                    for arn in statement.resources or ():
                        specific[arn].setdefault(id(actor), []).append(statement)
                else:
                    general.append((doc.key, statement.index, statement, doc))
        general.sort(key=lambda item: (item[0], item[1]))
        boundary = actor.boundary
        key = (
            actor.account.account_id,
            actor.kind,
            actor.is_service_linked,
            tuple((doc_key, index) for doc_key, index, _, _ in general),
            boundary.key if boundary else None,
        )
        group = groups.get(key)
        if group is None:
            digest = hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()
            docs = tuple(dict.fromkeys(doc for _, _, _, doc in general))
            group = AccessGroupInfo(
                index=len(groups),
                key=digest,
                account=actor.account,
                kind=actor.kind,
                is_service_linked=actor.is_service_linked,
                identity=tuple(statement for _, _, statement, _ in general),
                boundary=boundary.statements_for(ASSUME_ROLE) if boundary else None,
                boundary_doc=boundary,
                docs=docs,
            )
            groups[key] = group
        group.members.append(actor)
        group_of[id(actor)] = group
    by_account: dict[str, list[AccessGroupInfo]] = defaultdict(list)
    for group in groups.values():
        by_account[group.account.account_id].append(group)
    return Grouping(list(groups.values()), group_of, dict(by_account), dict(specific))
