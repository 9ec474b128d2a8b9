"""Print what changed in access between two analyses:
python manage.py access_changes --format json [--from RUN] [--to RUN]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.management.output import stop_quietly_when_reader_closes
from identities.queries.changes import HistoryUnavailable, changes_between, changes_document


class Command(BaseCommand):
    help = (
        "Print one JSON object: from, to (analysis run ids), edges_added, edges_removed, "
        "edges_changed (each edge as access_edges prints it; changed ones with "
        "conditions_before and conditions_after), administrators_added, "
        "administrators_removed, admin_reach_added, admin_reach_removed (ARNs), findings_new, "
        "findings_resolved (key, kind, severity, principal, title). Default: the last two "
        "analyses."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json"], default="json")
        parser.add_argument("--from", dest="from_run", type=int, help="analysis run id")
        parser.add_argument("--to", dest="to_run", type=int, help="analysis run id (later)")

    def handle(
        self, *args: Any, format: str, from_run: int | None, to_run: int | None, **options: Any
    ) -> None:
        if from_run is not None and to_run is not None and from_run > to_run:
            raise CommandError(f"--from {from_run} is later than --to {to_run}")
        try:
            changes = changes_between(from_run, to_run)
        except HistoryUnavailable as exc:
            raise CommandError(str(exc)) from None
        document = changes_document(changes)
        with stop_quietly_when_reader_closes(self.stdout):
            self.stdout.write(json.dumps(document, indent=2))
