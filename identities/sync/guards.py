"""What keeps syncs safe from each other and from dead workers: the per-account Redis lock, the
heartbeat a running sync writes (on every AWS call, and from a thread while it imports), and the
reaper of runs whose worker died.

Two syncs of one account never overlap: the database refuses a second pending/running run of an
account (a partial unique constraint on SyncRun), the pending -> running transition is a
conditional UPDATE only one executor wins, and with a broker a Redis lock (`SET NX PX`, extended
by every heartbeat) keeps a redelivered task away from a run another worker is executing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from identities.aws import CallCounter
from identities.models import SyncRun
from identities.sync.config import ACTIVE, beat_interval, has_broker, stale_after
from identities.sync.finish import account_applied, finish_organization_sync, organization_applied

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0  # seconds between heartbeat writes while AWS calls go on
LOCK_PREFIX = "iamviz:sync:lock:account:"


# --- locks -----------------------------------------------------------------------------------


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Take the lock over from a dead run: only if nobody holds it, or still the dead run does.
_TAKE_OVER = """
local value = redis.call('get', KEYS[1])
if (not value) or string.sub(value, 1, string.len(ARGV[3])) == ARGV[3] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class AccountLock:
    """`SET key token NX PX ttl` in Redis: one holder per account; only the holder (by token)
    extends or releases it, and a dead holder's lock expires after `ttl_ms`."""

    def __init__(self, client: redis.Redis, account_id: str, run_id: int, ttl_ms: int) -> None:
        self.client = client
        self.key = f"{LOCK_PREFIX}{account_id}"
        self.token = f"{run_id}:{uuid.uuid4().hex}"
        self.ttl_ms = ttl_ms

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def holder_run_id(self) -> int | None:
        # A client made without decode_responses answers bytes.
        value = cast(bytes | None, self.client.get(self.key))
        if value is None:
            return None
        run_id = value.decode().split(":", 1)[0]
        return int(run_id) if run_id.isdigit() else None

    def take_over(self, dead_run_id: int) -> bool:
        """Hold the lock in place of `dead_run_id` (whose worker stopped beating)."""
        return bool(
            self.client.eval(_TAKE_OVER, 1, self.key, self.token, self.ttl_ms, f"{dead_run_id}:")
        )

    def extend(self) -> bool:
        return bool(self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)


class NoLock:
    """The embedded default has no Redis: the database constraint and the conditional
    pending -> running UPDATE already keep two in-process runs of an account apart."""

    def acquire(self) -> bool:
        return True

    def holder_run_id(self) -> int | None:
        return None

    def take_over(self, dead_run_id: int) -> bool:
        return True

    def extend(self) -> bool:
        return True

    def release(self) -> None:
        return None


def account_lock(account_id: str, run_id: int) -> AccountLock | NoLock:
    """The Redis lock of `account_id` when `REDIS_URL` is set, else `NoLock`."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return NoLock()
    ttl_ms = int(stale_after().total_seconds() * 1000)
    return AccountLock(_redis_client(url), account_id, run_id, ttl_ms)


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


# --- heartbeats ------------------------------------------------------------------------------


@contextmanager
def beating(beat: Callable[[], object], *, interval: float | None = None) -> Iterator[None]:
    """Call `beat` every `interval` seconds (default `beat_interval()`) from a thread while the
    body runs, so that a long import or analysis, which makes no AWS call for minutes, still
    shows its worker lives. Only with a broker: in-process there is no worker to lose, and a
    second SQLite writer would only wait for the body's transaction."""
    if not has_broker():
        yield
        return
    stop = threading.Event()
    period = interval or beat_interval()

    def loop() -> None:
        try:
            while not stop.wait(period):
                try:
                    beat()
                except Exception:  # a missed beat is retried; it must not kill the sync
                    logger.warning("heartbeat failed", exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="iamviz-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@dataclass
class ProgressCounter(CallCounter):
    """A CallCounter that also tells `on_call` the operation of every call (for heartbeats)."""

    on_call: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def _count_call(self, model: Any, **kwargs: Any) -> None:
        super()._count_call(model, **kwargs)
        if self.on_call is not None:
            self.on_call(f"{model.service_model.service_id.hyphenize()}.{model.name}")


class Heartbeat:
    """Writes a run's heartbeat, phase and call counts (at most once a second), touches its
    parent's heartbeat and extends the account lock, so the reaper knows the worker lives.
    `background()` keeps beating between AWS calls (the import)."""

    def __init__(
        self,
        run_id: int,
        parent_id: int | None,
        lock: AccountLock | NoLock | None = None,
        *,
        interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self.run_id = run_id
        self.parent_id = parent_id
        self.lock = lock
        self.interval = interval
        self.counter = ProgressCounter(on_call=self.on_aws_call)
        self._last = float("-inf")  # the first beat always writes
        self._pages = 0

    def on_aws_call(self, operation: str) -> None:
        if operation == "iam.GetAccountAuthorizationDetails":
            self._pages += 1
            phase = f"reading authorization details (page {self._pages})"
        elif operation == "sts.AssumeRole":
            phase = "assuming role"
        elif operation in {"iam.GenerateCredentialReport", "iam.GetCredentialReport"}:
            phase = "waiting for the credential report"
        elif operation.startswith("organizations."):
            phase = "reading the organisation"
        else:
            phase = "reading IAM"
        self.beat(phase)

    def beat(self, phase: str, *, force: bool = False) -> None:
        clock = time.monotonic()
        if not force and clock - self._last < self.interval:
            return
        self._last = clock
        SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
            heartbeat_at=timezone.now(),
            phase=phase[:100],
            aws_calls=self.counter.calls,
            aws_retries=self.counter.retries,
        )
        self.pulse()

    def pulse(self) -> None:
        """A sign of life only (the background thread's beat): heartbeat and lock."""
        now = timezone.now()
        SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
            heartbeat_at=now
        )
        if self.parent_id is not None:
            SyncRun.objects.filter(pk=self.parent_id, status__in=ACTIVE).update(heartbeat_at=now)
        if self.lock is not None:
            self.lock.extend()

    def background(self) -> AbstractContextManager[None]:
        return beating(self.pulse)


def heartbeat_age(heartbeat_at: datetime | None, *, now: datetime | None = None) -> timedelta:
    """How long ago a run last showed its worker lived (forever when it never did)."""
    if heartbeat_at is None:
        return timedelta.max
    return (now or timezone.now()) - heartbeat_at


# --- the reaper ------------------------------------------------------------------------------


@dataclass
class Reaped:
    """What one pass of the reaper did: runs failed, organisation runs closed."""

    failed: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.failed or self.closed)


def reap_stale_runs(
    *, now: datetime | None = None, stale: timedelta | None = None, spare: int | None = None
) -> Reaped:
    """Fail the AWS runs whose worker died and close the organisation runs they leave behind.

    A running account run without a heartbeat for `stale` (default `stale_after()`) lost its
    worker; the message says whether its import was applied. `spare` is a run the caller is
    about to take over itself. A pending run queued longer than that is failed only when no AWS
    run anywhere has beaten since: a busy queue is slow, a queue nobody consumes is dead. An
    organisation run that went silent is closed from its account runs once none is active (its
    closing task was lost with a worker), else failed naming which accounts applied changes.
    """
    now = now or timezone.now()
    stale = stale or stale_after()
    cutoff = now - stale
    seconds = round(stale.total_seconds())
    reaped = Reaped()
    running = SyncRun.objects.filter(source=SyncRun.Source.AWS, status=SyncRun.Status.RUNNING)
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    dead = (
        running.filter(silent)
        .exclude(target_account_id="")
        .exclude(pk=spare or 0)
        .values_list("pk", "target_account_id", "heartbeat_at", "phase")
    )
    for pk, account_id, heartbeat_at, phase in dead:
        error = (
            f"{_silence(heartbeat_at, seconds, phase)}: the worker stopped or was killed. "
            f"Marked failed by the reaper; {account_applied(pk, account_id)}."
        )
        if _fail_if(pk, SyncRun.Status.RUNNING, error, now):
            reaped.failed.append(pk)
    for run in running.filter(silent, target_account_id="").defer("bundle_gzip"):
        if run.children.filter(status__in=ACTIVE).exists():
            continue  # its accounts are still at work (or are reaped on their own)
        if run.children.exists():
            finish_organization_sync(run_id=run.pk)
            reaped.closed.append(run.pk)
            continue
        error = (
            f"{_silence(run.heartbeat_at, seconds, run.phase)}: the worker stopped or was killed "
            f"before any account was synced. Marked failed by the reaper; "
            f"{organization_applied(run)}."
        )
        if _fail_if(run.pk, SyncRun.Status.RUNNING, error, now):
            reaped.failed.append(run.pk)
    progressing = running.filter(heartbeat_at__gte=cutoff).exists()
    if not progressing:
        queued = SyncRun.objects.filter(
            source=SyncRun.Source.AWS, status=SyncRun.Status.PENDING, heartbeat_at__lt=cutoff
        ).values_list("pk", "heartbeat_at")
        for pk, queued_at in queued:
            error = (
                f"queued at {_format_time(queued_at, 'an unknown time')} and not started by a "
                f"worker within {seconds} s while no other sync made progress: is a Celery "
                "worker running? Nothing was applied."
            )
            if _fail_if(pk, SyncRun.Status.PENDING, error, now):
                reaped.failed.append(pk)
    if reaped:
        logger.warning("Reaper: failed runs %s, closed runs %s", reaped.failed, reaped.closed)
    return reaped


def _silence(heartbeat_at: datetime | None, seconds: int, phase: str) -> str:
    seen = _format_time(heartbeat_at, "its start")
    return f"no heartbeat from its worker since {seen} (over {seconds} s)" + (
        f" while {phase}" if phase else ""
    )


def _fail_if(pk: int, status: str, error: str, now: datetime) -> bool:
    """Fail run `pk` if it is still `status` (its worker may have finished meanwhile)."""
    return bool(
        SyncRun.objects.filter(pk=pk, status=status).update(
            status=SyncRun.Status.FAILED, error=error, finished_at=now, phase=""
        )
    )


def _format_time(value: datetime | None, unknown: str) -> str:
    if value is None:
        return unknown
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
