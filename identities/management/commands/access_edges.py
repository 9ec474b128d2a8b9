"""Print the stored access edges: python manage.py access_edges --format json [--account ID]
[--transitive]"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.management.output import stop_quietly_when_reader_closes, write_rows
from identities.models import Account
from identities.queries.access import (
    EDGE_ROW_FIELDS,
    current_run,
    iter_direct_edges,
    iter_transitive_edges,
)


class Command(BaseCommand):
    help = (
        "Print who can assume which role, one object per edge, sorted by (source, target): "
        "source (user/role ARN, arn:aws:iam::ID:root for an account outside the synced set, "
        "service:NAME, federated:PROVIDER or *), target (role ARN), conditions (sorted condition "
        "keys, empty when unconditional), condition_values (condition key -> what it must be, "
        'e.g. "MFA = true"; for a chain, over every hop), transitive, path (ARNs from source to target; '
        "[source, target] for a direct edge), granted_by (statement references; for a chain, "
        "every hop's in order). CSV joins list cells with ' | '."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--account", help="only edges whose target role is in this account")
        parser.add_argument(
            "--transitive",
            action="store_true",
            help="also every role a source can end up in through role chaining",
        )

    def handle(
        self, *args: Any, format: str, account: str | None, transitive: bool, **options: Any
    ) -> None:
        if account is not None and not Account.objects.filter(account_id=account).exists():
            raise CommandError(f"no synced account {account}")
        if current_run() is None:
            self.stderr.write("warning: no analysis has run yet; run `manage.py analyse`")
        rows = self._rows(account, transitive)
        with stop_quietly_when_reader_closes(self.stdout):
            write_rows(self.stdout, rows, format, EDGE_ROW_FIELDS)

    def _rows(self, account: str | None, transitive: bool) -> Iterable[dict[str, Any]]:
        edges = iter_transitive_edges(account) if transitive else iter_direct_edges(account)
        return (edge.as_row() for edge in edges)
