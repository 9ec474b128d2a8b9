"""Print what changed in access between two analyses:
python manage.py access_changes --format json [--from RUN] [--to RUN]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.management.output import ContractCommand
from identities.queries.changes import HistoryUnavailable, changes_between, changes_document


class Command(ContractCommand):
    """Print one JSON object: from, to (analysis run ids), edges_added, edges_removed,
    edges_changed (each edge as access_edges prints it; changed ones with conditions_before and
    conditions_after), administrators_added, administrators_removed, admin_reach_added,
    admin_reach_removed (ARNs), escalations_added, escalations_removed (each as the escalations
    command prints it: principal, method, status, target, conditions, granted_by), findings_new,
    findings_resolved (key, kind, severity, principal, title). Default: the last two analyses."""

    def add_options(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_run", type=int, help="analysis run id")
        parser.add_argument("--to", dest="to_run", type=int, help="analysis run id (later)")

    def output(
        self, *args: Any, from_run: int | None, to_run: int | None, **options: Any
    ) -> dict[str, Any]:
        if from_run is not None and to_run is not None and from_run > to_run:
            raise CommandError(f"--from {from_run} is later than --to {to_run}")
        try:
            changes = changes_between(from_run, to_run)
        except HistoryUnavailable as exc:
            raise CommandError(str(exc)) from None
        return changes_document(changes)
