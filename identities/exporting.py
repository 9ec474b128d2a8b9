"""Exports built in the background: a list too long for one download (the escalations page's
CSV past `CSV_LIMIT` rows) written by a worker to a gzip-compressed CSV file under the data
directory, with its progress on the `Export` row, for the login that asked.

The rows come from the reader the streamed CSV uses (`matching_escalations`,
`escalation_csv_rows`), so a built file and a download hold the same rows. A file is written
under a temporary name and renamed when complete: a failed build leaves no partial file, only
the row marked failed with the reason. Exports older than `IAMVIZ_EXPORT_KEEP_DAYS` are pruned
with their files.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from identities.models import Export
from identities.queries.access import current_run
from identities.queries.escalations import matching_escalations, total_escalations
from identities.queries.exports import SafeCsvWriter, escalation_csv_rows

logger = logging.getLogger(__name__)

# The progress a build records: every this many rows (a row update each time).
PROGRESS_EVERY = 50_000
# An export still queued after this long, or building without progress after this long, gets
# a word on its page (`stalled`): a build writes its progress every few seconds.
QUEUED_TOO_LONG = timedelta(minutes=1)
SILENT_TOO_LONG = timedelta(minutes=5)


@dataclass(frozen=True)
class ExportKind:
    """What an export of one kind reads: its rows (header first) and their number."""

    rows: Callable[[dict[str, Any]], Iterator[list[str]]]
    total: Callable[[dict[str, Any]], int]


KINDS: dict[str, ExportKind] = {
    Export.Kind.ESCALATIONS: ExportKind(
        rows=lambda filters: escalation_csv_rows(matching_escalations(**filters)),
        total=lambda filters: total_escalations(**filters),
    ),
}


def export_dir() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def export_path(export: Export) -> Path:
    return export_dir() / export.file_name


def request_export(
    kind: str, filters: dict[str, Any], user: User | AnonymousUser, *, now: datetime
) -> Export:
    """Record an export of ``kind`` with ``filters`` for ``user`` and queue its build once the
    row is committed (in-process at once without a broker)."""
    from identities.tasks import build_export_task  # the tasks import the stages

    if kind not in KINDS:
        raise ValueError(f"no export of kind {kind!r}")
    known = {name: value for name, value in filters.items() if value not in (None, "")}
    export = Export.objects.create(
        kind=kind,
        filters=known,
        requested_by=user if isinstance(user, User) else None,
        analysis_run=current_run(),
        rows_total=KINDS[kind].total(known),
        created_at=now,
    )
    transaction.on_commit(lambda: build_export_task.delay(export_id=export.pk))
    return export


def build_export(export_id: int) -> Export:
    """Write the export's file (a redelivered build starts again from the first row)."""
    export = Export.objects.get(pk=export_id)
    if export.status == Export.Status.DONE:
        return export
    started = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.RUNNING, started_at=started, progress_at=started, rows_written=0,
        error="",
    )  # fmt: skip
    path = export_path(export)
    partial = path.with_suffix(".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = _write(partial, KINDS[export.kind].rows(export.filters), export.pk)
        partial.replace(path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        logger.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED, error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )  # fmt: skip
        raise
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE,
        rows_written=written,
        rows_total=written,
        size_bytes=path.stat().st_size,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    logger.info("export %s: %d rows, %d bytes", export.pk, written, export.size_bytes)
    return export


def _write(path: Path, rows: Iterator[list[str]], export_id: int) -> int:
    """Write ``rows`` (the header first) to ``path`` as gzip-compressed CSV; the data rows."""
    written = -1
    with gzip.open(path, "wb", compresslevel=6) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = SafeCsvWriter(text)
        for written, row in enumerate(rows):
            writer.writerow(row)
            if written and written % PROGRESS_EVERY == 0:
                Export.objects.filter(pk=export_id).update(
                    rows_written=written, progress_at=timezone.now()
                )
        text.flush()
        text.detach()
    return max(written, 0)


def stalled(export: Export, *, now: datetime) -> str:
    """What to tell of an export that is not moving ("" when it is, or is over)."""
    if export.status == Export.Status.QUEUED and now - export.created_at > QUEUED_TOO_LONG:
        return (
            f"Queued for {_minutes(now - export.created_at)} and no worker has started it: the "
            "analysis queue's worker is busy (an analysis goes first), or none consumes that "
            "queue (make worker, or docker compose's analysis worker). It starts as soon as one "
            "is free."
        )
    quiet_since = export.progress_at or export.started_at
    if (
        export.status == Export.Status.RUNNING
        and quiet_since is not None
        and now - quiet_since > SILENT_TOO_LONG
    ):
        return (
            f"No progress for {_minutes(now - quiet_since)}: its worker may have stopped. A "
            "restarted worker builds it again from the first row."
        )
    return ""


def _minutes(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def prune_exports(*, now: datetime) -> int:
    """Delete the exports (and their files) made more than `IAMVIZ_EXPORT_KEEP_DAYS` ago."""
    old = Export.objects.filter(
        created_at__lt=now - timedelta(days=settings.IAMVIZ_EXPORT_KEEP_DAYS)
    )
    for export in old:
        export_path(export).unlink(missing_ok=True)
    deleted, _ = old.delete()
    return deleted
