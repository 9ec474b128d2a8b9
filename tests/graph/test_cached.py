"""Graph views kept per analysis run (identities.graph.cached) and the key lists read with
``= ANY(array)`` (identities.queries.graph_edges.any_of)."""

from __future__ import annotations

import gc

import orjson
import pytest
from django.db.models import Q

from identities.analysis import analyse_estate
from identities.db import any_of
from identities.graph.access import build_access_graph
from identities.graph.build import GraphError
from identities.graph.cached import graph_key, kept_for_run
from identities.graph.identity import build_identity_graph
from identities.models import AccessEdge, IamRole

DEV, PROD = "333333333333", "444444444444"


def _counting_view(calls: list[int]):
    @kept_for_run("test-view")
    def build(*, n: int = 1, names: tuple[str, ...] = ()) -> dict:
        calls.append(n)
        return {"n": n, "names": sorted(names), "gc": gc.isenabled()}

    return build


def test_kept_view_is_built_once_per_run_and_read_as_a_copy(imported_sample):
    calls: list[int] = []
    build = _counting_view(calls)

    first = build(n=2)
    first["n"] = 99
    second = build(n=2)

    assert calls == [2]
    assert second == {"n": 2, "names": [], "gc": False}


def test_kept_view_default_and_order_of_a_collection_name_one_entry(imported_sample):
    calls: list[int] = []
    build = _counting_view(calls)

    build(names=("b", "a"))
    build(n=1, names=["a", "b"])
    build(names=("a",))

    assert calls == [1, 1]


def test_kept_view_is_built_again_for_a_new_run(imported_sample):
    calls: list[int] = []
    build = _counting_view(calls)

    build()
    analyse_estate()
    build()

    assert calls == [1, 1]


def test_kept_view_without_a_run_is_built_each_time(db):
    calls: list[int] = []
    build = _counting_view(calls)

    build()
    build()

    assert calls == [1, 1]


def test_graph_error_is_raised_each_time_and_never_kept(imported_sample):
    calls: list[int] = []

    @kept_for_run("test-error")
    def build(*, n: int = 1) -> dict:
        calls.append(n)
        raise GraphError("no such node")

    for _ in range(2):
        with pytest.raises(GraphError):
            build()

    assert calls == [1, 1]
    assert gc.isenabled()


def test_kept_view_takes_keyword_arguments_only(imported_sample):
    build = _counting_view([])

    with pytest.raises(TypeError):
        build(3)  # type: ignore[misc]


def test_graph_key_names_the_view_and_sorts_collections():
    assert graph_key("access", {"focus": "role:1:a", "expand": ("b", "a")}) == (
        'graph:access:{"expand":["a","b"],"focus":"role:1:a"}'
    )
    assert graph_key("identity", {"expand": []}) != graph_key("access", {"expand": []})


@pytest.mark.parametrize(
    ("build", "params"),
    [
        (build_access_graph, {"focus": f"role:{PROD}:prod-ops", "depth": 2}),
        (build_access_graph, {}),
        (build_identity_graph, {"account_id": DEV}),
        (build_identity_graph, {"focus": f"user:{DEV}:alice", "depth": 3}),
    ],
)
def test_kept_view_equals_a_fresh_build(imported_sample, build, params):
    fresh = orjson.loads(orjson.dumps(build.__wrapped__(**params)))

    first, kept = build(**params), build(**params)

    assert first == fresh
    assert kept == fresh


def test_any_of_reads_the_rows_in_reads(imported_sample):
    roles = list(IamRole.objects.order_by("pk").values_list("pk", flat=True)[:5])
    sources = sorted(set(AccessEdge.objects.values_list("source", flat=True)))[:3]

    def pks(where) -> list[int]:
        return sorted(AccessEdge.objects.filter(where).values_list("pk", flat=True))

    assert pks(any_of("target_id", roles)) == pks(Q(target_id__in=roles))
    assert pks(any_of("target_id", roles)) != []
    assert pks(any_of("source", sources)) == pks(Q(source__in=sources))
    assert pks(any_of("source", set(sources))) == pks(Q(source__in=sources))
    assert pks(any_of("target_id", [])) == []
