"""Values kept per version of the data they read, and pages of a list read by primary key."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from identities.models import Account, IamUser
from identities.queries.paging import (
    MAX_KEPT,
    RowsInOrder,
    SlicedSequence,
    estate_version,
    forget_kept,
    kept,
    ordered_ids,
    shared_key,
)
from tests.factories import AccountFactory, IamUserFactory, SyncRunFactory


@pytest.fixture(autouse=True)
def _nothing_kept() -> None:
    forget_kept()


def _counter() -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_kept_computes_once_per_version():
    calls, compute = _counter()

    values = [kept("n", "v1", compute), kept("n", "v1", compute), kept("n", "v2", compute)]

    assert values == [1, 1, 2]
    assert len(calls) == 2


def test_kept_without_a_version_computes_every_time():
    calls, compute = _counter()

    values = [kept("n", None, compute), kept("n", None, compute)]

    assert values == [1, 2]


def test_kept_forgets_the_least_recently_used_name_past_its_bound():
    calls, compute = _counter()
    kept("first", "v", compute)
    for number in range(MAX_KEPT):
        kept(f"other-{number}", "v", lambda: 0)

    again = kept("first", "v", compute)

    assert (again, len(calls)) == (2, 2)


def _users(names: list[str]) -> list[IamUser]:
    account = AccountFactory()
    for name in names:
        IamUserFactory(account=account, name=name)
    return list(IamUser.objects.filter(name__in=names).order_by("name"))


@pytest.mark.django_db
def test_rows_in_order_pages_follow_the_ids_not_the_queryset():
    users = _users(["a", "b", "c", "d"])
    ids = [users[2].pk, users[0].pk, users[3].pk, users[1].pk]

    rows = RowsInOrder(ids, IamUser.objects.order_by("name"))

    assert (len(rows), [u.name for u in rows[1:3]], rows[-1].name) == (4, ["a", "d"], "b")
    assert [u.name for u in rows] == ["c", "a", "d", "b"]


@pytest.mark.django_db
def test_rows_in_order_leaves_out_a_row_deleted_since(django_assert_num_queries):
    users = _users(["a", "b", "c"])
    rows = RowsInOrder([u.pk for u in users], IamUser.objects.all())
    users[1].delete()

    with django_assert_num_queries(1):
        page = rows[0:3]

    assert [u.name for u in page] == ["a", "c"]


@pytest.mark.django_db
def test_ordered_ids_are_read_again_for_a_new_version(django_assert_num_queries):
    users = _users(["b", "a"])
    queryset = IamUser.objects.order_by("name")
    first = list(ordered_ids("users", "v1", queryset))
    IamUserFactory(account=users[0].account, name="0")

    with django_assert_num_queries(0):
        kept_ids = list(ordered_ids("users", "v1", queryset))
    new_ids = list(ordered_ids("users", "v2", queryset))

    assert first == kept_ids == [users[0].pk, users[1].pk]
    assert new_ids == [*IamUser.objects.filter(name="0").values_list("pk", flat=True), *first]


@pytest.mark.django_db
def test_estate_version_changes_when_a_run_applies_to_an_account():
    account = AccountFactory()
    before = estate_version()
    first = SyncRunFactory(started_at=timezone.now())
    Account.objects.filter(pk=account.pk).update(last_sync_run=first)
    applied = estate_version()
    second = SyncRunFactory(started_at=timezone.now())
    Account.objects.filter(pk=account.pk).update(last_sync_run=second)

    assert before is None
    assert applied == (1, first.pk, first.started_at)
    assert estate_version() == (1, second.pk, second.started_at)


@pytest.mark.django_db
def test_estate_version_counts_accounts():
    run = SyncRunFactory(started_at=timezone.now())
    AccountFactory(last_sync_run=run)
    one = estate_version()
    AccountFactory()

    assert (one, estate_version()) == ((1, run.pk, run.started_at), (2, run.pk, run.started_at))


@pytest.mark.django_db
def test_a_shared_order_is_read_by_another_process_without_a_query(django_assert_num_queries):
    users = _users(["b", "a"])
    queryset = IamUser.objects.order_by("name")
    first = list(ordered_ids("users", "v1", queryset))
    forget_kept()  # what a process that never read the order holds

    with django_assert_num_queries(0):
        again = list(ordered_ids("users", "v1", queryset))

    assert first == again == [users[0].pk, users[1].pk]
    assert list(cache.get(shared_key("users", "v1"))) == first


@pytest.mark.django_db
def test_a_shared_order_is_read_again_for_a_new_version_in_every_process():
    users = _users(["b", "a"])
    queryset = IamUser.objects.order_by("name")
    ordered_ids("users", "v1", queryset)
    newcomer = IamUserFactory(account=users[0].account, name="0")
    forget_kept()

    kept_ids = list(ordered_ids("users", "v1", queryset))
    new_ids = list(ordered_ids("users", "v2", queryset))

    assert kept_ids == [users[0].pk, users[1].pk]
    assert new_ids == [newcomer.pk, *kept_ids]


def test_kept_and_shared_computes_once_for_every_process():
    calls, compute = _counter()

    first = kept("n", "v1", compute, shared=True)
    forget_kept()
    again = kept("n", "v1", compute, shared=True)
    other = kept("n", "v2", compute, shared=True)

    assert (first, again, other, len(calls)) == (1, 1, 2, 2)


class _Counted(SlicedSequence[int]):
    """A list read through `SlicedSequence`, counting the reads."""

    def __init__(self, values: list[int]):
        self.values, self.reads = values, 0

    def __len__(self) -> int:
        return len(self.values)

    def _rows(self, start: int, stop: int) -> list[int]:
        self.reads += 1
        return self.values[start:stop]

    def _chunk_rows(self) -> int:
        return 4


def test_sliced_sequence_indexes_and_slices_as_a_list_does():
    values = list(range(10))
    rows = _Counted(values)
    cases = [slice(2, 5), slice(-3, None), slice(None, None, 3), slice(8, 2, -2), slice(5, 5)]

    assert [rows[index] for index in (0, 9, -1, -10)] == [values[i] for i in (0, 9, -1, -10)]
    for case in cases:
        assert rows[case] == values[case], case
    for index in (10, -11):
        with pytest.raises(IndexError):
            rows[index]


def test_sliced_sequence_iterates_a_chunk_a_read():
    rows = _Counted(list(range(10)))

    assert list(rows) == list(range(10))
    assert rows.reads == 3
