"""Results of the current analysis run shared by every process: web workers and the worker that
ran the analysis.

`access.run_cached` keeps a value in one process's memory, so each web worker pays for it
once, on its first request after a start or a new run. `shared_for_run` adds Django's cache
(Redis with ``REDIS_URL``, else files under ``DATA_DIR``; ``CACHES`` in settings) behind it:
one process computes, every other one reads. `shared_rows_for_run` keeps a long list of rows
(the API's lists) in the shared cache only, in compressed chunks, so that a page reads one
chunk and no process holds the whole list.

Keys hold the run's id and finish time (as `access.run_cached` does): a new run, a restored
database or a test's rolled-back run never reads another run's entries, and old runs' entries
expire. `warm_run()` fills the registered entries (`@warmer`) when an analysis finishes, so
that no request pays for them.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import pickle
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from identities.models import AnalysisRun
from identities.queries.paging import SlicedSequence

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Entries of a run outlive it by this long at most (a later run's keys differ anyway).
TIMEOUT_SECONDS = 7 * 24 * 3600
# Rows per chunk of a shared list: a page of the API (up to 1,000 rows) reads one or two.
CHUNK_ROWS = 1000
# Modules whose import registers warmers (`@warmer`).
WARMER_MODULES = (
    "identities.api.views",
    "identities.queries.choke_points",
    "identities.graph.overview",
    "identities.views.escalations",
    "identities.views.access",
    "identities.queries.who_can",
    "identities.queries.findings",
    "identities.queries.estate",
)

_warmers: dict[str, Callable[[], object]] = {}

RunKey = tuple[int, Any]


def current_key() -> RunKey | None:
    """(id, finished_at) of the current run (see `access.current_run`), or None."""
    return (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .values_list("pk", "finished_at")
        .first()
    )


def _cache_key(run: RunKey, name: str) -> str:
    stamp = run[1].timestamp() if run[1] is not None else 0
    safe = name if len(name) < 150 and name.isascii() and name.isprintable() else ""
    if not safe or " " in safe:
        safe = hashlib.sha256(name.encode()).hexdigest()
    return f"run:{run[0]}:{stamp:.6f}:{safe}"


def shared_for_run(name: str, compute: Callable[[], T], *, in_memory: bool = True) -> T:
    """``compute()`` once per analysis run for every process: from this process's memory, else
    from the shared cache, else computed and stored in both. Without a run: computed each time.
    ``in_memory=False`` skips this process's memory, for the many small entries of one kind
    (one per role) that the cache may evict but a process would keep for the whole run.

    The value must pickle (no lambdas, no open files)."""
    from identities.queries.access import run_cached  # access registers its warmers here

    def load(run_id: int | None) -> T:
        run = current_key()
        if run is None or (run_id is not None and run[0] != run_id):  # a new run meanwhile
            return compute()
        key = _cache_key(run, name)
        found = cache.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        value = compute()
        try:
            cache.set(key, value, TIMEOUT_SECONDS)
        except (pickle.PicklingError, TypeError, AttributeError):
            logger.exception("%s of the current run cannot be shared (kept in this process)", name)
        return value

    if not in_memory:
        return load(None)
    found = run_cached(f"shared:{name}", load)
    return compute() if found is None else found


_MISSING = object()


def stored_for_run(name: str, default: Any = None) -> Any:
    """The value `shared_for_run` stored under ``name`` for the current run, else ``default``
    (never computed here)."""
    run = current_key()
    if run is None:
        return default
    return cache.get(_cache_key(run, name), default)


def store_for_run(name: str, value: Any, seconds: int = TIMEOUT_SECONDS) -> None:
    """Store ``value`` under ``name`` for the current run (read by `stored_for_run`) for
    ``seconds`` at most; nothing without a run."""
    run = current_key()
    if run is not None:
        cache.set(_cache_key(run, name), value, seconds)


def claim_for_run(name: str, seconds: int) -> bool:
    """Whether this process may compute ``name`` for the current run: True for the first to
    ask (in any process) until it releases it (`release_for_run`) or ``seconds`` pass."""
    run = current_key()
    return run is not None and bool(cache.add(_cache_key(run, f"claim:{name}"), 1, seconds))


def release_for_run(name: str) -> None:
    """End the claim of `claim_for_run` on ``name``."""
    run = current_key()
    if run is not None:
        cache.delete(_cache_key(run, f"claim:{name}"))


class SharedRows(SlicedSequence[bytes]):
    """A list of rows in the shared cache: its length, and the rows of any slice, read chunk by
    chunk (a `Paginator` takes it as it takes a list)."""

    def __init__(self, key: str, count: int, chunk_rows: int, rebuild: Callable[[], None]):
        self.key, self.length, self.chunk_rows = key, count, chunk_rows
        self._rebuild = rebuild

    def __len__(self) -> int:
        return self.length

    def _chunk_rows(self) -> int:
        return self.chunk_rows

    def _rows(self, start: int, stop: int) -> list[bytes]:
        first, last = start // self.chunk_rows, (stop - 1) // self.chunk_rows
        keys = [f"{self.key}#{number}" for number in range(first, last + 1)]
        chunks = cache.get_many(keys)
        if len(chunks) < len(keys):  # evicted: store the list again
            self._rebuild()
            chunks = cache.get_many(keys)
            if len(chunks) < len(keys):
                raise RuntimeError(f"the shared cache does not keep {self.key}")
        rows = [row for key in keys for row in zlib.decompress(chunks[key]).split(b"\n")]
        offset = first * self.chunk_rows
        return rows[start - offset : stop - offset]


class _Writer:
    """Stores one shared list chunk by chunk as its rows come."""

    def __init__(self, run: RunKey, name: str):
        self.key, self.count = _cache_key(run, name), 0
        self.chunk: list[bytes] = []

    def add(self, row: bytes) -> None:
        self.chunk.append(row)
        self.count += 1
        if len(self.chunk) == CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        number = (self.count - 1) // CHUNK_ROWS
        data = zlib.compress(b"\n".join(self.chunk), 1)
        cache.set(f"{self.key}#{number}", data, TIMEOUT_SECONDS)
        self.chunk = []

    def close(self) -> int:
        if self.chunk:
            self._flush()
        cache.set(self.key, {"count": self.count, "chunk_rows": CHUNK_ROWS}, TIMEOUT_SECONDS)
        return self.count


def store_rows(run: RunKey, name: str, rows: Iterable[bytes]) -> int:
    """Store ``rows`` (no newline in any) as the shared list ``name`` of ``run``; the count."""
    writer = _Writer(run, name)
    for row in rows:
        writer.add(row)
    return writer.close()


def store_partitioned(
    run: RunKey, names: Iterable[str], rows: Iterable[tuple[str, bytes]]
) -> dict[str, int]:
    """Store several shared lists of ``run`` from one pass over (list name, row) pairs: each of
    ``names`` (stored even when no row goes to it) and any other name met; the counts."""
    writers = {name: _Writer(run, name) for name in names}
    for name, row in rows:
        writer = writers.get(name)
        if writer is None:
            writer = writers[name] = _Writer(run, name)
        writer.add(row)
    return {name: writer.close() for name, writer in writers.items()}


def shared_rows_for_run(name: str, rows: Callable[[], Iterable[bytes]]) -> Sequence[bytes]:
    """The rows ``rows()`` makes (bytes, no newline in any), stored once per analysis run in the
    shared cache and read back a chunk at a time; without a run, ``rows()`` as a list."""
    run = current_key()
    if run is None:
        return list(rows())
    key = _cache_key(run, name)

    def rebuild() -> None:
        store_rows(run, name, rows())

    meta = cache.get(key)
    if meta is None:
        rebuild()
        meta = cache.get(key) or {"count": 0, "chunk_rows": CHUNK_ROWS}
    return SharedRows(key, meta["count"], meta["chunk_rows"], rebuild)


def has_rows(name: str) -> bool:
    """Whether the shared list ``name`` of the current run is stored."""
    run = current_key()
    return run is not None and cache.get(_cache_key(run, name)) is not None


def clear_cache() -> None:
    """Remove every entry of the default cache. In Redis only the keys under the cache's
    ``KEY_PREFIX``: the same database may hold Celery's queues, which ``cache.clear()``
    (FLUSHDB) would empty as well."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(None, write=True)
    prefix = backend.key_prefix or ""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def warmer(name: str) -> Callable[[Callable[[], T]], Callable[[], T]]:
    """Register a function that fills shared entries of the current run (`warm_run` calls it)."""

    def register(function: Callable[[], T]) -> Callable[[], T]:
        _warmers[name] = function
        return function

    return register


def warm_run() -> dict[str, float]:
    """Run every registered warmer for the current run; seconds each took. A warmer that
    fails is logged and skipped: readers then compute what it would have stored."""
    for module in WARMER_MODULES:
        importlib.import_module(module)
    took: dict[str, float] = {}
    for name, function in _warmers.items():
        started = time.perf_counter()
        try:
            function()
        except Exception:
            logger.exception("warming %s of the current run failed", name)
            continue
        took[name] = round(time.perf_counter() - started, 3)
    logger.info("shared cache of the current run warmed: %s", took)
    return took


@warmer("account-matrix")
def _account_matrix() -> None:
    from identities.queries.access import account_matrix

    account_matrix()
