"""Import bundles or get-account-authorization-details files: python manage.py import_authz PATH..."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis import analyse_estate
from identities.bundle import BundleError
from identities.ingest.imports import import_files


class Command(BaseCommand):
    help = "Import one or more iamviz bundles or `aws iam get-account-authorization-details` files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument(
            "--account-name", help="display name for the account of a single-account file"
        )
        parser.add_argument("--no-analyse", action="store_true", help="skip the access analysis")

    def handle(
        self,
        *args: Any,
        paths: list[Path],
        account_name: str | None,
        no_analyse: bool,
        **options: Any,
    ) -> None:
        started = time.perf_counter()
        try:
            result = import_files(paths, account_name=account_name)
        except BundleError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        run = result.sync_run
        counts = ", ".join(f"{value} {name}" for name, value in run.counts.items())
        changed = sum(sum(actions.values()) for actions in run.change_counts.values())
        self.stdout.write(
            f"Imported {run.label} as sync run #{run.pk}: {counts}; {changed} changes "
            f"in {time.perf_counter() - started:.1f}s"
        )
        if not no_analyse:
            self._analyse()

    def _analyse(self) -> None:
        started = time.perf_counter()
        summary = analyse_estate()
        self.stdout.write(f"Analysed the estate in {time.perf_counter() - started:.1f}s: {summary}")
