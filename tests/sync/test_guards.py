"""identities.sync.guards: the reaper of runs whose worker died, heartbeats, and the Redis lock
(against a real Redis: skipped without REDIS_URL on a laptop, required in CI)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import boto3
import pytest
from django.utils import timezone

from identities.models import Account, Change, SyncRun
from identities.sync.guards import Heartbeat, account_lock, reap_stale_runs
from identities.sync.runs import request_account_sync, request_organization_sync, run_account_sync
from tests.awsfake import FakeOrg
from tests.conftest import require_service, users_of


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
    assert reaped.failed == [dead.pk]
    assert (dead.status, dead.finished_at) == ("failed", now)
    assert dead.error == (
        f"no heartbeat from its worker since {seen} (over 600 s) while importing: the worker "
        "stopped or was killed. Marked failed by the reaper; nothing of it was applied: "
        "account 111111111111 keeps no data (never synced)."
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
    assert (while_busy.failed, when_idle.failed) == ([], [queued.pk])
    assert queued.status == "failed"
    assert queued.error.endswith(
        "not started by a worker within 600 s while no other sync made progress: "
        "is a Celery worker running? Nothing was applied."
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
def test_redis_lock_admits_one_holder_and_defers_a_redelivered_task_while_it_beats(
    settings: Any, transactional_db: None
) -> None:
    settings.REDIS_URL = require_service("Redis", os.environ.get("REDIS_URL"))
    account_id = "999999999999"
    running, _ = request_account_sync(account_id)
    SyncRun.objects.filter(pk=running.pk).update(status="running", heartbeat_at=timezone.now())
    lock = account_lock(account_id, running.pk)
    assert lock.acquire()
    try:
        second = account_lock(account_id, running.pk + 1)

        redelivered = run_account_sync(run_id=running.pk)

        assert (second.acquire(), second.holder_run_id()) == (False, running.pk)
        assert redelivered.status == "deferred"
        assert redelivered.error.startswith("run by another worker (heartbeat 0 s ago)")
        assert 60 <= redelivered.retry_in <= 81
        assert SyncRun.objects.get(pk=running.pk).status == "running"
    finally:
        lock.release()
    assert second.acquire()
    second.release()


@pytest.mark.services
def test_a_redelivered_task_takes_over_a_run_whose_worker_died(
    settings: Any, transactional_db: None, fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    """Issue 15 item 1: the dead run's lock was still held, and the task gave up on it."""
    settings.REDIS_URL = require_service("Redis", os.environ.get("REDIS_URL"))
    dev = fake_org.accounts["dev"]
    run, _ = request_account_sync(dev)
    dead_since = timezone.now() - timedelta(minutes=3)
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", started_at=dead_since, heartbeat_at=dead_since, phase="importing"
    )
    dead_worker = account_lock(dev, run.pk)
    assert dead_worker.acquire()

    outcome = run_account_sync(run_id=run.pk, task_id="redelivered", session=aws_session)

    run.refresh_from_db()
    assert (outcome.status, run.status, run.task_id) == ("succeeded", "succeeded", "redelivered")
    assert run.started_at == dead_since
    assert run.warnings[0].startswith("taken over at ")
    assert "the worker that ran it stopped (last heartbeat" in run.warnings[0]
    assert users_of(dev) == ["user-0", "user-1"]
    assert dead_worker.holder_run_id() is None  # released by the run that took it over


def test_the_reaper_says_an_account_import_was_applied_before_the_worker_stopped(
    db: None,
) -> None:
    """Issue 15 item 5: the reaper said "the previous data is unchanged" of applied changes."""
    now = timezone.now()
    run, _ = request_account_sync("111111111111")
    account = Account.objects.create(account_id="111111111111", last_sync_run=run)
    Change.objects.create(
        sync_run=run, account_id=account.account_id, kind="user", action="added", key="arn:u"
    )
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at=now - timedelta(minutes=5), phase="importing"
    )

    reap_stale_runs(now=now)

    run.refresh_from_db()
    assert run.error.endswith(
        "Marked failed by the reaper; its import of account 111111111111 was applied "
        "(1 changes recorded) before the worker stopped."
    )


def test_the_reaper_closes_an_organisation_run_its_closing_task_never_reached(
    db: None,
) -> None:
    now = timezone.now()
    parent, _ = request_organization_sync()
    done, _ = request_account_sync("111111111111", parent=parent)
    dead, _ = request_account_sync("222222222222", parent=parent)
    SyncRun.objects.filter(pk=done.pk).update(
        status="succeeded", change_counts={"user": {"added": 19, "removed": 0, "changed": 0}}
    )
    silent = now - timedelta(minutes=5)
    SyncRun.objects.filter(pk__in=[parent.pk, dead.pk]).update(
        status="running", heartbeat_at=silent
    )

    reaped = reap_stale_runs(now=now)

    parent.refresh_from_db()
    assert (reaped.failed, reaped.closed) == ([dead.pk], [parent.pk])
    assert parent.status == "failed"
    assert parent.change_counts == {"user": {"added": 19, "removed": 0, "changed": 0}}
    assert parent.error.startswith("1 of 2 accounts failed\n222222222222: no heartbeat")
    assert "account 222222222222 keeps no data (never synced)" in parent.error


def test_the_reaper_names_what_an_organisation_run_applied_before_any_account(
    db: None,
) -> None:
    now = timezone.now()
    parent, _ = request_organization_sync()
    SyncRun.objects.filter(pk=parent.pk).update(
        status="running",
        heartbeat_at=now - timedelta(minutes=5),
        phase="discovering accounts",
        change_counts={"account": {"added": 20, "removed": 0, "changed": 0}},
    )

    reap_stale_runs(now=now)

    parent.refresh_from_db()
    assert parent.error.endswith(
        "before any account was synced. Marked failed by the reaper; 0 of 0 accounts applied "
        "their changes; the organisation's own changes (OUs, SCPs, membership) were applied."
    )
