"""Database helpers shared by the stages that bulk-write (ingest, analysis), and by the reads
of many keys at once.

PostgreSQL gets COPY (several times faster than INSERT), UPDATE … FROM a COPY-filled staging
table, and ANALYZE; other databases (the embedded SQLite) get Django's bulk operations. A
read of thousands of keys sends them to PostgreSQL as one array (`any_of`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from django.db import connection, models
from django.db.models import F, Q
from django.db.models.lookups import In

BATCH = 2000


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *,
    batch_size: int = BATCH,
) -> None:
    """Insert ``rows`` (dicts of ``fields`` by attribute name): COPY on PostgreSQL."""
    if connection.vendor == "postgresql":
        copy_rows(model, fields, rows)
        return
    batch: list[models.Model] = []
    for row in rows:
        batch.append(model(**row))
        if len(batch) >= batch_size:
            model._default_manager.bulk_create(batch)
            batch = []
    if batch:
        model._default_manager.bulk_create(batch)


def copy_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *,
    table: str | None = None,
) -> None:
    """Insert rows with PostgreSQL's COPY into ``model``'s table (or ``table``, same columns).

    JSON columns are serialised here: COPY takes their text.
    """
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    columns = [by_attname[name] for name in fields]
    is_json = [isinstance(column, models.JSONField) for column in columns]
    quote = connection.ops.quote_name
    names = ", ".join(quote(_column(column)) for column in columns)
    target = quote(table or model._meta.db_table)
    json_at = [i for i, json in enumerate(is_json) if json]
    pick = operator.itemgetter(*fields)
    single = len(fields) == 1
    dumps = orjson.dumps
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy,
    ):
        write = copy.write_row
        for row in rows:
            values = [pick(row)] if single else list(pick(row))
            for i in json_at:
                value = values[i]
                if value is not None:
                    values[i] = dumps(value).decode()
            write(values)


def delete_all(tables: Sequence[type[models.Model]]) -> None:
    """Delete every row of these models' tables, one statement each, in this order (children
    first): no cascade collection, which reads every row into memory first."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")


def update_rows(
    model: type[models.Model],
    objects: Sequence[models.Model],
    fields: Sequence[str],
    *,
    batch_size: int = BATCH,
) -> None:
    """Write ``fields`` of ``objects`` (which carry their pk) back to their rows.

    On PostgreSQL through a COPY into a temporary table and one UPDATE … FROM: Django's
    bulk_update writes a CASE per row and column, which takes minutes for the hundred
    thousand rows an estate-wide change can touch.
    """
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objects, list(fields), batch_size=batch_size)
        return
    quote = connection.ops.quote_name
    table = model._meta.db_table
    staging = f"{table}_staging"
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(quote(_column(by_attname[name])) for name in fields)
    rows = [{"id": obj.pk, **{name: getattr(obj, name) for name in fields}} for obj in objects]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {quote(staging)} AS "
            f"SELECT id, {columns} FROM {quote(table)} WITH NO DATA"
        )
        copy_rows(model, ["id", *fields], rows, table=staging)
        assignments = ", ".join(
            f"{quote(_column(by_attname[name]))} = staging.{quote(_column(by_attname[name]))}"
            for name in fields
        )
        cursor.execute(
            f"UPDATE {quote(table)} AS target SET {assignments} "
            f"FROM {quote(staging)} AS staging WHERE target.id = staging.id"
        )
        cursor.execute(f"DROP TABLE {quote(staging)}")


def _column(field: models.Field[Any, Any]) -> str:
    """The database column of a concrete field (django-stubs types it as optional)."""
    assert field.column is not None
    return field.column


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


class AnyOf(In):
    """``column IN (values)`` written ``column = ANY(%s)`` on PostgreSQL: one parameter, an
    array, rather than one per value. A hop of a neighbourhood asks for thousands of keys, and
    the driver and Django spent more time placing thousands of parameters than the database
    took to answer."""

    lookup_name = "any"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def any_of(column: str, values: Iterable[Any]) -> Q:
    """The rows whose ``column`` holds one of ``values`` (`AnyOf`)."""
    return Q(AnyOf(F(column), list(values)))
