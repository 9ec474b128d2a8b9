"""Filters for showing access-edge sources: users, roles, accounts, services, providers, anyone."""

from __future__ import annotations

import re

from django import template

register = template.Library()

_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<resource>.+)$")


@register.filter
def source_category(source: str) -> str:
    """user, role, account, service, federated, anyone or other."""
    if source == "*":
        return "anyone"
    if source.startswith("service:"):
        return "service"
    if source.startswith("federated:"):
        return "federated"
    match = _IAM_ARN.match(source)
    if match is None:
        return "other"
    resource = match["resource"]
    if resource == "root":
        return "account"
    return resource.split("/", 1)[0] if resource.startswith(("user/", "role/")) else "other"


@register.filter
def source_label(source: str) -> str:
    """A short name: the user or role name, 'account 123456789012', the service or provider."""
    category = source_category(source)
    if category in {"service", "federated"}:
        return source.split(":", 1)[1]
    match = _IAM_ARN.match(source)
    if category == "account" and match:
        return f"account {match['account']}"
    if category in {"user", "role"}:
        return source.rsplit("/", 1)[-1]
    return source


@register.filter
def arn_account(source: str) -> str:
    match = _IAM_ARN.match(source)
    return match["account"] if match else ""
