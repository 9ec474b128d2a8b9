"""Create the demo login and load the bundled sample organisation (idempotent)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from identities.roles import ADMIN, grant_role
from identities.sample import SAMPLE_BUNDLE_PATH

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the roles, an admin login (printed) and import the bundled sample organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-sample", action="store_true", help="only create the login")

    def handle(self, *args: Any, no_sample: bool, **options: Any) -> None:
        password_file = settings.DATA_DIR / "demo-login.txt"
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        user, _ = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        grant_role(user, ADMIN)
        if not no_sample:
            call_command("import_authz", str(SAMPLE_BUNDLE_PATH), stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Log in at http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}/"
                f" as {DEMO_USERNAME!r} "
                f"with password {password!r}\n  (kept in {password_file})\n"
            )
        )
