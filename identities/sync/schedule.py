"""The beat schedule (django-celery-beat): the nightly organisation sync, which staff may move or
pause; the reaper and the pruning of archived bundles, every so many seconds (settings).

The rows are installed by `ensure_periodic_tasks` (after `migrate`, and by `manage.py
setup_periodic_tasks`); reading the schedule never writes, so a page that shows it is a pure GET.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.validators import crontab_validator

logger = logging.getLogger(__name__)

NIGHTLY_TASK_NAME = "iamviz: nightly organisation sync"
NIGHTLY_TASK = "identities.sync_organization"
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"
REAPER_TASK_NAME = "iamviz: fail sync runs whose worker died"
REAPER_TASK = "identities.reap_stale_syncs"
PRUNE_TASK_NAME = "iamviz: prune archived bundles"
PRUNE_TASK = "identities.prune_bundles"


@dataclass(frozen=True)
class Schedule:
    """The nightly organisation sync as staff see it."""

    cron: str
    timezone: str
    enabled: bool
    last_run_at: datetime | None
    next_run_at: datetime | None


def ensure_periodic_tasks() -> None:
    """Install the nightly organisation sync (02:00 UTC) if it is missing (an existing one,
    changed or paused by staff, is left alone), the reaper every `IAMVIZ_REAPER_EVERY_SECONDS`
    and the bundle pruning every `IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS`, on the housekeeping queue."""
    if not PeriodicTask.objects.filter(name=NIGHTLY_TASK_NAME).exists():
        PeriodicTask.objects.create(
            name=NIGHTLY_TASK_NAME,
            task=NIGHTLY_TASK,
            crontab=_crontab_for(DEFAULT_CRON, DEFAULT_TIMEZONE),
            kwargs=json.dumps({"label": "organisation (nightly)"}),
            description="Sync every account of the AWS organisation, then analyse the estate.",
        )
    _ensure_interval_task(
        REAPER_TASK_NAME,
        REAPER_TASK,
        settings.IAMVIZ_REAPER_EVERY_SECONDS,
        "Fail syncs and analyses whose worker stopped sending heartbeats.",
    )
    _ensure_interval_task(
        PRUNE_TASK_NAME,
        PRUNE_TASK,
        settings.IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS,
        "Drop archived bundles outside IAMVIZ_BUNDLE_KEEP_LAST / IAMVIZ_BUNDLE_KEEP_DAYS.",
    )


def _ensure_interval_task(name: str, task: str, seconds: int, description: str) -> None:
    """A housekeeping task every `seconds` (a setting, not staff's: kept in step with it)."""
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=seconds, period=IntervalSchedule.SECONDS
    )
    existing = PeriodicTask.objects.filter(name=name).first()
    if existing is None:
        PeriodicTask.objects.create(
            name=name, task=task, interval=interval, queue="housekeeping", description=description
        )
    elif existing.interval_id != interval.pk or existing.queue != "housekeeping":
        existing.interval = interval
        existing.queue = "housekeeping"
        existing.save()


def get_nightly_schedule() -> Schedule:
    """The nightly sync's cron expression, time zone, whether it runs, last and next run.

    Reads only: before `ensure_periodic_tasks` installed the task, the default it would install.
    """
    task = PeriodicTask.objects.select_related("crontab").filter(name=NIGHTLY_TASK_NAME).first()
    if task is None:
        default = CrontabSchedule(**_crontab_fields(DEFAULT_CRON, DEFAULT_TIMEZONE))
        return _schedule_of(default, enabled=True, last_run_at=None)
    if task.crontab is None:
        return Schedule("", DEFAULT_TIMEZONE, task.enabled, task.last_run_at, None)
    return _schedule_of(task.crontab, enabled=task.enabled, last_run_at=task.last_run_at)


def _schedule_of(
    crontab: CrontabSchedule, *, enabled: bool, last_run_at: datetime | None
) -> Schedule:
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
    if enabled:
        now = timezone.now().astimezone(zoneinfo.ZoneInfo(str(crontab.timezone)))
        # remaining_estimate is computed to the microsecond from `now`: round to the minute.
        estimate = now + crontab.schedule.remaining_estimate(now) + timedelta(seconds=30)
        next_run_at = estimate.replace(second=0, microsecond=0)
    return Schedule(cron, str(crontab.timezone), enabled, last_run_at, next_run_at)


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
    crontab, _ = CrontabSchedule.objects.get_or_create(**_crontab_fields(cron, timezone_name))
    return crontab


def _crontab_fields(cron: str, timezone_name: str) -> dict[str, Any]:
    minute, hour, day_of_month, month_of_year, day_of_week = validate_cron(cron)
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
        "timezone": zoneinfo.ZoneInfo(validate_timezone(timezone_name)),
    }
