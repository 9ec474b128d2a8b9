"""Celery tasks: thin wrappers that load ids, call one stage function, log and return."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task, chain, chord, shared_task
from django.db import InterfaceError, OperationalError

from identities.analysis import analyse_estate
from identities.ingest.imports import import_files
from identities.sync.guards import reap_stale_runs
from identities.sync.runs import ORGANIZATION_LABEL, run_account_sync, start_organization_sync
from identities.sync.runs import finish_organization_sync as finish_organization_run

logger = logging.getLogger(__name__)


@shared_task(name="identities.import_bundle_file")
def import_bundle_file(*, path: str, analyse: bool = True) -> int:
    """Import a bundle file that the worker can read; returns the SyncRun id."""
    result = import_files([path])
    logger.info("imported %s as run %s", path, result.sync_run.pk)
    if analyse:
        analyse_estate_task.delay()
    return result.sync_run.pk


@shared_task(name="identities.analyse")
def analyse_estate_task() -> dict:
    """Recompute access edges and findings over the whole estate."""
    summary = analyse_estate()
    logger.info("analysis: %s", summary)
    return dict(summary)


# --- live sync from AWS ------------------------------------------------------------------------
# The logic is in identities.sync.runs; these wrappers only load ids, call it and fan out.

# Infrastructure errors before a run is claimed (database or Redis unreachable) are retried
# with backoff; AWS errors never reach here: run_account_sync records them on the run.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


@shared_task(
    bind=True,
    name="identities.sync_account",
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
    retry_jitter=True,
)
def sync_account(self: Task, *, run_id: int) -> dict[str, Any]:
    """Sync the account of the pending run `run_id`; returns the outcome (never raises for AWS)."""
    reap_stale_runs()
    outcome = run_account_sync(run_id=run_id, task_id=self.request.id or "")
    logger.info("sync_account run %s: %s %s", run_id, outcome.status, outcome.error)
    return outcome.as_dict()


@shared_task(
    name="identities.sync_organization",
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
)
def sync_organization(*, run_id: int | None = None, label: str = ORGANIZATION_LABEL) -> dict:
    """Discover the accounts, then one `sync_account` per account as a group, and once they are
    all done (failed ones included) close the run and analyse the whole estate (a chord)."""
    plan = start_organization_sync(run_id=run_id, label=label)
    if plan is None:
        logger.info("sync_organization: another organisation sync is running")
        return {"run_id": run_id, "accounts": 0, "started": False}
    body = chain(finish_organization_sync.si(run_id=plan.run_id), analyse_estate_task.si())
    if plan.child_run_ids:
        chord(sync_account.si(run_id=child) for child in plan.child_run_ids)(body)
    else:
        body.delay()
    return {"run_id": plan.run_id, "accounts": len(plan.child_run_ids), "started": True}


@shared_task(name="identities.finish_organization_sync")
def finish_organization_sync(*, run_id: int) -> dict:
    """Close an organisation run from its account runs."""
    run = finish_organization_run(run_id=run_id)
    return {"run_id": run.pk, "status": run.status}


@shared_task(name="identities.reap_stale_syncs")
def reap_stale_syncs() -> list[int]:
    """Fail the sync runs whose worker stopped sending heartbeats (beat runs this)."""
    return reap_stale_runs()


def queue_account_sync(*, run_id: int) -> None:
    """Queue one account's sync and then the analysis (call from `transaction.on_commit`)."""
    chain(sync_account.si(run_id=run_id), analyse_estate_task.si()).delay()


def queue_organization_sync(*, run_id: int) -> None:
    """Queue the organisation run `run_id` (call from `transaction.on_commit`)."""
    sync_organization.delay(run_id=run_id)
