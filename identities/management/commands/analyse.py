"""Run the access analysis alone, then warm the shared cache of the new run as the analysis task
does: python manage.py analyse [--now 2026-11-28] [--no-warm]"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis import analyse_estate
from identities.models import AnalysisRun
from identities.queries.shared_cache import warm_run


class Command(BaseCommand):
    help = (
        "Compute and store access edges, administrators and findings for the whole estate, "
        "then fill the shared cache of the new run (as the analysis task does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="reference date for stale credentials (ISO 8601; default: now)",
        )
        parser.add_argument(
            "--no-warm",
            action="store_true",
            help="do not fill the shared cache of the new run (pages then fill it on first use)",
        )

    def handle(self, *args: Any, now: str | None, no_warm: bool, **options: Any) -> None:
        reference = None
        if now:
            try:
                reference = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO 8601 date: {now!r}") from exc
            if reference.tzinfo is None:
                reference = reference.replace(tzinfo=UTC)
        started = time.perf_counter()
        summary = analyse_estate(now=reference)
        seconds = time.perf_counter() - started
        run = AnalysisRun.objects.get(pk=summary["run"])
        stages = ", ".join(f"{name} {stage_s}s" for name, stage_s in run.timings.items())
        self.stdout.write(f"Stages: {stages}")
        if not no_warm:
            warm_started = time.perf_counter()
            took = warm_run()
            slowest = sorted(took.items(), key=lambda item: (-item[1], item[0]))
            self.stdout.write(
                f"Warmed the shared cache in {time.perf_counter() - warm_started:.1f}s: "
                + ", ".join(f"{name} {took_s:.1f}s" for name, took_s in slowest)
            )
        # Last, so that scripts reading the final line (bench/run.py) find the summary.
        self.stdout.write(f"Analysed the estate in {seconds:.1f}s: {summary}")
