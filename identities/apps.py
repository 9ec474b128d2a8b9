from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IdentitiesConfig(AppConfig):
    name = "identities"
    verbose_name = "IAM identities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_install_periodic_tasks, sender=self)


def _install_periodic_tasks(*, using: str = "default", **kwargs: Any) -> None:
    """Seed the nightly organisation sync and the reaper after `migrate` (idempotent; a
    schedule staff changed or paused is kept). `manage.py setup_periodic_tasks` does the same."""
    from identities.sync.schedule import ensure_periodic_tasks  # noqa: PLC0415 - models load after ready()

    if using == "default":
        ensure_periodic_tasks()
