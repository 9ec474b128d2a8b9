from __future__ import annotations

import gzip

import pytest

from tests.factories import ChangeFactory, SyncRunFactory
from tests.views.conftest import assert_fragment, htmx_get


@pytest.fixture
def run(db):
    run = SyncRunFactory(
        label="prod.json",
        change_counts={"role": {"added": 1}, "user": {"added": 1, "removed": 1}},
        bundle_gzip=gzip.compress(b'{"format": "iamviz-bundle/1"}'),
        bundle_bytes=29,
        error="",
    )
    ChangeFactory(sync_run=run, kind="user", action="added", key="arn:aws:iam::1:user/a")
    ChangeFactory(sync_run=run, kind="user", action="removed", key="arn:aws:iam::1:user/b")
    ChangeFactory(sync_run=run, kind="role", action="added", key="arn:aws:iam::1:role/r")
    return run


def _keys(response) -> list[str]:
    return [change.key for change in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["arn:aws:iam::1:role/r", "arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"]),
        ({"kind": "user"}, ["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"]),
        ({"action": "removed"}, ["arn:aws:iam::1:user/b"]),
        ({"kind": "user", "action": "added"}, ["arn:aws:iam::1:user/a"]),
    ],
)
def test_syncrun_detail_filters_change_set(logged_in_client, run, params, expected):
    response = logged_in_client.get(f"/runs/{run.pk}/", params)

    assert _keys(response) == expected


def test_syncrun_detail_htmx_returns_change_partial(logged_in_client, run):
    response = htmx_get(logged_in_client, f"/runs/{run.pk}/", kind="role")

    body = assert_fragment(response)
    assert body.lstrip().startswith('<div id="results"')
    assert _keys(response) == ["arn:aws:iam::1:role/r"]


def test_syncrun_detail_shows_error_and_bundle_link(logged_in_client, db):
    failed = SyncRunFactory(status="failed", error="BundleError: $.accounts: missing")

    body = logged_in_client.get(f"/runs/{failed.pk}/").content.decode()

    assert "<pre>BundleError: $.accounts: missing</pre>" in body
    assert "not archived" in body


def test_syncrun_bundle_download_returns_archived_bytes(logged_in_client, run):
    response = logged_in_client.get(f"/runs/{run.pk}/bundle.json.gz")

    assert response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"] == f'attachment; filename="iamviz-run-{run.pk}.json.gz"'
    assert response.streaming
    assert gzip.decompress(b"".join(response.streaming_content)) == b'{"format": "iamviz-bundle/1"}'


def test_syncrun_bundle_missing_is_404(logged_in_client, db):
    run = SyncRunFactory()

    response = logged_in_client.get(f"/runs/{run.pk}/bundle.json.gz")

    assert response.status_code == 404
    assert f"Sync run #{run.pk} has no archived bundle." in response.content.decode()


def test_syncrun_list_htmx_returns_results_partial(logged_in_client, run):
    response = htmx_get(logged_in_client, "/runs/")

    assert_fragment(response)
    assert [r.pk for r in response.context["page"].object_list] == [run.pk]


@pytest.mark.parametrize("count", [1, 3])
def test_syncrun_list_query_count_is_constant(logged_in_client, django_assert_num_queries, count):
    for _ in range(count):
        ChangeFactory(sync_run=SyncRunFactory(bundle_gzip=b"x"))

    # session, user, count, page, the account runs' change counts (one prefetch)
    with django_assert_num_queries(5):
        response = logged_in_client.get("/runs/")

    assert len(response.context["page"].object_list) == count
