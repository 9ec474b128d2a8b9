"""Why can or can't SOURCE assume TARGET? python manage.py explain SOURCE TARGET"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identities.analysis.explain import ExplainError, explain_access
from identities.management.output import stop_quietly_when_reader_closes
from identities.queries.access import chain_between


class Command(BaseCommand):
    help = (
        "Explain, statement by statement and layer by layer, why SOURCE can or cannot assume "
        "the role TARGET. SOURCE: a user or role ARN, account/name, arn:aws:iam::ID:root of an "
        "account outside the synced set, service:NAME, federated:PROVIDER or '*'. TARGET: a "
        "role ARN or account/name. Exits 0 either way; 1 when a name is unknown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source")
        parser.add_argument("target")

    def handle(self, *args: Any, source: str, target: str, **options: Any) -> None:
        try:
            explanation = explain_access(source, target)
        except ExplainError as exc:
            raise CommandError(str(exc)) from exc
        chain = (
            None if explanation.possible else chain_between(explanation.source, explanation.target)
        )
        with stop_quietly_when_reader_closes(self.stdout):
            self.stdout.write(explanation.text)
            if chain is not None:
                self.stdout.write(
                    "\nIt can still end up in the role through role chaining (stored analysis): "
                    + " -> ".join(chain)
                )
