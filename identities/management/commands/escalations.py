"""Print the stored escalations: python manage.py escalations --format json|csv [--account ID]
[--principal ARN]"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.management.output import ContractCommand
from identities.queries.escalations import ESCALATION_ROW_FIELDS, iter_escalations
from identities.queries.estate import is_user_or_role


class Command(ContractCommand):
    """Print who can escalate how, one object per escalation, sorted by (principal, method,
    target): principal (user or role ARN), method (catalogue id, e.g. IAM-CreateAccessKey),
    status ("proven" from IAM data, or "potential": it also needs a resource IAM data cannot
    show), target (the ARN it acts on or becomes; null when it acts on itself), conditions
    (sorted condition keys, empty when unconditional), granted_by (statement references). CSV
    joins list cells with ' | '."""

    formats = ("json", "csv")
    columns = ESCALATION_ROW_FIELDS

    def add_options(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only escalations of principals of this account")
        parser.add_argument("--principal", help="only this user's or role's escalations (ARN)")

    def output(
        self, *args: Any, account: str | None, principal: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        self.require_account(account)
        if principal is not None and not is_user_or_role(principal):
            raise CommandError(f"no user or role {principal} in the estate")
        self.warn_without_analysis()
        return (
            escalation.as_row()
            for escalation in iter_escalations(account_id=account, principal=principal)
        )
