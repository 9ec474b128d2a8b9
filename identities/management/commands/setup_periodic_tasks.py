"""Install the nightly organisation sync, the reaper and the archive pruning in
django-celery-beat (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from identities.sync.schedule import ensure_periodic_tasks, get_nightly_schedule


class Command(BaseCommand):
    help = (
        "Install the nightly AWS sync, the stale-run reaper and the archive pruning schedules if "
        "they are missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_periodic_tasks()
        schedule = get_nightly_schedule()
        state = "enabled" if schedule.enabled else "paused"
        self.stdout.write(
            f"Nightly organisation sync: {schedule.cron} ({schedule.timezone}), {state}; "
            f"stale runs reaped every {settings.IAMVIZ_REAPER_EVERY_SECONDS} seconds; archived "
            f"bundles pruned every {settings.IAMVIZ_BUNDLE_PRUNE_EVERY_SECONDS} seconds."
        )
