"""Parse IAM policy documents into frozen dataclasses.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
Elements: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

logger = logging.getLogger(__name__)

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class Layer(StrEnum):
    """The kind of policy a statement comes from; the evaluation logic treats each differently."""

    SCP = "scp"
    RCP = "rcp"
    RESOURCE = "resource"
    TRUST = "trust"
    IDENTITY = "identity"
    BOUNDARY = "boundary"
    SESSION = "session"


_LAYER_LABELS = {
    Layer.SCP: "SCP",
    Layer.RCP: "RCP",
    Layer.RESOURCE: "resource-based policy",
    Layer.TRUST: "trust policy",
    Layer.IDENTITY: "identity-based policy",
    Layer.BOUNDARY: "permissions boundary",
    Layer.SESSION: "session policy",
}

# Layers whose statements carry a Principal element that must match the requester.
PRINCIPAL_LAYERS = frozenset({Layer.RESOURCE, Layer.TRUST, Layer.RCP})


@dataclass(frozen=True)
class PolicySource:
    """Where a policy comes from: its layer, a name, its ARN and a label for reason texts.

    ``kind`` overrides the default label of the layer, e.g. "customer-managed policy" or
    "inline policy of group Admins".
    """

    layer: Layer
    name: str
    arn: str | None = None
    kind: str | None = None

    @property
    def label(self) -> str:
        text = f"{self.kind or _LAYER_LABELS[self.layer]} {self.name}"
        return f"{text} ({self.arn})" if self.arn else text


class PolicyParseError(ValueError):
    """A malformed policy document; ``path`` names the element, e.g. ``Statement[2].Condition``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# Canonical names of the base condition operators.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
STRING_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
)
NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
)
DATE_OPERATORS = (
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
)
ARN_OPERATORS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
OTHER_OPERATORS = ("Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "Null")
BASE_OPERATORS: dict[str, str] = {
    name.lower(): name
    for name in (
        *STRING_OPERATORS,
        *NUMERIC_OPERATORS,
        *DATE_OPERATORS,
        *ARN_OPERATORS,
        *OTHER_OPERATORS,
    )
}
NEGATED_OPERATORS: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NotIpAddress": "IpAddress",
}
SET_OPERATORS = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}


# The pseudo condition key a statement depends on when one of its condition operators is not
# one the engine knows: the statement is UNKNOWN on this key (followed by the operator and key
# as written), never silently true or false, and the rest of the document still counts.
UNSUPPORTED_KEY_PREFIX = "iamviz:UnsupportedCondition/"


@dataclass(frozen=True)
class ConditionOperator:
    """A condition operator split into set qualifier, base operator and IfExists.

    ``supported`` is false for an operator name the engine does not know (``base`` is then
    the name as written); conditions with it evaluate to UNKNOWN.
    """

    name: str
    base: str
    set_operator: str | None = None
    if_exists: bool = False
    supported: bool = True

    @property
    def negated(self) -> bool:
        return self.base in NEGATED_OPERATORS

    @property
    def positive(self) -> str:
        """The base operator with negation removed (StringNotLike -> StringLike)."""
        return NEGATED_OPERATORS.get(self.base, self.base)


def parse_condition_operator(name: str) -> ConditionOperator | None:
    """Split ``ForAnyValue:StringLikeIfExists`` into its parts; None when not an operator."""
    set_operator: str | None = None
    rest = name
    if ":" in name:
        prefix, _, rest = name.partition(":")
        set_operator = SET_OPERATORS.get(prefix.lower())
        if set_operator is None:
            return None
    if_exists = False
    base = BASE_OPERATORS.get(rest.lower())
    if base is None and rest.lower().endswith("ifexists"):
        base = BASE_OPERATORS.get(rest[: -len("ifexists")].lower())
        if_exists = True
    # ForAllValues:Null / ForAnyValue:Null are accepted (the set qualifier decides the absent
    # case); NullIfExists has no meaning and is left to the caller as unsupported.
    if base is None or (base == "Null" and if_exists):
        return None
    return ConditionOperator(name=name, base=base, set_operator=set_operator, if_exists=if_exists)


@dataclass(frozen=True)
class Condition:
    """One operator/key pair of a Condition block; ``values`` are OR-ed."""

    operator: ConditionOperator
    key: str  # as written; matched case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True)
class PrincipalSpec:
    """One value of a Principal/NotPrincipal element: ``("AWS", "arn:...")``, ``("Service", ...)``.

    ``"Principal": "*"`` is stored as ``("AWS", "*")``: the docs define them as equivalent.
    """

    kind: str  # AWS | Service | Federated | CanonicalUser
    value: str


PRINCIPAL_TYPES = {"aws": "AWS", "service": "Service", "federated": "Federated"}
PRINCIPAL_TYPES["canonicaluser"] = "CanonicalUser"


@dataclass(frozen=True)
class Statement:
    """One statement; ``resources``/``principals`` are None when the element is absent."""

    source: PolicySource
    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool = False
    resources: tuple[str, ...] | None = None
    not_resource: bool = False
    principals: tuple[PrincipalSpec, ...] | None = None
    not_principal: bool = False
    conditions: tuple[Condition, ...] = ()
    # Policy variables are substituted only in Version 2012-10-17 documents.
    substitute_variables: bool = True

    @cached_property
    def ref(self) -> str:
        sid = f"'{self.sid}' " if self.sid else ""
        return f"statement {sid}(Statement[{self.index}]) of {self.source.label}"


@dataclass(frozen=True)
class Policy:
    source: PolicySource
    statements: tuple[Statement, ...]
    version: str | None = None


_STATEMENT_ELEMENTS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}


def load_document(document: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """Decode a policy document given as a dict, a JSON string or a URL-encoded JSON string.

    ``GetAccountAuthorizationDetails`` returns documents URL-encoded (RFC 3986), so a ``+`` is
    a literal plus, not a space.
    """
    if isinstance(document, Mapping):
        return document
    if not isinstance(document, str):
        raise PolicyParseError(
            "", f"policy document must be an object or a string, not {_kind(document)}"
        )
    text = document.strip()
    if not text.startswith("{"):
        text = urllib.parse.unquote(text).strip()
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyParseError(
            "", f"policy document is not valid JSON: {error.msg} at {error.pos}"
        ) from error
    if not isinstance(loaded, Mapping):
        raise PolicyParseError("", f"policy document must be a JSON object, not {_kind(loaded)}")
    return loaded


def parse_policy(document: Mapping[str, Any] | str, source: PolicySource) -> Policy:
    """Parse a policy document (dict, JSON or URL-encoded JSON) into a :class:`Policy`.

    Raises :class:`PolicyParseError` naming the offending element, e.g.
    ``Statement[2].Effect: must be "Allow" or "Deny", not "allow"``.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
    """
    data = load_document(document)
    unknown = set(data) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyParseError("", f"unknown top-level element(s): {', '.join(sorted(unknown))}")
    version = data.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise PolicyParseError(
            "Version", f'must be "{VERSION_2012}" or "{VERSION_2008}", not {version!r}'
        )
    if "Statement" not in data:
        raise PolicyParseError("Statement", "missing")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        raw_statements: list[Any] = [raw]
    elif isinstance(raw, list):
        raw_statements = raw
    else:
        raise PolicyParseError(
            "Statement", f"must be an object or a list of objects, not {_kind(raw)}"
        )
    statements = tuple(
        _parse_statement(item, index, source, substitute=version == VERSION_2012)
        for index, item in enumerate(raw_statements)
    )
    return Policy(source=source, statements=statements, version=version)


def _parse_statement(raw: Any, index: int, source: PolicySource, *, substitute: bool) -> Statement:
    path = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyParseError(path, f"must be an object, not {_kind(raw)}")
    unknown = set(raw) - _STATEMENT_ELEMENTS
    if unknown:
        raise PolicyParseError(path, f"unknown element(s): {', '.join(sorted(unknown))}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyParseError(f"{path}.Sid", f"must be a string, not {_kind(sid)}")
    if "Effect" not in raw:
        raise PolicyParseError(f"{path}.Effect", "missing")
    effect_raw = raw["Effect"]
    if effect_raw not in ("Allow", "Deny"):
        raise PolicyParseError(
            f"{path}.Effect", f'must be "Allow" or "Deny", not {json.dumps(effect_raw)}'
        )
    actions, not_action = _pick(raw, path, "Action", "NotAction", required=True)
    resources, not_resource = _pick(raw, path, "Resource", "NotResource", required=False)
    principals, not_principal = _parse_principals(raw, path)
    return Statement(
        source=source,
        index=index,
        sid=sid or None,
        effect=Effect(effect_raw),
        actions=actions or (),
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=_parse_conditions(raw.get("Condition"), f"{path}.Condition"),
        substitute_variables=substitute,
    )


def _pick(
    raw: Mapping[str, Any], path: str, name: str, negated: str, *, required: bool
) -> tuple[tuple[str, ...] | None, bool]:
    if name in raw and negated in raw:
        raise PolicyParseError(path, f"has both {name} and {negated}")
    if name in raw:
        return _strings(raw[name], f"{path}.{name}"), False
    if negated in raw:
        return _strings(raw[negated], f"{path}.{negated}"), True
    if required:
        raise PolicyParseError(path, f"missing {name} or {negated}")
    return None, False


def _strings(value: Any, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyParseError(path, "must not be an empty list")
    for position, item in enumerate(items):
        if not isinstance(item, str):
            where = f"{path}[{position}]" if isinstance(value, list) else path
            raise PolicyParseError(where, f"must be a string, not {_kind(item)}")
    return tuple(items)


def _parse_principals(
    raw: Mapping[str, Any], path: str
) -> tuple[tuple[PrincipalSpec, ...] | None, bool]:
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyParseError(path, "has both Principal and NotPrincipal")
    name = "Principal" if "Principal" in raw else "NotPrincipal" if "NotPrincipal" in raw else None
    if name is None:
        return None, False
    value = raw[name]
    where = f"{path}.{name}"
    if value == "*":
        return (PrincipalSpec("AWS", "*"),), name == "NotPrincipal"
    if not isinstance(value, Mapping):
        raise PolicyParseError(
            where, f'must be "*" or an object such as {{"AWS": ...}}, not {_kind(value)}'
        )
    specs: list[PrincipalSpec] = []
    for type_name, entries in value.items():
        kind = PRINCIPAL_TYPES.get(str(type_name).lower())
        if kind is None:
            raise PolicyParseError(
                f"{where}.{type_name}",
                "unknown principal type (expected AWS, Service, Federated or CanonicalUser)",
            )
        specs.extend(
            PrincipalSpec(kind, item) for item in _strings(entries, f"{where}.{type_name}")
        )
    if not specs:
        raise PolicyParseError(where, "must name at least one principal")
    return tuple(specs), name == "NotPrincipal"


def _parse_conditions(raw: Any, path: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyParseError(path, f"must be an object, not {_kind(raw)}")
    conditions: list[Condition] = []
    for operator_name, block in raw.items():
        operator = parse_condition_operator(str(operator_name))
        if operator is None:
            # Only this statement becomes unknown: the document's other statements still
            # decide (a trust policy is not dropped whole for one operator we do not know).
            logger.info("%s.%s: unknown condition operator", path, operator_name)
            operator = ConditionOperator(
                name=str(operator_name), base=str(operator_name), supported=False
            )
        if not isinstance(block, Mapping) or not block:
            raise PolicyParseError(
                f"{path}.{operator_name}", "must be a non-empty object of key: value(s)"
            )
        for key, value in block.items():
            where = f"{path}.{operator_name}.{key}"
            values = _condition_values(value, where)
            if operator.base == "Null" and any(v.lower() not in ("true", "false") for v in values):
                raise PolicyParseError(where, 'Null takes "true" or "false"')
            conditions.append(Condition(operator=operator, key=str(key), values=values))
    return tuple(conditions)


def _condition_values(value: Any, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyParseError(path, "must not be an empty list")
    result: list[str] = []
    for item in items:
        if isinstance(item, bool):  # before int: bool is an int subclass
            result.append("true" if item else "false")
        elif isinstance(item, str):
            result.append(item)
        elif isinstance(item, int | float):
            result.append(str(item))
        else:
            raise PolicyParseError(
                path, f"condition values must be strings, numbers or booleans, not {_kind(item)}"
            )
    return tuple(result)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
