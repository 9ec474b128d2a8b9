"""Ask the policy engine "can this principal assume this role?", once per distinct question.

A full `evaluate_request` costs a few hundred microseconds, and the estate asks the same question
hundreds of thousands of times: every role trusting account X is evaluated for each group of
principals of X, and most roles share their trust policy's shape with many others. So each
request is reduced to a *normalised signature*: per statement, its effect, how its Principal
element names the requester, whether each Resource pattern matches the role, and its conditions
with the values dropped for keys whose value the analysis does not know (a condition on an
unknown key is UNKNOWN whatever its values). Two requests with the same signature get the same
decision; the decision is kept as a :class:`Verdict` whose granting statements are positions in
the request's statement lists, so each edge cites its own role's and principal's statements.

The statements a decision cites are those of its winning evidence: an unconditional Allow hides
a conditional one beside it, and a trust statement naming the principal hides one naming its
account. Which of them the request cannot do without (`Evaluator.needed`) is asked of the engine
again, once per signature, with each cited statement left out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from identities.analysis.estate import (
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_SAML,
    ASSUME_ROLE_WITH_WEB_IDENTITY,
    SESSION_ACTIONS,
)
from identities.analysis.subjects import (
    PRINCIPAL_SPECIFIC_KEYS,
    PRINCIPAL_TAG_PREFIX,
    Mode,
    Subject,
    Target,
    display_keys,
    resource_key_known,
)
from identities.policy.conditions import RequestContext
from identities.policy.document import Effect, Layer, Policy, PolicySource, Statement
from identities.policy.evaluate import Decision, Outcome, evaluate_request
from identities.policy.match import (
    Principal,
    PrincipalKind,
    PrincipalMatch,
    match_resource,
    statement_matches_action,
    trust_principal_matches,
)

logger = logging.getLogger(__name__)

_IDENTITY_SOURCE = PolicySource(Layer.IDENTITY, "identity-based policies")


@dataclass(frozen=True)
class Verdict:
    """A decision reduced to what the analysis stores.

    ``granting`` holds (section, position) pairs of the Allow statements that granted, in the
    trust statements and identity statements of the request; ``principal_specific`` is set when a
    group decision depends on who the member is.
    """

    outcome: Outcome
    condition_keys: tuple[str, ...] = ()
    granting: tuple[tuple[str, int], ...] = ()
    deciding_layer: str = ""
    principal_specific: bool = False
    ambiguities: tuple[str, ...] = ()

    @property
    def possible(self) -> bool:
        return self.outcome in (Outcome.ALLOW, Outcome.CONDITIONAL_ALLOW)


@dataclass(frozen=True)
class _Static:
    effect: Effect
    resources: tuple[str, ...] | None
    not_resource: bool
    dependent: bool  # has a Resource pattern other than "*": the answer depends on the role
    literals: frozenset[str]
    wildcards: tuple[str, ...]
    variables: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    keys: frozenset[str]
    has_variables: bool
    actions: tuple[bool, ...]  # which of _SIGNATURE_ACTIONS the Action element covers


class Evaluator:
    """Cached assume-role decisions; ``calls`` counts engine calls, ``hits`` cache hits."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Verdict] = {}
        self._static: dict[int, _Static] = {}
        self._layer_memo: dict[tuple[Any, ...], _Layers] = {}
        self._sig_memo: dict[tuple[Any, ...], tuple[Any, frozenset[str], bool]] = {}
        self._interned: dict[Any, int] = {}
        self._tokens: dict[tuple[int, str, bool], tuple[Any, ...]] = {}
        self._target_memo: dict[tuple[Any, ...], tuple[int, frozenset[str], bool]] = {}
        self._own_layers: dict[tuple[int, str], _Layers] = {}
        self._own_memo: dict[tuple[Any, ...], tuple[int, frozenset[str], bool]] = {}
        self._keep: dict[int, Any] = {}  # keeps objects whose id() is part of a memo key alive
        self._needed: dict[int, tuple[tuple[str, int], ...]] = {}  # by id() of a cached Verdict
        self.calls = 0
        self.hits = 0

    # -- the question --------------------------------------------------------------------------

    def verdict(
        self,
        subject: Subject,
        target: Target,
        action: str,
        extra: tuple[Statement, ...] = (),
    ) -> Verdict:
        """The cached decision for ``subject`` assuming ``target`` with ``action``.

        ``extra`` are identity statements of this principal that name the role by exact ARN.
        """
        key = self._key(subject, target, action, extra)
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            return found
        decision, slots = self.decide(subject, target, action, extra)
        verdict = _to_verdict(decision, slots, subject)
        self._cache[key] = verdict
        return verdict

    def needed(
        self,
        subject: Subject,
        target: Target,
        action: str,
        verdict: Verdict,
        extra: tuple[Statement, ...] = (),
    ) -> tuple[tuple[str, int], ...]:
        """The granting statements of a possible ``verdict`` (slots, as in its ``granting``)
        without any one of which the request would be refused; ``verdict`` is the cached one
        `verdict` returned for the same arguments.

        Requests with the same signature share the answer: leaving the same position out of
        both leaves equal signatures."""
        found = self._needed.get(id(verdict))
        if found is not None:
            return found
        if not verdict.possible:
            found = ()
        else:
            trust_doc = target.role.trust
            assert trust_doc is not None
            statements = {
                "trust": trust_doc.trust_statements(action),
                "identity": subject.identity + extra,
            }
            found = tuple(
                (section, position)
                for section, position in verdict.granting
                if self.decide(
                    subject,
                    target,
                    action,
                    extra,
                    without=frozenset({id(statements[section][position])}),
                )[0].outcome
                not in (Outcome.ALLOW, Outcome.CONDITIONAL_ALLOW)
            )
        self._needed[id(verdict)] = found
        self._keep[id(verdict)] = verdict
        return found

    def decide(
        self,
        subject: Subject,
        target: Target,
        action: str,
        extra: tuple[Statement, ...] = (),
        without: frozenset[int] = frozenset(),
    ) -> tuple[Decision, dict[int, tuple[str, int]]]:
        """Ask the engine (uncached); also return where each statement sits in the request.

        ``without``: ids of trust or identity statements to leave out of the request."""
        self.calls += 1
        trust_doc = target.role.trust
        assert trust_doc is not None
        trust = trust_doc.trust_statements(action)
        identity = subject.identity + extra
        if without:
            trust = tuple(s for s in trust if id(s) not in without)
            identity = tuple(s for s in identity if id(s) not in without)
        scp_levels = [
            [Policy(doc.policy.source, doc.statements_for(action)) for doc in level]
            for level in subject.scp_levels
        ]
        rcp_levels = [
            [Policy(doc.policy.source, doc.statements_for(action)) for doc in level]
            for level in target.account.rcp_levels
        ]
        request = build_request(
            subject,
            target,
            action,
            _all_statements(trust, identity, subject, scp_levels, rcp_levels),
        )
        decision = evaluate_request(
            request=request,
            identity_policies=(
                [Policy(_IDENTITY_SOURCE, identity)]
                if subject.principal.kind is PrincipalKind.AWS
                else []
            ),
            resource_policy=Policy(trust_doc.policy.source, trust),
            boundary=(
                Policy(subject.boundary_source, subject.boundary)
                if subject.boundary is not None and subject.boundary_source is not None
                else None
            ),
            scp_levels=scp_levels,
            rcp_levels=rcp_levels,
            principal_account=subject.account.account_id if subject.account else None,
            resource_account=target.account.account_id,
            is_service_linked_role=subject.mode is Mode.SERVICE and target.role.is_service_linked,
        )
        slots: dict[int, tuple[str, int]] = {}
        for position, statement in enumerate(trust):
            slots[id(statement)] = ("trust", position)
        for position, statement in enumerate(identity):
            if id(statement) not in subject.standins:
                slots.setdefault(id(statement), ("identity", position))
        return decision, slots

    # -- normalised signatures -----------------------------------------------------------------

    def _key(
        self, subject: Subject, target: Target, action: str, extra: tuple[Statement, ...]
    ) -> tuple[Any, ...]:
        arn = target.arn
        has_boundary = subject.has_boundary
        target_id, keys, variables = self.target_part(subject, target, action, has_boundary)
        own_id, own_keys, own_vars = self._own_part(subject, action, arn, has_boundary)
        extra_sig: Any = ()
        if extra:
            extra_layers = _Layers(
                (tuple(extra),),
                tuple((s, self._static_of(s)) for s in extra if self._static_of(s).dependent),
            )
            extra_sig, extra_keys, extra_vars = self._compute_sig(
                extra_layers, subject, arn, has_boundary, principals=False
            )
            keys = keys | extra_keys
            variables = variables or extra_vars
        context: Any = ()
        if keys or own_keys:
            found = []
            for key in sorted(keys | own_keys):
                known, value = subject.lookup(key)
                if not known:
                    known, value = target.lookup(key)
                if known:
                    found.append((key, value))
            context = tuple(found)
        if variables or own_vars:
            context = (*context, ("${}", subject.principal.value, arn))
        account = target.account
        return (
            action,
            subject.profile,
            subject.account is not None and subject.account is account,
            subject.mode is Mode.SERVICE and target.role.is_service_linked,
            bool(account.rcp_levels),
            target_id,
            own_id,
            extra_sig,
            context,
        )

    def _own_part(
        self, subject: Subject, action: str, arn: str, has_boundary: bool
    ) -> tuple[int, frozenset[str], bool]:
        """Identity, boundary and SCP statements normalised (memoised per resource match)."""
        memo = (id(subject), action)
        layers = self._own_layers.get(memo)
        if layers is None:
            self._keep[id(subject)] = subject
            levels = (
                subject.identity,
                subject.boundary or (),
                *(
                    tuple(s for doc in level for s in doc.statements_for(action))
                    for level in subject.scp_levels
                ),
            )
            layers = _Layers(
                levels,
                tuple(
                    (statement, self._static_of(statement))
                    for level in levels
                    for statement in level
                    if self._static_of(statement).dependent
                ),
            )
            self._own_layers[memo] = layers
        bits = (
            tuple(_resource_match(static, arn) for _, static in layers.dependents)
            if layers.dependents
            else ()
        )
        key = (id(subject), action, bits)
        found = self._own_memo.get(key)
        if found is None:
            sig, keys, variables = self._compute_sig(
                layers, subject, arn, has_boundary, principals=False
            )
            # The principal kind, account root or not, and boundary are part of the signature.
            shape = (subject.principal.kind, subject.principal.is_account_root, has_boundary, sig)
            found = (self._interned.setdefault(shape, len(self._interned)), keys, variables)
            self._own_memo[key] = found
        return found

    def target_part(
        self, subject: Subject, target: Target, action: str, has_boundary: bool | None = None
    ) -> tuple[int, frozenset[str], bool]:
        """The trust policy and RCPs normalised for this requester (memoised per role): an id
        equal for roles whose trust policy and RCPs read the same to it, the condition keys they
        test, and whether they use policy variables."""
        if has_boundary is None:
            has_boundary = subject.has_boundary
        trust_doc = target.role.trust
        assert trust_doc is not None
        memo = (id(trust_doc), action, subject.principal.value, has_boundary, subject.profile)
        found = self._target_memo.get(memo)
        if found is None:
            arn = target.arn
            trust = self._layers(
                ("trust", id(trust_doc), action), lambda: (trust_doc.trust_statements(action),)
            )
            trust_id, keys, variables = self._sig(
                trust, subject, arn, has_boundary, principals=True
            )
            account = target.account
            rcp = self._layers(
                ("rcp", id(account), action),
                lambda: tuple(
                    tuple(s for doc in level for s in doc.statements_for(action))
                    for level in account.rcp_levels
                ),
            )
            rcp_id, rcp_keys, rcp_vars = self._sig(rcp, subject, arn, has_boundary, principals=True)
            found = (
                self._interned.setdefault(("target", trust_id, rcp_id), len(self._interned)),
                keys | rcp_keys,
                variables or rcp_vars,
            )
            self._target_memo[memo] = found
        return found

    def _layers(
        self, memo: tuple[Any, ...], build: Callable[[], tuple[tuple[Statement, ...], ...]]
    ) -> _Layers:
        found = self._layer_memo.get(memo)
        if found is None:
            levels = build()
            statements = [statement for level in levels for statement in level]
            found = _Layers(
                levels,
                tuple(
                    (statement, self._static_of(statement))
                    for statement in statements
                    if self._static_of(statement).dependent
                ),
                tuple(sorted({key for s in statements for key in self._static_of(s).keys})),
                tuple(statements),
            )
            self._layer_memo[memo] = found
        return found

    def _sig(
        self, layers: _Layers, subject: Subject, arn: str, has_boundary: bool, *, principals: bool
    ) -> tuple[Any, frozenset[str], bool]:
        # What the signature depends on: resource matches, which referenced keys are known,
        # and how each Principal element names the requester (not who the requester is).
        matched = tuple(_resource_match(static, arn) for _, static in layers.dependents)
        tokens = None
        if principals:
            token_memo = (id(layers), subject.principal.value, has_boundary)
            tokens = self._tokens.get(token_memo)
            if tokens is None:
                tokens = tuple(
                    _principal_token(statement, subject.principal, has_boundary)
                    for statement in layers.statements
                )
                self._tokens[token_memo] = tokens
        memo = (
            id(layers),
            matched,
            tuple(_known(key, subject) for key in layers.keys) if layers.keys else (),
            tokens,
        )
        found = self._sig_memo.get(memo)
        if found is None:
            sig, keys, variables = self._compute_sig(
                layers, subject, arn, has_boundary, principals=principals
            )
            # Interned: the request key is then a flat tuple, cheap to hash.
            found = (self._interned.setdefault(sig, len(self._interned)), keys, variables)
            self._sig_memo[memo] = found
        return found

    def _compute_sig(
        self, layers: _Layers, subject: Subject, arn: str, has_boundary: bool, *, principals: bool
    ) -> tuple[Any, frozenset[str], bool]:
        keys: set[str] = set()
        variables = False
        levels = []
        for level in layers.levels:
            out = []
            for statement in level:
                static = self._static_of(statement)
                keys |= static.keys
                variables = variables or static.has_variables
                if static.resources is None:
                    resources: Any = None
                elif not static.dependent:
                    resources = ("*", static.not_resource)
                else:
                    resources = (static.not_resource, _resource_match(static, arn))
                conditions = tuple(
                    (operator, key, values if _known(key, subject) else None)
                    for operator, key, values in static.conditions
                )
                token = (
                    _principal_token(statement, subject.principal, has_boundary)
                    if principals
                    else None
                )
                out.append((token, static.effect, resources, conditions, static.actions))
            levels.append(tuple(out))
        return tuple(levels), frozenset(keys), variables

    def _static_of(self, statement: Statement) -> _Static:
        found = self._static.get(id(statement))
        if found is None:
            conditions = tuple(
                (c.operator.name, c.key.lower(), c.values) for c in statement.conditions
            )
            resources = statement.resources
            patterns = resources or ()
            found = _Static(
                effect=statement.effect,
                resources=resources,
                not_resource=statement.not_resource,
                dependent=resources is not None and any(p != "*" for p in patterns),
                literals=frozenset(
                    p for p in patterns if "*" not in p and "?" not in p and "${" not in p
                ),
                wildcards=tuple(
                    p for p in patterns if ("*" in p or "?" in p) and "${" not in p and p != "*"
                ),
                variables=tuple(p for p in patterns if "${" in p),
                conditions=conditions,
                keys=frozenset(key for _, key, _ in conditions),
                has_variables=any("${" in p for p in patterns)
                or any("${" in v for _, _, values in conditions for v in values),
                actions=tuple(statement_matches_action(statement, a) for a in _SIGNATURE_ACTIONS),
            )
            self._static[id(statement)] = found
            self._keep[id(statement)] = statement
        return found


# A trust policy's statements for one assume action include those for the session actions;
# the signature tells them apart.
_SIGNATURE_ACTIONS = (
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_SAML,
    ASSUME_ROLE_WITH_WEB_IDENTITY,
    *SESSION_ACTIONS,
)


@dataclass(frozen=True)
class _Layers:
    levels: tuple[tuple[Statement, ...], ...]
    dependents: tuple[tuple[Statement, _Static], ...]
    keys: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()


def _resource_match(static: _Static, arn: str) -> Any:
    """What the engine will find for the statement's Resource element and ``arn``."""
    if arn in static.literals or any(match_resource(p, arn) for p in static.wildcards):
        return True
    return static.variables or False


def _principal_token(statement: Statement, principal: Principal, has_boundary: bool) -> Any:
    # The same test as the engine's evaluate_statement.
    if statement.principals is None:
        return "no-principal"
    if (
        statement.not_principal
        and statement.effect is Effect.DENY
        and has_boundary
        and principal.kind is PrincipalKind.AWS
    ):
        return PrincipalMatch.WILDCARD
    return trust_principal_matches(statement, principal)


def build_request(
    subject: Subject, target: Target, action: str, statements: Iterable[Statement]
) -> RequestContext:
    """The request context: every key the statements test whose value the analysis knows
    (present or absent); any other key stays unknown, so conditions on it stay open."""
    referenced = {c.key.lower() for statement in statements for c in statement.conditions}
    values: dict[str, tuple[str, ...]] = {}
    absent: set[str] = set(subject.absent)
    for key in referenced:
        known, found = subject.lookup(key)
        if not known:
            known, found = target.lookup(key)
        if known:
            if found is None:
                absent.add(key)
            else:
                values[key] = found
    values.update(subject.values)
    return RequestContext(
        principal=subject.principal,
        action=action,
        resource=target.arn,
        values=values,
        absent_keys=frozenset(absent),
        derive_principal_keys=False,
    )


def _known(key: str, subject: Subject) -> bool:
    return subject.lookup(key)[0] or resource_key_known(key)


def _all_statements(
    trust: Sequence[Statement],
    identity: Sequence[Statement],
    subject: Subject,
    scp_levels: Sequence[Sequence[Policy]],
    rcp_levels: Sequence[Sequence[Policy]],
) -> Iterable[Statement]:
    yield from trust
    yield from identity
    yield from subject.boundary or ()
    for levels in (scp_levels, rcp_levels):
        for level in levels:
            for policy in level:
                yield from policy.statements


_GRANTING_LAYERS = (Layer.TRUST, Layer.RESOURCE, Layer.IDENTITY)


def _to_verdict(decision: Decision, slots: dict[int, tuple[str, int]], subject: Subject) -> Verdict:
    possible = decision.outcome in (Outcome.ALLOW, Outcome.CONDITIONAL_ALLOW)
    granting: set[tuple[str, int]] = set()
    if possible:
        for reason in decision.reasons:
            if (
                reason.statement is not None
                and reason.effect is Effect.ALLOW
                and reason.layer in _GRANTING_LAYERS
                and id(reason.statement) in slots
            ):
                granting.add(slots[id(reason.statement)])
    keys = display_keys(decision.condition_keys)
    specific = subject.mode is Mode.GROUP and any(
        key.casefold() in PRINCIPAL_SPECIFIC_KEYS or key.casefold().startswith(PRINCIPAL_TAG_PREFIX)
        for key in keys
    )
    return Verdict(
        outcome=decision.outcome,
        condition_keys=keys if decision.outcome is Outcome.CONDITIONAL_ALLOW else (),
        granting=tuple(sorted(granting, key=lambda slot: (slot[0] != "trust", slot[1]))),
        deciding_layer=(
            decision.deciding_layer.value if decision.deciding_layer and not possible else ""
        ),
        principal_specific=specific,
        ambiguities=decision.ambiguities,
    )
