"""Import bundles or get-account-authorization-details files: python manage.py import_authz PATH..."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis import analyse_estate
from identities.bundle import BundleError, read_bundles
from identities.ingest import import_bundle


class Command(BaseCommand):
    help = "Import one or more iamviz bundles or `aws iam get-account-authorization-details` files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument(
            "--account-name", help="display name for the account of a single-account file"
        )
        parser.add_argument("--no-analyse", action="store_true", help="skip the access analysis")

    def handle(
        self, *args, paths: list[Path], account_name: str | None, no_analyse: bool, **options
    ) -> None:
        started = time.perf_counter()
        try:
            bundle = read_bundles(paths)
        except BundleError as exc:
            raise CommandError(str(exc)) from exc
        if account_name:
            if len(bundle["accounts"]) != 1:
                raise CommandError("--account-name needs exactly one account in the input")
            bundle["accounts"][0]["name"] = account_name
        label = ", ".join(path.name for path in paths)
        raw = paths[0].read_bytes() if len(paths) == 1 else json.dumps(bundle).encode()
        try:
            result = import_bundle(bundle, label=label, raw=raw)
        except BundleError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        run = result.sync_run
        counts = ", ".join(f"{value} {name}" for name, value in run.counts.items())
        changed = sum(sum(actions.values()) for actions in run.change_counts.values())
        self.stdout.write(
            f"Imported {label} as sync run #{run.pk}: {counts}; {changed} changes "
            f"in {time.perf_counter() - started:.1f}s"
        )
        if not no_analyse:
            self._analyse()

    def _analyse(self) -> None:
        started = time.perf_counter()
        summary = analyse_estate()
        self.stdout.write(f"Analysed the estate in {time.perf_counter() - started:.1f}s: {summary}")
