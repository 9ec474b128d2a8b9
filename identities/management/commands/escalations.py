"""Print the stored escalations: python manage.py escalations --format json|csv [--account ID]
[--principal ARN]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.management.output import stop_quietly_when_reader_closes, write_rows
from identities.models import Account
from identities.queries.access import current_run
from identities.queries.escalations import iter_escalations
from identities.queries.estate import is_user_or_role

FIELDS = ("principal", "method", "status", "target", "conditions", "granted_by")


class Command(BaseCommand):
    help = (
        "Print who can escalate how, one object per escalation, sorted by (principal, method, "
        "target): principal (user or role ARN), method (catalogue id, e.g. IAM-CreateAccessKey), "
        'status ("proven" from IAM data, or "potential": it also needs a resource IAM data '
        "cannot show), target (the ARN it acts on or becomes; null when it acts on itself), "
        "conditions (sorted condition keys, empty when unconditional), granted_by (statement "
        "references). CSV joins list cells with ' | '."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--account", help="only escalations of principals of this account")
        parser.add_argument("--principal", help="only this user's or role's escalations (ARN)")

    def handle(
        self,
        *args: Any,
        format: str,
        account: str | None,
        principal: str | None,
        **options: Any,
    ) -> None:
        if account is not None and not Account.objects.filter(account_id=account).exists():
            raise CommandError(f"no synced account {account}")
        if principal is not None and not is_user_or_role(principal):
            raise CommandError(f"no user or role {principal} in the estate")
        if current_run() is None:
            self.stderr.write("warning: no analysis has run yet; run `manage.py analyse`")
        rows = (
            escalation.as_row()
            for escalation in iter_escalations(account_id=account, principal=principal)
        )
        with stop_quietly_when_reader_closes(self.stdout):
            write_rows(self.stdout, rows, format, FIELDS)
