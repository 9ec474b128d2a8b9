"""Database helpers shared by the stages that bulk-write (ingest, analysis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import connection, models


def refresh_planner_statistics(columns: Mapping[type[models.Model], Sequence[str]]) -> None:
    """ANALYZE the given columns of tables a bulk write just filled (PostgreSQL only).

    Autovacuum comes later (or never, where it is off); with stale statistics the planner
    treats a freshly filled table as empty and scans it whole. Only the columns that queries
    filter and join on: statistics of the JSON columns cost seconds.
    """
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model, names in columns.items():
            cursor.execute(
                f"ANALYZE {quote(model._meta.db_table)} ({', '.join(quote(n) for n in names)})"
            )
