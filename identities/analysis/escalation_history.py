"""Escalations in the access history: the escalation edges of an analysis as its state keeps
them, and the escalations two states differ by, as the ``escalations`` command prints them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from identities.analysis.escalations import EscalationResult
from identities.arns import GROUP_PREFIX

# The escalation edges of an analysis as its state keeps them: ``rows``, one per stored
# `EscalationEdge` as [source, method, status, targets, condition keys, statement references]
# (a source is a principal's ARN or ``group:KEY``; targets the index of its list in
# ``targets``: a few lists of an account's principals are most of them), and ``members``:
# member ARN -> its group's ``group:KEY``.
EscalationRows = dict[str, Any]


def escalation_rows(result: EscalationResult, *, by_principal: bool = False) -> EscalationRows:
    """The escalation edges of ``result`` as a state keeps them (see `EscalationRows`), a
    group's rows as `store_escalations` stores them; ``by_principal``: one row per member."""
    rows: list[list[Any]] = []
    members: dict[str, str] = {}
    lists: dict[tuple[str, ...], int] = {}
    for record in result.records:
        targets = [arn for arn, _ in record.targets]
        shared = [record.method.id, record.status]
        conditions, refs = list(record.condition_keys), list(record.granted_by)
        if record.group is None or by_principal:
            for actor in record.sources if record.group is not None else record.sources[:1]:
                own = [arn for arn in targets if arn != actor.arn]
                if targets and not own:
                    continue
                at = lists.setdefault(tuple(own), len(lists))
                rows.append([actor.arn, *shared, at, conditions, refs])
            continue
        source = f"group:{record.group.key}"
        members.update((actor.arn, source) for actor in record.sources)
        rows.append(
            [source, *shared, lists.setdefault(tuple(targets), len(lists)), conditions, refs]
        )
    return {"rows": rows, "targets": [list(found) for found in lists], "members": members}


def escalations_with(rows: EscalationRows, added: EscalationRows) -> EscalationRows:
    """``rows`` with the rows and memberships of ``added``."""
    targets = [list(found) for found in rows["targets"]]
    lists = {tuple(found): at for at, found in enumerate(targets)}
    found_rows = list(rows["rows"])
    for source, method, status, at, conditions, refs in added["rows"]:
        key = tuple(added["targets"][at])
        if key not in lists:
            lists[key] = len(targets)
            targets.append(list(key))
        found_rows.append([source, method, status, lists[key], conditions, refs])
    members = {**rows["members"], **added["members"]}
    return {"rows": found_rows, "targets": targets, "members": members}


def without_escalations_of(rows: EscalationRows, principals: Iterable[str]) -> EscalationRows:
    """``rows`` without these principals: their own rows and their group memberships."""
    gone = set(principals)
    return {
        "rows": [row for row in rows["rows"] if row[0] not in gone],
        "targets": rows["targets"],
        "members": {arn: g for arn, g in rows["members"].items() if arn not in gone},
    }


def _row_key(row: list[Any], targets: Sequence[tuple[str, ...]]) -> tuple[Any, ...]:
    return (row[0], row[1], row[2], targets[row[3]], tuple(row[4]), tuple(row[5]))


def _escalations_of(
    index: Mapping[str, list[list[Any]]],
    lists: Sequence[Sequence[str]],
    members: Mapping[str, str],
    principal: str,
) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, target) -> the ``escalations`` command's row, of one principal."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (principal, members.get(principal)):
        for _, method, status, at, conditions, refs in index.get(source or "", ()):
            for target in lists[at] or [None]:
                if target != principal:
                    found.setdefault(
                        (method, target or ""),
                        {
                            "principal": principal,
                            "method": method,
                            "status": status,
                            "target": target,
                            "conditions": list(conditions),
                            "granted_by": list(refs),
                        },
                    )
    return found


def diff_escalations(
    old: EscalationRows | None, new: EscalationRows | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(added, removed) escalations, per (principal, method, target), as the ``escalations``
    command prints them, sorted by (principal, target, method); none when a side is unknown.

    Only the principals of rows that differ, or whose group differs, are expanded."""
    if old is None or new is None:
        return [], []
    old_lists = [tuple(found) for found in old["targets"]]
    new_lists = [tuple(found) for found in new["targets"]]
    old_keys = {_row_key(row, old_lists) for row in old["rows"]}
    new_keys = {_row_key(row, new_lists) for row in new["rows"]}
    sources = {key[0] for key in old_keys ^ new_keys}
    principals = {arn for arn, _ in old["members"].items() ^ new["members"].items()}
    for state in (old, new):
        principals.update(arn for arn, group in state["members"].items() if group in sources)
    principals.update(source for source in sources if not source.startswith(GROUP_PREFIX))
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    if not principals:
        return added, removed
    wanted = set(principals)
    for state in (old, new):
        wanted.update(state["members"][arn] for arn in principals if arn in state["members"])
    indexes = []
    for state in (old, new):
        index: dict[str, list[list[Any]]] = defaultdict(list)
        for row in state["rows"]:
            if row[0] in wanted:
                index[row[0]].append(row)
        indexes.append(index)
    for principal in principals:
        before = _escalations_of(indexes[0], old_lists, old["members"], principal)
        after = _escalations_of(indexes[1], new_lists, new["members"], principal)
        added.extend(after[key] for key in after.keys() - before.keys())
        removed.extend(before[key] for key in before.keys() - after.keys())
    for found in (added, removed):
        found.sort(key=lambda row: (row["principal"], row["target"] or "", row["method"]))
    return added, removed
