"""The graph views kept per analysis run: a view is a function of its parameters and of the
rows one analysis run stored (edges, groups, findings) and the estate it read, so the JSON of a
view built once serves every later request of every process until the next run
(`identities.queries.shared_cache.shared_for_run`, in the shared cache only: there is one entry
per view asked for). Each read returns a fresh copy: the pages add highlights to what they get.
"""

from __future__ import annotations

import functools
import gc
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec

import orjson

from identities.queries.shared_cache import shared_for_run

P = ParamSpec("P")
Graph = dict[str, Any]


def _key_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return sorted(str(item) for item in value)


def graph_key(view: str, params: dict[str, Any]) -> str:
    """The name of a view's entry: its parameters, collections as sorted lists (the builders
    read them as sets), in key order."""
    normal = {name: _key_value(value) for name, value in params.items()}
    return f"graph:{view}:" + orjson.dumps(normal, option=orjson.OPT_SORT_KEYS).decode()


def without_gc(build: Callable[[], Graph]) -> Graph:
    """``build()`` with the cyclic garbage collector paused: a big neighbourhood makes hundreds
    of thousands of small objects (edges, their attribute dicts) that live until the view is
    serialised, and the collector would walk them again and again (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return build()
    finally:
        if enabled:
            gc.enable()


def kept_for_run(view: str) -> Callable[[Callable[P, Graph]], Callable[P, Graph]]:
    """Keep the JSON of a graph builder (keyword arguments only) once per analysis run and
    parameters; a `GraphError` is raised each time, never kept."""

    def decorate(build: Callable[P, Graph]) -> Callable[P, Graph]:
        signature = inspect.signature(build)

        @functools.wraps(build)
        def kept(*args: P.args, **kwargs: P.kwargs) -> Graph:
            if args:
                raise TypeError(f"{build.__name__} takes keyword arguments only")

            def compute() -> bytes:
                return orjson.dumps(without_gc(lambda: build(*args, **kwargs)))

            # With the defaults filled in: a parameter left out and its default are one view.
            bound = signature.bind(**kwargs)
            bound.apply_defaults()
            blob = shared_for_run(graph_key(view, bound.arguments), compute, in_memory=False)
            return orjson.loads(blob)  # type: ignore[no-any-return]

        return kept

    return decorate
