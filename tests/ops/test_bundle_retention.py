"""Issue 14 item 11: archived bundles are kept once per content and under a retention setting;
a pruned bundle's download says it was pruned."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from identities.ingest.archive import archived_bundle, prune_bundles
from identities.ingest.imports import import_files
from identities.models import SyncRun
from identities.sample import SAMPLE_BUNDLE_PATH
from identities.tasks import prune_bundles as prune_bundles_task

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _archives() -> int:
    return SyncRun.objects.filter(bundle_gzip__isnull=False).count()


def _new_run(**fields: Any) -> SyncRun:
    return SyncRun.objects.create(
        source=SyncRun.Source.IMPORT, status=SyncRun.Status.SUCCEEDED, label="bundle.json", **fields
    )


def _run(days_ago: float, content: bytes, **fields: Any) -> SyncRun:
    """A run started `days_ago` before NOW holding its own archive of `content`."""
    return _new_run(
        started_at=NOW - timedelta(days=days_ago),
        bundle_gzip=gzip.compress(content),
        bundle_bytes=len(content),
        **fields,
    )


def _copy(days_ago: float, of: SyncRun) -> SyncRun:
    """A later run of identical content, pointing at `of`'s archive."""
    return _new_run(
        started_at=NOW - timedelta(days=days_ago), bundle_of=of, bundle_bytes=of.bundle_bytes
    )


def test_reimporting_the_same_file_stores_its_bundle_once(db: None) -> None:
    with time_machine.travel(NOW, tick=False):
        first = import_files([SAMPLE_BUNDLE_PATH]).sync_run
        second = import_files([SAMPLE_BUNDLE_PATH]).sync_run

    second.refresh_from_db()
    assert _archives() == 1
    assert (second.bundle_gzip, second.bundle_of_id) == (None, first.pk)
    assert second.bundle_sha256 == first.bundle_sha256
    assert second.bundle_bytes == SAMPLE_BUNDLE_PATH.stat().st_size
    assert gzip.decompress(archived_bundle(second.pk)) == SAMPLE_BUNDLE_PATH.read_bytes()


def test_different_content_is_archived_on_its_own(db: None, tmp_path: Path) -> None:
    reformatted = tmp_path / "sample-indented.json"
    reformatted.write_text(json.dumps(json.loads(SAMPLE_BUNDLE_PATH.read_bytes()), indent=1))

    first = import_files([SAMPLE_BUNDLE_PATH]).sync_run
    second = import_files([reformatted]).sync_run

    assert _archives() == 2
    assert second.bundle_of_id is None
    assert gzip.decompress(archived_bundle(first.pk)) == SAMPLE_BUNDLE_PATH.read_bytes()
    assert gzip.decompress(archived_bundle(second.pk)) == reformatted.read_bytes()


def test_a_run_importing_its_own_archived_bytes_again_keeps_its_archive(db: None) -> None:
    """A redelivered sync imports into the same run: it must not point at itself."""
    from identities.bundle import read_bundle
    from identities.ingest.imports import import_bundle

    raw = SAMPLE_BUNDLE_PATH.read_bytes()
    run = import_bundle(read_bundle(SAMPLE_BUNDLE_PATH), raw=raw).sync_run
    again = import_bundle(read_bundle(SAMPLE_BUNDLE_PATH), raw=raw, sync_run=run).sync_run

    again.refresh_from_db()
    assert again.bundle_of_id is None
    assert gzip.decompress(bytes(again.bundle_gzip or b"")) == raw


@pytest.fixture
def estate_of_archives(db: None) -> dict[str, SyncRun]:
    """Five archives; `old_repeated` is 60 days old but repeated by an import 10 days ago."""
    runs = {
        "ancient": _run(100, b"ancient"),
        "old_repeated": _run(60, b"repeated"),
        "fifty": _run(50, b"fifty"),
        "forty": _run(40, b"forty"),
        "fresh": _run(1, b"fresh"),
    }
    runs["repeat"] = _copy(10, runs["old_repeated"])
    return runs


def _kept(runs: dict[str, SyncRun]) -> list[str]:
    holding = set(SyncRun.objects.filter(bundle_gzip__isnull=False).values_list("pk", flat=True))
    return sorted(name for name, run in runs.items() if run.pk in holding)


@pytest.mark.parametrize(
    ("keep_last", "keep_days", "kept"),
    [
        # the newest two by last use: fresh (1 day), old_repeated (used 10 days ago)
        (2, 0, ["fresh", "old_repeated"]),
        # used in the last 45 days: fresh, old_repeated (10), forty
        (0, 45, ["forty", "fresh", "old_repeated"]),
        # either limit keeps: the newest 4, and everything younger than 5 days
        (4, 5, ["fifty", "forty", "fresh", "old_repeated"]),
        (1, 30, ["fresh", "old_repeated"]),
        # both off: everything stays
        (0, 0, ["ancient", "fifty", "forty", "fresh", "old_repeated"]),
    ],
)
def test_prune_keeps_the_newest_and_the_recently_used(
    estate_of_archives: dict[str, SyncRun],
    settings: Any,
    keep_last: int,
    keep_days: int,
    kept: list[str],
) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = keep_last, keep_days

    with time_machine.travel(NOW, tick=False):
        pruned = prune_bundles()

    assert _kept(estate_of_archives) == kept
    assert pruned.archives == 5 - len(kept)
    gone = [run for name, run in estate_of_archives.items() if name not in kept + ["repeat"]]
    assert pruned.bytes == sum(run.bundle_bytes for run in gone)
    marked = SyncRun.objects.filter(bundle_pruned_at__isnull=False)
    assert sorted(marked.values_list("pk", "bundle_pruned_at")) == sorted(
        (run.pk, NOW) for run in gone
    )


def test_prune_is_a_no_op_the_second_time(
    estate_of_archives: dict[str, SyncRun], settings: Any
) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = 1, 0
    with time_machine.travel(NOW, tick=False):
        assert prune_bundles().archives == 4
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert prune_bundles().archives == 0

    assert SyncRun.objects.get(pk=estate_of_archives["ancient"].pk).bundle_pruned_at == NOW


def test_the_beat_task_prunes(estate_of_archives: dict[str, SyncRun], settings: Any) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = 0, 30

    with time_machine.travel(NOW, tick=False):
        result = prune_bundles_task.delay().get()

    assert result == {"archives": 3, "bytes": len(b"ancientfiftyforty"), "exports": 0}
    assert _kept(estate_of_archives) == ["fresh", "old_repeated"]


def _bundle_url(run: SyncRun) -> str:
    return reverse("identities:syncrun-bundle", args=[run.pk])


def test_downloads_of_pruned_kept_and_repeated_bundles(
    estate_of_archives: dict[str, SyncRun], settings: Any, operator_client: Client
) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = 0, 45
    with time_machine.travel(NOW, tick=False):
        prune_bundles()
    ancient, repeat = estate_of_archives["ancient"], estate_of_archives["repeat"]
    never = _new_run(started_at=NOW)

    pruned = operator_client.get(_bundle_url(ancient))
    repeated = operator_client.get(_bundle_url(repeat))
    absent = operator_client.get(_bundle_url(never))
    page = operator_client.get(ancient.get_absolute_url())

    assert pruned.status_code == 404
    assert (
        f"The bundle of sync run #{ancient.pk} was pruned on 2026-06-01 12:00 UTC under the "
        "archive retention (kept: those used in the last 45 days)."
    ) in pruned.content.decode()
    assert repeated.status_code == 200
    assert gzip.decompress(b"".join(repeated.streaming_content)) == b"repeated"  # type: ignore[attr-defined]
    assert absent.status_code == 404
    assert f"Sync run #{never.pk} has no archived bundle." in absent.content.decode()
    assert "pruned on 2026-06-01 12:00 under the archive retention" in page.content.decode()


def test_a_copy_of_a_pruned_archive_says_it_was_pruned(db: None, settings: Any) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = 1, 0
    old = _run(20, b"old")
    copy = _copy(15, old)
    _run(2, b"new")
    with time_machine.travel(NOW, tick=False):
        prune_bundles()

    from identities.ingest.archive import BundleUnavailable

    with pytest.raises(BundleUnavailable, match=rf"sync run #{copy.pk} was pruned on 2026-06-01"):
        archived_bundle(copy.pk)


def test_a_pruned_content_imported_again_is_archived_again(db: None, settings: Any) -> None:
    settings.IAMVIZ_BUNDLE_KEEP_LAST, settings.IAMVIZ_BUNDLE_KEEP_DAYS = 1, 0
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        first = import_files([SAMPLE_BUNDLE_PATH]).sync_run
    _run(1, b"newer")
    with time_machine.travel(NOW, tick=False):
        assert prune_bundles().archives == 1
        again = import_files([SAMPLE_BUNDLE_PATH]).sync_run

    assert SyncRun.objects.get(pk=first.pk).bundle_gzip is None
    assert again.bundle_of_id is None
    assert gzip.decompress(archived_bundle(again.pk)) == SAMPLE_BUNDLE_PATH.read_bytes()
