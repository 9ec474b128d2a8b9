"""Print the choke points: python manage.py choke_points --format json|csv [--limit N]
[--target admin|sensitive|all]"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.management.output import stop_quietly_when_reader_closes, write_json_array
from identities.queries.access import current_run
from identities.queries.choke_points import ADMIN, TARGET_CHOICES, stored_report
from identities.queries.exports import SafeCsvWriter

FIELDS = ("rank", "item", "label", "paths_cut", "principals", "conditional", "what_if")


class Command(BaseCommand):
    help = (
        "Print the changes that cut the most principals' paths to an administrator (or a "
        "sensitive role), greedily: each removes the paths the ones before it left. One object "
        "per change: rank, item (kind trust_statement|identity_statement with policy, sid, "
        "index; kind attachment with policy, principal; or kind membership with user, group), "
        "label, paths_cut (principals that lose every path, counted exactly over the whole "
        "graph, a conditional one counting 0.5), principals (their number), conditional, "
        "what_if (the what_if arguments that make the change). The time taken goes to stderr."
    )

    # A read of the stored analysis: the system checks (they import every URL module) would
    # only add to its start-up time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--limit", type=int, default=None, help="at most N changes")
        parser.add_argument("--target", choices=TARGET_CHOICES, default=ADMIN)

    def handle(
        self, *args: Any, format: str, limit: int | None, target: str, **options: Any
    ) -> None:
        if limit is not None and limit < 1:
            raise CommandError(f"--limit {limit}: must be at least 1")
        if current_run() is None:
            raise CommandError("no analysis has run yet; run `manage.py analyse` first")
        clock = time.perf_counter()
        report = stored_report(target)
        points = report.points[:limit]
        self.stderr.write(
            f"{len(points)} choke points over {report.principals} principals that reach "
            f"{report.targets} targets ({report.target}) in "
            f"{time.perf_counter() - clock:.2f}s (ranked in {report.seconds}s, once per analysis)"
        )
        rows = [point.as_dict() for point in points]
        with stop_quietly_when_reader_closes(self.stdout):
            if format == "json":
                write_json_array(self.stdout, rows)
                return
            writer = SafeCsvWriter(self.stdout, lineterminator="\n")
            writer.writerow(FIELDS)
            for row in rows:
                writer.writerow(
                    [
                        json.dumps(row[name], sort_keys=True)
                        if isinstance(row[name], (dict, list, bool))
                        else str(row[name])
                        for name in FIELDS
                    ]
                )
