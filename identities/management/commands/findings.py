"""Print the tracked findings: python manage.py findings --format json [--account ID]
[--kind KIND] [--severity S] [--status S]"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from identities.management.output import ContractCommand
from identities.models import Finding, TriageStatus
from identities.models.review import Severity
from identities.queries.changes import finding_row, tracked_findings


class Command(ContractCommand):
    """Print every finding tracked across analyses, one object per finding, sorted by (status,
    kind, principal, key): key (stable across analyses), kind, severity, status (open, accepted,
    suppressed or resolved; an expired decision counts as open), account, principal (ARN),
    title, detail, first_seen, last_seen (ISO 8601)."""

    def add_options(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only findings of this account")
        parser.add_argument("--kind", choices=Finding.Kind.values)
        parser.add_argument("--severity", choices=Severity.values)
        parser.add_argument("--status", choices=TriageStatus.values)

    def output(
        self, *args: Any, account: str | None, kind: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        self.require_account(account)
        now = timezone.now()
        found = tracked_findings(
            status=options["status"] or "",
            severity=options["severity"] or "",
            kind=kind or "",
            account_id=account or "",
            now=now,
        )
        return (finding_row(finding, now) for finding in found)
