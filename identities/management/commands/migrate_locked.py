"""`migrate`, one process at a time: containers started together apply each migration once."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# pg_advisory_lock key: any constant that no other part of iamviz uses.
MIGRATE_LOCK_KEY = 0x1A3F1A3F


class Command(BaseCommand):
    help = (
        "Apply migrations under a PostgreSQL advisory lock: a second process waits, then finds "
        "nothing to apply (docker/entrypoint.sh migrate)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=verbosity)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                self.stdout.write("Another process is migrating; waiting for it.")
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
        try:
            call_command("migrate", interactive=False, verbosity=verbosity)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
