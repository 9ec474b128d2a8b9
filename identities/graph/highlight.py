"""Edges marked "added" or "removed" on a drawn graph: what changed since a sync, or what a
what-if proposal would change.

The API is two names:

- ``Highlight(added, removed, label)``: sets of edge keys ``(source node id, target node id,
  kind)``, where kind is ``"assume"`` for every role assumption (``assume``, ``service``,
  ``federated``, ``anyone``, ``outside`` edges; see `key_kind`) or ``"escalate"``, and the
  words the page shows (``"since the last sync"``).
- ``apply_highlight(data, highlight)``: marks the JSON `serialise_graph` returned, in place,
  and returns it. A drawn edge whose key is in ``added`` gets ``"change": "added"`` and the
  class ``change-added``; a key in ``removed`` whose two ends are drawn but no edge is gets a
  new edge with ``"change": "removed"`` and the class ``change-removed`` (drawn dashed, no
  panel); the ends of a marked edge get the class ``change-end``. ``data["changes"]`` says
  what was marked. ``graph.js`` appends each element's ``classes`` to the ones it derives.

`since_sync` builds the highlight of the access history, read through
`identities.queries.changes` (the one reader of differences): an edge's source is the
principal the history names, and an edge from an access group is marked when it changed for
one of the group's members. `edges_highlight` does the same for any added and removed change
items (a what-if's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from identities.graph.build import ACCESS_EDGE_KINDS, arn_node_id
from identities.models import AccessChange, AccessGroupMember
from identities.queries.changes import (
    ChangeItem,
    HistoryUnavailable,
    analysis_runs,
    changes_between,
)

EdgeKey = tuple[str, str, str]  # (source node id, target node id, kind)
ADDED = "added"
REMOVED = "removed"
LAST_SYNC = "last"  # the ``since`` parameter for "since the last sync"
_ASSUME_KINDS = frozenset(ACCESS_EDGE_KINDS) - {"escalate"}


@dataclass(frozen=True)
class Highlight:
    """Edge keys to mark on a graph, and what the marks mean."""

    added: frozenset[EdgeKey] = frozenset()
    removed: frozenset[EdgeKey] = frozenset()
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # carried into ``data["changes"]``

    def mark_of(self, key: EdgeKey) -> str:
        """ "added", "removed" or "" for one edge key."""
        if key in self.added:
            return ADDED
        if key in self.removed:
            return REMOVED
        return ""


def key_kind(kind: str) -> str:
    """The kind an edge key names: every role assumption is ``assume``."""
    return "assume" if kind in _ASSUME_KINDS else kind


def _add_class(item: dict[str, Any], name: str) -> None:
    classes = item.setdefault("classes", [])
    if name not in classes:
        classes.append(name)


def apply_highlight(data: dict[str, Any], highlight: Highlight | None) -> dict[str, Any]:
    """Mark the edges of ``highlight`` on a serialised graph (see the module docstring)."""
    if highlight is None:
        return data
    nodes = {node["id"]: node for node in data["nodes"]}
    drawn: set[EdgeKey] = set()
    ends: set[str] = set()
    added = 0
    for edge in data["edges"]:
        key = (edge["source"], edge["target"], key_kind(edge["kind"]))
        drawn.add(key)
        if key in highlight.added:
            edge["change"] = ADDED
            _add_class(edge, "change-" + ADDED)
            ends.update(key[:2])
            added += 1
    removed = 0
    for source, target, kind in sorted(highlight.removed - drawn):
        if source not in nodes or target not in nodes:
            continue
        labels = nodes[source]["label"], nodes[target]["label"]
        data["edges"].append(
            {
                "id": f"{source}|{kind}|{REMOVED}|{target}",
                "source": source,
                "target": target,
                "kind": kind,
                "change": REMOVED,
                "classes": ["change-" + REMOVED],
                "summary": f"{labels[0]} → {labels[1]}: removed {highlight.label}".strip(),
            }
        )
        ends.update((source, target))
        removed += 1
    for node_id in ends:
        _add_class(nodes[node_id], "change-end")
    data["changes"] = {
        "label": highlight.label,
        "added": added,
        "removed": removed,
        **highlight.extra,
    }
    return data


# -- the access history -------------------------------------------------------------------------


def _edge_keys(items: Iterable[ChangeItem], groups: dict[str, str]) -> Iterator[EdgeKey]:
    """The keys of changed edges: the principal's own edge, and its access group's."""
    for item in items:
        target = arn_node_id(item.target)
        yield arn_node_id(item.source), target, "assume"
        if item.source in groups:
            yield f"access-group:{groups[item.source]}", target, "assume"


def since_sync(since: str) -> Highlight:
    """The edges added and removed since the last sync (``since="last"``) or since analysis
    #N (``since="N"``) up to the newest analysis; raises HistoryUnavailable, naming the
    parameter, when there is no such history."""
    if since == LAST_SYNC:
        changes = changes_between(category="edge")
        label = "since the last sync"
    elif since.isdigit():
        changes = changes_between(int(since), category="edge")
        label = f"since analysis #{since}"
    else:
        raise HistoryUnavailable(f"since={since!r}: expected 'last' or an analysis number")
    return edges_highlight(
        changes.of(AccessChange.Category.EDGE_ADDED),
        changes.of(AccessChange.Category.EDGE_REMOVED),
        label,
        {"since": since, "from": changes.from_run.pk, "to": changes.to_run.pk},
    )


def edges_highlight(
    added: list[ChangeItem], removed: list[ChangeItem], label: str, extra: dict[str, Any]
) -> Highlight:
    """The highlight of these added and removed edges (a what-if's too)."""
    sources = {item.source for item in (*added, *removed)}
    groups = dict(
        AccessGroupMember.objects.filter(arn__in=sources).values_list("arn", "group__key")
    )
    return Highlight(
        added=frozenset(_edge_keys(added, groups)),
        removed=frozenset(_edge_keys(removed, groups)),
        label=label,
        extra=extra,
    )


def since_choices(limit: int = 20) -> list[tuple[str, str]]:
    """The ``since`` values a graph page offers: the last sync, then the earlier analyses
    (the one before the last sync is the last sync); none before a second analysis."""
    runs = list(analysis_runs()[: limit + 2])
    if len(runs) < 2:
        return []
    earlier = [
        (
            str(run.pk),
            f"analysis #{run.pk}"
            + (f", {run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else ""),
        )
        for run in runs[2:]
    ]
    return [(LAST_SYNC, "the last sync"), *earlier]
