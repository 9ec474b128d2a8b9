"""Closing an organisation run from its account runs, and saying what a run applied.

The organisation chord's closing task calls `finish_organization_sync`; so does the reaper when
that task never comes (a worker died). `applied_summary` is how both, and the reaper's messages,
say exactly which accounts applied their changes and which kept their previous data.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.utils import timezone

from identities.models import Account, Change, SyncRun
from identities.sync.config import ACTIVE

logger = logging.getLogger(__name__)


def finish_organization_sync(*, run_id: int) -> SyncRun:
    """Close an organisation run from its account runs: totals, change counts, and failed when
    any account failed (naming them with their errors). Idempotent."""
    run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
    if run.status not in ACTIVE:
        return run
    children = list(run.children.defer("bundle_gzip").order_by("target_account_id"))
    counts: dict[str, int] = defaultdict(int)
    changes: dict[str, dict[str, int]] = defaultdict(
        lambda: {"added": 0, "removed": 0, "changed": 0}
    )
    for kind, actions in (run.change_counts or {}).items():
        for action, value in actions.items():
            changes[kind][action] += value
    for child in children:
        for name, value in (child.counts or {}).items():
            counts[name] += value
        for kind, actions in (child.change_counts or {}).items():
            for action, value in actions.items():
                changes[kind][action] += value
    failed = [child for child in children if child.status == SyncRun.Status.FAILED]
    unfinished = [child for child in children if child.status in ACTIVE]
    problems = [f"{child.target_account_id}: {child.error}" for child in failed]
    problems += [f"{child.target_account_id}: still {child.status}" for child in unfinished]
    if problems:
        status = SyncRun.Status.FAILED
        error = f"{len(problems)} of {len(children)} accounts failed\n" + "\n".join(problems)
    elif not children:
        status = SyncRun.Status.FAILED
        error = "no accounts to sync: " + (
            "; ".join(run.warnings) if run.warnings else "configure accounts or enable discovery"
        )
    else:
        status, error = SyncRun.Status.SUCCEEDED, ""
    # Conditional: the chord's closing task and the reaper may close the same run.
    SyncRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        status=status,
        error=error,
        counts=dict(counts),
        change_counts={kind: dict(actions) for kind, actions in sorted(changes.items())},
        aws_calls=run.aws_calls + sum(child.aws_calls for child in children),
        aws_retries=run.aws_retries + sum(child.aws_retries for child in children),
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        phase="",
    )
    run.refresh_from_db()
    logger.info("Sync run %s finished %s: %d accounts", run.pk, run.status, len(children))
    return run


def account_applied(run_id: int, account_id: str) -> str:
    """What an account run that never closed did to its account, in one sentence."""
    if Account.objects.filter(account_id=account_id, last_sync_run_id=run_id).exists():
        changes = Change.objects.filter(sync_run_id=run_id).count()
        return (
            f"its import of account {account_id} was applied ({changes} changes recorded) "
            "before the worker stopped"
        )
    previous = (
        Account.objects.filter(account_id=account_id)
        .values_list("last_sync_run_id", flat=True)
        .first()
    )
    keeps = f"the data of run #{previous}" if previous else "no data (never synced)"
    return f"nothing of it was applied: account {account_id} keeps {keeps}"


def organization_applied(run: SyncRun) -> str:
    """Which accounts of an organisation run applied their changes and which did not."""
    children = list(
        run.children.order_by("target_account_id").values_list("target_account_id", "status")
    )
    applied = [account for account, status in children if status == SyncRun.Status.SUCCEEDED]
    others = [account for account, status in children if status != SyncRun.Status.SUCCEEDED]
    parts = [f"{len(applied)} of {len(children)} accounts applied their changes"]
    if applied:
        parts[0] += f" ({', '.join(applied)})"
    if others:
        parts.append(f"{len(others)} did not and keep their previous data ({', '.join(others)})")
    if run.change_counts:
        parts.append("the organisation's own changes (OUs, SCPs, membership) were applied")
    return "; ".join(parts)
