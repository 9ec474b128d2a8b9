"""What a proposed IAM change would change in access, without touching the stored estate:
python manage.py what_if --format json (--trust-policy ROLE_ARN FILE | --policy POLICY FILE |
--boundary ARN FILE | --scp POLICY_ID FILE | --remove-membership USER_ARN GROUP_ARN |
--remove-statement POLICY SID_OR_INDEX | --detach POLICY_ARN PRINCIPAL_ARN)..."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis.what_if import WhatIfError, keep_prepared, proposal_from, what_if
from identities.bundle import BundleError
from identities.management.output import stop_quietly_when_reader_closes

_OPTIONS = {
    "trust-policy": ("ROLE_ARN", "FILE"),
    "policy": ("POLICY", "FILE"),
    "boundary": ("PRINCIPAL_ARN", "FILE"),
    "scp": ("POLICY_ID", "FILE"),
    "remove-membership": ("USER_ARN", "GROUP_ARN"),
    "remove-statement": ("POLICY", "SID_OR_INDEX"),
    "detach": ("POLICY_ARN", "PRINCIPAL_ARN"),
}


class _Ordered(argparse.Action):
    """Keep every change, in command-line order, as (option, arguments)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        found = getattr(namespace, "changes", None) or []
        found.append((self.dest.replace("_", "-"), list(values)))
        namespace.changes = found


class Command(BaseCommand):
    help = (
        "Evaluate a proposed change (several options are one proposal) against the estate as "
        "stored and print what it would change, as access_changes prints it: from (the current "
        "analysis run id), to (null), edges_added, edges_removed, edges_changed, "
        "administrators_added, administrators_removed, admin_reach_added, admin_reach_removed, "
        "escalations_added, escalations_removed, findings_new, findings_resolved. POLICY is a managed policy ARN, a role ARN (its trust "
        "policy), OWNER_ARN#POLICY_NAME (an inline policy) or an SCP/RCP id; --detach takes a "
        "managed policy off a user, group or role. FILE holds a "
        "policy document as JSON ('-' reads standard input). Nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json"], default="json")
        for option, metavar in _OPTIONS.items():
            parser.add_argument(
                f"--{option}", nargs=2, metavar=metavar, action=_Ordered, default=None
            )
        parser.set_defaults(changes=[])

    def handle(self, *args: Any, format: str, changes: list[Any], **options: Any) -> None:
        if not changes:
            raise CommandError("give at least one change (see --help)")
        try:
            proposal = proposal_from(changes, read=_read)
            answer = what_if(proposal)
        except (WhatIfError, BundleError) as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"answered in {answer.seconds}s ({answer.how})", ending="\n")
        with stop_quietly_when_reader_closes(self.stdout):
            self.stdout.write(json.dumps(answer.document(), indent=2))
            self.stdout.flush()
        # Once the answer is out: the next process answering against this analysis reads the
        # parsed estate back instead of loading it again.
        keep_prepared()


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WhatIfError(f"{path}: {exc.strerror}") from None
