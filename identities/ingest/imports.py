"""The whole import: a validated bundle (or files) -> a recorded SyncRun and its change set.

Every source ends here: `import_files` for files (the import_authz command, the import task),
`import_bundle` for a bundle in memory (a live sync), `import_organization` for the
organisation section a live sync applies before its accounts.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from identities import models
from identities.bundle import BundleError, parse_files, read_file
from identities.db import BATCH, refresh_planner_statistics
from identities.ingest.apply import ChangeLog, apply_estate, apply_organization
from identities.ingest.archive import archive_bundle
from identities.ingest.normalise import AccountRows, normalise_bundle, normalise_organization

logger = logging.getLogger(__name__)

# A change this large (a first import, a big sync) leaves PostgreSQL's statistics stale.
STATISTICS_AFTER_CHANGES = 1000
ESTATE_STATISTICS: dict[type[Model], tuple[str, ...]] = {
    models.IamUser: ("account_id", "unique_id", "arn", "name"),
    models.IamGroup: ("account_id", "unique_id", "arn", "name"),
    models.IamRole: ("account_id", "unique_id", "arn", "name"),
    models.ManagedPolicy: ("account_id", "arn", "name", "is_aws_managed"),
    models.PolicyVersion: ("policy_id",),
    models.GroupMembership: ("user_id", "group_id"),
    models.PolicyAttachment: ("policy_id", "user_id", "group_id", "role_id"),
    models.InlinePolicy: ("account_id", "user_id", "group_id", "role_id"),
    models.Change: ("sync_run_id", "kind"),
}
Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]


@dataclass
class ImportResult:
    sync_run: models.SyncRun
    changes: ChangeLog | None
    warnings: list[str]


def import_bundle(
    bundle: dict[str, Any],
    *,
    source: str = models.SyncRun.Source.IMPORT,
    label: str = "",
    raw: bytes | None = None,
    sync_run: models.SyncRun | None = None,
) -> ImportResult:
    """Normalise and apply a validated bundle (see `bundle.read_bundle`), recording a SyncRun.

    The run is saved as running before the transaction and marked failed (with the error) after
    it if anything goes wrong, so a failed import is visible and the estate is untouched.
    """
    run = sync_run or models.SyncRun(source=source, label=label)
    run.status = models.SyncRun.Status.RUNNING
    run.started_at = run.started_at or timezone.now()
    run.save()
    try:
        estate = normalise_bundle(bundle)
        run.account_ids = [rows.account_id for rows in estate.accounts]
        run.counts = _sum_counts(estate.accounts)
        if raw is not None:
            archive_bundle(run, raw)
        changes = apply_estate(estate, run)
    except Exception as exc:
        run.status = models.SyncRun.Status.FAILED
        run.error = str(exc) if isinstance(exc, BundleError) else f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save()
        raise
    if changes.total() >= STATISTICS_AFTER_CHANGES:
        refresh_planner_statistics(ESTATE_STATISTICS)
    run.status = models.SyncRun.Status.SUCCEEDED
    run.change_counts = {kind: dict(actions) for kind, actions in sorted(changes.counts.items())}
    run.warnings = [*(run.warnings or []), *changes.warnings]
    run.finished_at = timezone.now()
    run.save()
    logger.info("import %s: %d accounts, %d changes", run.pk, len(estate.accounts), changes.total())
    return ImportResult(run, changes, estate.warnings)


def import_files(paths: Sequence[str | Path], *, account_name: str | None = None) -> ImportResult:
    """Read, validate and import files (bundles, or pages of authorization details) as one run.

    Each file is read once. The run archives the file as given, or the merged bundle when
    there are several. ``account_name`` names the account of a single-account input.
    """
    files = [(str(path), read_file(path)) for path in paths]
    label = ", ".join(Path(path).name for path in paths)
    bundle = parse_files(files)
    if account_name:
        if len(bundle["accounts"]) != 1:
            raise BundleError(label, "$.accounts", "a display name needs exactly one account")
        bundle["accounts"][0]["name"] = account_name
    raw = files[0][1] if len(files) == 1 else json.dumps(bundle).encode()
    return import_bundle(bundle, label=label, raw=raw)


def import_organization(organization: dict[str, Any], *, sync_run: models.SyncRun) -> ChangeLog:
    """Apply a validated `organization` section alone (see `bundle.validate_organization`).

    A live sync of an organisation applies roots, OUs, SCPs/RCPs and membership once, in one
    transaction, then imports each account's bundle on its own. The changes are recorded on
    `sync_run`; its status is left to the caller.
    """
    rows = normalise_organization(organization)
    changes = ChangeLog(sync_run)
    if rows is None:
        return changes
    with transaction.atomic():
        apply_organization(rows, changes)
        models.Change.objects.bulk_create(changes.entries, batch_size=BATCH)
    return changes


def _sum_counts(accounts: list[AccountRows]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for rows in accounts:
        for name, value in rows.counts().items():
            totals[name] += value
    totals["accounts"] = len(accounts)
    return dict(totals)
