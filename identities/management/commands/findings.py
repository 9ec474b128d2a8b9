"""Print the tracked findings: python manage.py findings --format json [--account ID]
[--kind KIND] [--severity S] [--status S]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from identities.management.output import stop_quietly_when_reader_closes, write_json_array
from identities.models import Account, Finding, TriageStatus
from identities.models.review import Severity
from identities.queries.changes import finding_row, tracked_findings


class Command(BaseCommand):
    help = (
        "Print every finding tracked across analyses, one object per finding, sorted by "
        "(status, kind, principal, key): key (stable across analyses), kind, severity, status "
        "(open, accepted, suppressed or resolved; an expired decision counts as open), account, "
        "principal (ARN), title, detail, first_seen, last_seen (ISO 8601)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json"], default="json")
        parser.add_argument("--account", help="only findings of this account")
        parser.add_argument("--kind", choices=Finding.Kind.values)
        parser.add_argument("--severity", choices=Severity.values)
        parser.add_argument("--status", choices=TriageStatus.values)

    def handle(
        self,
        *args: Any,
        account: str | None,
        kind: str | None,
        severity: str | None,
        status: str | None,
        **options: Any,
    ) -> None:
        if account is not None and not Account.objects.filter(account_id=account).exists():
            raise CommandError(f"no synced account {account}")
        now = timezone.now()
        found = tracked_findings(
            status=status or "",
            severity=severity or "",
            kind=kind or "",
            account_id=account or "",
            now=now,
        )
        with stop_quietly_when_reader_closes(self.stdout):
            write_json_array(self.stdout, (finding_row(finding, now) for finding in found))
