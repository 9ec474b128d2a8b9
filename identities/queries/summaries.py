"""Summaries of long lists of who can assume a role: one row per trust statement and account
of the principals (direct edges), per number of hops and account (chains), each row named by a
key that opens its members. Pure: they group what `identities.queries.access` read."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from identities import arns
from identities.analysis.reach import Reached
from identities.models import AccessEdge, Account
from identities.queries.access import DirectAccess

T = TypeVar("T")

_TRUST_REF = " of trust policy "
_GROUP_KIND = AccessEdge.SourceKind.GROUP


# An ARN's account and kind, remembered: a role's summary reads them for tens of thousands of
# principals, the same ones at every request (the estate's principals bound the memory).
account_of = lru_cache(maxsize=500_000)(arns.account_of)
classify_source = lru_cache(maxsize=500_000)(arns.classify_source)


@dataclass(frozen=True)
class Bunch:
    """Rows that share a trust statement (or, for chains, their number of hops) and the account
    of their principals, summarised; ``key`` names it in a URL (`direct_in_bunch`)."""

    key: str
    label: str
    account: str
    count: int
    kinds: tuple[tuple[str, int], ...]
    conditional: int = 0
    condition_keys: tuple[str, ...] = ()
    account_name: str = ""


def trust_statement(access: DirectAccess) -> str:
    """The trust policy statement behind a direct edge (its first reference to one), or ""."""
    return next((ref for ref in access.granted_by if _TRUST_REF in ref), "")


def _bunch_key(label: str, account: str) -> str:
    return hashlib.sha1(f"{label}\n{account}".encode()).hexdigest()[:12]


def identity_statement(access: DirectAccess) -> str:
    """The principal's own statement behind a direct edge (its first reference that is no
    trust statement), or "" when the trust policy alone grants it."""
    return next((ref for ref in access.granted_by if _TRUST_REF not in ref), "")


def _far_end(access: DirectAccess, direction: str) -> str:
    """The principal of an edge into a role (``into``), the role of one out of a principal."""
    return access.source if direction == "into" else access.target


def _direct_bunch(access: DirectAccess, direction: str) -> tuple[str, str]:
    if direction == "into":
        return trust_statement(access), account_of(access.source)
    return identity_statement(access), account_of(access.target)


def _chain_bunch(reached: Reached) -> tuple[str, str]:
    return str(reached.hops), account_of(reached.node)


def direct_bunches(accesses: Iterable[DirectAccess], direction: str = "into") -> list[Bunch]:
    """Direct edges into one role by (trust statement, account of the principal), or
    (``direction="out"``) out of one principal by (its own statement, account of the role);
    biggest first, the counts adding up to the number of edges."""
    found: dict[tuple[str, str], list[DirectAccess]] = defaultdict(list)
    for access in accesses:
        found[_direct_bunch(access, direction)].append(access)
    return _bunches(
        found,
        lambda rows: {
            "kinds": _kinds(row.source_kind if direction == "into" else "role" for row in rows),
            "conditional": sum(row.conditional for row in rows),
            "condition_keys": tuple(sorted({k for row in rows for k in row.condition_keys})),
        },
    )


def folded_direct_bunches(
    edges: Iterable[DirectAccess], members: Mapping[str, Sequence[tuple[str, str]]]
) -> list[Bunch]:
    """`direct_bunches` of the edges into one role, each access group's edge counted once per
    member for whom it holds (``members``: `access.group_members`), without an edge made for
    each member; the same bunches as `direct_bunches(expand(edges, members))`. The members of
    an access group are principals of one account."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in edges:
        if edge.source_kind != _GROUP_KIND:
            kinds: dict[str, int] = {edge.source_kind: 1}
            account = account_of(edge.source)
        else:
            group = members.get(edge.group or "", ())
            if not group:
                continue
            kinds = defaultdict(int)
            for _, kind in group:
                kinds[kind] += 1
            account = account_of(group[0][0])
        count = sum(kinds.values())
        bunch = found.setdefault(
            (trust_statement(edge), account),
            {"count": 0, "kinds": defaultdict(int), "conditional": 0, "condition_keys": set()},
        )
        bunch["count"] += count
        for kind, number in kinds.items():
            bunch["kinds"][kind] += number
        bunch["conditional"] += count if edge.conditional else 0
        bunch["condition_keys"].update(edge.condition_keys)
    names = _account_names({account for _, account in found})
    bunches = [
        Bunch(
            key=_bunch_key(label, account),
            label=label,
            account=account,
            count=facts["count"],
            account_name=names.get(account, ""),
            kinds=tuple(sorted(facts["kinds"].items())),
            conditional=facts["conditional"],
            condition_keys=tuple(sorted(facts["condition_keys"])),
        )
        for (label, account), facts in found.items()
    ]
    return sorted(bunches, key=lambda b: (-b.count, b.label, b.account))


def expand(
    edges: Iterable[DirectAccess],
    members: Mapping[str, Sequence[tuple[str, str]]],
    keep: Callable[[DirectAccess, str], bool] = lambda edge, source: True,
) -> list[DirectAccess]:
    """The edges into one role with each access group's edge once per member for whom it
    holds (``members``: `access.group_members`), by source, as `access.access_into` lists
    them; ``keep(edge, source)`` chooses which."""
    found = [edge for edge in edges if edge.source_kind != _GROUP_KIND and keep(edge, edge.source)]
    for edge in edges:
        if edge.source_kind == _GROUP_KIND:
            found.extend(
                edge.held_by(arn, kind)
                for arn, kind in members.get(edge.group or "", ())
                if keep(edge, arn)
            )
    return sorted(found, key=lambda access: access.source)


def folded_in_bunch(
    edges: Iterable[DirectAccess],
    members: Mapping[str, Sequence[tuple[str, str]]],
    key: str,
    q: str = "",
) -> list[DirectAccess]:
    """`direct_in_bunch` of the edges into one role, expanding only the bunch's groups (the
    members of an access group are principals of one account)."""
    q = q.lower()
    inside = [
        edge
        for edge in edges
        if edge.source_kind != _GROUP_KIND
        or (
            members.get(edge.group or "")
            and _bunch_key(trust_statement(edge), account_of(members[edge.group or ""][0][0]))
            == key
        )
    ]
    return expand(
        inside,
        members,
        lambda edge, source: (
            q in source.lower()
            and (
                edge.source_kind == _GROUP_KIND
                or _bunch_key(trust_statement(edge), account_of(source)) == key
            )
        ),
    )


def chain_bunches(chains: Iterable[Reached]) -> list[Bunch]:
    """Chains into a role or out of a principal by (number of hops, account of the principal
    or role at the far end), biggest first; ``label`` is the number of hops."""
    # One pass that only counts: a busy role has tens of thousands of chains.
    found: dict[tuple[int, str], dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for reached in chains:
        node = reached.node
        found[(reached.hops, account_of(node))][classify_source(node)] += 1
    names = _account_names({account for _, account in found})
    bunches = []
    for (hops, account), kinds in found.items():
        label = str(hops)
        counted: dict[str, int] = defaultdict(int)
        for kind, n in kinds.items():
            counted[str(kind)] += n
        bunches.append(
            Bunch(
                key=_bunch_key(label, account),
                label=label,
                account=account,
                count=sum(counted.values()),
                account_name=names.get(account, ""),
                kinds=tuple(sorted(counted.items())),
            )
        )
    return sorted(bunches, key=lambda b: (-b.count, b.label, b.account))


def _kinds(kinds: Iterable[str]) -> tuple[tuple[str, int], ...]:
    counted: dict[str, int] = defaultdict(int)
    for kind in kinds:
        counted[kind] += 1
    return tuple(sorted(counted.items()))


def _bunches(
    found: dict[tuple[str, str], list[T]], facts: Callable[[list[T]], dict[str, Any]]
) -> list[Bunch]:
    names = _account_names({account for _, account in found})
    bunches = [
        Bunch(
            key=_bunch_key(label, account),
            label=label,
            account=account,
            count=len(rows),
            account_name=names.get(account, ""),
            **facts(rows),
        )
        for (label, account), rows in found.items()
    ]
    return sorted(bunches, key=lambda b: (-b.count, b.label, b.account))


def _account_names(accounts: Iterable[str]) -> dict[str, str]:
    return dict(
        Account.objects.filter(account_id__in=set(accounts)).values_list("account_id", "name")
    )


def direct_in_bunch(
    accesses: Iterable[DirectAccess], key: str, q: str = "", direction: str = "into"
) -> list[DirectAccess]:
    """The direct edges of the bunch ``key`` (`direct_bunches`) whose far end (the principal
    into a role, the role out of a principal) contains ``q``."""
    return [
        access
        for access in accesses
        if _bunch_key(*_direct_bunch(access, direction)) == key
        and q.lower() in _far_end(access, direction).lower()
    ]


def chains_in_bunch(chains: Iterable[Reached], key: str, q: str = "") -> list[Reached]:
    """The chains of the bunch ``key`` (`chain_bunches`) whose far end contains ``q``."""
    return [
        reached
        for reached in chains
        if _bunch_key(*_chain_bunch(reached)) == key and q.lower() in reached.node.lower()
    ]
