"""Run the access analysis alone: python manage.py analyse [--now 2026-11-28]"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis import analyse_estate
from identities.models import AnalysisRun


class Command(BaseCommand):
    help = "Compute and store access edges, administrators and findings for the whole estate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="reference date for stale credentials (ISO 8601; default: now)",
        )

    def handle(self, *args: Any, now: str | None, **options: Any) -> None:
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
        run = AnalysisRun.objects.get(pk=summary["run"])
        stages = ", ".join(f"{name} {seconds}s" for name, seconds in run.timings.items())
        self.stdout.write(f"Stages: {stages}")
        self.stdout.write(f"Analysed the estate in {time.perf_counter() - started:.1f}s: {summary}")
