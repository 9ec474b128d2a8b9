"""What-ifs answered by a worker: the editor's "Show the difference" where a broker is set up
(`IAMVIZ_WHAT_IF_IN_BACKGROUND`, default on with `REDIS_URL`). A proposal that falls back to
analysing the whole changed estate takes minutes at 50 accounts, past a web worker's timeout;
the page polls the job instead and shows the same summary (`answer_summary`) once answered.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from identities.analysis.what_if import WhatIfError, answer_summary, proposal_from, what_if
from identities.bundle import BundleError
from identities.models import WhatIfJob, WhatIfProposal

logger = logging.getLogger(__name__)

# A job still queued after this long gets a word on the page (no worker consumes its queue).
QUEUED_TOO_LONG = timedelta(minutes=1)


def in_background() -> bool:
    return bool(settings.IAMVIZ_WHAT_IF_IN_BACKGROUND)


def request_what_if(
    changes: list[list[Any]],
    user: User | AnonymousUser,
    *,
    now: datetime,
    proposal: WhatIfProposal | None = None,
) -> WhatIfJob:
    """Record the proposal's job (for a saved ``proposal``, whose result it then stores) and
    queue it once the row is committed."""
    from identities.tasks import what_if_task  # the tasks import the stages

    job = WhatIfJob.objects.create(
        changes=changes,
        requested_by=user if isinstance(user, User) else None,
        proposal=proposal,
        created_at=now,
    )
    transaction.on_commit(lambda: what_if_task.delay(job_id=job.pk))
    return job


def answer_job(job_id: int) -> WhatIfJob:
    """Answer the job's proposal against the current analysis (a redelivered job is answered
    again). A proposal the evaluation refuses fails the job with the reason, as the editor
    would show it; any other error too, and is raised for the worker's log."""
    job = WhatIfJob.objects.get(pk=job_id)
    if job.status == WhatIfJob.Status.DONE:
        return job
    WhatIfJob.objects.filter(pk=job.pk).update(
        status=WhatIfJob.Status.RUNNING, started_at=timezone.now(), error=""
    )
    try:
        summary = answer_summary(what_if(proposal_from(job.changes, source="the editor")))
    except (WhatIfError, BundleError) as exc:
        _failed(job, str(exc))
        return WhatIfJob.objects.get(pk=job.pk)
    except Exception as exc:
        _failed(job, f"{type(exc).__name__}: {exc}")
        raise
    now = timezone.now()
    with transaction.atomic():
        WhatIfJob.objects.filter(pk=job.pk).update(
            status=WhatIfJob.Status.DONE, result=summary, finished_at=now
        )
        if job.proposal_id is not None:
            WhatIfProposal.objects.filter(pk=job.proposal_id).update(
                result=summary, computed_run_id=summary["run"], computed_at=now
            )
    return WhatIfJob.objects.get(pk=job.pk)


def latest_job(proposal: WhatIfProposal) -> WhatIfJob | None:
    """The saved proposal's job to show: one being answered, or one that failed since its
    result was last computed."""
    job = proposal.jobs.order_by("-created_at", "-pk").first()
    if job is None or job.status == WhatIfJob.Status.DONE:
        return None
    if job.status == WhatIfJob.Status.FAILED and proposal.computed_at is not None:
        return job if job.created_at > proposal.computed_at else None
    return job


def _failed(job: WhatIfJob, error: str) -> None:
    logger.warning("what-if job %s failed: %s", job.pk, error)
    WhatIfJob.objects.filter(pk=job.pk).update(
        status=WhatIfJob.Status.FAILED, error=error, finished_at=timezone.now()
    )


def waiting(job: WhatIfJob, *, now: datetime) -> str:
    """What to tell of a job no worker has started ("" otherwise)."""
    if job.status == WhatIfJob.Status.QUEUED and now - job.created_at > QUEUED_TOO_LONG:
        return (
            "No worker has started it yet: the analysis queue's worker is busy (an analysis or "
            "an export goes first), or none consumes that queue (make worker, or docker "
            "compose's analysis worker)."
        )
    return ""
