"""Why can (or can't) this principal assume this role? One pair, evaluated live, in plain words.

The same engine call as the analysis, on just the two principals' policies; then every
statement of every layer is listed in AWS's evaluation order with whether it applies and why not.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from identities.analysis.estate import (
    ASSUME_ROLE,
    ASSUME_ROLE_WITH_SAML,
    ASSUME_ROLE_WITH_WEB_IDENTITY,
    AccountInfo,
    Actor,
    Doc,
    load_estate,
)
from identities.analysis.evaluation import Evaluator, build_request
from identities.analysis.reach import load_graph
from identities.analysis.subjects import (
    Mode,
    Subject,
    Target,
    anyone_subject,
    display_keys,
    federated_subject,
    member_subject,
    outsider_subject,
    service_subject,
)
from identities.arns import (
    ANYONE,
    FEDERATED_PREFIX,
    SERVICE_PREFIX,
    account_of,
    federated_protocol,
    is_account_root,
    source_value,
)
from identities.models import Account, AnalysisRun, IamRole, IamUser
from identities.policy import (
    Decision,
    Effect,
    Outcome,
    PrincipalMatch,
    RequestContext,
    Statement,
    Tri,
    evaluate_statement,
    match_arn,
    statement_matches_action,
    trust_principal_matches,
)

logger = logging.getLogger(__name__)


class ExplainError(ValueError):
    """The source or target names nothing the estate knows."""


@dataclass(frozen=True)
class Explanation:
    """One pair evaluated live; ``outcome`` is the direct request's. ``chain`` is set when no
    direct request succeeds but the last analysis found a role chain: the principals and roles
    from source to target."""

    source: str
    target: str
    action: str
    outcome: Outcome
    condition_keys: tuple[str, ...]
    text: str
    chain: tuple[str, ...] = ()

    @property
    def possible(self) -> bool:
        return self.outcome in (Outcome.ALLOW, Outcome.CONDITIONAL_ALLOW)

    @property
    def reachable(self) -> bool:
        """Directly, or through a role chain."""
        return self.possible or bool(self.chain)


def resolve_principal(text: str, *, role_only: bool = False) -> tuple[str, str]:
    """(kind, ARN or source) for a user/role ARN or ``account/name`` shorthand.

    Kind is user or role for a principal of a synced account; raises ExplainError otherwise.
    """
    if text.startswith("arn:"):
        if not role_only and IamUser.objects.filter(arn=text).exists():
            return "user", text
        if IamRole.objects.filter(arn=text).exists():
            return "role", text
        raise ExplainError(f"no {'role' if role_only else 'user or role'} with ARN {text}")
    account_part, sep, name = text.partition("/")
    if not sep or not name:
        raise ExplainError(f"{text!r} is neither an ARN nor account/name")
    account = Account.objects.filter(
        Q(account_id=account_part) | Q(name=account_part) | Q(alias=account_part)
    ).first()
    if account is None:
        raise ExplainError(f"no synced account {account_part!r}")
    found: list[tuple[str, str]] = []
    if not role_only:
        users = account.users.filter(name=name).values_list("arn", flat=True)
        found += [("user", arn) for arn in users]
    roles = account.roles.filter(name=name).values_list("arn", flat=True)
    found += [("role", arn) for arn in roles]
    if not found:
        what = "role" if role_only else "user or role"
        raise ExplainError(f"no {what} named {name!r} in {account.display_name}")
    if len(found) > 1:
        raise ExplainError(
            f"{text!r} names both a user and a role: use an ARN ({', '.join(a for _, a in found)})"
        )
    return found[0]


def explain_access(source: str, target: str, *, _hops: int | None = 1) -> Explanation:
    """Evaluate ``source`` assuming ``target`` and explain it statement by statement.

    ``source``: a user or role ARN, ``account/name``, ``arn:aws:iam::ID:root`` of an account
    outside the synced set (or any ARN there), ``service:NAME``, ``federated:PROVIDER`` or
    ``*``. ``target``: a role ARN or ``account/name``. Raises ExplainError for unknown names.
    When the direct request is refused but the last analysis found a role chain, the text says
    so first and explains each hop.
    """
    _, role_arn = resolve_principal(target, role_only=True)
    kind, source_key = _resolve_source(source)
    only = {role_arn} | ({source_key} if kind in ("user", "role") else set())
    estate = load_estate(only=only)
    role = estate.by_arn[role_arn]
    goal = Target(role)
    action = ASSUME_ROLE
    actor: Actor | None = None
    if kind in ("user", "role"):
        actor = estate.by_arn[source_key]
        statements = tuple(
            dict.fromkeys(s for doc in actor.docs for s in doc.statements_for(action))
        )
        boundary = actor.boundary.statements_for(action) if actor.boundary else None
        subject = member_subject(actor, statements, boundary)
    elif kind == "service":
        subject = service_subject(source_value(source_key))
    elif kind == "federated":
        provider = source_value(source_key)
        subject = federated_subject(provider)
        action = (
            ASSUME_ROLE_WITH_SAML
            if federated_protocol(provider) == "SAML"
            else ASSUME_ROLE_WITH_WEB_IDENTITY
        )
    elif kind == "anyone":
        subject = anyone_subject()
    else:
        subject = outsider_subject(source_key)
    decision, _ = Evaluator().decide(subject, goal, action)
    text = _render(source_key, subject, actor, goal, action, decision)
    chain: tuple[str, ...] = ()
    if not decision.possible and _hops is not None:
        chain = _stored_chain(source_key, role_arn)
        if chain:
            text = _with_chain(text, source_key, role_arn, chain, _hops)
    return Explanation(
        source=source_key,
        target=role_arn,
        action=action,
        outcome=decision.outcome,
        condition_keys=display_keys(decision.condition_keys),
        text=text,
        chain=chain,
    )


def _stored_chain(source: str, target: str) -> tuple[str, ...]:
    """The shortest role chain from ``source`` to ``target`` in the last analysis's reach graph
    (empty when there is none, or only the direct edge)."""
    blob = (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED, graph__isnull=False)
        .order_by("-finished_at", "-id")
        .values_list("graph", flat=True)
        .first()
    )
    graph = load_graph(blob)
    if graph is None:
        return ()
    for reached in graph.reach_from(source):
        if reached.node == target:
            return reached.path if len(reached.path) > 2 else ()
    return ()


def _with_chain(text: str, source: str, target: str, chain: tuple[str, ...], depth: int) -> str:
    """Replace the headline: not directly, but through the chain; then explain each hop."""
    through = " → ".join(_short(node) for node in chain[1:-1])
    head, _, rest = text.partition("\n")
    steps: list[str] = []
    # A conditional hop makes the whole chain conditional: the headline must say so.
    conditions: list[str] = []
    for number, (start, end) in enumerate(zip(chain, chain[1:], strict=False), 1):
        hop = explain_access(start, end, _hops=None) if depth > 0 else None
        verdict = hop.text.partition("\n")[0] if hop is not None else ""
        steps.append(f"  {number}. {_short(start)} → {_short(end)}: {verdict}")
        if hop is not None and hop.outcome is Outcome.CONDITIONAL_ALLOW:
            keys = ", ".join(hop.condition_keys) or "the request"
            conditions.append(f"{keys} (hop {number})")
    only = f", only if conditions on {'; '.join(conditions)} are met" if conditions else ""
    lines = [
        f"{source} cannot assume {target} directly, but can through {through}{only} "
        f"({len(chain) - 1} hops; each chained session lasts at most one hour).",
        "",
        "The chain, hop by hop (from the last analysis; each hop evaluated live):",
        *steps,
        "",
        "The direct request:",
        head,
        rest,
    ]
    return "\n".join(lines)


def _short(node: str) -> str:
    return node.rsplit("/", 1)[-1] if node.startswith("arn:") else node


def _resolve_source(source: str) -> tuple[str, str]:
    if source == ANYONE:
        return "anyone", ANYONE
    if source.startswith(SERVICE_PREFIX):
        if len(source) <= len(SERVICE_PREFIX):
            raise ExplainError("service: needs a service name, e.g. service:ec2.amazonaws.com")
        return "service", source
    if source.startswith(FEDERATED_PREFIX):
        if len(source) <= len(FEDERATED_PREFIX):
            raise ExplainError("federated: needs a provider ARN or name")
        return "federated", source
    account_id = account_of(source)
    if is_account_root(source):
        if Account.objects.filter(account_id=account_id).exists():
            raise ExplainError(
                f"{source} is the root of a synced account: the root user cannot assume roles; "
                "name one of its users or roles"
            )
        return "outsider", source
    if account_id and not Account.objects.filter(account_id=account_id).exists():
        return "outsider", source
    return resolve_principal(source)


# -- rendering ----------------------------------------------------------------------------------


def _render(
    source: str,
    subject: Subject,
    actor: Actor | None,
    goal: Target,
    action: str,
    decision: Decision,
) -> str:
    role = goal.role
    lines: list[str] = [_headline(source, role.arn, decision), ""]
    same = subject.account is not None and subject.account is role.account
    lines.append(
        f"Request: {action} by {_describe(source, subject, actor)} on role {role.name} of "
        f"{_account(role.account)}"
        + ("; same account." if same else "; cross-account." if subject.account else ".")
    )
    trust_doc = role.trust
    assert trust_doc is not None
    statements: list[Statement] = list(trust_doc.policy.statements)
    if actor is not None:
        statements += [s for doc in actor.docs for s in doc.policy.statements]
        if actor.boundary:
            statements += actor.boundary.policy.statements
    for level in (*subject.scp_levels, *role.account.rcp_levels):
        for doc in level:
            statements += doc.policy.statements
    request = build_request(subject, goal, action, statements)
    has_boundary = subject.has_boundary
    lines.append("")
    lines.append("Layer by layer, in the order AWS evaluates them:")

    step = 1
    lines.append(f"{step}. Resource control policies (RCPs) of {_account(role.account)}:")
    if role.account.is_management:
        lines.append("   none apply: RCPs do not restrict the management account's resources.")
    elif not role.account.rcp_levels:
        lines.append("   none known for this account.")
    elif subject.mode is Mode.SERVICE and role.is_service_linked:
        lines.append("   none apply: a service assuming its service-linked role is exempt.")
    else:
        lines += _levels(role.account, role.account.rcp_levels, request, True, has_boundary)

    step += 1
    lines.append(f"{step}. Service control policies (SCPs) of the principal's account:")
    if subject.account is None or subject.mode in (Mode.ANYONE, Mode.OUTSIDER):
        lines.append(
            "   not evaluated: the principal is not in a synced account (or not an IAM principal)."
        )
    elif subject.account.is_management:
        lines.append("   none apply: SCPs do not restrict the management account.")
    elif actor is not None and actor.is_service_linked:
        lines.append("   none apply: SCPs do not restrict service-linked roles.")
    elif not subject.scp_levels:
        lines.append("   none known for this account.")
    else:
        lines += _levels(subject.account, subject.scp_levels, request, False, has_boundary)

    step += 1
    lines.append(f"{step}. Trust policy of {role.name}:")
    lines += _statements(trust_doc, request, True, has_boundary)

    step += 1
    if actor is not None:
        lines.append(f"{step}. Identity-based policies of {actor.name}:")
        if not actor.docs:
            lines.append("   none.")
        for doc in dict.fromkeys(actor.docs):
            lines.append(f"   {_doc_title(doc)}:")
            lines += _statements(doc, request, False, has_boundary, indent="     ")
        step += 1
        lines.append(f"{step}. Permissions boundary:")
        if actor.boundary is None:
            lines.append("   none.")
        else:
            lines.append(f"   {_doc_title(actor.boundary)}:")
            lines += _statements(actor.boundary, request, False, has_boundary, indent="     ")
    elif subject.mode is Mode.OUTSIDER:
        lines.append(
            f"{step}. Identity-based policies: not known (outside the synced accounts); the "
            "principal's own account decides which of its principals may use this trust."
        )
    elif subject.mode is Mode.ANYONE:
        lines.append(
            f'{step}. Identity-based policies: those of whoever calls. A trust policy naming "*" '
            "lets IAM users and roles of the role's own account assume it with no other "
            "permission (within their permissions boundary); principals of any other account "
            "also need an identity-based Allow for sts:AssumeRole on the role. Each principal "
            "of the synced accounts for which that holds has its own edge."
        )
    else:
        lines.append(
            f"{step}. Identity-based policies: none; a {subject.principal.kind.value} principal "
            "is granted by the trust policy alone."
        )

    lines.append("")
    lines.append(f"Decision: {_outcome_text(decision)}")
    for reason in decision.reasons:
        if reason.statement is not None and id(reason.statement) in subject.standins:
            continue  # the stand-in for policies nobody evaluated is not a reason
        lines.append(f"  - [{reason.layer.value}] {reason.text}")
    for note in decision.notes:
        lines.append(f"  note: {note}")
    if actor is not None and actor.kind == "role":
        lines.append(
            "Note: a session from role chaining (a role assuming a role) lasts at most one hour."
        )
    return "\n".join(lines)


def _headline(source: str, target: str, decision: Decision) -> str:
    keys = display_keys(decision.condition_keys)
    if decision.outcome is Outcome.ALLOW:
        return f"{source} CAN assume {target}."
    if decision.outcome is Outcome.CONDITIONAL_ALLOW:
        text = f"{source} CAN assume {target}"
        if keys:
            text += f", only if conditions on {', '.join(keys)} are met"
        if decision.ambiguities:
            text += " (AWS does not document every part of this case; see below)"
        return text + "."
    layer = decision.deciding_layer.value if decision.deciding_layer else "no"
    how = "explicitly denied" if decision.outcome is Outcome.EXPLICIT_DENY else "not allowed"
    return f"{source} CANNOT assume {target}: {how} (decided by the {layer} layer)."


def _outcome_text(decision: Decision) -> str:
    keys = display_keys(decision.condition_keys)
    return {
        Outcome.ALLOW: "allowed.",
        Outcome.CONDITIONAL_ALLOW: "allowed only if conditions on "
        + (", ".join(keys) or "the request")
        + " are met.",
        Outcome.EXPLICIT_DENY: "explicitly denied.",
        Outcome.IMPLICIT_DENY: "implicitly denied (nothing allows it everywhere it must).",
    }[decision.outcome]


def _describe(source: str, subject: Subject, actor: Actor | None) -> str:
    if actor is not None:
        return f"{actor.kind} {actor.name} of {_account(actor.account)}"
    if subject.mode is Mode.ANYONE:
        return 'anyone ("*", any principal of any account)'
    if subject.mode is Mode.SERVICE:
        return f"the AWS service {subject.principal.value}"
    if subject.mode is Mode.FEDERATED:
        return f"a federated user of {subject.principal.value}"
    return f"{source} (outside the synced accounts)"


def _account(account: AccountInfo) -> str:
    return f"{account.name} ({account.account_id})"


def _doc_title(doc: Doc) -> str:
    title = doc.label
    if doc.unknown:
        title += f" [unknown: {doc.unknown}]"
    return title


def _levels(
    account: AccountInfo,
    levels: Iterable[tuple[Doc, ...]],
    request: RequestContext,
    principals: bool,
    has_boundary: bool,
) -> list[str]:
    lines = ["   every level, from the root to the account, must allow:"]
    names = account.org_levels or ()
    for index, level in enumerate(levels):
        where = names[index] if index < len(names) else f"level {index + 1}"
        lines.append(f"   level {index + 1} ({where}):")
        if not level:
            lines.append("     no policy attached: this level allows nothing.")
        for doc in level:
            lines.append(f"     {_doc_title(doc)}:")
            lines += _statements(doc, request, principals, has_boundary, indent="       ")
    return lines


def _statements(
    doc: Doc,
    request: RequestContext,
    principals: bool,
    has_boundary: bool,
    indent: str = "   ",
) -> list[str]:
    lines = []
    for statement in doc.policy.statements:
        lines.append(f"{indent}- {_statement_line(statement, request, principals, has_boundary)}")
    return lines or [f"{indent}(no statements)"]


_MATCH = {
    PrincipalMatch.EXACT: "names the principal",
    PrincipalMatch.ROLE: "names the role",
    PrincipalMatch.ACCOUNT: "names the principal's account (its own policies must also allow)",
    PrincipalMatch.WILDCARD: 'names every principal ("*")',
}


def _statement_line(
    statement: Statement, request: RequestContext, principals: bool, has_boundary: bool
) -> str:
    sid = f"'{statement.sid}' " if statement.sid else ""
    head = f"{sid}Statement[{statement.index}] ({statement.effect.value})"
    result = evaluate_statement(
        statement, request, check_principal=principals, principal_has_boundary=has_boundary
    )
    verb = "allows" if statement.effect is Effect.ALLOW else "denies"
    who = f"; it {_MATCH[result.principal_match]}" if result.principal_match in _MATCH else ""
    if result.value is Tri.TRUE:
        return f"{head}: applies, {verb}{who}."
    if result.value is Tri.UNKNOWN:
        keys = ", ".join(display_keys(result.unknown_keys))
        return f"{head}: {verb} only if conditions on {keys} are met{who}."
    return f"{head}: does not apply: {_why_not(statement, request, principals, result.note)}."


def _why_not(
    statement: Statement, request: RequestContext, principals: bool, note: str | None
) -> str:
    if not statement_matches_action(statement, request.action):
        return f"its {'NotAction' if statement.not_action else 'Action'} does not cover {request.action}"
    if principals:
        if statement.principals is None:
            return "it has no Principal element"
        if trust_principal_matches(statement, request.principal) is PrincipalMatch.NONE:
            return f"it does not name {request.principal.value}"
    if statement.resources is not None and "${" not in "".join(statement.resources):
        hit = any(match_arn(p, request.resource) for p in statement.resources)
        if hit == statement.not_resource:
            element = "NotResource" if statement.not_resource else "Resource"
            return f"its {element} does not cover {request.resource}"
    if note:
        return note
    conditions = ", ".join(
        f"{c.operator.name} {c.key} {list(c.values)}" for c in statement.conditions
    )
    return f"its conditions are not met ({conditions})" if conditions else "it does not match"
