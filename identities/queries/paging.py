"""Values kept until the data they read changes, such as the order of a long list, so that a
page of 50 rows costs its 50 rows and not a sort of the whole table at every request.

`kept` computes a value once per *version* of the data it comes from and keeps it in this
process's memory; with ``shared=True`` also in Django's cache (Redis, or files: ``CACHES`` in
settings), so that one process computes it for every other one (web workers, and the worker
that warms the lists when an analysis finishes: `shared_cache.warm_run`). `ordered_ids` keeps
the order of a list (its primary keys, sorted as its queryset sorts) both ways; `RowsInOrder`
then fetches a page's rows by primary key, and a `Paginator` takes it as it takes a list (its
length is the count: no `COUNT(*)`). The versions:
`estate_version` for the estate's rows (only ingest writes them, and every account it applies
records its sync run in the same transaction), the analysis run (`shared_cache.current_key`)
for what the analysis stores.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, overload

from django.core.cache import cache
from django.db import connections
from django.db.models import Count, Max, Model, QuerySet

from identities.db import any_of
from identities.models import Account

_M = TypeVar("_M", bound=Model)
_T = TypeVar("_T")

# Values kept per process; an order is an array of 8-byte keys (400 kB for 50,000 rows).
MAX_KEPT = 64
# A shared value outlives its version by this long at most (a new version's key differs).
SHARED_TIMEOUT_SECONDS = 7 * 24 * 3600

_lock = threading.Lock()
_kept: OrderedDict[str, tuple[Hashable, Any]] = OrderedDict()


def estate_version() -> tuple[int, int, Any] | None:
    """A value that changes whenever ingest changes the estate's rows: the number of accounts,
    the last sync run applied to any of them and the latest start of those runs (a rolled-back
    test may give an id again). None before any import, or when no applied run has a start
    (ingest always gives one): then nothing is kept."""
    found = Account.objects.aggregate(
        accounts=Count("pk"),
        run=Max("last_sync_run_id"),
        started=Max("last_sync_run__started_at"),
    )
    if found["run"] is None or found["started"] is None:
        return None
    return (found["accounts"], found["run"], found["started"])


def kept(
    name: str, version: Hashable | None, compute: Callable[[], _T], *, shared: bool = False
) -> _T:
    """``compute()`` once per ``version`` of the data it reads, kept under ``name`` in this
    process's memory (the `MAX_KEPT` last used names) and, with ``shared``, in the shared cache
    for every process (the value must pickle); computed every time when ``version`` is
    None."""
    if version is None:
        return compute()
    with _lock:
        found = _kept.get(name)
        if found is not None and found[0] == version:
            _kept.move_to_end(name)
            return found[1]  # type: ignore[no-any-return]
    value = _shared(name, version, compute) if shared else compute()
    with _lock:
        _kept[name] = (version, value)
        _kept.move_to_end(name)
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)
    return value


def shared_key(name: str, version: Hashable) -> str:
    """The shared cache's key of ``name`` at ``version`` (a version's repr names it: ids,
    counts and times)."""
    digest = hashlib.sha256(repr((name, version)).encode()).hexdigest()
    return f"kept:{digest}"


_MISSING = object()


def _shared(name: str, version: Hashable, compute: Callable[[], _T]) -> _T:
    """``compute()`` read from the shared cache, else computed and stored there."""
    key = shared_key(name, version)
    found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[no-any-return]
    value = compute()
    cache.set(key, value, SHARED_TIMEOUT_SECONDS)
    return value


def ordered_ids(name: str, version: Hashable | None, queryset: QuerySet[Any]) -> Sequence[int]:
    """The primary keys of ``queryset`` in its order, read once per ``version`` of its data for
    every process (`kept`, shared) under ``name``, which must name the queryset's filters and
    order."""
    return kept(
        name, version, lambda: array("q", queryset.values_list("pk", flat=True)), shared=True
    )


def forget_kept() -> None:
    """Drop every value kept in this process's memory (tests that write rows outside ingest
    call it; the shared cache they empty apart)."""
    with _lock:
        _kept.clear()


class SlicedSequence(Sequence[_T]):
    """A long sequence read a slice at a time, as a `Paginator` and `list()` use it: a subclass
    gives its length and `_rows(start, stop)` (0 <= start < stop <= length: the rows
    start..stop-1, fewer where some are gone); an index, a step and iteration in chunks of
    `_chunk_rows()` follow from them."""

    def __len__(self) -> int:
        raise NotImplementedError

    def _rows(self, start: int, stop: int) -> list[_T]:
        raise NotImplementedError

    def _chunk_rows(self) -> int:
        return 1000

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> list[_T]: ...
    def __getitem__(self, index: int | slice) -> _T | list[_T]:
        length = len(self)
        if isinstance(index, int):
            position = index + length if index < 0 else index
            rows = self._rows(position, position + 1) if 0 <= position < length else []
            if not rows:
                raise IndexError(index)
            return rows[0]
        positions = range(length)[index]
        if not positions:
            return []
        if positions.step == 1:
            return self._rows(positions.start, positions.stop)
        return [row for position in positions for row in self._rows(position, position + 1)]

    def __iter__(self) -> Iterator[_T]:
        length, step = len(self), self._chunk_rows()
        for start in range(0, length, step):
            yield from self._rows(start, min(start + step, length))


class RowsInOrder(SlicedSequence[_M]):
    """The rows of ``queryset`` whose keys ``ids`` lists, in that order; a slice fetches only
    its rows (one query). A row gone since the order was read is left out of its page."""

    def __init__(self, ids: Sequence[int], queryset: QuerySet[_M]):
        self.ids, self.queryset = ids, queryset

    def __len__(self) -> int:
        return len(self.ids)

    def _rows(self, start: int, stop: int) -> list[_M]:
        wanted = list(self.ids[start:stop])
        found = self.queryset.in_bulk(wanted)
        return [found[pk] for pk in wanted if pk in found]

    def _chunk_rows(self) -> int:
        return _chunk_rows(self.queryset)

    def values(self, *fields: str) -> ValuesInOrder:
        """The same rows as tuples of ``fields`` (lookups such as ``account__account_id``):
        for a long export, which needs no model objects."""
        return ValuesInOrder(self.ids, self.queryset.values_list("pk", *fields))


class ValuesInOrder(SlicedSequence[tuple[Any, ...]]):
    """`RowsInOrder.values`: the ``values_list`` rows of ``queryset`` (the primary key first,
    left out of each row) whose keys ``ids`` lists, in that order."""

    def __init__(self, ids: Sequence[int], queryset: QuerySet[Any]):
        self.ids, self.queryset = ids, queryset

    def __len__(self) -> int:
        return len(self.ids)

    def _rows(self, start: int, stop: int) -> list[tuple[Any, ...]]:
        wanted = list(self.ids[start:stop])
        # The order comes from ``ids``: the database's own is not asked for.
        rows = self.queryset.filter(any_of("pk", wanted)).order_by()
        found = {row[0]: row[1:] for row in rows}
        return [found[pk] for pk in wanted if pk in found]

    def _chunk_rows(self) -> int:
        # One parameter on PostgreSQL (`any_of`), whatever the number of keys.
        postgresql = connections[self.queryset.db].vendor == "postgresql"
        return 5000 if postgresql else _chunk_rows(self.queryset)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # A small first chunk: a download's first rows go out before the bigger reads.
        length, first = len(self), min(500, self._chunk_rows())
        yield from self._rows(0, min(first, length))
        step = self._chunk_rows()
        for start in range(first, length, step):
            yield from self._rows(start, min(start + step, length))


def _chunk_rows(queryset: QuerySet[Any]) -> int:
    # A thousand rows a query, fewer where the database caps a query's parameters (SQLite):
    # `in_bulk` would otherwise split each read in two.
    return min(1000, connections[queryset.db].features.max_query_params or 1000)


def values_of(
    rows: RowsInOrder[Any] | QuerySet[Any], fields: Sequence[str]
) -> Iterable[tuple[Any, ...]]:
    """The rows of a list as tuples of ``fields``, in the list's order: `RowsInOrder` a chunk
    of keys a query, a queryset (a search) as it comes, in chunks."""
    if isinstance(rows, RowsInOrder):
        return rows.values(*fields)
    return rows.values_list(*fields).iterator(chunk_size=_chunk_rows(rows))
