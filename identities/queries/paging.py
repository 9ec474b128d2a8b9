"""Long lists read a page at a time without sorting the whole table at every request.

The order of a list (its primary keys, sorted as the list's queryset sorts) is read once per
*version* of the data it comes from and kept in this process's memory; a page then fetches
only its own rows by primary key (`RowsInOrder`, which a `Paginator` takes as it takes a list:
its length is the count, no `COUNT(*)`). The versions: `estate_version` for the estate's rows
(only ingest writes them, and every applied account records its sync run in the same
transaction), the analysis run (`access.run_cached`'s key) for edges and findings.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from django.db.models import Count, Max, Model, QuerySet

from identities.models import Account

_M = TypeVar("_M", bound=Model)

# Orders kept per process; each is an array of 8-byte keys (400 kB for 50,000 rows).
MAX_ORDERS = 32

_lock = threading.Lock()
_orders: OrderedDict[str, tuple[Hashable, array[int]]] = OrderedDict()


def estate_version() -> tuple[int, int, Any] | None:
    """A value that changes whenever ingest changes the estate's rows: the number of accounts,
    and the last sync run applied to any of them (id and start, as a rolled-back test may give
    an id again). None before any import: then nothing is kept."""
    found = Account.objects.aggregate(
        accounts=Count("pk"),
        run=Max("last_sync_run_id"),
        started=Max("last_sync_run__started_at"),
    )
    if found["run"] is None:
        return None
    return (found["accounts"], found["run"], found["started"])


def ordered_ids(name: str, version: Hashable | None, queryset: QuerySet[Any]) -> Sequence[int]:
    """The primary keys of ``queryset`` in its order, read once per ``version`` of its data
    under ``name`` (which must name the queryset's filters and order); read every time when
    ``version`` is None."""
    if version is None:
        return array("q", queryset.values_list("pk", flat=True))
    with _lock:
        found = _orders.get(name)
        if found is not None and found[0] == version:
            _orders.move_to_end(name)
            return found[1]
    ids = array("q", queryset.values_list("pk", flat=True))
    with _lock:
        _orders[name] = (version, ids)
        _orders.move_to_end(name)
        while len(_orders) > MAX_ORDERS:
            _orders.popitem(last=False)
    return ids


def forget_orders() -> None:
    """Drop every kept order (tests that write rows outside ingest call it)."""
    with _lock:
        _orders.clear()


class RowsInOrder(Sequence[_M], Generic[_M]):
    """The rows of ``queryset`` whose keys ``ids`` lists, in that order; a slice fetches only
    its rows (one query). A row gone since the order was read is left out of its page."""

    def __init__(self, ids: Sequence[int], queryset: QuerySet[_M]):
        self.ids, self.queryset = ids, queryset

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> _M: ...
    @overload
    def __getitem__(self, index: slice) -> list[_M]: ...
    def __getitem__(self, index: int | slice) -> _M | list[_M]:
        if isinstance(index, int):
            if index < 0:
                index += len(self.ids)
            if not 0 <= index < len(self.ids):
                raise IndexError(index)
            rows = self[index : index + 1]
            if not rows:
                raise IndexError(index)
            return rows[0]
        wanted = list(self.ids[index])
        if not wanted:
            return []
        found = self.queryset.in_bulk(wanted)
        return [found[pk] for pk in wanted if pk in found]

    def __iter__(self) -> Iterator[_M]:
        for start in range(0, len(self.ids), 1000):
            yield from self[start : start + 1000]
