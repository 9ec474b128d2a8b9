"""Celery tasks: thin wrappers that load ids, call one stage function, log and return."""

from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task

from identities.bundle import read_bundle
from identities.ingest import import_bundle

logger = logging.getLogger(__name__)


@shared_task(name="identities.import_bundle_file")
def import_bundle_file(*, path: str, analyse: bool = True) -> int:
    """Import a bundle file that the worker can read; returns the SyncRun id."""
    bundle = read_bundle(path)
    result = import_bundle(bundle, label=Path(path).name, raw=Path(path).read_bytes())
    logger.info("imported %s as run %s", path, result.sync_run.pk)
    if analyse:
        analyse_estate_task.delay()
    return result.sync_run.pk


@shared_task(name="identities.analyse")
def analyse_estate_task() -> dict:
    """Recompute access edges and findings over the whole estate."""
    try:
        from identities.analysis import analyse_estate
    except ImportError:
        return {}
    summary = analyse_estate()
    logger.info("analysis: %s", summary)
    return dict(summary) if isinstance(summary, dict) else {"summary": str(summary)}
