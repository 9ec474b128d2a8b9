"""Filters for showing access-edge sources: users, roles, accounts, services, providers, anyone."""

from __future__ import annotations

from django import template

from identities.arns import SourceKind, account_of, classify_source, parse_arn, source_value

register = template.Library()

_SHOWN = {
    SourceKind.USER,
    SourceKind.ROLE,
    SourceKind.ACCOUNT,
    SourceKind.SERVICE,
    SourceKind.FEDERATED,
    SourceKind.ANYONE,
}


@register.filter
def source_category(source: str) -> str:
    """user, role, account, service, federated, anyone or other."""
    kind = classify_source(source)
    return str(kind) if kind in _SHOWN else "other"


@register.filter
def source_label(source: str) -> str:
    """A short name: the user or role name, 'account 123456789012', the service or provider."""
    kind = classify_source(source)
    if kind in (SourceKind.SERVICE, SourceKind.FEDERATED):
        return source_value(source)
    if kind is SourceKind.ACCOUNT:
        return f"account {account_of(source)}"
    if kind in (SourceKind.USER, SourceKind.ROLE):
        parsed = parse_arn(source)
        return parsed.name if parsed else source
    return source


@register.filter
def arn_account(source: str) -> str:
    """The account of a user, role or account-root source."""
    return account_of(source)


# A source kind's noun; its plural adds an "s". Other kinds ("anyone") stand as they are.
_KIND_NOUNS = {
    "user": "user",
    "role": "role",
    "account": "outside account",
    "external": "outside principal",
    "service": "AWS service",
    "federated": "federated provider",
}


@register.filter
def kind_count(pair: tuple[str, int]) -> str:
    """(kind, n) as "1 user", "3 roles", "2 AWS services"."""
    kind, count = pair
    noun = _KIND_NOUNS.get(kind)
    if noun is None:
        return f"{count} {kind}"
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
