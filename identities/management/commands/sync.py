"""Sync from AWS in this process: python manage.py sync [--account ID] [--organization ...]

The same path as the Celery tasks (identities.sync.runs), one account after the other, with a
progress bar. Exits non-zero when an account failed. boto3 honours AWS_ENDPOINT_URL, so the
command runs against moto_server too.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from identities.arns import is_account_id
from identities.models import AccountSyncConfig, SyncRun
from identities.queries.sync import total_changes
from identities.sync.config import load_settings
from identities.sync.finish import finish_organization_sync
from identities.sync.runs import (
    AccountOutcome,
    request_account_sync,
    run_account_sync,
    start_organization_sync,
)
from identities.tasks import analyse_estate_task


class Command(BaseCommand):
    help = (
        "Sync accounts from AWS now: every configured (or discovered) account, or --account ID. "
        "With no accounts configured, --organization --role-name NAME discovers them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account",
            action="append",
            dest="accounts",
            metavar="ID",
            help="sync only this account (repeatable); added to the configuration if missing",
        )
        parser.add_argument(
            "--organization",
            action="store_true",
            help="discover the accounts through AWS Organizations (saved in the sync settings)",
        )
        parser.add_argument(
            "--role-name",
            help="read-only role to assume in each account (saved in the sync settings)",
        )
        parser.add_argument(
            "--external-id", help="ExternalId for AssumeRole (saved in the sync settings)"
        )
        parser.add_argument("--no-analyse", action="store_true", help="skip the access analysis")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(
        self,
        *args: Any,
        accounts: list[str] | None,
        organization: bool,
        role_name: str | None,
        external_id: str | None,
        no_analyse: bool,
        no_progress: bool,
        **options: Any,
    ) -> None:
        self._save_settings(organization, role_name, external_id)
        if accounts:
            run_ids = [self._request_account(account_id) for account_id in accounts]
            outcomes = self._run_accounts(run_ids, no_progress=no_progress)
        else:
            sync_settings = load_settings()
            if (
                not sync_settings.discover_accounts
                and not AccountSyncConfig.objects.filter(enabled=True).exists()
            ):
                raise CommandError(
                    "No accounts are configured and discovery is off. Add accounts on the sync "
                    "settings page, or discover them: manage.py sync --organization "
                    "--role-name NAME [--external-id X]"
                )
            plan = start_organization_sync(
                discover=True if organization else None, label="organisation (command line)"
            )
            if plan is None:
                raise CommandError("An organisation sync is already running.")
            outcomes = self._run_accounts(plan.child_run_ids, no_progress=no_progress)
            parent = finish_organization_sync(run_id=plan.run_id)
            for warning in parent.warnings:
                self.stderr.write(self.style.WARNING(f"warning: {warning}"))
            if not plan.child_run_ids:
                raise CommandError(f"Sync run #{parent.pk} failed: {parent.error}")

        for outcome in outcomes:
            self._report(outcome)
        failed = [outcome for outcome in outcomes if outcome.status == SyncRun.Status.FAILED]
        if not no_analyse and len(failed) < len(outcomes):
            analyse_estate_task()
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(outcomes)} accounts failed: "
                + ", ".join(outcome.account_id for outcome in failed)
            )
        self.stdout.write(self.style.SUCCESS(f"{len(outcomes)} accounts synced."))

    def _save_settings(
        self, organization: bool, role_name: str | None, external_id: str | None
    ) -> None:
        sync_settings = load_settings()
        changed = []
        if organization and not sync_settings.discover_accounts:
            sync_settings.discover_accounts = True
            changed.append("discover_accounts")
        if role_name is not None and role_name != sync_settings.role_name:
            sync_settings.role_name = role_name
            changed.append("role_name")
        if external_id is not None and external_id != sync_settings.external_id:
            sync_settings.external_id = external_id
            changed.append("external_id")
        if changed:
            # The first save creates the row (load_settings reads, never writes).
            sync_settings.save(update_fields=changed if sync_settings.pk else None)
            self.stdout.write(f"Saved in the sync settings: {', '.join(changed)}")

    def _request_account(self, account_id: str) -> int:
        if not is_account_id(account_id):
            raise CommandError(f"{account_id!r} is not a 12-digit AWS account id")
        _, created = AccountSyncConfig.objects.get_or_create(account_id=account_id)
        if created:
            self.stdout.write(f"Added account {account_id} to the sync configuration")
        run, created = request_account_sync(
            account_id, label=f"account {account_id} (command line)"
        )
        if not created:
            raise CommandError(f"Account {account_id} is already being synced by run #{run.pk}.")
        return run.pk

    def _run_accounts(self, run_ids: list[int], *, no_progress: bool) -> list[AccountOutcome]:
        outcomes = []
        with tqdm(
            total=len(run_ids), unit="account", file=sys.stderr, disable=no_progress
        ) as progress:
            for run_id in run_ids:
                progress.set_postfix_str(
                    SyncRun.objects.values_list("target_account_id", flat=True).get(pk=run_id)
                )
                outcomes.append(run_account_sync(run_id=run_id))
                progress.update(1)
        return outcomes

    def _report(self, outcome: AccountOutcome) -> None:
        run = SyncRun.objects.defer("bundle_gzip").get(pk=outcome.run_id)
        took = f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "-"
        if outcome.status == SyncRun.Status.SUCCEEDED:
            counts = ", ".join(
                f"{run.counts.get(name, 0)} {name}" for name in ("users", "groups", "roles")
            )
            changes = total_changes(run.change_counts)
            self.stdout.write(
                f"ok    {outcome.account_id}: {counts}; {changes} changes; "
                f"{outcome.aws_calls} AWS calls ({outcome.aws_retries} retries); {took}"
            )
        else:
            self.stdout.write(
                self.style.ERROR(f"{outcome.status:<6}{outcome.account_id}: {outcome.error}")
            )
