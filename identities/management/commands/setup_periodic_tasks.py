"""Install the nightly organisation sync and the reaper in django-celery-beat (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from identities.sync.schedule import ensure_periodic_tasks, get_nightly_schedule


class Command(BaseCommand):
    help = "Install the nightly AWS sync and the stale-run reaper schedules if they are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_periodic_tasks()
        schedule = get_nightly_schedule()
        state = "enabled" if schedule.enabled else "paused"
        self.stdout.write(
            f"Nightly organisation sync: {schedule.cron} ({schedule.timezone}), {state}; "
            f"stale runs reaped every {settings.IAMVIZ_REAPER_EVERY_SECONDS} seconds."
        )
