"""Read side of sensitive targets: the staff's rules, the roles they marked at the current
analysis and the principals that can reach one (stored by `identities.analysis.sensitive`)."""

from __future__ import annotations

from django.db.models import QuerySet

from identities.models import SensitivePath, SensitiveRole, SensitiveTarget


def sensitive_rules() -> QuerySet[SensitiveTarget]:
    return SensitiveTarget.objects.select_related("created_by").order_by("kind", "value")


def sensitive_roles() -> QuerySet[SensitiveRole]:
    """The roles the rules marked at the current analysis."""
    return SensitiveRole.objects.order_by("arn")


def sensitive_paths(account_id: str | None = None) -> QuerySet[SensitivePath]:
    """Principals that can reach a sensitive role (the nearest one each), nearest first;
    ``account_id`` keeps the paths whose sensitive role is in that account."""
    found = SensitivePath.objects.select_related("target")
    if account_id:
        found = found.filter(target__arn__startswith=f"arn:aws:iam::{account_id}:")
    return found.order_by("hops", "source")
