"""Conditions in words: what a Condition block requires of a key, for reports.

``Bool aws:MultiFactorAuthPresent true`` reads ``MFA = true``; ``StringLike
token.actions.githubusercontent.com:sub repo:acme/*`` reads ``sub like repo:acme/*``. The verbs
follow the operator families of AWS's condition operators page; the values of one condition are
OR-ed, of a negated operator none may match, as that page says.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

from identities.policy.conditions import unsupported_key
from identities.policy.document import Condition

# Base operator -> the verb between key and value(s).
_VERBS = {
    "StringEquals": "=",
    "StringNotEquals": "≠",
    "StringEqualsIgnoreCase": "=",
    "StringNotEqualsIgnoreCase": "≠",
    "StringLike": "like",
    "StringNotLike": "not like",
    "NumericEquals": "=",
    "NumericNotEquals": "≠",
    "NumericLessThan": "<",
    "NumericLessThanEquals": "≤",
    "NumericGreaterThan": ">",
    "NumericGreaterThanEquals": "≥",
    "DateEquals": "=",
    "DateNotEquals": "≠",
    "DateLessThan": "before",
    "DateLessThanEquals": "at or before",
    "DateGreaterThan": "after",
    "DateGreaterThanEquals": "at or after",
    "ArnEquals": "=",
    "ArnNotEquals": "≠",
    "ArnLike": "like",
    "ArnNotLike": "not like",
    "Bool": "=",
    "BinaryEquals": "=",
    "IpAddress": "in",
    "NotIpAddress": "not in",
}
_SHORT_KEYS = {
    "aws:multifactorauthpresent": "MFA",
    "aws:multifactorauthage": "MFA age",
}


def short_key(key: str) -> str:
    """The key without its service prefix (``sts:ExternalId`` -> ``ExternalId``,
    ``token.actions.githubusercontent.com:sub`` -> ``sub``); the MFA keys as ``MFA``."""
    known = _SHORT_KEYS.get(key.casefold())
    if known:
        return known
    _, sep, rest = key.partition(":")
    return rest if sep and rest else key


def describe_condition(condition: Condition) -> str:
    """What one condition requires, e.g. ``SourceIp in 203.0.113.0/24``."""
    operator = condition.operator
    name = short_key(condition.key)
    values = condition.values
    if not operator.supported:
        shown = ", ".join(values)
        return f"{name} {operator.name} {shown} (an operator iamviz does not evaluate)"
    if operator.base == "Null":
        wanted = {value.strip().lower() for value in values}
        if wanted == {"true"}:
            text = f"{name} absent"
        elif wanted == {"false"}:
            text = f"{name} present"
        else:
            text = f"{name} absent or present"
    else:
        verb = _VERBS.get(operator.base, operator.base)
        if len(values) == 1:
            text = f"{name} {verb} {values[0]}"
        elif operator.negated:
            text = f"{name} {verb} any of {', '.join(values)}"
        else:
            text = f"{name} {verb} {' or '.join(values)}"
        if operator.base.endswith("IgnoreCase"):
            text += " (any case)"
    if operator.set_operator == "ForAllValues":
        text = f"every {text}"
    elif operator.set_operator == "ForAnyValue":
        text = f"some {text}"
    if operator.if_exists:
        text += ", if present"
    return text


def condition_key(condition: Condition) -> str:
    """The key a decision reports the condition under: the key as written, or for an operator
    the engine does not know, its pseudo key ``iamviz:UnsupportedCondition/OPERATOR/KEY``."""
    if condition.operator.supported:
        return condition.key
    return unsupported_key(condition)
