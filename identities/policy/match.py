"""Match actions, ARNs and principals against policy patterns.

Wildcards are compiled to regular expressions once and cached: the analysis matches the same
few thousand patterns hundreds of thousands of times.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from identities.policy.document import Effect, Policy, PrincipalSpec, Statement

logger = logging.getLogger(__name__)

# A `*`, `?` or `$` that came from `${*}`, `${?}`, `${$}` or from a substituted value must be
# matched literally; these private-use characters carry them through the glob compiler.
LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"
_LITERALS = {LITERAL_STAR: "*", LITERAL_QUESTION: "?"}


def unescape_literals(text: str) -> str:
    """Turn literal-wildcard markers back into `*` and `?` (for non-glob comparisons)."""
    if LITERAL_STAR in text or LITERAL_QUESTION in text:
        return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")
    return text


def escape_literals(text: str) -> str:
    """Mark every `*` and `?` of ``text`` as literal (a substituted value is never a wildcard)."""
    return text.replace("*", LITERAL_STAR).replace("?", LITERAL_QUESTION)


@lru_cache(maxsize=65536)
def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile an IAM glob (`*` any run of characters, `?` one character) to a regex."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_glob_source(pattern, ".*", "."), flags)


def _glob_source(pattern: str, star: str, one: str) -> str:
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            parts.append(star)
        elif char == "?":
            parts.append(one)
        else:
            parts.append(re.escape(_LITERALS.get(char, char)))
    return "".join(parts)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """True when ``value`` matches the IAM glob ``pattern`` as a whole."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        literal = unescape_literals(pattern)
        return literal.lower() == value.lower() if ignore_case else literal == value
    return glob_regex(pattern, ignore_case).fullmatch(value) is not None


def match_action(pattern: str, action: str) -> bool:
    """Match an Action pattern such as ``iam:Get*``; actions are case-insensitive.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    """
    return glob_match(pattern, action, ignore_case=True)


@lru_cache(maxsize=65536)
def split_arn(arn: str) -> tuple[str, ...] | None:
    """Split an ARN into its six parts; the resource part keeps its own `:` and `/`."""
    if not arn.startswith("arn:"):
        return None
    parts = tuple(arn.split(":", 5))
    return parts if len(parts) == 6 else None


def match_arn(pattern: str, arn: str) -> bool:
    """Match an ARN pattern segment by segment, case-sensitively.

    Each of the six colon-separated parts is matched on its own, so a wildcard never spans a
    segment boundary, except within the final resource part, which may itself contain `:`.
    A pattern of fewer than six parts (or a non-ARN value) is matched as one glob. This is the
    matching of the ARN condition operators; Resource/NotResource use :func:`match_resource`.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    """
    return _matches(pattern, arn, _arn_regex)


def _matches(pattern: str, arn: str, regex: Callable[[str], re.Pattern[str]]) -> bool:
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return unescape_literals(pattern) == arn
    return regex(pattern).fullmatch(arn) is not None


@lru_cache(maxsize=65536)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    # Wildcards in the first five segments cannot match ":", so the pattern's colons line up
    # with the value's first five colons: the same as matching the six segments one by one.
    parts = split_arn(pattern)
    if parts is None:
        return glob_regex(pattern)
    head = [_glob_source(part, "[^:]*", "[^:]") for part in parts[:5]]
    return re.compile(":".join([*head, _glob_source(parts[5], ".*", ".")]), re.DOTALL)


def match_resource(pattern: str, arn: str) -> bool:
    """Match a Resource or NotResource pattern: like :func:`match_arn`, except that a ``*``
    ending one of the first five segments may also match across the colons that follow.

    The Resource element page: "If the * wildcard is the last character of a resource ARN
    segment, it can expand to match beyond the colon boundaries", so
    ``arn:aws:lambda:*:function:foo`` matches a function in any region *and account*. The ARN
    condition operators keep their segment-confined matching (:func:`match_arn`).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
    """
    return _matches(pattern, arn, _resource_regex)


@lru_cache(maxsize=65536)
def _resource_regex(pattern: str) -> re.Pattern[str]:
    parts = split_arn(pattern)
    if parts is None:
        return glob_regex(pattern)
    head = []
    for part in parts[:5]:
        source = _glob_source(part, "[^:]*", "[^:]")
        if part.endswith("*"):
            # The segment's last `*` may run over the following colons.
            source = source[: -len("[^:]*")] + ".*"
        head.append(source)
    return re.compile(":".join([*head, _glob_source(parts[5], ".*", ".")]), re.DOTALL)


class PrincipalKind(StrEnum):
    AWS = "aws"  # IAM user, IAM role (or its session), account root
    SERVICE = "service"
    FEDERATED = "federated"
    CANONICAL = "canonical"
    ANONYMOUS = "anonymous"


_ARN_ACCOUNT = re.compile(r"^arn:[^:]+:(?:iam|sts)::(\d{12}):")
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Principal:
    """The requester.

    ``value`` is, by kind: the IAM ARN of the user, role or account root (aws); the service
    name such as ``ec2.amazonaws.com`` (service); the provider ARN or name such as
    ``cognito-identity.amazonaws.com`` (federated); the canonical user id (canonical).
    For a role, ``session_arn`` may give the assumed-role session ARN
    (``arn:aws:sts::ID:assumed-role/NAME/SESSION``). ``account_id`` is taken from the ARN
    when not given.
    """

    kind: PrincipalKind
    value: str
    session_arn: str | None = None
    account_id: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.account_id is None and self.kind is PrincipalKind.AWS:
            found = _ARN_ACCOUNT.match(self.value)
            if found:
                object.__setattr__(self, "account_id", found.group(1))

    @classmethod
    def aws(cls, arn: str, *, session_arn: str | None = None) -> Principal:
        return cls(PrincipalKind.AWS, arn, session_arn=session_arn)

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls(PrincipalKind.SERVICE, name)

    @classmethod
    def federated(cls, provider: str) -> Principal:
        return cls(PrincipalKind.FEDERATED, provider)

    @property
    def is_role(self) -> bool:
        return self.kind is PrincipalKind.AWS and ":role/" in self.value

    @property
    def is_user(self) -> bool:
        return self.kind is PrincipalKind.AWS and ":user/" in self.value

    @property
    def is_account_root(self) -> bool:
        return self.kind is PrincipalKind.AWS and _ACCOUNT_ROOT.match(self.value) is not None


class PrincipalMatch(StrEnum):
    """How a Principal element names the requester; the evaluation logic depends on it.

    EXACT: the user ARN, the role session ARN, the service, the federated provider.
    ROLE: the role ARN, for a role's session (limited by boundary and session policy).
    ACCOUNT: the account root ARN or 12-digit id (delegates to the account's IAM policies).
    WILDCARD: ``*``.
    """

    NONE = "none"
    EXACT = "exact"
    ROLE = "role"
    ACCOUNT = "account"
    WILDCARD = "wildcard"


_MATCH_STRENGTH = {
    PrincipalMatch.NONE: 0,
    PrincipalMatch.ACCOUNT: 1,
    PrincipalMatch.WILDCARD: 2,
    PrincipalMatch.ROLE: 3,
    PrincipalMatch.EXACT: 4,
}


def account_of_spec(spec: PrincipalSpec) -> str | None:
    """The account id when an AWS principal value names an account (root ARN or bare id)."""
    if spec.kind != "AWS":
        return None
    if _ACCOUNT_ID.match(spec.value):
        return spec.value
    found = _ACCOUNT_ROOT.match(spec.value)
    return found.group(1) if found else None


def match_principal_spec(spec: PrincipalSpec, principal: Principal) -> PrincipalMatch:
    """How one Principal value names ``principal``.

    Principal values take no wildcards except a lone ``*``: a partial wildcard never matches.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    """
    if spec.kind == "AWS":
        if spec.value == "*":
            return PrincipalMatch.WILDCARD
        if principal.kind is not PrincipalKind.AWS:
            return PrincipalMatch.NONE
        account = account_of_spec(spec)
        if account is not None:
            return (
                PrincipalMatch.ACCOUNT if account == principal.account_id else PrincipalMatch.NONE
            )
        if principal.session_arn is not None and spec.value == principal.session_arn:
            return PrincipalMatch.EXACT
        if spec.value == principal.value:
            return PrincipalMatch.ROLE if principal.is_role else PrincipalMatch.EXACT
        return PrincipalMatch.NONE
    wanted = {
        "Service": PrincipalKind.SERVICE,
        "Federated": PrincipalKind.FEDERATED,
        "CanonicalUser": PrincipalKind.CANONICAL,
    }[spec.kind]
    if principal.kind is wanted and spec.value.lower() == principal.value.lower():
        return PrincipalMatch.EXACT
    return PrincipalMatch.NONE


def trust_principal_matches(statement: Statement, principal: Principal) -> PrincipalMatch:
    """The strongest way the statement's Principal element names ``principal``.

    A statement without a Principal element names nobody. For NotPrincipal see
    :func:`not_principal_excludes`; this returns WILDCARD when the principal is not excluded.
    """
    if statement.principals is None:
        return PrincipalMatch.NONE
    if statement.not_principal:
        return (
            PrincipalMatch.NONE
            if not_principal_excludes(statement, principal)
            else PrincipalMatch.WILDCARD
        )
    best = PrincipalMatch.NONE
    for spec in statement.principals:
        found = match_principal_spec(spec, principal)
        if _MATCH_STRENGTH[found] > _MATCH_STRENGTH[best]:
            best = found
    return best


def not_principal_excludes(statement: Statement, principal: Principal) -> bool:
    """True when the NotPrincipal element exempts ``principal``.

    AWS checks the account first, then the role, then the session, so an IAM principal is
    exempt only when its account is listed together with its own ARN (user ARN, role ARN or
    session ARN); listing only the account exempts only the account root.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
    """
    specs = statement.principals or ()
    matches = {match_principal_spec(spec, principal) for spec in specs}
    if PrincipalMatch.WILDCARD in matches:
        return True
    if principal.kind is not PrincipalKind.AWS:
        return PrincipalMatch.EXACT in matches
    if PrincipalMatch.ACCOUNT not in matches:
        return False
    return principal.is_account_root or bool(matches & {PrincipalMatch.EXACT, PrincipalMatch.ROLE})


def statement_matches_action(statement: Statement, action: str) -> bool:
    """True when the Action (or NotAction) element covers ``action``, whatever the effect.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
    """
    return _action_matcher(statement.actions)(action) != statement.not_action


@lru_cache(maxsize=65536)
def _action_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """One predicate per Action list: a set lookup for literals, one regex for wildcards."""
    if "*" in patterns:
        return lambda action: True
    literals = frozenset(p.lower() for p in patterns if "*" not in p and "?" not in p)
    globs = [p for p in patterns if "*" in p or "?" in p]
    if not globs:
        return lambda action: action.lower() in literals
    combined = re.compile(
        "|".join(f"(?:{glob_regex(p, True).pattern})" for p in globs), re.IGNORECASE | re.DOTALL
    )
    return lambda action: action.lower() in literals or combined.fullmatch(action) is not None


def statement_allows_action(statement: Statement, action: str) -> bool:
    """True for an Allow statement whose Action/NotAction covers ``action`` (for indexing)."""
    return statement.effect is Effect.ALLOW and statement_matches_action(statement, action)


@dataclass(frozen=True)
class NamedPrincipal:
    """A principal as a trust policy names it, normalised for indexing.

    ``kind`` is aws/service/federated/canonical; ``value`` is as written except that a bare
    12-digit account id becomes ``arn:aws:iam::ID:root``; ``account_id`` is set for account
    roots and for IAM ARNs; ``is_wildcard`` for ``*`` (and for NotPrincipal, which names
    everyone not excluded).
    """

    kind: PrincipalKind
    value: str
    account_id: str | None = None
    is_account: bool = False
    is_wildcard: bool = False


def _named(spec: PrincipalSpec) -> NamedPrincipal:
    if spec.kind == "AWS":
        if spec.value == "*":
            return NamedPrincipal(PrincipalKind.AWS, "*", is_wildcard=True)
        account = account_of_spec(spec)
        if account is not None:
            value = f"arn:aws:iam::{account}:root" if _ACCOUNT_ID.match(spec.value) else spec.value
            return NamedPrincipal(PrincipalKind.AWS, value, account_id=account, is_account=True)
        found = _ARN_ACCOUNT.match(spec.value)
        return NamedPrincipal(
            PrincipalKind.AWS, spec.value, account_id=found.group(1) if found else None
        )
    kind = {
        "Service": PrincipalKind.SERVICE,
        "Federated": PrincipalKind.FEDERATED,
        "CanonicalUser": PrincipalKind.CANONICAL,
    }[spec.kind]
    return NamedPrincipal(kind, spec.value)


def principals_named_in(
    policy: Policy, action: str | None = "sts:AssumeRole"
) -> dict[NamedPrincipal, tuple[Statement, ...]]:
    """Map each principal an Allow statement of ``policy`` names to the statements naming it.

    Only statements whose Action covers ``action`` are indexed (pass None for all). Use it to
    index trust policies by principal instead of testing every principal against every role;
    the statements' conditions are not evaluated here.
    """
    found: dict[NamedPrincipal, list[Statement]] = {}
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.principals is None:
            continue
        if action is not None and not statement_matches_action(statement, action):
            continue
        names: Iterable[NamedPrincipal]
        if statement.not_principal:
            names = [NamedPrincipal(PrincipalKind.AWS, "*", is_wildcard=True)]
        else:
            names = (_named(spec) for spec in statement.principals)
        for name in names:
            bucket = found.setdefault(name, [])
            if statement not in bucket:
                bucket.append(statement)
    return {name: tuple(statements) for name, statements in found.items()}
