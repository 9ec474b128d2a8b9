"""The estate a what-if starts from, kept in a file per analysis run (`what_if_file`): a new
process reads it back instead of loading the estate, answers the same, and never reads a file
of another run, a changed file or one written under another key."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from identities.analysis import analyse_estate
from identities.analysis import what_if as what_if_module
from identities.analysis.estate import load_estate
from identities.analysis.what_if import (
    INCREMENTAL,
    Proposal,
    clear_prepared,
    keep_prepared,
    what_if,
)
from identities.ingest.imports import import_bundle

ALICE = "arn:aws:iam::333333333333:user/alice"
S3_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.fixture(autouse=True)
def _data_dir(settings: Any, tmp_path: Path) -> Any:
    settings.DATA_DIR = tmp_path
    clear_prepared()
    yield tmp_path
    clear_prepared()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the estates loaded from the database."""
    found: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        found.append(1)
        return load_estate(*args, **kwargs)

    monkeypatch.setattr(what_if_module, "load_estate", counted)
    return found


def _proposal() -> Proposal:
    proposal = Proposal()
    proposal.set_boundary(ALICE, S3_ONLY)
    return proposal


def _files(folder: Path) -> list[Path]:
    return sorted((folder / "what-if").glob("*.pickle"))


def test_a_new_process_reads_the_kept_estate_and_answers_the_same(
    imported_sample: Any, loads: list[int], _data_dir: Path
) -> None:
    first = what_if(_proposal())
    assert loads == [1] and _files(_data_dir) == []

    written = keep_prepared()

    assert written is not None and _files(_data_dir) == [written]
    assert keep_prepared() is None  # written once
    clear_prepared()  # as a new process
    again = what_if(_proposal())
    assert loads == [1]  # read from the file, not loaded
    assert again.method == first.method == INCREMENTAL
    assert again.document() == first.document()
    assert keep_prepared() is None  # read from its file: nothing to write


def test_a_new_analysis_does_not_read_the_file_of_the_one_before(
    imported_sample: Any, loads: list[int], _data_dir: Path
) -> None:
    what_if(_proposal())
    old = keep_prepared()

    analyse_estate()
    clear_prepared()
    answer = what_if(_proposal())

    assert loads == [1, 1]
    assert answer.method == INCREMENTAL
    new = keep_prepared()
    assert new is not None and new != old
    assert _files(_data_dir) == [new]  # the file of the run before removed


@pytest.mark.parametrize("how", ["changed", "other key", "truncated"])
def test_a_file_that_does_not_check_is_ignored(
    imported_sample: Any, loads: list[int], _data_dir: Path, settings: Any, how: str
) -> None:
    expected = what_if(_proposal()).document()
    path = keep_prepared()
    assert path is not None
    data = bytearray(path.read_bytes())
    if how == "changed":
        data[-100] ^= 1
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        settings.SECRET_KEY = settings.SECRET_KEY + "-other"

    clear_prepared()
    answer = what_if(_proposal())

    assert loads == [1, 1]  # loaded from the database again
    assert answer.document() == expected


def test_the_command_keeps_the_estate_once_it_has_answered(
    imported_sample: Any, loads: list[int], _data_dir: Path, tmp_path: Path
) -> None:
    boundary = tmp_path / "boundary.json"
    boundary.write_text(json.dumps(S3_ONLY))
    out = StringIO()

    call_command("what_if", "--boundary", ALICE, str(boundary), stdout=out, stderr=StringIO())

    assert json.loads(out.getvalue())["from"] is not None
    assert len(_files(_data_dir)) == 1
    clear_prepared()
    again = StringIO()
    call_command("what_if", "--boundary", ALICE, str(boundary), stdout=again, stderr=StringIO())
    assert loads == [1]
    assert again.getvalue() == out.getvalue()


def test_after_a_sync_the_file_is_not_read(
    imported_sample: Any, sample_bundle: dict[str, Any], loads: list[int]
) -> None:
    what_if(_proposal())
    keep_prepared()

    import_bundle(sample_bundle, label="sample-org.json")
    clear_prepared()
    answer = what_if(_proposal())

    assert "changed since" in answer.why_full
    assert loads == [1, 1]
