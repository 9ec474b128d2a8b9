"""Celery tasks: thin wrappers that load ids, call one stage function, log and return.

Three queues (routed in settings): `housekeeping` (the reaper, closing an organisation run),
`sync` (organisation and account syncs, file imports) and `analysis`. Every task is acknowledged
when it ends and put back in its queue when its worker process dies (`acks_late`,
`reject_on_worker_lost`), so a killed worker's sync is redelivered; the sync and analysis code
make a redelivered task harmless (it takes a dead run over, or finds it finished).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task, chord, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from identities.exporting import build_export, prune_exports
from identities.ingest.archive import prune_bundles as prune_archived_bundles
from identities.ingest.imports import import_files
from identities.models import SyncRun
from identities.notify import attempt_delivery, plan_notifications
from identities.queries.shared_cache import warm_run
from identities.sync.analysis_queue import (
    reap_dead_analyses,
    request_analysis,
    run_pending_analysis,
)
from identities.sync.finish import finish_organization_sync as finish_organization_run
from identities.sync.guards import reap_stale_runs
from identities.sync.runs import ORGANIZATION_LABEL, run_account_sync, start_organization_sync
from identities.what_if_jobs import answer_job

logger = logging.getLogger(__name__)

# A throttled account is tried this many more times, later in the same run, before it fails.
THROTTLE_RETRIES = 2
# A redelivered sync waits for its dead predecessor's heartbeat to go stale at most this often.
TAKEOVER_RETRIES = 10


def _limits(queue: str) -> dict[str, Any]:
    """Celery options of a task of `queue` (settings.CELERY_TASK_ROUTES routes it): its time
    limits (settings.IAMVIZ_TIME_LIMITS) and redelivery when its worker dies."""
    hard = settings.IAMVIZ_TIME_LIMITS[queue]
    return {
        "time_limit": hard,
        "soft_time_limit": max(hard - 60, hard * 5 // 6),
        "acks_late": True,
        "reject_on_worker_lost": True,
    }


@shared_task(name="identities.import_bundle_file", **_limits("sync"))
def import_bundle_file(*, path: str, analyse: bool = True) -> int:
    """Import a bundle file that the worker can read; returns the SyncRun id."""
    result = import_files([path])
    logger.info("imported %s as run %s", path, result.sync_run.pk)
    if analyse:
        queue_analysis()
    return result.sync_run.pk


@shared_task(bind=True, name="identities.analyse", **_limits("analysis"))
def analyse_estate_task(self: Task, *, analysis_id: int | None = None) -> dict[str, Any]:
    """Analyse the whole estate, single-flight: without `analysis_id` ask for an analysis (none
    is made when one waits already), then run the pending one unless another analysis runs."""
    if analysis_id is None:
        analysis_id = request_analysis()
        if analysis_id is None:
            logger.info("analysis: one is pending already, it covers this request")
            return {"analysis_id": None, "status": "covered by the pending analysis"}
    outcome = run_pending_analysis(analysis_id)
    logger.info("analysis %s: %s", analysis_id, outcome.status)
    if outcome.status == "succeeded":
        queue_notifications(run_id=analysis_id)
        if outcome.queue_next is None:  # else the next run's results replace these soon
            warm_run()
    if outcome.queue_next is not None:
        analyse_estate_task.delay(analysis_id=outcome.queue_next)
    return outcome.as_dict()


def queue_analysis() -> None:
    """Ask for an analysis and queue it once the caller's transaction commits. Asked for where
    the work ends (not as a task behind a running analysis), so that every request made while
    an analysis runs is covered by the one pending analysis."""
    analysis_id = request_analysis()
    if analysis_id is not None:
        transaction.on_commit(lambda: analyse_estate_task.delay(analysis_id=analysis_id))


# --- live sync from AWS ------------------------------------------------------------------------
# The logic is in identities.sync; these wrappers only load ids, call it and fan out.

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
    **_limits("sync"),
)
def sync_account(
    self: Task, *, run_id: int, deferrals: int = 0, analyse: bool = False
) -> dict[str, Any]:
    """Sync the account of the pending run `run_id`; returns the outcome (never raises for AWS).
    With `analyse` ("Sync now" of one account) an analysis is asked for once it is done.

    A throttled account, or a redelivered task whose dead predecessor's heartbeat is not stale
    yet, is tried again later (`deferrals` counts it); an organisation chord waits for it.
    """
    reap_stale_runs(spare=run_id)
    outcome = run_account_sync(
        run_id=run_id,
        task_id=self.request.id or "",
        defer_throttled=deferrals < THROTTLE_RETRIES,
    )
    logger.info("sync_account run %s: %s %s", run_id, outcome.status, outcome.error)
    if outcome.status == "deferred" and deferrals < TAKEOVER_RETRIES:
        retry = {
            "kwargs": {"run_id": run_id, "deferrals": deferrals + 1, "analyse": analyse},
            "countdown": outcome.retry_in,
            "max_retries": TAKEOVER_RETRIES + 3,
        }
        if self.request.is_eager:
            # In-process a raised Retry propagates; a returned one is run at once.
            return self.retry(**retry, throw=False)  # type: ignore[no-any-return]
        raise self.retry(**retry)
    if analyse and outcome.status == SyncRun.Status.SUCCEEDED:
        queue_analysis()
    return outcome.as_dict()


@shared_task(
    name="identities.sync_organization",
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
    **_limits("sync"),
)
def sync_organization(*, run_id: int | None = None, label: str = ORGANIZATION_LABEL) -> dict:
    """Discover the accounts, then one `sync_account` per account as a group, and once they are
    all done (failed ones included) close the run and ask for an analysis (a chord)."""
    plan = start_organization_sync(run_id=run_id, label=label)
    if plan is None:
        logger.info("sync_organization: another organisation sync is running")
        return {"run_id": run_id, "accounts": 0, "started": False}
    body = finish_organization_sync.si(run_id=plan.run_id)
    if plan.child_run_ids:
        chord(sync_account.si(run_id=child) for child in plan.child_run_ids)(body)
    else:
        body.delay()
    return {"run_id": plan.run_id, "accounts": len(plan.child_run_ids), "started": True}


@shared_task(name="identities.finish_organization_sync", **_limits("housekeeping"))
def finish_organization_sync(*, run_id: int) -> dict:
    """Close an organisation run from its account runs and ask for an analysis (unless no
    account synced)."""
    run = finish_organization_run(run_id=run_id)
    if run.children.filter(status=SyncRun.Status.SUCCEEDED).exists():
        queue_analysis()
    return {"run_id": run.pk, "status": run.status}


@shared_task(name="identities.reap_stale_syncs", **_limits("housekeeping"))
def reap_stale_syncs() -> dict[str, Any]:
    """Fail the syncs and analyses whose worker stopped sending heartbeats, close the
    organisation runs they leave behind and queue the analysis they owe (beat runs this)."""
    runs = reap_stale_runs()
    analyses = reap_dead_analyses()
    if analyses.queue is not None:
        analyse_estate_task.delay(analysis_id=analyses.queue)
    elif runs.closed:
        queue_analysis()
    return {"failed": runs.failed, "closed": runs.closed, "analyses_failed": analyses.failed}


@shared_task(name="identities.prune_bundles", **_limits("housekeeping"))
def prune_bundles() -> dict[str, int]:
    """Drop the archived bundles outside the retention, and the exports older than theirs
    (beat runs this)."""
    pruned = prune_archived_bundles()
    if pruned.archives:
        logger.info("pruned %d archived bundles (%d bytes)", pruned.archives, pruned.bytes)
    exports = prune_exports(now=timezone.now())
    if exports:
        logger.info("pruned %d exports", exports)
    return {"archives": pruned.archives, "bytes": pruned.bytes, "exports": exports}


@shared_task(name="identities.what_if", **_limits("analysis"))
def what_if_task(*, job_id: int) -> dict[str, Any]:
    """Answer a what-if job (`what_if_jobs.answer_job`)."""
    job = answer_job(job_id)
    return {"job": job.pk, "status": job.status}


@shared_task(name="identities.build_export", **_limits("analysis"))
def build_export_task(*, export_id: int) -> dict[str, Any]:
    """Build an export's file (`exporting.build_export`)."""
    export = build_export(export_id)
    return {"export": export.pk, "rows": export.rows_written, "bytes": export.size_bytes}


def queue_account_sync(*, run_id: int) -> None:
    """Queue one account's sync, which then asks for the analysis (call from
    `transaction.on_commit`)."""
    sync_account.delay(run_id=run_id, analyse=True)


def queue_organization_sync(*, run_id: int) -> None:
    """Queue the organisation run `run_id` (call from `transaction.on_commit`)."""
    sync_organization.delay(run_id=run_id)


# --- notifications after an analysis -----------------------------------------------------------
# identities.notify decides and sends; a failed delivery is retried here with backoff and, after
# the last attempt, recorded as failed. Nothing of it reaches the analysis or the sync.

NOTIFY_RETRIES = 5


@shared_task(name="identities.notify_analysis", **_limits("housekeeping"))
def notify_analysis(*, run_id: int) -> list[int]:
    """Plan the deliveries of what analysis `run_id` found notable and queue each one."""
    planned = plan_notifications(run_id=run_id)
    for delivery_id in planned:
        send_notification.delay(delivery_id=delivery_id)
    return planned


@shared_task(
    bind=True,
    name="identities.send_notification",
    max_retries=NOTIFY_RETRIES,
    **_limits("housekeeping"),
)
def send_notification(self: Task, *, delivery_id: int) -> Any:
    """Deliver one notification; retried with backoff (30 s doubling) until the last attempt."""
    final = self.request.retries >= NOTIFY_RETRIES
    outcome = attempt_delivery(delivery_id=delivery_id, final=final)
    if outcome != "retry":
        return outcome
    countdown = min(30 * 2**self.request.retries, 1800)
    if self.request.is_eager:
        # In-process (no broker) a raised Retry propagates; a returned one is run at once.
        return self.retry(countdown=countdown, throw=False)
    raise self.retry(countdown=countdown)


def queue_notifications(*, run_id: int) -> None:
    """Queue the notifications of an analysis; a failure is logged, never raised into it."""
    try:
        notify_analysis.delay(run_id=run_id)
    except Exception:
        logger.exception("the notifications of analysis %s failed", run_id)
