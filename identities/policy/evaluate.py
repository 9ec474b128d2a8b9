"""Decide a request across all policy layers and keep the statements that decided it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from identities.policy.conditions import RequestContext, Tri, evaluate_conditions, substitute
from identities.policy.document import (
    PRINCIPAL_LAYERS,
    Effect,
    Layer,
    Policy,
    PolicySource,
    Statement,
)
from identities.policy.match import (
    PrincipalKind,
    PrincipalMatch,
    match_resource,
    split_arn,
    statement_matches_action,
    trust_principal_matches,
)

logger = logging.getLogger(__name__)

LAYER_ORDER = (
    Layer.RCP,
    Layer.SCP,
    Layer.RESOURCE,
    Layer.TRUST,
    Layer.IDENTITY,
    Layer.BOUNDARY,
    Layer.SESSION,
)
_LAYER_RANK = {layer: rank for rank, layer in enumerate(LAYER_ORDER)}


class Outcome(StrEnum):
    ALLOW = "allow"
    CONDITIONAL_ALLOW = "conditional_allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True)
class Reason:
    """Why a layer allowed, denied or failed to allow; ``statement`` is set for statement reasons."""

    layer: Layer
    text: str
    effect: Effect | None = None
    source: PolicySource | None = None
    index: int | None = None
    sid: str | None = None
    condition_keys: frozenset[str] = frozenset()
    ambiguous: bool = False
    statement: Statement | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Decision:
    """The outcome of a request, with its reasons in AWS's evaluation order.

    CONDITIONAL_ALLOW holds only if ``condition_keys`` take values that satisfy the listed
    Allow statements (and leave the listed possible Deny statements unsatisfied), or, for
    reasons marked ``ambiguous``, only if AWS resolves an undocumented case in favour of access.
    ``deciding_layer``: for a deny the first layer that denied or failed to allow; for an allow
    the layer whose statement granted (the resource/trust policy before identity policies).
    """

    outcome: Outcome
    reasons: tuple[Reason, ...]
    condition_keys: frozenset[str] = frozenset()
    deciding_layer: Layer | None = None
    notes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def possible(self) -> bool:
        """Allowed now or under some condition values."""
        return self.outcome in (Outcome.ALLOW, Outcome.CONDITIONAL_ALLOW)

    @property
    def ambiguities(self) -> tuple[str, ...]:
        return tuple(reason.text for reason in self.reasons if reason.ambiguous)


# ----------------------------------------------------------------------------------------------
# Three-valued evidence: a truth value with the reasons and condition keys behind it.


@dataclass(frozen=True)
class Evidence:
    value: Tri
    reasons: tuple[Reason, ...] = ()
    keys: frozenset[str] = frozenset()


YES = Evidence(Tri.TRUE)


def _merge(items: Iterable[Evidence]) -> tuple[tuple[Reason, ...], frozenset[str]]:
    reasons: dict[tuple[Layer, str], Reason] = {}
    keys: set[str] = set()
    for item in items:
        for reason in item.reasons:
            reasons.setdefault((reason.layer, reason.text), reason)
        keys |= item.keys
    return tuple(reasons.values()), frozenset(keys)


def all_of(*items: Evidence) -> Evidence:
    """Three-valued AND; a false result keeps the reasons of every false part."""
    for wanted in (Tri.FALSE, Tri.UNKNOWN):
        if any(item.value is wanted for item in items):
            chosen = [i for i in items if i.value is wanted] if wanted is Tri.FALSE else list(items)
            reasons, keys = _merge(chosen)
            return Evidence(wanted, reasons, keys if wanted is Tri.UNKNOWN else frozenset())
    reasons, _ = _merge(items)
    return Evidence(Tri.TRUE, reasons)


def any_of(*items: Evidence) -> Evidence:
    """Three-valued OR; keeps the reasons of every part with the winning value."""
    for wanted in (Tri.TRUE, Tri.UNKNOWN, Tri.FALSE):
        chosen = [item for item in items if item.value is wanted]
        if chosen:
            reasons, keys = _merge(chosen)
            return Evidence(wanted, reasons, keys if wanted is Tri.UNKNOWN else frozenset())
    return Evidence(Tri.FALSE)


def _no(layer: Layer, text: str) -> Evidence:
    return Evidence(Tri.FALSE, (Reason(layer, text),))


def _ambiguous(layer: Layer, text: str) -> Evidence:
    return Evidence(Tri.UNKNOWN, (Reason(layer, text, ambiguous=True),))


# ----------------------------------------------------------------------------------------------
# Statements and layers


@dataclass(frozen=True)
class StatementResult:
    statement: Statement
    value: Tri
    unknown_keys: frozenset[str] = frozenset()
    principal_match: PrincipalMatch = PrincipalMatch.NONE
    note: str | None = None

    def reason(self, layer: Layer) -> Reason:
        statement = self.statement
        text = f"{statement.effect.value} by {statement.ref}"
        if self.principal_match in _MATCH_TEXT and statement.source.layer in PRINCIPAL_LAYERS:
            text += f", which {_MATCH_TEXT[self.principal_match]}"
        if self.value is Tri.UNKNOWN:
            verb = "holds" if statement.effect is Effect.ALLOW else "applies"
            text += (
                f"; it {verb} only if conditions on {', '.join(sorted(self.unknown_keys))} are met"
            )
        return Reason(
            layer=layer,
            text=text,
            effect=statement.effect,
            source=statement.source,
            index=statement.index,
            sid=statement.sid,
            condition_keys=self.unknown_keys,
            statement=statement,
        )


_MATCH_TEXT = {
    PrincipalMatch.EXACT: "names the principal",
    PrincipalMatch.ROLE: "names the role (limited by its permissions boundary and session policy)",
    PrincipalMatch.ACCOUNT: "names the principal's account (its identity-based policies must also allow)",
    PrincipalMatch.WILDCARD: 'names every principal ("*")',
}


def evaluate_statement(
    statement: Statement,
    request: RequestContext,
    *,
    check_principal: bool,
    principal_has_boundary: bool = False,
) -> StatementResult:
    """Whether ``statement`` applies to ``request``: TRUE, FALSE or UNKNOWN (with keys).

    A Resource pattern whose policy variable cannot be resolved does not match that resource; a
    NotResource or Condition with such a variable makes the statement not match. Either is
    reported in ``note``. A Deny with NotPrincipal always applies to a principal that has a
    permissions boundary.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
    """
    if not statement_matches_action(statement, request.action):
        return StatementResult(statement, Tri.FALSE)
    match = PrincipalMatch.NONE
    if check_principal:
        if statement.principals is None:
            return StatementResult(statement, Tri.FALSE)
        if (
            statement.not_principal
            and statement.effect is Effect.DENY
            and principal_has_boundary
            and request.principal.kind is PrincipalKind.AWS
        ):
            match = PrincipalMatch.WILDCARD
        else:
            match = trust_principal_matches(statement, request.principal)
        if match is PrincipalMatch.NONE:
            return StatementResult(statement, Tri.FALSE)
    unknown: set[str] = set()
    note: str | None = None
    if statement.resources is not None:
        hit = Tri.FALSE
        for pattern in statement.resources:
            done = substitute(pattern, request, enabled=statement.substitute_variables)
            if done.failure is not None:
                note = f"{statement.ref}: {done.failure}; Resource {pattern} does not match"
                if statement.not_resource:
                    return StatementResult(statement, Tri.FALSE, principal_match=match, note=note)
            elif done.text is None:
                unknown |= done.unknown
                hit = Tri.UNKNOWN
            elif match_resource(done.text, request.resource):
                hit = Tri.TRUE
                break
        if hit is Tri.TRUE:
            unknown.clear()
        if statement.not_resource and hit is not Tri.UNKNOWN:
            hit = Tri.FALSE if hit is Tri.TRUE else Tri.TRUE
        if hit is Tri.FALSE:
            return StatementResult(statement, Tri.FALSE, principal_match=match, note=note)
    conditions = evaluate_conditions(
        statement.conditions, request, substitute_variables=statement.substitute_variables
    )
    if conditions.failure is not None:
        note = f"{statement.ref}: {conditions.failure}; the statement does not match"
        return StatementResult(statement, Tri.FALSE, principal_match=match, note=note)
    if conditions.value is Tri.FALSE:
        return StatementResult(statement, Tri.FALSE, principal_match=match, note=note)
    unknown |= conditions.unknown_keys
    value = Tri.UNKNOWN if unknown else Tri.TRUE
    return StatementResult(statement, value, frozenset(unknown), match, note)


@dataclass(frozen=True)
class LayerResult:
    """The statements of one layer that apply (TRUE) or may apply (UNKNOWN) to a request."""

    layer: Layer
    request: RequestContext
    results: tuple[StatementResult, ...]
    notes: tuple[str, ...] = ()

    def deny(self) -> Evidence:
        return self._effect(Effect.DENY, None)

    def allow(
        self, matches: Collection[PrincipalMatch] | None = None, *, missing: str | None = None
    ) -> Evidence:
        """Evidence that some Allow statement applies; ``matches`` filters by principal match."""
        found = self._effect(Effect.ALLOW, matches)
        if found.value is Tri.FALSE:
            return _no(self.layer, missing or self.missing_text())
        return found

    def missing_text(self) -> str:
        return (
            f"No statement of the {self.layer.value} layer allows {self.request.action} "
            f"on {self.request.resource}"
        )

    def _effect(self, effect: Effect, matches: Collection[PrincipalMatch] | None) -> Evidence:
        parts = [
            evidence
            for result, evidence in self._evidence
            if result.statement.effect is effect
            and (matches is None or result.principal_match in matches)
        ]
        return any_of(*parts) if parts else Evidence(Tri.FALSE)

    @cached_property
    def _evidence(self) -> tuple[tuple[StatementResult, Evidence], ...]:
        return tuple(
            (result, Evidence(result.value, (result.reason(self.layer),), result.unknown_keys))
            for result in self.results
        )


def evaluate_policies(
    policies: Iterable[Policy],
    request: RequestContext,
    *,
    layer: Layer | None = None,
    principal_has_boundary: bool = False,
) -> LayerResult:
    """Evaluate the policies of one layer; ``layer`` defaults to the policies' own layer.

    Principal elements are checked for resource-based, trust and resource control policies.
    """
    policy_list = list(policies)
    if layer is None:
        if not policy_list:
            raise ValueError("evaluate_policies needs a layer when given no policies")
        layer = policy_list[0].source.layer
    check_principal = layer in PRINCIPAL_LAYERS
    results: list[StatementResult] = []
    notes: list[str] = []
    for policy in policy_list:
        for statement in policy.statements:
            result = evaluate_statement(
                statement,
                request,
                check_principal=check_principal,
                principal_has_boundary=principal_has_boundary,
            )
            if result.note:
                notes.append(result.note)
            if result.value is not Tri.FALSE:
                results.append(result)
    return LayerResult(layer, request, tuple(results), tuple(notes))


# ----------------------------------------------------------------------------------------------
# The whole request


def _account_of_resource(resource: str) -> str | None:
    parts = split_arn(resource)
    return parts[4] if parts and parts[4] else None


def evaluate_request(
    *,
    request: RequestContext,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    boundary: Policy | None = None,
    session_policies: Sequence[Policy] = (),
    scp_levels: Sequence[Sequence[Policy]] = (),
    rcp_levels: Sequence[Sequence[Policy]] = (),
    principal_account: str | None = None,
    resource_account: str | None = None,
    is_management_account: bool = False,
    resource_in_management_account: bool = False,
    is_service_linked_role: bool = False,
) -> Decision:
    """Decide ``request`` the way AWS's enforcement code does, with the statements that decided.

    Order (IAM User Guide, "How AWS enforcement code logic evaluates requests"): an explicit
    Deny in any applicable policy wins; then every RCP level (root, OUs, account of the
    resource) and every SCP level (of the principal's account) must allow; then the
    resource-based policy, identity-based policies, permissions boundary and session policies.

    - ``identity_policies``: for a user its inline and attached policies plus those of its
      groups (flattened by the caller); for a role its own.
    - ``resource_policy``: the resource-based policy; a policy whose source layer is TRUST is a
      role trust policy (the request is sts:AssumeRole* on the role).
    - SCPs do not apply to the management account or to service-linked roles; RCPs do not apply
      to resources of the management account, nor to a service assuming a service-linked role
      (AWS Organizations User Guide, "Service control policies" and "Resource control policies").
    - Same account, not a trust policy: an Allow in either the identity-based policies (within
      boundary and session policy) or the resource-based policy suffices. A resource-based
      policy naming the IAM user ARN or the session ARN is not limited by an implicit deny in
      the boundary or session policy; one naming the role ARN is; one naming the account only
      delegates to the identity-based policies ("Permissions boundaries for IAM entities",
      "Policy evaluation for requests within a single account").
    - Same account, role trust policy: the trust policy must allow explicitly. If it names the
      principal's ARN it grants by itself; if it names the account, the principal's
      identity-based policies (within boundary and session policy) must allow too ("Policy
      evaluation logic": role trust policies and KMS key policies are the exceptions).
    - Cross-account: the resource policy must name the principal (or its account or "*") AND
      the principal's identity-based policies, boundary and session policy must allow
      ("Cross-account policy evaluation logic").
    - Service, federated, canonical and anonymous principals carry no identity policies: only
      the resource-based policy can grant.
    - Role trust policy naming the principal's ARN or ``"*"`` (same account): grants without
      an identity-based Allow ("Principal" element page), but the permissions boundary (and
      session policy) must allow sts:AssumeRole ("Update a role trust policy").
    - Trust statements that hold only with a source identity or session tags in the request
      need the trust policy to allow sts:SetSourceIdentity / sts:TagSession as well.
    - Where the docs leave a case open (``"*"`` in a same-account resource-based policy with a
      boundary that does not allow), the result is CONDITIONAL_ALLOW with a reason marked
      ambiguous.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
    """
    principal = request.principal
    is_aws = principal.kind is PrincipalKind.AWS
    principal_account = principal_account or principal.account_id
    resource_account = resource_account or _account_of_resource(request.resource)
    if resource_account is None:
        raise ValueError(f"resource_account is required: {request.resource} names no account")
    same_account = is_aws and principal_account == resource_account
    is_trust = resource_policy is not None and resource_policy.source.layer is Layer.TRUST
    has_boundary = is_aws and boundary is not None and not principal.is_account_root
    action, resource = request.action, request.resource

    layers: list[LayerResult] = []

    def run(policies: Iterable[Policy], layer: Layer) -> LayerResult:
        result = evaluate_policies(
            policies, request, layer=layer, principal_has_boundary=has_boundary
        )
        layers.append(result)
        return result

    # Guardrails: every level must allow.
    guards: list[Evidence] = []
    if rcp_levels and not resource_in_management_account and not is_service_linked_role:
        for level, policies in enumerate(rcp_levels):
            result = run(policies, Layer.RCP)
            names = ", ".join(p.source.name for p in policies) or "no policy"
            guards.append(
                result.allow(
                    missing=f"No RCP at level {level} ({names}) allows {action} on {resource}"
                )
            )
    if is_aws and scp_levels and not is_management_account and not is_service_linked_role:
        for level, policies in enumerate(scp_levels):
            result = run(policies, Layer.SCP)
            names = ", ".join(p.source.name for p in policies) or "no policy"
            guards.append(
                result.allow(missing=f"No SCP at level {level} ({names}) allows {action}")
            )

    resource_layer = Layer.TRUST if is_trust else Layer.RESOURCE
    res = run([resource_policy], resource_layer) if resource_policy is not None else None
    if res is not None and is_trust and resource_policy is not None:
        res = layers[-1] = _with_session_requirements(res, resource_policy, request, has_boundary)

    if is_aws:
        if principal.is_account_root:
            identity = Evidence(
                Tri.TRUE,
                (
                    Reason(
                        Layer.IDENTITY,
                        "The account root user has full access to its account's resources",
                    ),
                ),
            )
        else:
            identity = run(identity_policies, Layer.IDENTITY).allow(
                missing=f"No identity-based policy statement allows {action} on {resource}"
            )
        bounded = YES
        if has_boundary and boundary is not None:
            bounded = run([boundary], Layer.BOUNDARY).allow(
                missing=f"The permissions boundary does not allow {action} on {resource}"
            )
        if session_policies and not principal.is_account_root:
            bounded = all_of(
                bounded,
                run(session_policies, Layer.SESSION).allow(
                    missing=f"No session policy allows {action} on {resource}"
                ),
            )
        identity_side = all_of(identity, bounded)
        grant = _grant_for_iam_principal(
            res,
            identity_side,
            bounded,
            same_account=same_account,
            is_trust=is_trust,
            request=request,
        )
    elif res is None:
        grant = _no(
            Layer.RESOURCE,
            f"A {principal.kind.value} principal needs a resource-based policy that allows it",
        )
    else:
        grant = res.allow(
            (PrincipalMatch.EXACT, PrincipalMatch.WILDCARD),
            missing=f"The {resource_layer.value} policy does not allow {principal.value} to perform {action}",
        )

    denies = any_of(*(layer.deny() for layer in layers)) if layers else Evidence(Tri.FALSE)
    allowed = all_of(*guards, grant)
    notes = tuple(note for layer in layers for note in layer.notes)
    return _decide(denies, allowed, notes)


def _grant_for_iam_principal(
    res: LayerResult | None,
    identity_side: Evidence,
    bounded: Evidence,
    *,
    same_account: bool,
    is_trust: bool,
    request: RequestContext,
) -> Evidence:
    action = request.action
    if res is None:
        if same_account:
            return identity_side
        return _no(
            Layer.RESOURCE,
            f"Cross-account {action} needs a resource-based policy in the resource's account; none was given",
        )
    policy_name = "trust policy" if is_trust else "resource-based policy"
    who = request.principal.value

    def named(*matches: PrincipalMatch, missing: str) -> Evidence:
        return res.allow(matches, missing=missing)

    if not same_account:
        return all_of(
            named(
                PrincipalMatch.EXACT,
                PrincipalMatch.ROLE,
                PrincipalMatch.WILDCARD,
                PrincipalMatch.ACCOUNT,
                missing=f"The {policy_name} does not allow {who} (nor its account) to perform {action}",
            ),
            identity_side,
        )
    direct = f"The {policy_name} does not name {who} to allow {action}"
    wildcard = named(PrincipalMatch.WILDCARD, missing=direct)
    if is_trust:
        # A trust policy that names the principal (its ARN, or "*") grants without an
        # identity-based Allow: "*" because "for IAM users and roles within your account, no
        # other permissions are required" (Principal element page); but the permissions
        # boundary must still allow sts:AssumeRole, also for a user named by ARN ("Update a role
        # trust policy"). The general resource-based policy table says a policy naming the user
        # ARN is not limited by the boundary; for role trust policies iamviz follows the IAM
        # page about trust policies (docs/semantics.md).
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html
        exact = named(
            PrincipalMatch.EXACT, PrincipalMatch.ROLE, PrincipalMatch.WILDCARD, missing=direct
        )
        if exact.value is not Tri.FALSE:
            exact = all_of(exact, bounded)
        delegated = all_of(
            named(
                PrincipalMatch.ACCOUNT,
                missing=f"The trust policy does not name the account {request.principal.account_id} either",
            ),
            identity_side,
        )
        return any_of(exact, delegated)
    exact = named(PrincipalMatch.EXACT, PrincipalMatch.ROLE, missing=direct)
    if exact.value is not Tri.FALSE:
        exact = any_of(
            named(PrincipalMatch.EXACT, missing=direct),
            all_of(named(PrincipalMatch.ROLE, missing=direct), bounded),
        )
    if wildcard.value is Tri.FALSE or bounded.value is Tri.TRUE:
        wild = all_of(wildcard, bounded)
    else:
        wild = all_of(
            wildcard,
            _ambiguous(
                res.layer,
                'The resource-based policy allows "*"; AWS does not document whether an implicit '
                "deny in the permissions boundary or session policy limits that grant",
            ),
        )
    return any_of(exact, wild, identity_side)


# Session keys a trust policy can require, and the action the trust must then also allow:
# setting a source identity is sts:SetSourceIdentity, passing session tags is sts:TagSession.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html#id_credentials_temp_control-access_monitor-perms
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required
SESSION_REQUIREMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sts:SetSourceIdentity", ("sts:sourceidentity",)),
    ("sts:TagSession", ("aws:requesttag/", "aws:tagkeys", "sts:transitivetagkeys")),
)


def _with_session_requirements(
    res: LayerResult, policy: Policy, request: RequestContext, has_boundary: bool
) -> LayerResult:
    """Trust Allow statements that hold only with a source identity or session tags in the
    request also need the trust policy to allow sts:SetSourceIdentity / sts:TagSession for the
    same principal; without that, nobody can meet them."""
    if not request.action.lower().startswith("sts:assumerole"):
        return res
    results: list[StatementResult] = []
    notes = list(res.notes)
    changed = False
    for result in res.results:
        statement = result.statement
        for session_action, prefixes in SESSION_REQUIREMENTS:
            if statement.effect is not Effect.ALLOW or not _requires(statement, request, prefixes):
                continue
            permitted = _trust_permits(policy, request, session_action, has_boundary)
            changed = True
            if permitted.value is Tri.FALSE:
                notes.append(
                    f"{statement.ref} holds only if the request sets "
                    f"{_session_what(session_action)}, which needs {session_action}; the trust "
                    "policy does not allow it, so nobody can meet the statement"
                )
                result = StatementResult(
                    statement, Tri.FALSE, principal_match=result.principal_match
                )
                break
            if permitted.value is Tri.UNKNOWN:
                result = StatementResult(
                    statement,
                    Tri.UNKNOWN,
                    result.unknown_keys | permitted.keys,
                    result.principal_match,
                    result.note,
                )
        if result.value is not Tri.FALSE:
            results.append(result)
    if not changed:
        return res
    return LayerResult(res.layer, res.request, tuple(results), tuple(notes))


def _session_what(action: str) -> str:
    return "a source identity" if action == "sts:SetSourceIdentity" else "session tags"


def _requires(statement: Statement, request: RequestContext, prefixes: tuple[str, ...]) -> bool:
    """Does the statement fail when the request carries none of the keys with ``prefixes``?"""
    keys = {c.key.lower() for c in statement.conditions if c.key.lower().startswith(prefixes)}
    if not keys:
        return False
    without = RequestContext(
        principal=request.principal,
        action=request.action,
        resource=request.resource,
        values={k: v for k, v in request.values.items() if not k.startswith(prefixes)},
        absent_keys=request.absent_keys | keys,
        complete=request.complete,
        derive_principal_keys=False,
    )
    found = evaluate_conditions(
        statement.conditions, without, substitute_variables=statement.substitute_variables
    )
    return found.value is Tri.FALSE


def _trust_permits(
    policy: Policy, request: RequestContext, action: str, has_boundary: bool
) -> Evidence:
    """Whether the trust policy lets the same principal perform ``action`` on the role."""
    session = RequestContext(
        principal=request.principal,
        action=action,
        resource=request.resource,
        values=request.values,
        absent_keys=request.absent_keys,
        complete=request.complete,
        derive_principal_keys=False,
    )
    layer = evaluate_policies(
        [policy], session, layer=Layer.TRUST, principal_has_boundary=has_boundary
    )
    allow, deny = layer.allow(), layer.deny()
    if deny.value is Tri.TRUE or allow.value is Tri.FALSE:
        return Evidence(Tri.FALSE)
    if allow.value is Tri.TRUE and deny.value is Tri.FALSE:
        return YES
    return Evidence(Tri.UNKNOWN, (), allow.keys | deny.keys)


def _decide(denies: Evidence, allowed: Evidence, notes: tuple[str, ...]) -> Decision:
    if denies.value is Tri.TRUE:
        reasons = _ordered(denies.reasons)
        return Decision(Outcome.EXPLICIT_DENY, reasons, frozenset(), reasons[0].layer, notes)
    if allowed.value is Tri.FALSE:
        reasons = _ordered(allowed.reasons)
        return Decision(
            Outcome.IMPLICIT_DENY,
            reasons,
            frozenset(),
            reasons[0].layer if reasons else None,
            notes,
        )
    reasons = _ordered(allowed.reasons)
    deciding = next(
        (
            r.layer
            for r in reasons
            if r.effect is Effect.ALLOW and r.layer in (Layer.RESOURCE, Layer.TRUST, Layer.IDENTITY)
        ),
        next((r.layer for r in reasons), None),
    )
    if allowed.value is Tri.TRUE and denies.value is Tri.FALSE:
        return Decision(Outcome.ALLOW, reasons, frozenset(), deciding, notes)
    keys = allowed.keys | (denies.keys if denies.value is Tri.UNKNOWN else frozenset())
    extra = _ordered(denies.reasons) if denies.value is Tri.UNKNOWN else ()
    return Decision(Outcome.CONDITIONAL_ALLOW, reasons + extra, frozenset(keys), deciding, notes)


def _ordered(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    return tuple(sorted(reasons, key=lambda reason: _LAYER_RANK[reason.layer]))
