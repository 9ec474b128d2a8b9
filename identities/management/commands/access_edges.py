"""Print the stored access edges: python manage.py access_edges --format json [--account ID]
[--transitive] [--source ARN]"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.management.output import ContractCommand
from identities.queries.access import (
    EDGE_ROW_FIELDS,
    DirectAccess,
    TransitiveAccess,
    TransitiveFrom,
    direct_edges_of,
    iter_direct_edges,
    iter_transitive_edges,
    source_error,
)


class Command(ContractCommand):
    """Print who can assume which role, one object per edge, sorted by (source, target): source
    (user/role ARN, arn:aws:iam::ID:root for an account outside the synced set, service:NAME,
    federated:PROVIDER or *), target (role ARN), conditions (sorted condition keys, empty when
    unconditional), condition_values (condition key -> what it must be, e.g. "MFA = true"; for a
    chain, over every hop), transitive, path (ARNs from source to target; [source, target] for a
    direct edge), granted_by (statement references; for a chain, every hop's in order, an
    escalation hop's too). CSV joins list cells with ' | '."""

    formats = ("json", "csv")
    columns = EDGE_ROW_FIELDS

    def add_options(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only edges whose target role is in this account")
        parser.add_argument(
            "--transitive",
            action="store_true",
            help="also every role a source can end up in through role chaining",
        )
        parser.add_argument(
            "--source",
            help="only the edges (with --transitive, the chains) of this source: a user or role "
            "ARN, or an edge source such as service:ec2.amazonaws.com",
        )

    def output(
        self, *args: Any, account: str | None, transitive: bool, source: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        self.require_account(account)
        if source is not None and (error := source_error(source)):
            raise CommandError(f"--source: {error}")
        self.warn_without_analysis()
        edges: Iterable[DirectAccess | TransitiveAccess]
        if source is not None:
            edges = (
                TransitiveFrom(source, account)
                if transitive
                else direct_edges_of([source], account)
            )
        else:
            edges = iter_transitive_edges(account) if transitive else iter_direct_edges(account)
        return (edge.as_row() for edge in edges)
