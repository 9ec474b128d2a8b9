"""Single-flight analysis: at most one analysis runs and at most one waits.

Every sync, organisation run and import asks for an analysis of the whole estate, and each one
alone would be enough to cover all the others that came before it started. So a request makes
a *pending* AnalysisRun unless one is pending already (a partial unique constraint decides), and
a pending analysis starts only when none is running; one that finishes starts the pending one.
Ten clicks and three imports during an analysis therefore make exactly one more analysis.

An analysis whose worker died (no heartbeat for `stale_after()`, or, run in-process without a
heartbeat, older than the analysis time limit) is failed by `reap_dead_analyses`, which then
asks for a new one: the estate still needs the analysis that was lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from identities.analysis import analyse_estate
from identities.models import AnalysisRun
from identities.sync.config import stale_after
from identities.sync.guards import beating

logger = logging.getLogger(__name__)


def request_analysis() -> int | None:
    """Ask for an analysis; returns the id of the new pending analysis, whose task the caller
    queues, or None when one is pending already (it will cover this request)."""
    try:
        with transaction.atomic():
            pending = AnalysisRun.objects.create(
                status=AnalysisRun.Status.PENDING, started_at=timezone.now()
            )
    except IntegrityError:
        return None
    return pending.pk


@dataclass(frozen=True)
class AnalysisOutcome:
    """What `run_pending_analysis` did: ran (with the summary), waits behind a running one,
    or found nothing to do; and the pending analysis to queue next, if any."""

    analysis_id: int
    status: str
    summary: dict[str, Any] | None = None
    queue_next: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_pending_analysis(analysis_id: int) -> AnalysisOutcome:
    """Run the pending analysis `analysis_id` unless another one runs (then it waits: the
    running one queues it when it finishes). Redelivered or duplicate calls do nothing."""
    if not _claim(analysis_id):
        status = AnalysisRun.objects.filter(pk=analysis_id).values_list("status", flat=True).first()
        if status == AnalysisRun.Status.PENDING:
            return AnalysisOutcome(analysis_id, "waiting")
        return AnalysisOutcome(analysis_id, f"already {status or 'gone'}")
    run = AnalysisRun.objects.get(pk=analysis_id)
    try:
        with beating(lambda: _beat(analysis_id)):
            summary = analyse_estate(run=run)
    finally:
        queue_next = next_pending()
    return AnalysisOutcome(analysis_id, "succeeded", dict(summary), queue_next)


def _claim(analysis_id: int) -> bool:
    """pending -> running, only while no analysis runs: one claimer at a time (row lock)."""
    with transaction.atomic():
        pending = (
            AnalysisRun.objects.select_for_update()
            .filter(pk=analysis_id, status=AnalysisRun.Status.PENDING)
            .first()
        )
        if pending is None:
            return False
        if AnalysisRun.objects.filter(status=AnalysisRun.Status.RUNNING).exists():
            return False
        now = timezone.now()
        AnalysisRun.objects.filter(pk=analysis_id).update(
            status=AnalysisRun.Status.RUNNING, started_at=now, heartbeat_at=now
        )
    return True


def _beat(analysis_id: int) -> None:
    AnalysisRun.objects.filter(pk=analysis_id, status=AnalysisRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def next_pending() -> int | None:
    """The pending analysis to queue now that none runs, if there is one."""
    if AnalysisRun.objects.filter(status=AnalysisRun.Status.RUNNING).exists():
        return None
    return (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.PENDING)
        .values_list("pk", flat=True)
        .first()
    )


def analysis_time_limit() -> timedelta:
    return timedelta(seconds=settings.IAMVIZ_TIME_LIMITS["analysis"])


@dataclass
class ReapedAnalyses:
    failed: list[int]
    queue: int | None  # a pending analysis nobody started: queue its task (again)


def reap_dead_analyses(*, now: datetime | None = None) -> ReapedAnalyses:
    """Fail the running analyses whose worker died, and find the pending analysis to queue.

    A failed analysis never replaced the stored results (they are written in one transaction
    at its end), so the message says which analysis they still come from. A new analysis is
    asked for in its place. A pending analysis with none running is returned to be queued: its
    task was lost with a worker (queueing it twice is harmless).
    """
    now = now or timezone.now()
    stale = stale_after()
    dead = AnalysisRun.objects.filter(status=AnalysisRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=now - stale)
        | Q(heartbeat_at__isnull=True, started_at__lt=now - analysis_time_limit())
    )
    failed: list[int] = []
    for run in dead.only("pk", "heartbeat_at", "started_at"):
        current = (
            AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        seen = run.heartbeat_at or run.started_at
        error = (
            f"no heartbeat from its worker since {timezone.localtime(seen):%Y-%m-%d %H:%M:%S %Z}"
            f" (over {stale.total_seconds():.0f} s): the worker stopped or was killed. Marked "
            "failed by the reaper; nothing of it was stored: "
            + (
                f"the results shown are still those of analysis #{current}."
                if current
                else "there are no stored results yet."
            )
            + " A new analysis was requested."
        )
        if AnalysisRun.objects.filter(pk=run.pk, status=AnalysisRun.Status.RUNNING).update(
            status=AnalysisRun.Status.FAILED, error=error, finished_at=now
        ):
            failed.append(run.pk)
    if failed:
        logger.warning("Reaped dead analyses %s", failed)
        request_analysis()
    queue = None
    if not AnalysisRun.objects.filter(status=AnalysisRun.Status.RUNNING).exists():
        queue = (
            AnalysisRun.objects.filter(
                status=AnalysisRun.Status.PENDING, started_at__lt=now - stale
            )
            .values_list("pk", flat=True)
            .first()
        )
        if failed and queue is None:
            queue = next_pending()
    return ReapedAnalyses(failed, queue)
