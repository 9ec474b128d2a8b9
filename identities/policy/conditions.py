"""The request context, policy variables and condition operators, with three-valued results.

A condition is TRUE, FALSE or UNKNOWN. UNKNOWN means a key the condition depends on was
neither supplied nor declared absent; the result then lists those keys.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache

from identities.policy.document import UNSUPPORTED_KEY_PREFIX, Condition
from identities.policy.match import (
    LITERAL_QUESTION,
    LITERAL_STAR,
    Principal,
    PrincipalKind,
    escape_literals,
    glob_match,
    match_arn,
    unescape_literals,
)

logger = logging.getLogger(__name__)


class Tri(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


class KeyState(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RequestContext:
    """What is known about one request.

    ``values`` maps condition keys (case-insensitive) to their values; a single-valued key is a
    one-element tuple and an empty tuple counts as absent. A key missing from ``values`` is
    *absent* when it is in ``absent_keys`` or when ``complete`` is true (the context lists every
    key the request carries, as in the IAM policy simulator), and *unknown* otherwise: a
    condition on an unknown key makes its statement CONDITIONAL instead of a silent yes or no.

    When ``derive_principal_keys`` is true, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``aws:PrincipalIsAWSService`` and ``aws:username`` (users only; absent for roles) are
    derived from ``principal`` unless ``values`` gives them. For a role ``aws:PrincipalArn`` is
    the role ARN, as AWS documents for role sessions.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    """

    principal: Principal
    action: str
    resource: str
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    absent_keys: frozenset[str] = frozenset()
    complete: bool = False
    derive_principal_keys: bool = True

    def __post_init__(self) -> None:
        normalised: dict[str, tuple[str, ...]] = {}
        absent = {key.lower() for key in self.absent_keys}
        if self.derive_principal_keys:
            normalised.update(_principal_keys(self.principal, absent))
        for key, raw in self.values.items():
            values = (raw,) if isinstance(raw, str) else tuple(raw)
            if values:
                normalised[key.lower()] = values
                absent.discard(key.lower())
            else:
                normalised.pop(key.lower(), None)
                absent.add(key.lower())
        object.__setattr__(self, "values", normalised)
        object.__setattr__(self, "absent_keys", frozenset(absent))

    def lookup(self, key: str) -> tuple[KeyState, tuple[str, ...]]:
        """The state of ``key`` and its values (empty unless present)."""
        lowered = key.lower()
        found = self.values.get(lowered)
        if found:
            return KeyState.PRESENT, found
        if self.complete or lowered in self.absent_keys:
            return KeyState.ABSENT, ()
        return KeyState.UNKNOWN, ()


def _principal_keys(principal: Principal, absent: set[str]) -> dict[str, tuple[str, ...]]:
    if principal.kind is PrincipalKind.SERVICE:
        return {
            "aws:principalisawsservice": ("true",),
            "aws:principalservicename": (principal.value,),
        }
    if principal.kind is not PrincipalKind.AWS:
        return {}
    keys: dict[str, tuple[str, ...]] = {
        "aws:principalarn": (principal.value,),
        "aws:principalisawsservice": ("false",),
    }
    if principal.account_id:
        keys["aws:principalaccount"] = (principal.account_id,)
    if principal.is_user:
        keys["aws:username"] = (principal.value.rsplit("/", 1)[-1],)
    elif principal.is_role:
        absent.add("aws:username")
    return keys


# ----------------------------------------------------------------------------------------------
# Policy variables
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*$")
_SPECIAL = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}


@dataclass(frozen=True)
class Variable:
    key: str
    default: str | None = None


@lru_cache(maxsize=16384)
def parse_template(text: str) -> tuple[str | Variable, ...]:
    """Split ``text`` into literal chunks and variables; ``${*}`` etc. become literal chunks."""
    chunks: list[str | Variable] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        if found.start() > position:
            chunks.append(text[position : found.start()])
        inner = found.group(1)
        stripped = inner.strip()
        if stripped in _SPECIAL:
            chunks.append(_SPECIAL[stripped])
        else:
            default = _DEFAULT.match(inner)
            if default:
                chunks.append(Variable(default.group(1), default.group(2).replace("''", "'")))
            else:
                chunks.append(Variable(stripped))
        position = found.end()
    if position < len(text):
        chunks.append(text[position:])
    return tuple(chunks)


@dataclass(frozen=True)
class Substitution:
    """A template after substitution: ``text`` (literal-marked), or why there is none.

    ``unknown`` lists keys whose values are unknown; ``failure`` explains a variable that cannot
    be resolved (AWS then treats the element as not matching).
    """

    text: str | None
    unknown: frozenset[str] = frozenset()
    failure: str | None = None


def substitute(template: str, context: RequestContext, *, enabled: bool = True) -> Substitution:
    """Replace policy variables in ``template`` with values from ``context``.

    Substituted values are marked literal so their `*`/`?` never act as wildcards. A variable
    whose key is absent and has no default, or whose key is multi-valued, cannot be resolved:
    AWS says the statement may then be invalid, so callers treat the element as not matching.
    Variables are substituted only in Version 2012-10-17 documents (``enabled``).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
    """
    if not enabled or "${" not in template:
        return Substitution(template)
    parts: list[str] = []
    unknown: set[str] = set()
    for chunk in parse_template(template):
        if isinstance(chunk, str):
            parts.append(chunk)
            continue
        state, values = context.lookup(chunk.key)
        if state is KeyState.PRESENT:
            if len(values) > 1:
                return Substitution(
                    None, failure=f"policy variable ${{{chunk.key}}} is multi-valued"
                )
            parts.append(escape_literals(values[0]))
        elif chunk.default is not None and state is KeyState.ABSENT:
            parts.append(escape_literals(chunk.default))
        elif state is KeyState.UNKNOWN:
            unknown.add(chunk.key)
        else:
            return Substitution(
                None, failure=f"policy variable ${{{chunk.key}}} has no value in the request"
            )
    if unknown:
        return Substitution(None, unknown=frozenset(unknown))
    return Substitution("".join(parts))


# ----------------------------------------------------------------------------------------------
# Condition operators


@dataclass(frozen=True)
class ConditionResult:
    value: Tri
    unknown_keys: frozenset[str] = frozenset()
    failure: str | None = None  # an unresolvable policy variable: the statement does not match


TRUE_RESULT = ConditionResult(Tri.TRUE)
FALSE_RESULT = ConditionResult(Tri.FALSE)


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@lru_cache(maxsize=4096)
def parse_date(text: str) -> datetime | None:
    """Parse an ISO 8601 date/time or epoch seconds; naive times are UTC."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_in(value: str, cidr: str) -> bool:
    network = _network(cidr)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _compare(base: str, value: str, pattern: str) -> bool:
    """The positive operator ``base`` applied to one request value and one policy value."""
    if base == "StringEquals":
        return value == unescape_literals(pattern)
    if base == "StringEqualsIgnoreCase":
        return value.casefold() == unescape_literals(pattern).casefold()
    if base == "StringLike":
        return glob_match(pattern, value)
    if base in ("ArnEquals", "ArnLike"):
        # The docs give ArnEquals and ArnLike the same per-segment wildcard semantics.
        return match_arn(pattern, value)
    if base == "Bool":
        wanted = unescape_literals(pattern).lower()
        return wanted in ("true", "false") and value.strip().lower() == wanted
    if base == "BinaryEquals":
        left, right = _binary(value), _binary(pattern)
        return left == right if left is not None and right is not None else value == pattern
    if base == "IpAddress":
        return _ip_in(value, pattern)
    if base.startswith("Numeric"):
        return _ordered(base[len("Numeric") :], _decimal(value), _decimal(pattern))
    if base.startswith("Date"):
        return _ordered(base[len("Date") :], parse_date(value), parse_date(pattern))
    raise ValueError(f"not a positive condition operator: {base}")


def _ordered(
    relation: str, left: Decimal | datetime | None, right: Decimal | datetime | None
) -> bool:
    if left is None or right is None:
        return False  # an unparseable number or date matches nothing
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return _relate(relation, left.compare(right))
    if isinstance(left, datetime) and isinstance(right, datetime):
        return _relate(relation, (left > right) - (left < right))
    return False


def _relate(relation: str, sign: Decimal | int) -> bool:
    checks: dict[str, Callable[[Decimal | int], bool]] = {
        "Equals": lambda s: s == 0,
        "LessThan": lambda s: s < 0,
        "LessThanEquals": lambda s: s <= 0,
        "GreaterThan": lambda s: s > 0,
        "GreaterThanEquals": lambda s: s >= 0,
    }
    return checks[relation](sign)


# Operators whose values may hold policy variables (docs: "Policy variables - Supported").
_VARIABLE_FAMILIES = ("String", "Arn", "Bool")


def evaluate_condition(
    condition: Condition, context: RequestContext, *, substitute_variables: bool = True
) -> ConditionResult:
    """Evaluate one operator/key pair against the request context.

    - Absent key: false, except true for negated operators (StringNotEquals, ArnNotLike, ...),
      for ``...IfExists`` and for ``ForAllValues:``; ``Null`` tests presence itself.
    - Multiple policy values are OR-ed; a negated operator is true when no value matches.
    - ``ForAllValues:`` is true when every request value matches some policy value (true for
      an absent key); ``ForAnyValue:`` when at least one does (false for an absent key). With a
      negated operator the per-value test is "matches none of the policy values".
    - Unknown key: UNKNOWN listing the key.
    - ``ForAllValues:Null`` / ``ForAnyValue:Null``: with the key present, as ``Null``; with it
      absent, true / false (the set qualifiers' rule for a missing key).
    - An operator the engine does not know: UNKNOWN on the pseudo key
      ``iamviz:UnsupportedCondition/OPERATOR/KEY``, so only its statement is in doubt.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    """
    operator = condition.operator
    if not operator.supported:
        return ConditionResult(Tri.UNKNOWN, frozenset({unsupported_key(condition)}))
    state, values = context.lookup(condition.key)
    if state is KeyState.UNKNOWN:
        return ConditionResult(Tri.UNKNOWN, frozenset({condition.key}))
    if operator.base == "Null":
        present = state is KeyState.PRESENT
        if not present and operator.set_operator is not None:
            # The set qualifiers' documented rule for a key missing from the request wins:
            # ForAllValues is true, ForAnyValue false, whatever the Null value asks.
            return TRUE_RESULT if operator.set_operator == "ForAllValues" else FALSE_RESULT
        hit = any((wanted.lower() == "true") != present for wanted in condition.values)
        return TRUE_RESULT if hit else FALSE_RESULT
    if state is KeyState.ABSENT:
        if operator.if_exists or operator.set_operator == "ForAllValues":
            return TRUE_RESULT
        if operator.set_operator == "ForAnyValue":
            return FALSE_RESULT
        return TRUE_RESULT if operator.negated else FALSE_RESULT

    patterns, result = _resolve_values(condition, context, substitute_variables)
    if result is not None:
        return result
    base = operator.positive

    def matches(value: str) -> bool:
        return any(_compare(base, value, pattern) for pattern in patterns)

    def passes(value: str) -> bool:
        return matches(value) != operator.negated

    if operator.set_operator == "ForAllValues":
        hit = all(passes(value) for value in values)
    elif operator.set_operator == "ForAnyValue":
        hit = any(passes(value) for value in values)
    else:
        hit = any(matches(value) for value in values) != operator.negated
    return TRUE_RESULT if hit else FALSE_RESULT


def unsupported_key(condition: Condition) -> str:
    """The pseudo key a condition with an operator the engine does not know is UNKNOWN on."""
    return f"{UNSUPPORTED_KEY_PREFIX}{condition.operator.name}/{condition.key}"


def _resolve_values(
    condition: Condition, context: RequestContext, enabled: bool
) -> tuple[tuple[str, ...], ConditionResult | None]:
    if not condition.operator.positive.startswith(_VARIABLE_FAMILIES):
        return condition.values, None
    patterns: list[str] = []
    unknown: set[str] = set()
    for raw in condition.values:
        done = substitute(raw, context, enabled=enabled)
        if done.failure is not None:
            return (), ConditionResult(
                Tri.FALSE, failure=f"{done.failure} (condition key {condition.key})"
            )
        if done.text is None:
            unknown |= done.unknown
        else:
            patterns.append(done.text)
    if unknown:
        return (), ConditionResult(Tri.UNKNOWN, frozenset(unknown))
    return tuple(patterns), None


def evaluate_conditions(
    conditions: Iterable[Condition], context: RequestContext, *, substitute_variables: bool = True
) -> ConditionResult:
    """AND of all conditions of a statement: FALSE wins, then UNKNOWN (keys united), else TRUE."""
    unknown: set[str] = set()
    for condition in conditions:
        result = evaluate_condition(condition, context, substitute_variables=substitute_variables)
        if result.failure is not None or result.value is Tri.FALSE:
            return result
        if result.value is Tri.UNKNOWN:
            unknown |= result.unknown_keys
    return ConditionResult(Tri.UNKNOWN, frozenset(unknown)) if unknown else TRUE_RESULT
