"""identities.sync.schedule: the nightly sync and the reaper in django-celery-beat."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from identities.sync.schedule import (
    NIGHTLY_TASK_NAME,
    PRUNE_TASK_NAME,
    REAPER_TASK_NAME,
    ensure_periodic_tasks,
    get_nightly_schedule,
    update_nightly_schedule,
)

WRITES = ("INSERT", "UPDATE", "DELETE")


def _empty_schedule_tables() -> None:
    PeriodicTask.objects.all().delete()
    CrontabSchedule.objects.all().delete()
    IntervalSchedule.objects.all().delete()


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith(WRITES)]


def test_periodic_tasks_are_installed_once(db: None) -> None:
    ensure_periodic_tasks()
    ensure_periodic_tasks()

    schedule = get_nightly_schedule()

    assert sorted(PeriodicTask.objects.values_list("name", "task")) == [
        (REAPER_TASK_NAME, "identities.reap_stale_syncs"),
        (NIGHTLY_TASK_NAME, "identities.sync_organization"),
        (PRUNE_TASK_NAME, "identities.prune_bundles"),
    ]
    assert (schedule.cron, schedule.timezone, schedule.enabled) == ("0 2 * * *", "UTC", True)
    assert schedule.next_run_at is not None
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (2, 0)


def test_staff_schedule_change_and_pause_are_kept(db: None) -> None:
    update_nightly_schedule(cron="30 3 * * 1-5", timezone_name="Europe/Paris", enabled=False)
    ensure_periodic_tasks()

    schedule = get_nightly_schedule()

    task = PeriodicTask.objects.get(name=NIGHTLY_TASK_NAME)
    assert (schedule.cron, schedule.timezone, schedule.enabled) == (
        "30 3 * * 1-5",
        "Europe/Paris",
        False,
    )
    assert (schedule.next_run_at, task.enabled, str(task.crontab.timezone)) == (
        None,
        False,
        "Europe/Paris",
    )


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 2 * *", "UTC", "A cron expression has five fields"),
        ("61 2 * * *", "UTC", "61"),
        ("0 2 * * *", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'."),
    ],
)
def test_bad_schedules_are_refused(db: None, cron: str, zone: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("*", r"\*")):
        update_nightly_schedule(cron=cron, timezone_name=zone, enabled=True)

    assert get_nightly_schedule().cron == "0 2 * * *"


def test_reading_the_schedule_writes_nothing(db: None) -> None:
    _empty_schedule_tables()

    with CaptureQueriesContext(connection) as queries:
        schedule = get_nightly_schedule()

    assert _writes(queries) == []
    assert (schedule.cron, schedule.timezone, schedule.enabled) == ("0 2 * * *", "UTC", True)
    assert schedule.next_run_at is not None
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (2, 0)
    assert PeriodicTask.objects.count() == CrontabSchedule.objects.count() == 0


@pytest.mark.parametrize("name", ["identities:sync", "identities:sync-settings"])
def test_a_get_of_the_sync_pages_on_an_empty_database_writes_nothing(
    logged_in_client: Any, name: str
) -> None:
    _empty_schedule_tables()

    with CaptureQueriesContext(connection) as queries:
        response = logged_in_client.get(reverse(name))

    assert response.status_code == 200
    assert "0 2 * * *" in response.content.decode()
    # The session middleware may touch django_session; the app's own tables must stay as read.
    assert [sql for sql in _writes(queries) if "django_session" not in sql] == []


def test_the_reaper_runs_every_minute_on_the_housekeeping_queue(db: None) -> None:
    """Issue 15 item 3: the reaper sat behind analyses on the only queue, every 5 minutes."""
    old, _ = IntervalSchedule.objects.get_or_create(every=5, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.update_or_create(
        name=REAPER_TASK_NAME,
        defaults={"task": "identities.reap_stale_syncs", "interval": old, "queue": None},
    )

    ensure_periodic_tasks()

    reaper = PeriodicTask.objects.select_related("interval").get(name=REAPER_TASK_NAME)
    assert (reaper.interval.every, reaper.interval.period, reaper.queue) == (
        60,
        "seconds",
        "housekeeping",
    )
