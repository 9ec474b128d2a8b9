"""Live sync from AWS: one account at a time, the organisation as a fan-out, locks, heartbeats,
the reaper of runs whose worker died, and the nightly schedule.

Plain functions: `identities/tasks.py` wraps them in Celery tasks (and writes the group/chord),
`manage.py sync` calls them in-process. An account's sync collects one account's bundle with
boto3 (`collect.collect_member_account`), validates it and hands it to the same ingest as a file
import, in one transaction. A failing account records the AWS error on its own SyncRun, keeps its
previous data and never stops the others: `run_account_sync` returns an outcome, it does not
raise for AWS errors.

Two syncs of one account never overlap: the database refuses a second pending/running run of an
account (a partial unique constraint on SyncRun), the pending -> running transition is a
conditional UPDATE only one executor wins, and with a broker a Redis lock (`SET NX PX`, extended
by every heartbeat) keeps a redelivered task away from a run another worker is executing.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import redis
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.validators import crontab_validator

from identities.aws import CallCounter, management_session
from identities.bundle import BUNDLE_FORMAT, BundleError, validate_bundle, validate_organization
from identities.collect import CollectError, collect_member_account, collect_organization
from identities.ingest import import_bundle, import_organization
from identities.models import Account, AccountSyncConfig, SyncRun, SyncSettings

logger = logging.getLogger(__name__)

ACTIVE = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)
DEFAULT_STALE_MINUTES = 10
HEARTBEAT_INTERVAL = 1.0  # seconds between heartbeat writes while AWS calls go on
LOCK_PREFIX = "iamviz:sync:lock:account:"
NIGHTLY_TASK_NAME = "iamviz: nightly organisation sync"
NIGHTLY_TASK = "identities.sync_organization"
DEFAULT_CRON = "0 2 * * *"
REAPER_TASK_NAME = "iamviz: fail sync runs whose worker died"
REAPER_TASK = "identities.reap_stale_syncs"
REAPER_EVERY_MINUTES = 5
ORGANIZATION_LABEL = "organisation"
# Errors that are AWS's (or the answer's) fault: recorded on the account's run, never raised.
AWS_ERRORS = (ClientError, BotoCoreError, CollectError, BundleError, KeyError, TypeError)


class SyncRefused(Exception):
    """A sync that cannot start (nothing to sync, another sync holds the account)."""


def stale_after() -> timedelta:
    """How long a run may go without a heartbeat before the reaper fails it
    (`IAMVIZ_SYNC_STALE_MINUTES`, default 10)."""
    return timedelta(minutes=getattr(settings, "IAMVIZ_SYNC_STALE_MINUTES", DEFAULT_STALE_MINUTES))


# --- configuration ---------------------------------------------------------------------------


def load_settings() -> SyncSettings:
    """The single SyncSettings row, created with its defaults on first use."""
    sync_settings = SyncSettings.objects.order_by("pk").first()
    if sync_settings is None:
        sync_settings = SyncSettings.objects.create()
    return sync_settings


@dataclass(frozen=True)
class AccountTarget:
    """How one account is reached: the role to assume in it and the ExternalId to present."""

    account_id: str
    name: str
    role_name_or_arn: str
    external_id: str


def resolve_target(account_id: str, sync_settings: SyncSettings | None = None) -> AccountTarget:
    """The role of the account's own configuration, else the settings' role name.

    `{account_id}` in a role ARN is replaced by the account id, so one ARN pattern with a path
    (`arn:aws:iam::{account_id}:role/audit/iamviz`) serves every account.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-api.html
    """
    sync_settings = sync_settings or load_settings()
    config = AccountSyncConfig.objects.filter(account_id=account_id).first()
    account = Account.objects.filter(account_id=account_id).only("name").first()
    role = (config.role_name_or_arn if config else "") or sync_settings.role_name
    external_id = (config.external_id if config else "") or sync_settings.external_id
    name = (config.name if config else "") or (account.name if account else "")
    return AccountTarget(
        account_id=account_id,
        name=name,
        role_name_or_arn=role.replace("{account_id}", account_id),
        external_id=external_id,
    )


def base_session(sync_settings: SyncSettings) -> boto3.Session:
    """The management account's session from boto3's standard credential chain (never stored)."""
    return management_session(
        profile_name=sync_settings.profile_name or None, region_name=sync_settings.region
    )


def update_discovered_accounts(organization: dict[str, Any]) -> list[str]:
    """Make an AccountSyncConfig for every ACTIVE account of the organisation; returns their ids.

    Accounts listed by hand are left as they are (a name is only filled in). Discovered accounts
    that left the organisation or were suspended are disabled, not deleted.
    """
    active: dict[str, str] = {}
    for member in organization.get("accounts") or []:
        state = str(member.get("State") or member.get("Status") or "")
        if state == "ACTIVE":
            active[member["Id"]] = member.get("Name") or ""
    existing = {config.account_id: config for config in AccountSyncConfig.objects.all()}
    for account_id, name in active.items():
        config = existing.get(account_id)
        if config is None:
            AccountSyncConfig.objects.create(account_id=account_id, name=name, discovered=True)
        elif name and config.name != name and (config.discovered or not config.name):
            AccountSyncConfig.objects.filter(pk=config.pk).update(name=name)
    gone = [
        config.pk
        for account_id, config in existing.items()
        if config.discovered and config.enabled and account_id not in active
    ]
    if gone:
        AccountSyncConfig.objects.filter(pk__in=gone).update(enabled=False)
        logger.info(
            "Disabled %d discovered accounts no longer active in the organisation", len(gone)
        )
    return list(active)


# --- requesting runs -------------------------------------------------------------------------


def request_account_sync(
    account_id: str, *, label: str = "", parent: SyncRun | None = None, reap: bool = True
) -> tuple[SyncRun, bool]:
    """A new pending run of `account_id`, or (run, False) for the one already pending/running.

    The database decides: two requests at the same instant make one run.
    """
    if reap:
        reap_stale_runs()
    return _create_run(
        target_account_id=account_id,
        label=label or f"account {account_id}",
        parent=parent,
        account=Account.objects.filter(account_id=account_id).first(),
        account_ids=[account_id],
    )


def request_organization_sync(*, label: str = ORGANIZATION_LABEL) -> tuple[SyncRun, bool]:
    """A new pending organisation run, or (run, False) for the one already pending/running."""
    reap_stale_runs()
    return _create_run(target_account_id="", label=label, parent=None, account=None, account_ids=[])


def _create_run(
    *,
    target_account_id: str,
    label: str,
    parent: SyncRun | None,
    account: Account | None,
    account_ids: list[str],
) -> tuple[SyncRun, bool]:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    source=SyncRun.Source.AWS,
                    status=SyncRun.Status.PENDING,
                    target_account_id=target_account_id,
                    label=label[:500],
                    parent=parent,
                    account=account,
                    account_ids=account_ids,
                    phase="queued",
                    heartbeat_at=timezone.now(),
                )
            return run, True
        except IntegrityError:
            existing = (
                SyncRun.objects.filter(
                    source=SyncRun.Source.AWS,
                    target_account_id=target_account_id,
                    status__in=ACTIVE,
                )
                .defer("bundle_gzip")
                .first()
            )
            if existing is not None:
                return existing, False
            # The other run finished between our insert and our look: try again.
    raise SyncRefused(f"could not create a sync run for {target_account_id or 'the organisation'}")


# --- one account -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountOutcome:
    """What `run_account_sync` did: succeeded, failed (with the error) or skipped (why)."""

    run_id: int
    account_id: str
    status: str
    error: str = ""
    aws_calls: int = 0
    aws_retries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "account_id": self.account_id,
            "status": self.status,
            "error": self.error,
            "aws_calls": self.aws_calls,
            "aws_retries": self.aws_retries,
        }


def run_account_sync(
    *,
    run_id: int,
    task_id: str = "",
    session: boto3.Session | None = None,
    config: Config | None = None,
    fail_after: str | None = None,
) -> AccountOutcome:
    """Collect and import one account for the pending (or, on a retry, running) run `run_id`.

    AWS errors (AccessDenied on AssumeRole, expired credentials, throttling past botocore's
    retries, a malformed answer) mark the run failed with the error text and leave the
    account's previous data untouched; the outcome says so. A run already finished is skipped,
    so a retried or redelivered task is harmless. `session` replaces the management session from
    the credential chain and `fail_after` is handed to ingest (tests).
    """
    run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
    account_id = run.target_account_id
    if run.status not in ACTIVE:
        return AccountOutcome(run_id, account_id, "skipped", f"already {run.status}")
    lock = account_lock(account_id, run_id)
    if not lock.acquire():
        holder = lock.holder_run_id()
        if holder == run_id:
            # A redelivered copy of a task another worker is still executing.
            return AccountOutcome(run_id, account_id, "skipped", "run by another worker")
        error = f"another sync of account {account_id} (run #{holder}) holds its lock"
        _mark_failed(run_id, error, None)
        return AccountOutcome(run_id, account_id, SyncRun.Status.FAILED, error)
    try:
        return _run_locked(
            run, lock, task_id=task_id, session=session, config=config, fail_after=fail_after
        )
    finally:
        lock.release()


def _run_locked(
    run: SyncRun,
    lock: AccountLock | NoLock,
    *,
    task_id: str,
    session: boto3.Session | None,
    config: Config | None,
    fail_after: str | None,
) -> AccountOutcome:
    account_id = run.target_account_id
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.PENDING).update(
        status=SyncRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        phase="starting",
        task_id=task_id,
        error="",
    )
    # Not pending: running is a retry of this very run (we hold the lock, so the earlier
    # attempt is gone); anything else is finished.
    resumed = not claimed and SyncRun.objects.filter(
        pk=run.pk, status=SyncRun.Status.RUNNING
    ).update(heartbeat_at=now, task_id=task_id)
    if not claimed and not resumed:
        run.refresh_from_db(fields=["status"])
        return AccountOutcome(run.pk, account_id, "skipped", f"already {run.status}")
    run.refresh_from_db()
    sync_settings = load_settings()
    target = resolve_target(account_id, sync_settings)
    heartbeat = Heartbeat(run.pk, run.parent_id, lock)
    counter = ProgressCounter(on_call=heartbeat.on_aws_call)
    heartbeat.counter = counter
    logger.info("Sync run %s: account %s as %s", run.pk, account_id, target.role_name_or_arn)
    try:
        entry = collect_member_account(
            session or base_session(sync_settings),
            account_id=account_id,
            role_name_or_arn=target.role_name_or_arn,
            external_id=target.external_id or None,
            region=sync_settings.region,
            name=target.name or None,
            config=config,
            counter=counter,
        )
        bundle = {
            "format": BUNDLE_FORMAT,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "accounts": [entry],
            "warnings": [],
        }
        raw = json.dumps(bundle).encode()
        heartbeat.beat("validating", force=True)
        validate_bundle(bundle, source=f"AWS account {account_id}")
    except AWS_ERRORS as exc:
        return _fail(run.pk, account_id, describe_error(exc), counter)
    except Exception as exc:  # a bug in one account must not stop the others
        logger.exception("Sync run %s: account %s failed unexpectedly", run.pk, account_id)
        return _fail(run.pk, account_id, f"{type(exc).__name__}: {exc}", counter)

    if not SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).exists():
        # The reaper gave up on us while AWS was slow; a newer run may own the account now.
        return AccountOutcome(run.pk, account_id, SyncRun.Status.FAILED, "reaped while collecting")
    heartbeat.beat("importing", force=True)
    run.refresh_from_db()
    run.aws_calls, run.aws_retries = counter.calls, counter.retries
    run.warnings = list(entry.get("warnings") or [])
    try:
        import_bundle(
            bundle,
            source=SyncRun.Source.AWS,
            label=run.label,
            raw=raw,
            sync_run=run,
            fail_after=fail_after,
        )
    except Exception as exc:
        # ingest has marked the run failed (its transaction rolled back): add what we know.
        logger.warning("Sync run %s: import of account %s failed: %s", run.pk, account_id, exc)
        return _fail(run.pk, account_id, f"import failed: {run.error or exc}", counter)
    SyncRun.objects.filter(pk=run.pk).update(
        account=Account.objects.filter(account_id=account_id).first(), phase=""
    )
    logger.info(
        "Sync run %s: account %s done with %d AWS calls (%d retries)",
        run.pk,
        account_id,
        counter.calls,
        counter.retries,
    )
    return AccountOutcome(
        run.pk, account_id, SyncRun.Status.SUCCEEDED, "", counter.calls, counter.retries
    )


def _fail(run_id: int, account_id: str, error: str, counter: CallCounter) -> AccountOutcome:
    logger.warning("Sync run %s: account %s failed: %s", run_id, account_id, error)
    _mark_failed(run_id, error, counter)
    return AccountOutcome(
        run_id, account_id, SyncRun.Status.FAILED, error, counter.calls, counter.retries
    )


def _mark_failed(run_id: int, error: str, counter: CallCounter | None) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": SyncRun.Status.FAILED,
        "error": error,
        "finished_at": now,
        "heartbeat_at": now,
        "phase": "",
    }
    if counter is not None:
        fields.update(aws_calls=counter.calls, aws_retries=counter.retries)
    SyncRun.objects.filter(pk=run_id).update(**fields)
    SyncRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)


def describe_error(exc: BaseException) -> str:
    """The AWS error as a person reads it: code, operation and AWS's own message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "ClientError"
        message = error.get("Message") or str(exc)
        return f"{code} ({exc.operation_name}): {message}"
    if isinstance(exc, CollectError):
        return f"{exc.code}: {exc}"
    if isinstance(exc, BundleError):
        return f"malformed response: {exc}"
    return f"{type(exc).__name__}: {exc}"


# --- progress: counting calls and heartbeats ---------------------------------------------------


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
        self.counter: CallCounter | None = None
        self._last = 0.0
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
        fields: dict[str, Any] = {"heartbeat_at": now, "phase": phase[:100]}
        if self.counter is not None:
            fields.update(aws_calls=self.counter.calls, aws_retries=self.counter.retries)
        SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(**fields)
        if self.parent_id is not None:
            SyncRun.objects.filter(pk=self.parent_id, status__in=ACTIVE).update(heartbeat_at=now)
        if self.lock is not None:
            self.lock.extend()


# --- locks -----------------------------------------------------------------------------------


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
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
        value = self.client.get(self.key)
        if value is None:
            return None
        run_id = value.decode().split(":", 1)[0]
        return int(run_id) if run_id.isdigit() else None

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


# --- the organisation ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationPlan:
    """The organisation run and the account runs to execute (a task fans them out)."""

    run_id: int
    child_run_ids: list[int]
    already_running: list[str] = field(default_factory=list)


def start_organization_sync(
    *,
    run_id: int | None = None,
    discover: bool | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
    label: str = ORGANIZATION_LABEL,
) -> OrganizationPlan | None:
    """Start an organisation run: discover the accounts, apply the organisation, plan one
    pending run per enabled account. None when another organisation run is going on.

    With discovery (the settings' default, or `discover=True`) the organisation is read from the
    management account and applied once (roots, OUs, SCPs/RCPs, membership), and every ACTIVE
    account gets an AccountSyncConfig. An organisation that cannot be read is an error on the
    run; the accounts configured already are still synced.
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts.html
    """
    reap_stale_runs()
    if run_id is None:
        run, created = _create_run(
            target_account_id="", label=label, parent=None, account=None, account_ids=[]
        )
        if not created:
            logger.info("Organisation sync not started: run %s is %s", run.pk, run.status)
            return None
    else:
        run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.PENDING).update(
        status=SyncRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        phase="discovering accounts",
    )
    if not claimed:
        run.refresh_from_db(fields=["status"])
        if run.status != SyncRun.Status.RUNNING:
            return None
        # A retried task: the accounts were planned already.
        children = list(run.children.order_by("pk").values_list("pk", flat=True))
        return OrganizationPlan(run.pk, children)

    sync_settings = load_settings()
    discover = sync_settings.discover_accounts if discover is None else discover
    heartbeat = Heartbeat(run.pk, None)
    counter = ProgressCounter(on_call=heartbeat.on_aws_call)
    heartbeat.counter = counter
    errors: list[str] = []
    change_counts: dict[str, dict[str, int]] = {}
    if discover:
        try:
            management = session or base_session(sync_settings)
            counter.attach(management)
            try:
                organization = collect_organization(management, config=config)
            finally:
                counter.detach(management)
            validate_organization(organization, source="AWS Organizations")
            changes = import_organization(organization, sync_run=run)
            change_counts = {kind: dict(actions) for kind, actions in changes.counts.items()}
            update_discovered_accounts(organization)
            errors.extend(organization.get("warnings") or [])
        except AWS_ERRORS as exc:
            errors.append(f"organisation not read: {describe_error(exc)}")
            logger.warning("Sync run %s: %s", run.pk, errors[-1])

    children: list[int] = []
    already: list[str] = []
    configs = AccountSyncConfig.objects.filter(enabled=True).order_by("account_id")
    for account in configs:
        child, created = request_account_sync(
            account.account_id,
            label=f"account {account.account_id}" + (f" ({account.name})" if account.name else ""),
            parent=run,
            reap=False,
        )
        if created:
            children.append(child.pk)
        else:
            already.append(account.account_id)
    if already:
        errors.append(f"already being synced by another run: {', '.join(already)}")
    SyncRun.objects.filter(pk=run.pk).update(
        account_ids=[account.account_id for account in configs],
        aws_calls=counter.calls,
        aws_retries=counter.retries,
        change_counts=change_counts,
        warnings=errors,
        phase=f"syncing {len(children)} accounts",
        heartbeat_at=timezone.now(),
    )
    logger.info("Sync run %s: %d accounts planned", run.pk, len(children))
    return OrganizationPlan(run.pk, children, already)


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
    SyncRun.objects.filter(pk=run.pk).update(
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
        seen = _format_time(heartbeat_at) if heartbeat_at else "its start"
        error = (
            f"no heartbeat from its worker since {seen} (over {minutes} min)"
            + (f" while {phase}" if phase else "")
            + ": the worker stopped or was killed. Marked failed by the reaper; "
            "the previous data is unchanged."
        )
        if SyncRun.objects.filter(pk=pk, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, error=error, finished_at=now, phase=""
        ):
            reaped.append(pk)
    progressing = running.filter(heartbeat_at__gte=cutoff).exists()
    if not progressing:
        queued = SyncRun.objects.filter(
            source=SyncRun.Source.AWS, status=SyncRun.Status.PENDING, heartbeat_at__lt=cutoff
        ).values_list("pk", "heartbeat_at")
        for pk, queued_at in queued:
            error = (
                f"queued at {_format_time(queued_at)} and not started by a worker within "
                f"{minutes} min while no other sync made progress: is a Celery worker running?"
            )
            if SyncRun.objects.filter(pk=pk, status=SyncRun.Status.PENDING).update(
                status=SyncRun.Status.FAILED, error=error, finished_at=now, phase=""
            ):
                reaped.append(pk)
    if reaped:
        logger.warning("Reaped stale sync runs %s", reaped)
    return reaped


def _format_time(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


# --- schedule (django-celery-beat) -----------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """The nightly organisation sync as staff see it."""

    cron: str
    timezone: str
    enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None


def ensure_periodic_tasks() -> None:
    """Install the nightly organisation sync (02:00 UTC) and the reaper (every 5 minutes) if
    they are missing; an existing schedule, changed or paused by staff, is left alone."""
    if not PeriodicTask.objects.filter(name=NIGHTLY_TASK_NAME).exists():
        crontab = _crontab_for(DEFAULT_CRON, "UTC")
        PeriodicTask.objects.create(
            name=NIGHTLY_TASK_NAME,
            task=NIGHTLY_TASK,
            crontab=crontab,
            kwargs=json.dumps({"label": "organisation (nightly)"}),
            description="Sync every account of the AWS organisation, then analyse the estate.",
        )
    if not PeriodicTask.objects.filter(name=REAPER_TASK_NAME).exists():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=REAPER_EVERY_MINUTES, period=IntervalSchedule.MINUTES
        )
        PeriodicTask.objects.create(
            name=REAPER_TASK_NAME,
            task=REAPER_TASK,
            interval=interval,
            description="Fail sync runs whose worker stopped sending heartbeats.",
        )


def get_nightly_schedule() -> Schedule:
    """The nightly sync's cron expression, time zone, whether it runs, last and next run."""
    ensure_periodic_tasks()
    task = PeriodicTask.objects.select_related("crontab").get(name=NIGHTLY_TASK_NAME)
    crontab = task.crontab
    if crontab is None:
        return Schedule("", "UTC", task.enabled, task.last_run_at, None)
    cron = " ".join(
        [
            crontab.minute,
            crontab.hour,
            crontab.day_of_month,
            crontab.month_of_year,
            crontab.day_of_week,
        ]
    )
    next_run_at = None
    if task.enabled:
        schedule = crontab.schedule
        now = timezone.now().astimezone(zoneinfo.ZoneInfo(str(crontab.timezone)))
        # remaining_estimate is computed to the microsecond from `now`: round to the minute.
        estimate = now + schedule.remaining_estimate(now) + timedelta(seconds=30)
        next_run_at = estimate.replace(second=0, microsecond=0)
    return Schedule(cron, str(crontab.timezone), task.enabled, task.last_run_at, next_run_at)


def validate_cron(expression: str) -> list[str]:
    """The five fields of a cron expression (minute hour day-of-month month day-of-week), or
    ValidationError."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            "A cron expression has five fields: minute hour day-of-month month day-of-week."
        )
    crontab_validator(" ".join(fields))
    return fields


def validate_timezone(name: str) -> str:
    """An IANA time zone name (Europe/Paris), or ValidationError."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {name!r}.") from None
    return name


def update_nightly_schedule(*, cron: str, timezone_name: str, enabled: bool) -> Schedule:
    """Change when the nightly organisation sync runs, or pause it (`enabled=False`).

    Saved through the model so that django-celery-beat's DatabaseScheduler sees the change.
    """
    ensure_periodic_tasks()
    crontab = _crontab_for(cron, timezone_name)
    task = PeriodicTask.objects.get(name=NIGHTLY_TASK_NAME)
    task.crontab = crontab
    task.interval = None
    task.enabled = enabled
    task.save()
    logger.info("Nightly sync schedule: %r %s, enabled=%s", cron, timezone_name, enabled)
    return get_nightly_schedule()


def _crontab_for(cron: str, timezone_name: str) -> CrontabSchedule:
    minute, hour, day_of_month, month_of_year, day_of_week = validate_cron(cron)
    validate_timezone(timezone_name)
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zoneinfo.ZoneInfo(timezone_name),
    )
    return crontab


# --- read side for the sync pages ------------------------------------------------------------


@dataclass(frozen=True)
class AccountProgress:
    """One configured account and its latest AWS run, for the sync page."""

    config: AccountSyncConfig
    role: str
    run: SyncRun | None
    elapsed_seconds: float | None
    has_data: bool

    @property
    def account_id(self) -> str:
        return self.config.account_id


@dataclass(frozen=True)
class SyncProgress:
    """Everything the sync page shows: the latest organisation run and every account."""

    organization_run: SyncRun | None
    organization_elapsed: float | None
    accounts: list[AccountProgress]
    accounts_done: int
    accounts_total: int
    active: bool


def sync_progress(*, now: datetime | None = None) -> SyncProgress:
    """The latest organisation run and each configured account with its latest run."""
    now = now or timezone.now()
    sync_settings = load_settings()
    configs = list(AccountSyncConfig.objects.order_by("account_id"))
    latest_ids = (
        SyncRun.objects.filter(source=SyncRun.Source.AWS)
        .exclude(target_account_id="")
        .values("target_account_id")
        .annotate(last=Max("pk"))
        .values("last")
    )
    latest = {
        run.target_account_id: run
        for run in SyncRun.objects.filter(pk__in=latest_ids).defer("bundle_gzip")
    }
    organization_run = (
        SyncRun.objects.filter(source=SyncRun.Source.AWS, target_account_id="", parent=None)
        .defer("bundle_gzip")
        .order_by("-pk")
        .first()
    )
    with_data = set(
        Account.objects.filter(last_sync_run__isnull=False).values_list("account_id", flat=True)
    )
    accounts = [
        AccountProgress(
            config=config,
            role=(config.role_name_or_arn or sync_settings.role_name).replace(
                "{account_id}", config.account_id
            ),
            run=latest.get(config.account_id),
            elapsed_seconds=elapsed_seconds(latest.get(config.account_id), now),
            has_data=config.account_id in with_data,
        )
        for config in configs
    ]
    done = total = 0
    if organization_run is not None:
        statuses = list(organization_run.children.values_list("status", flat=True))
        total = len(statuses)
        done = sum(1 for status in statuses if status not in ACTIVE)
    active = SyncRun.objects.filter(source=SyncRun.Source.AWS, status__in=ACTIVE).exists()
    return SyncProgress(
        organization_run=organization_run,
        organization_elapsed=elapsed_seconds(organization_run, now),
        accounts=accounts,
        accounts_done=done,
        accounts_total=total,
        active=active,
    )


def elapsed_seconds(run: SyncRun | None, now: datetime) -> float | None:
    """Seconds a run has been running (or ran); None before it starts."""
    if run is None or run.started_at is None:
        return None
    end = run.finished_at or now
    return max(0.0, (end - run.started_at).total_seconds())


def sync_history() -> QuerySet[SyncRun]:
    """Top-level AWS runs, newest first, with how many accounts each covered and how many
    failed (an organisation run's account runs are its children)."""
    return (
        SyncRun.objects.filter(source=SyncRun.Source.AWS, parent=None)
        .defer("bundle_gzip")
        .annotate(
            child_total=Count("children"),
            child_failed=Count("children", filter=Q(children__status=SyncRun.Status.FAILED)),
        )
        .order_by("-pk")
    )


def total_changes(change_counts: dict[str, dict[str, int]] | None) -> int:
    """All added, removed and changed entries of a run's change counts."""
    return sum(sum(actions.values()) for actions in (change_counts or {}).values())
