"""Live sync from AWS: one account at a time, and the organisation as a fan-out of account runs.

Plain functions: `identities/tasks.py` wraps them in Celery tasks (and writes the group/chord),
`manage.py sync` calls them in-process. An account's sync collects one account's bundle with
boto3 (`collect.collect_member_account`), validates it and hands it to the same ingest as a file
import, in one transaction. A failing account records the AWS error on its own SyncRun, keeps its
previous data and never stops the others: `run_account_sync` returns an outcome, it does not
raise for AWS errors. `guards` keeps two runs of one account apart and fails runs whose worker
died.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from identities.aws import CallCounter
from identities.bundle import BundleError, make_bundle, validate_bundle, validate_organization
from identities.collect import CollectError, collect_member_account, collect_organization
from identities.ingest.imports import import_bundle, import_organization
from identities.models import Account, AccountSyncConfig, SyncRun
from identities.sync.config import (
    ACTIVE,
    base_session,
    beat_interval,
    has_broker,
    load_settings,
    resolve_target,
    stale_after,
    takeover_after,
    update_discovered_accounts,
)
from identities.sync.guards import (
    AccountLock,
    Heartbeat,
    NoLock,
    account_lock,
    heartbeat_age,
    reap_stale_runs,
)

logger = logging.getLogger(__name__)

ORGANIZATION_LABEL = "organisation"
# Errors that are AWS's (or the answer's) fault: recorded on the account's run, never raised.
AWS_ERRORS = (ClientError, BotoCoreError, CollectError, BundleError, KeyError, TypeError)
# What AWS answers when a caller exceeds a rate limit (after botocore's own adaptive retries).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)


class SyncRefused(Exception):
    """A sync that cannot start (nothing to sync, another sync holds the account)."""


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
    return _create_organization_run(label)


def _create_organization_run(label: str) -> tuple[SyncRun, bool]:
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
    """What `run_account_sync` did: succeeded, failed (with the error), skipped (why), or
    deferred: try again in `retry_in` seconds (throttled by AWS, or a redelivered task whose
    first delivery may still live)."""

    run_id: int
    account_id: str
    status: str
    error: str = ""
    aws_calls: int = 0
    aws_retries: int = 0
    retry_in: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_account_sync(
    *,
    run_id: int,
    task_id: str = "",
    session: boto3.Session | None = None,
    config: Config | None = None,
    defer_throttled: bool = False,
) -> AccountOutcome:
    """Collect and import one account for the pending (or, on a retry, running) run `run_id`.

    AWS errors (AccessDenied on AssumeRole, expired credentials, throttling past botocore's
    retries, a malformed answer) mark the run failed with the error text and leave the
    account's previous data untouched; the outcome says so. With `defer_throttled` a throttled
    account is put back to pending instead and the outcome is "deferred" (the task tries it
    again later in the same organisation run). A run already finished is skipped, so a retried
    or redelivered task is harmless; a redelivered task whose run's worker died (no heartbeat
    for `takeover_after()`) takes the run over. `session` replaces the management session from the
    credential chain (tests).
    """
    run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
    account_id = run.target_account_id
    if run.status not in ACTIVE:
        return AccountOutcome(run_id, account_id, "skipped", f"already {run.status}")
    lock = account_lock(account_id, run_id)
    if not lock.acquire():
        holder = lock.holder_run_id()
        held = (
            SyncRun.objects.filter(pk=holder).values("status", "heartbeat_at").first()
            if holder is not None
            else None
        )
        age = heartbeat_age(held["heartbeat_at"]) if held else timedelta.max
        alive = held is not None and held["status"] in ACTIVE and age < takeover_after()
        if alive and holder == run_id:
            # A redelivered copy of a task whose first delivery still beats: look again when
            # it would count as dead, then take the run over (or find it finished).
            wait = (takeover_after() - age).total_seconds() + beat_interval()
            error = f"run by another worker (heartbeat {age.total_seconds():.0f} s ago)"
            return AccountOutcome(run_id, account_id, "deferred", error, retry_in=wait)
        if alive:
            error = f"another sync of account {account_id} (run #{holder}) holds its lock"
            _mark_failed(run_id, error, None)
            return AccountOutcome(run_id, account_id, SyncRun.Status.FAILED, error)
        if not lock.take_over(holder or 0):
            error = "another worker took the lock over first"
            return AccountOutcome(run_id, account_id, "deferred", error, retry_in=beat_interval())
        logger.warning(
            "Sync run %s: took the lock of account %s over from run %s", run_id, account_id, holder
        )
    try:
        return _run_locked(run, lock, task_id, _Access(session, config, defer_throttled))
    finally:
        lock.release()


@dataclass(frozen=True)
class _Access:
    """How an account sync reaches AWS: the management session (None: the credential chain's),
    botocore's config, and whether a throttled account is deferred rather than failed."""

    session: boto3.Session | None
    config: Config | None
    defer_throttled: bool


def _run_locked(
    run: SyncRun, lock: AccountLock | NoLock, task_id: str, aws: _Access
) -> AccountOutcome:
    account_id = run.target_account_id
    silent_since = run.heartbeat_at
    claimed = _claim(run.pk, "starting", task_id=task_id, error="")
    # Not pending: running is a retry of this very run whose worker is gone (we hold the lock,
    # which a live worker keeps extending); anything else is finished.
    resumed = not claimed and SyncRun.objects.filter(
        pk=run.pk, status=SyncRun.Status.RUNNING
    ).update(heartbeat_at=timezone.now(), task_id=task_id)
    if not claimed and not resumed:
        run.refresh_from_db(fields=["status"])
        return AccountOutcome(run.pk, account_id, "skipped", f"already {run.status}")
    run.refresh_from_db()
    if resumed:
        note = (
            f"taken over at {timezone.localtime():%H:%M:%S} by a redelivered task: the worker "
            f"that ran it stopped (last heartbeat {_clock(silent_since)}); nothing of its "
            "attempt had been applied, the account is read again"
        )
        run.warnings = [*run.warnings, note]
        SyncRun.objects.filter(pk=run.pk).update(warnings=run.warnings)
        logger.warning("Sync run %s: %s", run.pk, note)
    sync_settings = load_settings()
    target = resolve_target(account_id, sync_settings)
    heartbeat = Heartbeat(run.pk, run.parent_id, lock)
    # Counted over every attempt of the run (a deferred or taken-over run has made calls).
    heartbeat.counter.calls, heartbeat.counter.retries = run.aws_calls, run.aws_retries
    logger.info("Sync run %s: account %s as %s", run.pk, account_id, target.role_name_or_arn)
    with heartbeat.background():
        return _collect_and_import(run, heartbeat, sync_settings, target, aws)


def _clock(value: datetime | None) -> str:
    return f"{timezone.localtime(value):%H:%M:%S}" if value else "unknown"


def _collect_and_import(
    run: SyncRun, heartbeat: Heartbeat, sync_settings: Any, target: Any, aws: _Access
) -> AccountOutcome:
    account_id = run.target_account_id
    counter = heartbeat.counter
    try:
        entry = collect_member_account(
            aws.session or base_session(sync_settings),
            account_id=account_id,
            role_name_or_arn=target.role_name_or_arn,
            external_id=target.external_id or None,
            region=sync_settings.region,
            name=target.name or None,
            config=aws.config,
            counter=counter,
        )
        bundle = make_bundle([entry], warnings=[], generated_at=datetime.now(UTC))
        raw = json.dumps(bundle).encode()
        heartbeat.beat("validating", force=True)
        validate_bundle(bundle, source=f"AWS account {account_id}")
    except AWS_ERRORS as exc:
        if aws.defer_throttled and is_throttling(exc):
            return _defer(run, describe_error(exc), counter)
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
    run.warnings = [*run.warnings, *(entry.get("warnings") or [])]
    try:
        import_bundle(
            bundle,
            source=SyncRun.Source.AWS,
            label=run.label,
            raw=raw,
            sync_run=run,
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


def _claim(run_id: int, phase: str, **fields: Any) -> bool:
    """pending -> running: only one executor's conditional UPDATE wins. A run deferred after
    throttling keeps the time it first started."""
    now = timezone.now()
    return bool(
        SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.PENDING).update(
            status=SyncRun.Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            phase=phase,
            **fields,
        )
    )


def is_throttling(exc: BaseException) -> bool:
    """AWS refused for rate: worth trying again in a minute, not worth failing the account."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


def throttle_pause() -> float:
    """Seconds before a throttled account is tried again (`IAMVIZ_THROTTLE_RETRY_SECONDS`),
    at most half the stale timeout so that the reaper never takes the wait for a dead queue.
    In-process (no broker) at once."""
    if not has_broker():
        return 0.0  # in-process: botocore's adaptive backoff has waited already
    wanted = float(getattr(settings, "IAMVIZ_THROTTLE_RETRY_SECONDS", 60))
    return min(wanted, stale_after().total_seconds() / 2)


def _defer(run: SyncRun, error: str, counter: CallCounter) -> AccountOutcome:
    """Put a throttled run back to pending, noted on the run, to be tried again later."""
    pause = throttle_pause()
    later = f"{pause:.0f} s later" if pause else "at once"
    note = f"{error}; tried again {later} in the same run"
    logger.warning("Sync run %s: account %s throttled: %s", run.pk, run.target_account_id, note)
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.PENDING,
        phase=f"throttled by AWS; waiting {pause:.0f} s",
        heartbeat_at=timezone.now(),
        warnings=[*run.warnings, note],
        aws_calls=counter.calls,
        aws_retries=counter.retries,
    )
    return AccountOutcome(
        run.pk,
        run.target_account_id,
        "deferred",
        error,
        counter.calls,
        counter.retries,
        retry_in=pause,
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
        run, created = _create_organization_run(label)
        if not created:
            logger.info("Organisation sync not started: run %s is %s", run.pk, run.status)
            return None
    else:
        run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
    if not _claim(run.pk, "discovering accounts"):
        run.refresh_from_db(fields=["status"])
        if run.status != SyncRun.Status.RUNNING:
            return None
        # A retried task: the accounts were planned already.
        return OrganizationPlan(
            run.pk, list(run.children.order_by("pk").values_list("pk", flat=True))
        )

    sync_settings = load_settings()
    discover = sync_settings.discover_accounts if discover is None else discover
    counter = Heartbeat(run.pk, None).counter
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
