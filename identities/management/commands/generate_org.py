"""`manage.py generate_org`: write a synthetic organisation as an iamviz bundle file."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.sample.generate import generate_bundle, write_bundle

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Generate a synthetic AWS organisation (iamviz-bundle/1) for demos and benchmarks. "
        "--users and --roles are per account; the same --seed gives the same file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=4, help="number of accounts")
        parser.add_argument("--users", type=int, default=20, help="IAM users per account")
        parser.add_argument("--roles", type=int, default=40, help="IAM roles per account")
        parser.add_argument("--seed", type=int, default=1, help="random seed")
        parser.add_argument("-o", "--output", required=True, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            bundle = generate_bundle(
                accounts=options["accounts"],
                users=options["users"],
                roles=options["roles"],
                seed=options["seed"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        size = write_bundle(bundle, options["output"])
        elapsed = time.perf_counter() - started
        counts = {"users": 0, "groups": 0, "roles": 0, "policies": 0}
        for account in bundle["accounts"]:
            details = account["authorization_details"]
            counts["users"] += len(details["UserDetailList"])
            counts["groups"] += len(details["GroupDetailList"])
            counts["roles"] += len(details["RoleDetailList"])
            counts["policies"] += len(details["Policies"])
        self.stdout.write(
            f"wrote {options['output']}: {len(bundle['accounts'])} accounts, "
            f"{counts['users']} users, {counts['groups']} groups, {counts['roles']} roles, "
            f"{counts['policies']} managed policies, "
            f"{len(bundle['organization']['policies'])} organization policies; "
            f"{size:,} bytes ({size / 1e6:.1f} MB) in {elapsed:.1f} s"
        )
