"""The principals a role's trust policy names, for the role page, linked to the estate.

The trust policy is read by the policy engine (`policy.document.parse_policy`), the same parser
the analysis uses, so the page lists exactly the Principal values the engine matches requesters
against (a bare `"*"` is `{"AWS": "*"}`, type keys are case-insensitive, a document the engine
rejects lists nothing but says why). What each value denotes comes from `arns`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from identities import arns
from identities.models import Account, IamRole, IamUser
from identities.policy.document import (
    Layer,
    PolicyParseError,
    PolicySource,
    PrincipalSpec,
    Statement,
    parse_policy,
)

logger = logging.getLogger(__name__)


def assumed_role_of(arn: str) -> tuple[str, str] | None:
    """(account id, role name) of an assumed-role session ARN
    (`arn:aws:sts::ID:assumed-role/ROLE/SESSION`), or None."""
    parsed = arns.parse_arn(arn)
    if parsed is None or arns.classify_arn(arn) is not arns.SourceKind.ASSUMED_ROLE:
        return None
    parts = parsed.resource.split("/", 2)
    return (parsed.account, parts[1]) if len(parts) == 3 and parts[1] else None


def account_named_by(value: str) -> str:
    """The account a Principal value names as a whole (its root ARN or bare id), else ""."""
    if arns.classify_principal("AWS", value) is not arns.SourceKind.ACCOUNT:
        return ""
    return value if arns.is_account_id(value) else arns.account_of(value)


@dataclass(frozen=True)
class TrustPrincipal:
    """One principal named in one statement of a role's trust policy.

    `kind` is the Principal key (`AWS`, `Service`, `Federated`, `CanonicalUser`; a bare `"*"`
    is `AWS` `*`, as the engine reads it); `category` says what the value denotes (`anyone`,
    `account`, `user`, `role`, `assumed-role`, `unique-id`, `service`, `provider`,
    `web-identity`, `canonical-user`, `other`); `negated` marks `NotPrincipal`.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    """

    statement: int
    sid: str
    effect: str
    negated: bool
    kind: str
    value: str
    category: str
    account_id: str
    actions: tuple[str, ...]
    not_action: bool
    conditions: tuple[str, ...]


def trust_principals(document: Any, role_name: str = "") -> list[TrustPrincipal]:
    """Every principal a trust policy names, in document order (a pure function).

    Raises `PolicyParseError` for a document the engine does not accept.
    """
    policy = parse_policy(document, PolicySource(Layer.TRUST, role_name))
    return [
        _trust_principal(statement, spec)
        for statement in policy.statements
        for spec in statement.principals or ()
    ]


def _trust_principal(statement: Statement, spec: PrincipalSpec) -> TrustPrincipal:
    category, account_id = classify_principal(spec)
    return TrustPrincipal(
        statement=statement.index,
        sid=statement.sid or "",
        effect=statement.effect.value,
        negated=statement.not_principal,
        kind=spec.kind,
        value=spec.value,
        category=category,
        account_id=account_id,
        actions=statement.actions,
        not_action=statement.not_action,
        conditions=tuple(f"{c.operator.name} {c.key}" for c in statement.conditions),
    )


def classify_principal(spec: PrincipalSpec) -> tuple[str, str]:
    """(category, account id or "") of one Principal value."""
    kind = arns.classify_principal(spec.kind, spec.value)
    if kind is arns.SourceKind.FEDERATED:
        # An IAM SAML/OIDC provider of an account, or a web identity such as Cognito.
        account_id = arns.account_of(spec.value)
        return ("provider", account_id) if account_id else ("web-identity", "")
    if kind is arns.SourceKind.ACCOUNT:
        return kind.value, account_named_by(spec.value)
    if kind in (arns.SourceKind.ANYONE, arns.SourceKind.SERVICE):
        return kind.value, ""
    return kind.value, arns.account_of(spec.value)


@dataclass(frozen=True)
class ResolvedPrincipal:
    """A trust principal with its page in the estate (`url` empty when it is not in it)."""

    principal: TrustPrincipal
    url: str
    label: str


def resolve_trust_principals(principals: list[TrustPrincipal]) -> list[ResolvedPrincipal]:
    """Link each principal to its estate page: users and roles by ARN (an assumed-role session
    by its role's account and name, a unique id by id), account roots to the account page,
    providers to nothing yet. A fixed number of queries whatever the count."""
    arns = {p.value for p in principals if p.category in {"user", "role"}}
    unique_ids = {p.value for p in principals if p.category == "unique-id"}
    sessions = {
        session
        for p in principals
        if p.category == "assumed-role" and (session := assumed_role_of(p.value))
    }
    account_ids = {p.account_id for p in principals if p.category == "account"}

    urls: dict[str, tuple[str, str]] = {}
    if arns or unique_ids:
        for model in (IamUser, IamRole):
            for obj in (
                model.objects.filter(Q(arn__in=arns) | Q(unique_id__in=unique_ids))
                .only("arn", "unique_id", "name", "account__account_id")
                .select_related("account")
            ):
                urls[obj.arn] = urls[obj.unique_id] = (obj.get_absolute_url(), obj.name)
    if sessions:
        by_name = Q(pk__in=[])
        for account_id, name in sessions:
            by_name |= Q(account__account_id=account_id, name=name)
        for role in (
            IamRole.objects.filter(by_name)
            .only("name", "account__account_id")
            .select_related("account")
        ):
            urls[_session_key(role.account.account_id, role.name)] = (
                role.get_absolute_url(),
                role.name,
            )
    if account_ids:
        for account in Account.objects.filter(account_id__in=account_ids):
            urls[f"account:{account.account_id}"] = (
                account.get_absolute_url(),
                account.display_name,
            )

    resolved = []
    for principal in principals:
        key = principal.value
        if principal.category == "account":
            key = f"account:{principal.account_id}"
        elif principal.category == "assumed-role" and (session := assumed_role_of(key)):
            key = _session_key(*session)
        url, label = urls.get(key, ("", ""))
        resolved.append(ResolvedPrincipal(principal, url, label))
    return resolved


def _session_key(account_id: str, role_name: str) -> str:
    return f"session:{account_id}:{role_name}"


def role_trust_context(role: IamRole) -> dict[str, Any]:
    """The role page's trust section: the principals, linked, or why the policy did not parse."""
    if not role.trust_policy:
        return {"principals": [], "trust_error": ""}
    try:
        principals = trust_principals(role.trust_policy, role.name)
    except PolicyParseError as exc:
        return {"principals": [], "trust_error": str(exc)}
    return {"principals": resolve_trust_principals(principals), "trust_error": ""}
