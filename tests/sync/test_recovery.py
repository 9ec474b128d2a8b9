"""Faults around a sync, with real Celery workers on Redis and PostgreSQL (issue 15, issue 14
item 9): a worker killed mid-import, analyses asked for while one runs, a killed analysis.
Fails in CI when a service is missing; skips with the reason on a laptop.

Each test holds a row lock from the test's own connection to stop a worker at a chosen point
(inside an import's or an analysis's transaction), kills it there, and lets go. The workers get
short timeouts through the environment (IAMVIZ_SYNC_STALE_SECONDS) so that every test takes
seconds, not the two minutes production allows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from iamviz.celery import app
from identities import tasks
from identities.models import Account, AccountSyncConfig, AnalysisRun, SyncRun
from identities.sync.config import ACTIVE
from tests.awsfake import FakeOrg, start_celery_worker, stop_process
from tests.conftest import TEST_DATA, require_service, users_of

pytestmark = pytest.mark.services

STALE_SECONDS = 6
QUEUES = ("housekeeping", "sync", "analysis")
Worker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def fake_aws(aws_server: str, transactional_db: None) -> None:
    """The fake AWS is moto_server, which the worker processes reach too."""


@pytest.fixture
def workers(
    aws_server: str, transactional_db: None, tmp_path: Path, settings: Any
) -> Iterator[Worker]:
    """Start Celery workers (options, queues) on Redis with the test database on PostgreSQL
    and short heartbeat timeouts; all are stopped at the end."""
    redis_url = require_service("Redis", os.environ.get("REDIS_URL"))
    database = connection.settings_dict
    if not database["ENGINE"].endswith("postgresql"):
        require_service("PostgreSQL (DATABASE_URL)", None)
    settings.REDIS_URL = redis_url
    settings.IAMVIZ_SYNC_STALE_SECONDS = STALE_SECONDS
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REDIS_URL": redis_url,
        "IAMVIZ_SYNC_STALE_SECONDS": str(STALE_SECONDS),
        "IAMVIZ_THROTTLE_RETRY_SECONDS": "1",
    }
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url
    app.conf.result_backend = redis_url
    with app.connection_for_write() as conn:
        for queue in ("celery", *QUEUES):
            conn.default_channel.queue_purge(queue)
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str, queues: tuple[str, ...] = QUEUES) -> subprocess.Popen[bytes]:
        name = f"h{len(started)}-{os.getpid()}@%h"
        log = tmp_path / f"worker-{len(started)}.log"
        try:
            process = start_celery_worker(
                [*options, "-Q", ",".join(queues), "-n", name], env=env, log=log
            )
        except RuntimeError as exc:
            pytest.fail(str(exc))
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            stop_process(process, timeout=20)
    app.conf.task_always_eager = True


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def pool_children(pid: int) -> list[int]:
    """The pool processes of a prefork worker (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


@contextmanager
def holding(model: Any, **filters: Any) -> Iterator[None]:
    """Lock rows from a connection of its own so that a worker's UPDATE of them waits until
    the block ends; FOR NO KEY UPDATE lets inserts that only reference them through. (The
    test's connection stays in autocommit: its on_commit callbacks queue tasks at once.)"""
    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"] or "postgres",
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
    ) as holder:
        where = " AND ".join(f"{name} = ANY(%s)" for name in filters)
        holder.execute(
            f"SELECT id FROM {model._meta.db_table} WHERE {where} FOR NO KEY UPDATE",
            [list(values) for values in filters.values()],
        )
        yield
        holder.rollback()


def analyses_settled() -> bool:
    return not AnalysisRun.objects.filter(status__in=["pending", "running"]).exists()


def test_a_worker_killed_mid_import_is_taken_over_and_the_accounts_are_analysed(
    fake_org: FakeOrg, workers: Worker
) -> None:
    """Issue 15 items 1-2, issue 14 item 9: the redelivered task gave up on its own lock, and
    the organisation run and its analysis waited an hour for Redis's visibility timeout."""
    worker = workers("--pool", "prefork", "--concurrency", "1")
    clock = time.monotonic()
    accounts = sorted(fake_org.accounts.values())
    started = tasks.sync_organization.apply_async(kwargs={}).get(timeout=30)
    org_run = started["run_id"]

    # Each account's import ends with an UPDATE of its Account row: hold them all.
    wait_for(
        lambda: Account.objects.filter(account_id__in=accounts).count() == len(accounts),
        timeout=20,
        what="the organisation step",
    )
    with holding(Account, account_id=accounts):
        victim = wait_for(
            lambda: SyncRun.objects.filter(parent_id=org_run, phase="importing").first(),
            timeout=20,
            what="an account import",
        )
        time.sleep(0.5)  # the import is inside its transaction, waiting for the row
        [child] = pool_children(worker.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = timezone.now()

    run = wait_for(
        lambda: SyncRun.objects.filter(pk=org_run).exclude(status__in=ACTIVE).first(),
        timeout=40,
        what="the organisation run to finish",
    )
    victim.refresh_from_db()
    analysis = wait_for(
        lambda: (
            AnalysisRun.objects.filter(status="succeeded", started_at__gt=run.finished_at)
            .order_by("pk")
            .first()
        ),
        timeout=20,
        what="the analysis after the organisation run",
    )
    assert (run.status, victim.status) == ("succeeded", "succeeded"), run.error
    assert any(warning.startswith("taken over at ") for warning in victim.warnings)
    assert victim.finished_at is not None and victim.finished_at > killed_at
    assert users_of(fake_org.accounts["dev"]) == ["user-0", "user-1"]
    assert Account.objects.filter(account_id__in=accounts, last_sync_run__isnull=True).count() == 0
    assert analysis.finished_at is not None
    assert time.monotonic() - clock < 60


def test_ten_sync_now_clicks_and_three_imports_during_an_analysis_make_two_analyses(
    fake_org: FakeOrg, workers: Worker, staff_user: Any
) -> None:
    """Issue 15 item 4: every chain and chord queued its own analysis; several ran at once."""
    workers("--pool", "solo", queues=("analysis",))
    workers("--pool", "solo", queues=("sync", "housekeeping"))
    for name, account_id in fake_org.accounts.items():
        AccountSyncConfig.objects.create(account_id=account_id, name=name)
    seed = AnalysisRun.objects.create(status="succeeded", started_at=timezone.now())
    client = Client()
    client.force_login(staff_user)
    paths = [TEST_DATA / "aws" / name for name in ("authz-page-1.json", "authz-page-2.json")]

    with holding(AnalysisRun, id=[seed.pk]):  # the analysis waits to store its results
        tasks.analyse_estate_task.delay()
        first = wait_for(
            lambda: AnalysisRun.objects.filter(status="running").first(),
            timeout=20,
            what="the first analysis",
        )
        accounts = list(fake_org.accounts.values())
        for click in range(10):
            url = reverse("identities:sync-account-now", args=[accounts[click % 3]])
            assert client.post(url).status_code == 302
            time.sleep(0.3)
        imports = [
            tasks.import_bundle_file.delay(path=str(paths[number % 2])) for number in range(3)
        ]
        for result in imports:
            result.get(timeout=30)
        wait_for(
            lambda: not SyncRun.objects.filter(status__in=ACTIVE).exists(),
            timeout=30,
            what="the syncs",
        )
        assert AnalysisRun.objects.exclude(pk=seed.pk).count() == 2  # one runs, one waits

    wait_for(analyses_settled, timeout=30, what="the analyses")
    time.sleep(2)  # a stray third one would have been asked for by now
    made = list(AnalysisRun.objects.exclude(pk=seed.pk).order_by("pk"))
    syncs = SyncRun.objects.filter(source="aws", status="succeeded").count()
    assert [analysis.status for analysis in made] == ["succeeded", "succeeded"]
    assert made[0].pk == first.pk
    assert made[0].finished_at is not None
    assert made[1].started_at >= made[0].finished_at
    assert syncs >= 3


def test_a_killed_analysis_is_reaped_and_asked_for_again(
    transactional_db: None, workers: Worker
) -> None:
    """Issue 15 item 4: analyses whose worker died stayed "running" forever."""
    seed = AnalysisRun.objects.create(status="succeeded", started_at=timezone.now())
    worker = workers("--pool", "solo", queues=("analysis",))

    with holding(AnalysisRun, id=[seed.pk]):
        tasks.analyse_estate_task.delay()
        dead = wait_for(
            lambda: AnalysisRun.objects.filter(status="running").first(),
            timeout=20,
            what="the analysis",
        )
        time.sleep(0.5)
        worker.kill()  # the whole worker: its task comes back only after the visibility timeout
        worker.wait(timeout=10)

    workers("--pool", "solo")
    time.sleep(STALE_SECONDS + 1)
    reaped = tasks.reap_stale_syncs.apply_async().get(timeout=30)

    dead.refresh_from_db()
    again = wait_for(
        lambda: AnalysisRun.objects.filter(pk__gt=dead.pk, status="succeeded").first(),
        timeout=30,
        what="the analysis asked for again",
    )
    assert reaped["analyses_failed"] == [dead.pk]
    assert dead.status == "failed"
    assert "the worker stopped or was killed. Marked failed by the reaper" in dead.error
    assert f"the results shown are still those of analysis #{seed.pk}." in dead.error
    assert again.finished_at is not None
