"""Exports built in the background: the escalations CSV past its download limit, written to a
gzip file by the task, with progress; the same rows as the streamed CSV; a failed build keeps
no file; each login sees its own exports; old ones are pruned."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from identities import exporting
from identities.models import AuditEvent, Export
from identities.views import escalations

PAGE = "/access/escalations/"
CREATE_KEY = "IAM-CreateAccessKey"


@pytest.fixture(autouse=True)
def _data_dir(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


def _streamed(client: Any, **filters: str) -> bytes:
    response = client.get(PAGE, {**filters, "format": "csv"})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _export(client: Any, capture: Any, **filters: str) -> Export:
    with capture(execute=True):
        response = client.post(reverse("identities:export-escalations"), filters)
    assert response.status_code == 302
    found = re.search(r"/exports/(\d+)/$", response["Location"])
    assert found is not None, response["Location"]
    pk = int(found.group(1))
    return Export.objects.get(pk=pk)


def test_past_the_limit_the_page_offers_a_background_export_of_the_same_rows(
    imported_sample, logged_in_client, monkeypatch, django_capture_on_commit_callbacks
):
    streamed = _streamed(logged_in_client)
    monkeypatch.setattr(escalations, "CSV_LIMIT", 10)
    page = logged_in_client.get(PAGE).content.decode()
    assert 'id="export-form"' in page and "format=csv" not in page

    export = _export(logged_in_client, django_capture_on_commit_callbacks)

    assert export.status == Export.Status.DONE
    rows = streamed.count(b"\r\n") - 1
    assert export.rows_total == export.rows_written == rows > 10
    assert gzip.decompress(exporting.export_path(export).read_bytes()) == streamed
    detail = logged_in_client.get(reverse("identities:export-detail", args=[export.pk]))
    assert 'id="export-download"' in detail.content.decode()
    assert 'hx-trigger="every 2s"' not in detail.content.decode()  # done: no more polling
    download = logged_in_client.get(reverse("identities:export-download", args=[export.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    assert gzip.decompress(b"".join(download.streaming_content)) == streamed
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "export_requested",
        "export_download",
    }


def test_an_export_keeps_the_page_filters(
    imported_sample, logged_in_client, django_capture_on_commit_callbacks
):
    principal = _streamed(logged_in_client, method=CREATE_KEY).split(b"\r\n")[1].split(b",")[0]
    query = principal.decode().rsplit("/", 1)[1].upper()  # any case matches
    export = _export(
        logged_in_client, django_capture_on_commit_callbacks, method=CREATE_KEY, q=query
    )

    assert export.filters == {"method": CREATE_KEY, "query": query}
    written = gzip.decompress(exporting.export_path(export).read_bytes())
    assert written == _streamed(logged_in_client, method=CREATE_KEY, q=query)
    assert written.count(b"\r\n") == 1 + export.rows_written >= 2


def test_progress_is_recorded_while_the_file_is_written(
    imported_sample, logged_in_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(exporting, "PROGRESS_EVERY", 5)
    seen: list[int] = []
    kind = exporting.KINDS[Export.Kind.ESCALATIONS]

    def watched(filters: dict[str, Any]) -> Any:
        for number, row in enumerate(kind.rows(filters)):
            if number and number % 5 == 1:
                seen.append(Export.objects.get().rows_written)
            yield row

    monkeypatch.setitem(
        exporting.KINDS, Export.Kind.ESCALATIONS, exporting.ExportKind(watched, kind.total)
    )
    export = _export(logged_in_client, django_capture_on_commit_callbacks)

    assert seen[:3] == [0, 5, 10]
    assert export.rows_written > 10


def test_a_failed_build_keeps_no_file_and_says_why(
    imported_sample, logged_in_client, monkeypatch, django_capture_on_commit_callbacks
):
    kind = exporting.KINDS[Export.Kind.ESCALATIONS]

    def breaks(filters: dict[str, Any]) -> Any:
        rows = kind.rows(filters)
        yield next(rows)
        yield next(rows)
        raise OSError("No space left on device")

    monkeypatch.setitem(
        exporting.KINDS, Export.Kind.ESCALATIONS, exporting.ExportKind(breaks, kind.total)
    )
    with pytest.raises(OSError, match="No space left"):
        _export(logged_in_client, django_capture_on_commit_callbacks)

    export = Export.objects.get()
    assert export.status == Export.Status.FAILED
    assert export.error == "OSError: No space left on device"
    assert list(exporting.export_dir().iterdir()) == []
    page = logged_in_client.get(reverse("identities:export-detail", args=[export.pk]))
    assert "No space left on device" in page.content.decode()
    missing = logged_in_client.get(reverse("identities:export-download", args=[export.pk]))
    assert missing.status_code == 404


def test_a_running_export_polls_its_progress(imported_sample, logged_in_client, staff_user):
    export = Export.objects.create(
        kind=Export.Kind.ESCALATIONS,
        requested_by=staff_user,
        status=Export.Status.RUNNING,
        rows_total=200,
        rows_written=50,
        created_at=timezone.now(),
    )

    page = logged_in_client.get(reverse("identities:export-detail", args=[export.pk]))

    html = page.content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert '<progress max="100" value="25">' in html
    assert "50 of 200 rows" in html


@pytest.mark.parametrize(
    ("status", "age", "said"),
    [
        (Export.Status.QUEUED, timedelta(seconds=30), ""),
        (Export.Status.QUEUED, timedelta(minutes=3), "Queued for 3 minutes and no worker"),
        (Export.Status.RUNNING, timedelta(minutes=2), ""),
        (Export.Status.RUNNING, timedelta(minutes=7), "No progress for 7 minutes"),
    ],
)
def test_an_export_that_does_not_move_says_so(
    imported_sample, logged_in_client, staff_user, status, age, said
):
    then = timezone.now() - age
    export = Export.objects.create(
        kind=Export.Kind.ESCALATIONS,
        requested_by=staff_user,
        status=status,
        rows_total=200,
        created_at=then,
        started_at=then if status == Export.Status.RUNNING else None,
        progress_at=then if status == Export.Status.RUNNING else None,
    )

    html = logged_in_client.get(reverse("identities:export-detail", args=[export.pk])).content
    assert (b'id="export-stalled"' in html) == bool(said)
    assert said.encode() in html


def test_each_login_sees_only_its_own_exports(
    imported_sample, client_as, django_capture_on_commit_callbacks
):
    mine = client_as("viewer")
    export = _export(mine, django_capture_on_commit_callbacks, method=CREATE_KEY)
    assert mine.get(reverse("identities:export-list")).status_code == 200

    other = client_as("reviewer")
    for name in ("export-detail", "export-download"):
        assert other.get(reverse(f"identities:{name}", args=[export.pk])).status_code == 404
    assert f"#{export.pk}" not in other.get(reverse("identities:export-list")).content.decode()

    admin = client_as("admin")
    assert admin.get(reverse("identities:export-download", args=[export.pk])).status_code == 200


def test_old_exports_are_pruned_with_their_files(
    imported_sample, logged_in_client, settings, django_capture_on_commit_callbacks
):
    export = _export(logged_in_client, django_capture_on_commit_callbacks, method=CREATE_KEY)
    path = exporting.export_path(export)
    assert path.exists()
    later = timezone.now() + timedelta(days=settings.IAMVIZ_EXPORT_KEEP_DAYS)

    assert exporting.prune_exports(now=later - timedelta(minutes=1)) == 0
    assert exporting.prune_exports(now=later + timedelta(minutes=1)) == 1
    assert not path.exists() and not Export.objects.exists()
