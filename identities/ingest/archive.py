"""Archived bundles: each run keeps the raw input it imported, once per content, for a while.

A run archives its bundle gzipped on itself, unless a retained archive holds the same bytes
(same SHA-256): then it points at that run (`bundle_of`). `prune_bundles` (beat, housekeeping
queue) drops the archives outside the retention (`IAMVIZ_BUNDLE_KEEP_LAST`, `_KEEP_DAYS`) and
records when, so that a download of a pruned bundle says so.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, Max, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from identities.models import SyncRun


class BundleUnavailable(LookupError):
    """The run has no bundle to download; the message says why."""


def archive_bundle(run: SyncRun, raw: bytes) -> None:
    """Set the archive fields of `run` (unsaved) for `raw`: its own copy, or a pointer to the
    retained archive of identical content."""
    digest = hashlib.sha256(raw).hexdigest()
    run.bundle_sha256 = digest
    run.bundle_bytes = len(raw)
    run.bundle_pruned_at = None
    if run.bundle_gzip is not None and run.pk and _holds(run.pk, digest):
        return  # a redelivered sync importing the same bytes again
    holder = (
        SyncRun.objects.filter(bundle_sha256=digest, bundle_gzip__isnull=False)
        .exclude(pk=run.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if holder is None:
        run.bundle_gzip = gzip.compress(raw, compresslevel=3)
        run.bundle_of = None
    else:
        run.bundle_gzip = None
        run.bundle_of_id = holder


def _holds(pk: int, digest: str) -> bool:
    return SyncRun.objects.filter(pk=pk, bundle_sha256=digest, bundle_gzip__isnull=False).exists()


def archived_bundle(pk: int) -> bytes:
    """The gzipped bundle of run `pk` (its own archive or the one it points at), or
    BundleUnavailable saying why not: no such run, never archived, or pruned (and when)."""
    run = (
        SyncRun.objects.filter(pk=pk)
        .values("bundle_gzip", "bundle_of", "bundle_pruned_at", "bundle_bytes")
        .first()
    )
    if run is None:
        raise BundleUnavailable(f"Sync run #{pk} does not exist.")
    holder = run
    if run["bundle_gzip"] is None and run["bundle_of"] is not None:
        holder = (
            SyncRun.objects.filter(pk=run["bundle_of"])
            .values("bundle_gzip", "bundle_of", "bundle_pruned_at", "bundle_bytes")
            .first()
        ) or run
    if holder["bundle_gzip"] is not None:
        return bytes(holder["bundle_gzip"])
    pruned_at = holder["bundle_pruned_at"] or run["bundle_pruned_at"]
    if pruned_at is not None:
        raise BundleUnavailable(
            f"The bundle of sync run #{pk} was pruned on {pruned_at:%Y-%m-%d %H:%M} UTC under "
            f"the archive retention ({retention_text()})."
        )
    raise BundleUnavailable(f"Sync run #{pk} has no archived bundle.")


def retention_text() -> str:
    """The retention in words, e.g. "the newest 30 bundles and those used in the last 90 days"."""
    keep_last, keep_days = settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS
    limits = [
        *([f"the newest {keep_last} bundles"] if keep_last > 0 else []),
        *([f"those used in the last {keep_days} days"] if keep_days > 0 else []),
    ]
    return "kept: " + (" and ".join(limits) or "every bundle")


@dataclass(frozen=True)
class Pruned:
    archives: int
    bytes: int


def prune_bundles(now: datetime | None = None) -> Pruned:
    """Drop the archives outside the retention: an archive is kept while it is one of the
    newest `IAMVIZ_BUNDLE_KEEP_LAST` or was used (archived, or repeated by an identical
    import) in the last `IAMVIZ_BUNDLE_KEEP_DAYS` days; a limit of 0 is off, both off keep all.
    """
    keep_last, keep_days = settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS
    if keep_last <= 0 and keep_days <= 0:
        return Pruned(0, 0)
    now = now or timezone.now()
    epoch = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())
    archives = (
        SyncRun.objects.filter(bundle_gzip__isnull=False)
        .annotate(
            last_used=Greatest(
                Coalesce("started_at", epoch),
                Coalesce(Max("bundle_copies__started_at"), epoch),
            )
        )
        .order_by("-last_used", "-pk")
        .values_list("pk", "last_used", "bundle_bytes")
    )
    cutoff = now - timedelta(days=keep_days)
    doomed: list[int] = []
    freed = 0
    for rank, (pk, last_used, size) in enumerate(archives):
        within_count = keep_last > 0 and rank < keep_last
        within_age = keep_days > 0 and last_used >= cutoff
        if not (within_count or within_age):
            doomed.append(pk)
            freed += size
    if doomed:
        SyncRun.objects.filter(pk__in=doomed, bundle_gzip__isnull=False).update(
            bundle_gzip=None, bundle_pruned_at=now
        )
    return Pruned(len(doomed), freed)
