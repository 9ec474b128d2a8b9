"""The IAM policy evaluation engine: plain Python, no Django, no app imports.

Parse, describe the request, decide::

    from identities.policy import (
        Layer, PolicySource, Principal, RequestContext, evaluate_request, parse_policy,
    )

    trust = parse_policy(role_doc["AssumeRolePolicyDocument"],
                         PolicySource(Layer.TRUST, "Deploy", role_arn))
    deploy = parse_policy(doc, PolicySource(Layer.IDENTITY, "DeployAccess", policy_arn,
                                            kind="customer-managed policy"))
    request = RequestContext(
        principal=Principal.aws("arn:aws:iam::111122223333:user/alice"),
        action="sts:AssumeRole",
        resource=role_arn,
        values={"aws:MultiFactorAuthPresent": ("true",)},
        absent_keys=frozenset({"sts:ExternalId"}),
    )
    decision = evaluate_request(request=request, identity_policies=[deploy],
                                resource_policy=trust, scp_levels=[[root_scp], [ou_scp]])
    decision.outcome          # Outcome.ALLOW / CONDITIONAL_ALLOW / EXPLICIT_DENY / IMPLICIT_DENY
    decision.reasons          # Reason(layer, text, effect, source, index, sid, condition_keys)
    decision.condition_keys   # keys a CONDITIONAL_ALLOW depends on, e.g. {"aws:sourceip"}

Modules:
    document    parse_policy(document, source) -> Policy; dict, JSON or URL-encoded JSON;
                PolicyParseError(path, message) with paths like ``Statement[2].Condition``.
    match       wildcard, action (case-insensitive), ARN (segment by segment, case-sensitive, for
                the ARN operators) and Resource (a segment's final `*` spans colons)
                matching with cached compiled regexes; Principal; principal matching;
                principals_named_in(policy) to index trust policies by principal;
                statement_matches_action / statement_allows_action.
    conditions  RequestContext; policy variables (``${aws:username}``, ``${x, 'default'}``,
                ``${*}``, ``${?}``, ``${$}``); every condition operator with IfExists, Null and
                ForAllValues/ForAnyValue, three-valued (TRUE, FALSE, UNKNOWN with the keys).
    evaluate    evaluate_policies(policies, request, layer=...) -> LayerResult (one layer);
                evaluate_request(...) -> Decision (all layers, AWS's documented order).

The request context is three-valued per key: *present* (in ``values``), *absent* (in
``absent_keys``, or any key not in ``values`` when ``complete=True``) or *unknown*. Conditions
on unknown keys make a statement UNKNOWN, which turns an allow into CONDITIONAL_ALLOW listing
the keys (and a possible Deny into a condition on the allow). Null and ...IfExists answer
definitely for absent keys. Cases the AWS documentation leaves open are reported as
CONDITIONAL_ALLOW with a reason whose ``ambiguous`` flag is set.

Documentation followed (IAM User Guide): "Policy evaluation logic", "Cross-account policy
evaluation logic", "Permissions boundaries for IAM entities", "IAM JSON policy elements"
(Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition operators),
"Single-valued vs. multivalued context keys", "Policy variables"; AWS Organizations User Guide:
"Service control policies", "Resource control policies".
"""

from __future__ import annotations

from identities.policy.conditions import (
    KeyState,
    RequestContext,
    Tri,
    evaluate_condition,
    evaluate_conditions,
)
from identities.policy.document import (
    Condition,
    ConditionOperator,
    Effect,
    Layer,
    Policy,
    PolicyParseError,
    PolicySource,
    PrincipalSpec,
    Statement,
    load_document,
    parse_policy,
)
from identities.policy.evaluate import (
    Decision,
    LayerResult,
    Outcome,
    Reason,
    StatementResult,
    evaluate_policies,
    evaluate_request,
    evaluate_statement,
)
from identities.policy.match import (
    NamedPrincipal,
    Principal,
    PrincipalKind,
    PrincipalMatch,
    glob_match,
    match_action,
    match_arn,
    match_resource,
    principals_named_in,
    statement_allows_action,
    statement_matches_action,
    trust_principal_matches,
)

__all__ = [
    "Condition",
    "ConditionOperator",
    "Decision",
    "Effect",
    "KeyState",
    "Layer",
    "LayerResult",
    "NamedPrincipal",
    "Outcome",
    "Policy",
    "PolicyParseError",
    "PolicySource",
    "Principal",
    "PrincipalKind",
    "PrincipalMatch",
    "PrincipalSpec",
    "Reason",
    "RequestContext",
    "Statement",
    "StatementResult",
    "Tri",
    "evaluate_condition",
    "evaluate_conditions",
    "evaluate_policies",
    "evaluate_request",
    "evaluate_statement",
    "glob_match",
    "load_document",
    "match_action",
    "match_arn",
    "match_resource",
    "parse_policy",
    "principals_named_in",
    "statement_allows_action",
    "statement_matches_action",
    "trust_principal_matches",
]
