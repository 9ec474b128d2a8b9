"""Who can do this? python manage.py who_can ACTION RESOURCE_ARN [--format json|text]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from identities.analysis.who_can import question_error
from identities.management.output import stop_quietly_when_reader_closes
from identities.queries.who_can import answer_who_can


class Command(BaseCommand):
    help = (
        "Every user and role of the estate whose effective permissions (identity policies, "
        "groups, boundary, SCPs, explicit denies) allow ACTION on RESOURCE_ARN, sorted by ARN. "
        "JSON: an array of objects with principal, kind, account, conditional, conditions "
        "(sorted condition keys, empty when unconditional) and granted_by (statement "
        "references). A resource that names an account is asked about for that account's "
        "principals only; sts:AssumeRole on a role of the estate is answered from its stored "
        "access edges (trust policy included, principals of every account)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", help="e.g. iam:CreateAccessKey")
        parser.add_argument("resource", help="a resource ARN, or *")
        parser.add_argument("--format", choices=["json", "text"], default="text")

    def handle(self, *args: Any, action: str, resource: str, format: str, **options: Any) -> None:
        error = question_error(action, resource)
        if error:
            raise CommandError(error)
        found = answer_who_can(action, resource, now=timezone.now())
        with stop_quietly_when_reader_closes(self.stdout):
            if format == "json":
                self.stdout.write(json.dumps([allowed.as_row() for allowed in found], indent=2))
                return
            for allowed in found:
                when = f" (if {', '.join(allowed.conditions)})" if allowed.conditional else ""
                self.stdout.write(f"{allowed.principal}{when}")
            if not found:
                self.stderr.write(f"nobody in the estate may {action} on {resource}")
