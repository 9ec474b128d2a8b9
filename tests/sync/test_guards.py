"""identities.sync.guards: the reaper of runs whose worker died, heartbeats, and the Redis lock
(against a real Redis: skipped without REDIS_URL on a laptop, required in CI)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from identities.models import SyncRun
from identities.sync.guards import Heartbeat, account_lock, reap_stale_runs
from identities.sync.runs import request_account_sync, run_account_sync
from tests.conftest import require_service


def test_reaper_fails_running_runs_without_heartbeat(db: None) -> None:
    now = timezone.now()
    dead, _ = request_account_sync("111111111111")
    alive, _ = request_account_sync("222222222222")
    SyncRun.objects.filter(pk=dead.pk).update(
        status="running",
        started_at=now - timedelta(minutes=30),
        heartbeat_at=now - timedelta(minutes=11),
        phase="importing",
    )
    SyncRun.objects.filter(pk=alive.pk).update(
        status="running", started_at=now - timedelta(minutes=30), heartbeat_at=now
    )

    reaped = reap_stale_runs(now=now, stale=timedelta(minutes=10))

    dead.refresh_from_db()
    seen = timezone.localtime(now - timedelta(minutes=11)).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert reaped == [dead.pk]
    assert (dead.status, dead.finished_at) == ("failed", now)
    assert dead.error == (
        f"no heartbeat from its worker since {seen} (over 10 min) while importing: the worker "
        "stopped or was killed. Marked failed by the reaper; the previous data is unchanged."
    )
    assert SyncRun.objects.get(pk=alive.pk).status == "running"


def test_reaper_fails_old_pending_runs_only_when_nothing_progresses(db: None) -> None:
    now = timezone.now()
    queued, _ = request_account_sync("111111111111")
    busy, _ = request_account_sync("222222222222")
    SyncRun.objects.filter(pk=queued.pk).update(heartbeat_at=now - timedelta(minutes=20))
    SyncRun.objects.filter(pk=busy.pk).update(status="running", heartbeat_at=now)

    while_busy = reap_stale_runs(now=now, stale=timedelta(minutes=10))
    SyncRun.objects.filter(pk=busy.pk).update(status="succeeded")
    when_idle = reap_stale_runs(now=now, stale=timedelta(minutes=10))

    queued.refresh_from_db()
    assert (while_busy, when_idle) == ([], [queued.pk])
    assert queued.status == "failed"
    assert queued.error.endswith(
        "not started by a worker within 10 min while no other sync made progress: "
        "is a Celery worker running?"
    )


def test_a_reaped_account_can_be_requested_again(db: None) -> None:
    now = timezone.now()
    old, _ = request_account_sync("111111111111")
    SyncRun.objects.filter(pk=old.pk).update(
        status="running", heartbeat_at=now - timedelta(hours=1)
    )

    new, created = request_account_sync("111111111111")

    assert (created, new.pk != old.pk) == (True, True)
    assert SyncRun.objects.get(pk=old.pk).status == "failed"


def test_heartbeat_writes_phase_and_calls_at_most_once_an_interval(db: None) -> None:
    parent = SyncRun.objects.create(source="aws", status="running")
    run = SyncRun.objects.create(
        source="aws", status="running", target_account_id="111111111111", parent=parent
    )
    heartbeat = Heartbeat(run.pk, parent.pk, interval=3600)
    heartbeat.counter.calls = 4

    heartbeat.on_aws_call("iam.GetAccountAuthorizationDetails")
    heartbeat.on_aws_call("sts.AssumeRole")  # within the interval: not written

    run.refresh_from_db()
    parent.refresh_from_db()
    assert (run.phase, run.aws_calls) == ("reading authorization details (page 1)", 4)
    assert run.heartbeat_at is not None
    assert parent.heartbeat_at == run.heartbeat_at


@pytest.mark.services
def test_redis_lock_admits_one_holder_and_skips_a_redelivered_task(
    settings: Any, transactional_db: None
) -> None:
    settings.REDIS_URL = require_service("Redis", os.environ.get("REDIS_URL"))
    account_id = "999999999999"
    running, _ = request_account_sync(account_id)
    lock = account_lock(account_id, running.pk)
    assert lock.acquire()
    try:
        second = account_lock(account_id, running.pk + 1)

        redelivered = run_account_sync(run_id=running.pk)

        assert (second.acquire(), second.holder_run_id()) == (False, running.pk)
        assert (redelivered.status, redelivered.error) == ("skipped", "run by another worker")
        assert SyncRun.objects.get(pk=running.pk).status == "pending"
    finally:
        lock.release()
    assert second.acquire()
    second.release()
