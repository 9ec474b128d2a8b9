"""Read side of the sync pages: progress of the latest runs, the history, change totals; and
every run (imports and syncs) with its change set, for the run pages and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from identities.models import Account, AccountSyncConfig, Change, SyncRun
from identities.sync.config import ACTIVE, load_settings, role_for, stale_after


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
            role=role_for(config, config.account_id, sync_settings),
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
        .prefetch_related(_children())
        .annotate(
            child_total=Count("children"),
            child_failed=Count("children", filter=Q(children__status=SyncRun.Status.FAILED)),
        )
        .order_by("-pk")
    )


def total_changes(change_counts: dict[str, dict[str, int]] | None) -> int:
    """All added, removed and changed entries of a run's change counts."""
    return sum(sum(actions.values()) for actions in (change_counts or {}).values())


def run_change_total(run: SyncRun) -> int:
    """THE change total of a run, the same on every page and on the command line: every entity
    it added, removed or changed (its change counts), an organisation run's with its account
    runs'. Not the number of change-set rows: a first import of an account is one summary row."""
    children = run.children.all()  # prefetched by the queries below
    return total_changes(run.change_counts) + sum(total_changes(c.change_counts) for c in children)


def run_change_counts(run: SyncRun) -> dict[str, dict[str, int]]:
    """A run's change counts by kind and action, an organisation run's with its account runs'
    (so the by-kind table adds up to `run_change_total`)."""
    merged: dict[str, dict[str, int]] = {}
    for counts in [run.change_counts, *(child.change_counts for child in run.children.all())]:
        for kind, actions in (counts or {}).items():
            row = merged.setdefault(kind, {"added": 0, "removed": 0, "changed": 0})
            for action, number in actions.items():
                row[action] = row.get(action, 0) + number
    return dict(sorted(merged.items()))


def _children() -> Prefetch[str]:
    return Prefetch("children", queryset=SyncRun.objects.only("pk", "parent", "change_counts"))


def sync_runs() -> QuerySet[SyncRun]:
    """Sync runs newest first, without loading archived bundles, with their account runs'
    change counts for `run_change_total`."""
    return (
        SyncRun.objects.defer("bundle_gzip")
        .select_related("account")
        .prefetch_related(_children())
        .annotate(
            has_bundle=ExpressionWrapper(
                Q(bundle_gzip__isnull=False) | Q(bundle_of__bundle_gzip__isnull=False),
                output_field=BooleanField(),
            ),
            bundle_pruned_on=Coalesce("bundle_pruned_at", "bundle_of__bundle_pruned_at"),
        )
        .order_by(F("started_at").desc(nulls_last=True), "-pk")
    )


def account_runs(account: Account, limit: int = 10) -> list[SyncRun]:
    """The latest runs that touched an account (its own, and organisation runs naming it)."""
    return list(
        sync_runs().filter(Q(account=account) | Q(account_ids__icontains=account.account_id))[
            :limit
        ]
    )


def changes_for(run: SyncRun, *, kind: str = "", action: str = "") -> QuerySet[Change]:
    """The change set of a run (an organisation run's includes its account runs'), optionally
    narrowed to one kind and/or action."""
    queryset = Change.objects.filter(Q(sync_run=run) | Q(sync_run__parent=run)).order_by(
        "kind", "action", "key", "pk"
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if action:
        queryset = queryset.filter(action=action)
    return queryset


def account_runs_of(run: SyncRun) -> QuerySet[SyncRun]:
    """The account runs of an organisation run (`run_change_total` gives each one's total)."""
    return (
        run.children.defer("bundle_gzip")
        .prefetch_related(_children())
        .order_by("target_account_id")
    )


def busy_reason(run: SyncRun, *, now: datetime | None = None) -> str:
    """Why a "Sync now" did not start a run: the run that holds the account (or the
    organisation), what it does and when its worker last showed it lives."""
    now = now or timezone.now()
    what = f"account {run.target_account_id}" if run.target_account_id else "the organisation"
    if run.parent_id:
        holder = f"run #{run.pk} of organisation run #{run.parent_id}"
    else:
        holder = f"run #{run.pk}"
    if run.status == SyncRun.Status.PENDING:
        state = f"queued since {_clock(run.heartbeat_at or run.started_at)}, waiting for a worker"
    else:
        state = f"running since {_clock(run.started_at)}"
        if run.phase:
            state += f", {run.phase}"
    if run.heartbeat_at is not None:
        silent = max(0.0, (now - run.heartbeat_at).total_seconds())
        state += f"; last heartbeat {silent:.0f} s ago"
        limit = stale_after().total_seconds()
        if run.status == SyncRun.Status.RUNNING and silent > limit / 2:
            state += f" (its worker counts as dead after {limit:.0f} s without one)"
    return f"Not started: {what} is already being synced by {holder} ({state})."


def _clock(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%H:%M:%S") if value else "an unknown time"
