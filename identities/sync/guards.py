"""What keeps syncs safe from each other and from dead workers: the per-account Redis lock, the
heartbeat a running sync writes while AWS answers, and the reaper of runs whose worker died.

Two syncs of one account never overlap: the database refuses a second pending/running run of an
account (a partial unique constraint on SyncRun), the pending -> running transition is a
conditional UPDATE only one executor wins, and with a broker a Redis lock (`SET NX PX`, extended
by every heartbeat) keeps a redelivered task away from a run another worker is executing.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from identities.aws import CallCounter
from identities.models import SyncRun
from identities.sync.config import ACTIVE, stale_after

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
    parent's heartbeat and extends the account lock, so the reaper knows the worker lives."""

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
        now = timezone.now()
        SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
            heartbeat_at=now,
            phase=phase[:100],
            aws_calls=self.counter.calls,
            aws_retries=self.counter.retries,
        )
        if self.parent_id is not None:
            SyncRun.objects.filter(pk=self.parent_id, status__in=ACTIVE).update(heartbeat_at=now)
        if self.lock is not None:
            self.lock.extend()


# --- the reaper ------------------------------------------------------------------------------


def reap_stale_runs(*, now: datetime | None = None, stale: timedelta | None = None) -> list[int]:
    """Fail the AWS runs whose worker died; returns their ids.

    A running run without a heartbeat for `stale` (default `stale_after()`) lost its worker.
    A pending run queued longer than that is failed only when no AWS run anywhere has beaten
    since: a busy queue is slow, a queue nobody consumes is dead.
    """
    now = now or timezone.now()
    stale = stale or stale_after()
    cutoff = now - stale
    minutes = round(stale.total_seconds() / 60)
    reaped: list[int] = []
    running = SyncRun.objects.filter(source=SyncRun.Source.AWS, status=SyncRun.Status.RUNNING)
    dead = running.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    ).values_list("pk", "heartbeat_at", "phase")
    for pk, heartbeat_at, phase in dead:
        seen = _format_time(heartbeat_at, "its start")
        error = (
            f"no heartbeat from its worker since {seen} (over {minutes} min)"
            + (f" while {phase}" if phase else "")
            + ": the worker stopped or was killed. Marked failed by the reaper; "
            "the previous data is unchanged."
        )
        if _fail_if(pk, SyncRun.Status.RUNNING, error, now):
            reaped.append(pk)
    progressing = running.filter(heartbeat_at__gte=cutoff).exists()
    if not progressing:
        queued = SyncRun.objects.filter(
            source=SyncRun.Source.AWS, status=SyncRun.Status.PENDING, heartbeat_at__lt=cutoff
        ).values_list("pk", "heartbeat_at")
        for pk, queued_at in queued:
            error = (
                f"queued at {_format_time(queued_at, 'an unknown time')} and not started by a worker within "
                f"{minutes} min while no other sync made progress: is a Celery worker running?"
            )
            if _fail_if(pk, SyncRun.Status.PENDING, error, now):
                reaped.append(pk)
    if reaped:
        logger.warning("Reaped stale sync runs %s", reaped)
    return reaped


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
