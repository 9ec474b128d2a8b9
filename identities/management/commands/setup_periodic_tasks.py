"""Install the nightly organisation sync and the reaper in django-celery-beat (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from identities import sync


class Command(BaseCommand):
    help = "Install the nightly AWS sync and the stale-run reaper schedules if they are missing."

    def handle(self, *args, **options) -> None:
        sync.ensure_periodic_tasks()
        schedule = sync.get_nightly_schedule()
        state = "enabled" if schedule.enabled else "paused"
        self.stdout.write(
            f"Nightly organisation sync: {schedule.cron} ({schedule.timezone}), {state}; "
            f"stale runs reaped every {sync.REAPER_EVERY_MINUTES} minutes."
        )
