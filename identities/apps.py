from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_migrate


class IdentitiesConfig(AppConfig):
    name = "identities"
    verbose_name = "IAM identities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_install_periodic_tasks, sender=self)
        from identities.audit import on_login, on_login_failed  # noqa: PLC0415 - models load first

        user_logged_in.connect(on_login, dispatch_uid="identities.audit.login")
        user_login_failed.connect(on_login_failed, dispatch_uid="identities.audit.login_failed")


def _install_periodic_tasks(*, using: str = "default", **kwargs: Any) -> None:
    """Seed the nightly organisation sync and the reaper after `migrate` (idempotent; a
    schedule staff changed or paused is kept). `manage.py setup_periodic_tasks` does the same."""
    from identities.sync.schedule import ensure_periodic_tasks  # noqa: PLC0415 - models load after ready()

    if using == "default":
        ensure_periodic_tasks()
