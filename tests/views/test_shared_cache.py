"""Results of the current analysis run shared by every process (`shared_cache`): computed once
per run, kept in Django's cache, stored when the analysis finishes, never read for another run;
and the role page's summary counted from access groups without listing every member."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.urls import reverse

from identities.api.views import DirectEdgePages
from identities.models import AccessEdge, AnalysisRun, IamRole
from identities.queries import access, shared_cache, summaries
from identities.views.access import _into

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated_estate(db: None) -> None:
    """Three generated accounts analysed through the analysis task, as a sync ends."""
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle
    from identities.tasks import analyse_estate_task

    import_bundle(generate_bundle(accounts=3, users=30, roles=60, seed=1), label="generated")
    result = analyse_estate_task.delay()
    assert result.get()["status"] == "succeeded"


def _forget_process_memory() -> None:
    """As in another process: nothing of the run in memory, only what the cache holds."""
    access._cache.update(run=None, values={})


def test_shared_value_is_computed_once_per_run_for_every_process(generated_estate):
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"answer": 42}

    assert shared_cache.shared_for_run("probe", compute) == {"answer": 42}
    _forget_process_memory()
    assert shared_cache.shared_for_run("probe", compute) == {"answer": 42}
    assert len(calls) == 1  # the second "process" read it from the cache

    run = AnalysisRun.objects.get(pk=shared_cache.current_key()[0])  # type: ignore[index]
    AnalysisRun.objects.create(
        status=AnalysisRun.Status.SUCCEEDED,
        started_at=run.started_at,
        finished_at=run.finished_at + timedelta(seconds=1),
    )
    shared_cache.shared_for_run("probe", compute)
    assert len(calls) == 2  # a new run: computed again, not the old run's entry


def test_without_a_run_nothing_is_kept(db):
    calls: list[int] = []
    for _ in range(2):
        shared_cache.shared_for_run("probe", lambda: calls.append(1) or len(calls))
        shared_cache.shared_rows_for_run("rows", lambda: [b"a", b"b"])
    assert len(calls) == 2
    assert shared_cache.shared_rows_for_run("rows", lambda: [b"a", b"b"]) == [b"a", b"b"]


def test_shared_rows_read_back_a_chunk_at_a_time(generated_estate, monkeypatch):
    monkeypatch.setattr(shared_cache, "CHUNK_ROWS", 7)
    rows = [f"row {n}".encode() for n in range(50)]
    built: list[int] = []

    def make() -> Iterator[bytes]:
        built.append(1)
        return iter(rows)

    found = shared_cache.shared_rows_for_run("probe-rows", make)
    assert len(found) == 50
    assert list(found[5:23]) == rows[5:23]  # across three chunks
    assert found[-1] == rows[-1]
    assert list(found) == rows
    assert list(shared_cache.shared_rows_for_run("probe-rows", make)[40:60]) == rows[40:]
    assert len(built) == 1

    # A chunk evicted from the cache: the list is stored again, the answer unchanged.
    cache.delete(f"{found.key}#2")  # type: ignore[attr-defined]
    assert list(found[14:21]) == rows[14:21]
    assert len(built) == 2


def test_the_analysis_task_warms_the_matrix_and_the_api_lists(generated_estate, monkeypatch):
    assert shared_cache.has_rows("api:direct-sources:None")
    assert shared_cache.has_rows("api:transitive:None")
    matrix = access._count_account_matrix()
    _forget_process_memory()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("computed again although the analysis stored it")

    monkeypatch.setattr(access, "_count_account_matrix", refuse)
    monkeypatch.setattr("identities.api.views.direct_edge_sources", refuse)
    monkeypatch.setattr("identities.api.views.iter_transitive_edges", refuse)
    assert access.account_matrix() == matrix

    every = [access_row.as_row() for access_row in access.iter_direct_edges()]
    account = every[0]["target"].split(":")[4]
    assert [orjson.loads(row) for row in DirectEdgePages(None)] == every
    transitive = [item.as_row() for item in access.iter_transitive_edges(account)]
    found = shared_cache.shared_rows_for_run(f"api:transitive:{account}", refuse)
    assert [orjson.loads(row) for row in found] == transitive


def test_api_pages_read_the_stored_lists(generated_estate, logged_in_client, monkeypatch):
    every = [row.as_row() for row in access.iter_direct_edges()]
    _forget_process_memory()
    monkeypatch.setattr(
        "identities.api.views.direct_edge_sources", lambda *a: pytest.fail("counted again")
    )
    url = reverse("identities:api-access-edges")
    first = logged_in_client.get(url, {"page_size": 10, "page": 2}).json()
    assert first["count"] == len(every)
    assert first["results"] == every[10:20]


def test_api_pages_of_one_account_read_the_counts_stored_by_the_analysis(
    generated_estate, logged_in_client, monkeypatch
):
    account = next(iter(access.iter_direct_edges())).target.split(":")[4]
    every = [row.as_row() for row in access.iter_direct_edges(account_id=account)]
    assert shared_cache.has_rows(f"api:direct-sources:{account}")
    _forget_process_memory()
    monkeypatch.setattr(
        "identities.api.views.direct_edge_sources", lambda *a: pytest.fail("counted again")
    )
    url = reverse("identities:api-access-edges")
    first = logged_in_client.get(url, {"account": account, "page_size": 5}).json()
    assert first["count"] == len(every)
    assert first["results"] == every[:5]


def test_api_lists_are_not_warmed_past_the_row_limit(generated_estate, settings):
    shared_cache.clear_cache()
    settings.IAMVIZ_WARM_API_ROWS = 5
    took = shared_cache.warm_run()
    assert "api-lists" in took
    assert not shared_cache.has_rows("api:transitive:None")
    assert shared_cache.has_rows("api:escalations:None")


def test_clear_cache_forgets_the_entries(generated_estate):
    shared_cache.shared_for_run("probe", lambda: 1)
    assert cache.get(shared_cache._cache_key(shared_cache.current_key(), "probe")) == 1  # type: ignore[arg-type]
    shared_cache.clear_cache()
    assert cache.get(shared_cache._cache_key(shared_cache.current_key(), "probe")) is None  # type: ignore[arg-type]


def test_folded_summary_equals_the_summary_of_every_member(generated_estate):
    roles = IamRole.objects.filter(
        pk__in=AccessEdge.objects.filter(outcome__in=access.POSSIBLE).values("target_id")
    )
    summarised = 0
    for role in roles:
        every = access.access_into(role)
        into, _ = _into(role)
        assert into.count == len(every)
        assert sorted(map(repr, into.expanded())) == sorted(map(repr, every))
        bunches = summaries.folded_direct_bunches(into.edges, into.members)
        assert bunches == summaries.direct_bunches(every)
        for bunch in bunches:
            for q in ("", "a"):
                assert sorted(
                    map(repr, summaries.folded_in_bunch(into.edges, into.members, bunch.key, q))
                ) == sorted(map(repr, summaries.direct_in_bunch(every, bunch.key, q)))
        summarised += len(bunches) > 1 and any(e.source_kind == "group" for e in into.edges)
    assert summarised  # some role's edges come from access groups in several bunches


def test_busiest_roles_summaries_are_stored_when_the_analysis_finishes(
    generated_estate, logged_in_client, monkeypatch
):
    role = max(
        IamRole.objects.select_related("account"),
        key=lambda role: (len(access.access_into(role)), role.arn),
    )
    every = access.access_into(role)
    _forget_process_memory()
    monkeypatch.setattr(
        "identities.views.access._into", lambda *a, **k: pytest.fail("computed again")
    )

    response = logged_in_client.get(
        reverse("identities:role-access", args=[role.account.account_id, role.name])
    )

    assert response.status_code == 200
    assert response.context["direct_count"] == len(every)
    assert sum(bunch.count for bunch in response.context["direct_bunches"]) == len(every)


def test_clear_cache_keeps_what_else_the_redis_database_holds(settings):
    """The cache's Redis database may be Celery's broker as well: only the cache's keys go."""
    import os

    import redis

    from tests.conftest import require_service

    url = require_service("Redis", os.environ.get("REDIS_URL"), "redis")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "iamviz-cache",
        }
    }
    client = redis.Redis.from_url(url)
    client.set("not-the-cache", b"kept")
    try:
        cache.set("probe", 1)
        shared_cache.clear_cache()
        assert cache.get("probe") is None
        assert client.get("not-the-cache") == b"kept"
    finally:
        client.delete("not-the-cache")


def test_api_refuses_chains_it_would_have_to_build_past_the_row_limit(
    generated_estate, logged_in_client, settings
):
    shared_cache.clear_cache()
    settings.IAMVIZ_WARM_API_ROWS = 5
    shared_cache.warm_run()
    url = reverse("identities:api-access-edges")

    refused = logged_in_client.get(url, {"transitive": "true"})
    direct = logged_in_client.get(url)

    assert refused.status_code == 422
    assert "past IAMVIZ_WARM_API_ROWS (5)" in refused.json()["detail"]
    assert not shared_cache.has_rows("api:transitive:None")
    assert direct.status_code == 200 and direct.json()["count"] > 5
