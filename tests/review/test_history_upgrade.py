"""Upgrading the stored access-history state: the first analysis after an upgrade reads the
state the old code wrote (format 4: zlib, statement references written out in every row),
records no change for an unchanged estate, and leaves the state in the current format."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import orjson
import pytest

from identities.analysis import history
from identities.analysis.history import (
    LIST,
    META_END,
    ROW_END,
    SEP,
    SNAPSHOT_FORMAT,
    decompress_snapshot,
    stored_format,
)
from identities.models import AccessChange, AccessState
from tests.review.conftest import analyse


def _as_format_4(blob: bytes) -> bytes:
    """The blob the old writer stored for the same state: no ``refs``, each row's statement
    references written out, zlib."""
    head, _, rows = decompress_snapshot(blob).partition(META_END)
    meta = orjson.loads(head)
    refs = meta.pop("refs")
    meta = {"format": 4, **{key: value for key, value in meta.items() if key != "format"}}
    written_out = []
    for line in rows.decode().split(ROW_END):
        fields = line.split(SEP)
        fields[5] = LIST.join(refs[ref] for ref in fields[5].split(LIST)) if fields[5] else ""
        written_out.append(SEP.join(fields))
    return zlib.compress(orjson.dumps(meta) + META_END + ROW_END.join(written_out).encode())


@pytest.fixture
def generated_estate(db: None) -> None:
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=20, roles=40, seed=2), label="generated")
    analyse()


def test_first_analysis_after_the_upgrade_records_no_change_and_converts_once(
    generated_estate: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = AccessState.objects.get()
    old_blob = _as_format_4(bytes(stored.blob))
    assert stored_format(old_blob) == 4
    assert b'"refs"' not in zlib.decompress(old_blob).partition(META_END)[0]
    AccessState.objects.filter(pk=stored.pk).update(blob=old_blob)
    conversions: list[int] = []
    convert = history._rows_with_ref_ids

    def counted(lines: Iterable[str]) -> tuple[set[str], dict[str, str]]:
        conversions.append(1)
        return convert(lines)

    monkeypatch.setattr(history, "_rows_with_ref_ids", counted)

    upgraded = analyse()
    again = analyse()

    for run in (upgraded, again):
        assert not run.diff.baseline
        assert run.diff.counts == {}
        assert not AccessChange.objects.filter(diff=run.diff).exists()
    assert len(conversions) == 1
    assert stored_format(bytes(AccessState.objects.get().blob)) == SNAPSHOT_FORMAT
