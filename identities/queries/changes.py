"""Read side of the access history: the one reader of stored diffs and of the triage state.

The analysis stores, per run, what changed against the previous run (`AccessDiff` and its
`AccessChange` rows). Two runs further apart compare by composing the diffs between them:
for each edge, administrator, path or finding, the state before the first diff that touched it
and after the last one. Pages, the dashboard, notifications and ``access_changes`` all read
history through `changes_between`, so they cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from identities.models import (
    AccessChange,
    AccessDiff,
    Administrator,
    AdminPath,
    AnalysisRun,
    Change,
    GroupMembership,
    SyncRun,
    TrackedFinding,
    TriageStatus,
)
from identities.models.review import SEVERITY_RANK
from identities.queries.findings import filter_given
from identities.triage import DECIDED, expected_edges, is_open_q

if TYPE_CHECKING:
    from identities.analysis.history import ChangeRecord

Category = AccessChange.Category
ADDED = (
    Category.EDGE_ADDED,
    Category.ADMIN_ADDED,
    Category.REACH_ADDED,
    Category.SENSITIVE_ADDED,
    Category.ESCALATION_ADDED,
    Category.FINDING_NEW,
)
# The families of changes and the categories for (absent before, absent after, both present).
_FAMILIES: dict[str, tuple[str, str, str | None]] = {
    "edge": (Category.EDGE_ADDED, Category.EDGE_REMOVED, Category.EDGE_CHANGED),
    "admin": (Category.ADMIN_ADDED, Category.ADMIN_REMOVED, None),
    "reach": (Category.REACH_ADDED, Category.REACH_REMOVED, None),
    "sensitive": (Category.SENSITIVE_ADDED, Category.SENSITIVE_REMOVED, None),
    "escalation": (Category.ESCALATION_ADDED, Category.ESCALATION_REMOVED, None),
    "finding": (Category.FINDING_NEW, Category.FINDING_RESOLVED, None),
}
_ORDER: list[str] = [
    Category.ADMIN_ADDED,
    Category.REACH_ADDED,
    Category.SENSITIVE_ADDED,
    Category.EDGE_ADDED,
    Category.ESCALATION_ADDED,
    Category.FINDING_NEW,
    Category.EDGE_CHANGED,
    Category.ADMIN_REMOVED,
    Category.REACH_REMOVED,
    Category.SENSITIVE_REMOVED,
    Category.EDGE_REMOVED,
    Category.ESCALATION_REMOVED,
    Category.FINDING_RESOLVED,
]
_FAMILY_OF: dict[str, str] = {
    category: family
    for family, categories in _FAMILIES.items()
    for category in categories
    if category is not None
}


class HistoryUnavailable(Exception):
    """The two runs cannot be compared: one is unknown, failed, or beyond the retention."""


@dataclass
class ChangeItem:
    """One net difference between two runs (composed from the diffs between them)."""

    category: str
    source: str
    target: str
    action: str
    account_id: str
    severity: str
    before: Any
    after: Any
    detail: dict[str, Any] = field(default_factory=dict)
    diff_run: int = 0  # the analysis whose diff last touched it (for its causes)
    expected: str = ""  # why a reviewer or a rule expects this edge, if one does

    @property
    def family(self) -> str:
        return _FAMILY_OF[self.category]

    @property
    def is_new(self) -> bool:
        return self.category in ADDED and not self.expected

    @property
    def side(self) -> dict[str, Any]:
        """What is there after the change, or was there before a removal."""
        return self.after or self.before or {}

    @property
    def conditions(self) -> list[str]:
        return list(self.side.get("conditions", ()))

    def get_category_display(self) -> str:
        return Category(self.category).label


@dataclass
class ChangeSet:
    """The differences from one analysis run to a later one."""

    from_run: AnalysisRun
    to_run: AnalysisRun
    items: list[ChangeItem]
    sync_runs: list[int]

    def of(self, *categories: str) -> list[ChangeItem]:
        return [item for item in self.items if item.category in categories]

    @property
    def new(self) -> list[ChangeItem]:
        return [item for item in self.items if item.is_new]

    @property
    def expected(self) -> list[ChangeItem]:
        return [item for item in self.items if item.expected]

    @property
    def other(self) -> list[ChangeItem]:
        return [item for item in self.items if item.category not in ADDED]

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.category for item in self.items))


# -- runs ---------------------------------------------------------------------------------------


def analysis_runs() -> QuerySet[AnalysisRun]:
    """Succeeded analyses that have history, newest first."""
    return (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED, diff__isnull=False)
        .select_related("diff", "sync_run")
        .defer("graph")
        .order_by("-finished_at", "-id")
    )


def latest_diff() -> AccessDiff | None:
    return AccessDiff.objects.select_related("run", "previous").order_by("-run_id").first()


def default_runs() -> tuple[int, int]:
    """The last two analyses (from, to): the newest diff and the run it compares with."""
    diff = latest_diff()
    if diff is None or diff.previous_id is None:
        raise HistoryUnavailable("fewer than two analyses with history: nothing to compare")
    return diff.previous_id, diff.run_id


def _chain(from_id: int, to_id: int) -> list[AccessDiff]:
    """The diffs leading from run ``from_id`` to run ``to_id``, oldest first."""
    diffs = {
        diff.run_id: diff
        for diff in AccessDiff.objects.filter(run_id__lte=to_id).only(
            "run_id", "previous_id", "baseline", "sync_runs"
        )
    }
    if to_id not in diffs:
        raise HistoryUnavailable(f"analysis #{to_id} has no history (failed, or pruned)")
    chain: list[AccessDiff] = []
    current = to_id
    while current != from_id:
        diff = diffs.get(current)
        if diff is None or diff.previous_id is None:
            raise HistoryUnavailable(
                f"no history from analysis #{from_id} to #{to_id} (not an earlier succeeded "
                "analysis, or beyond the retention)"
            )
        chain.append(diff)
        current = diff.previous_id
    chain.reverse()
    return chain


def _run(run_id: int) -> AnalysisRun:
    run = AnalysisRun.objects.defer("graph").filter(pk=run_id).first()
    if run is None:
        raise HistoryUnavailable(f"no analysis #{run_id}")
    return run


def _identity(row: AccessChange) -> tuple[str, str, str, str]:
    return (_FAMILY_OF[row.category], row.source, row.target, row.action)


# A stored `AccessChange` row, or a `ChangeRecord` not stored (what-if).
Difference: TypeAlias = "AccessChange | ChangeRecord"


# The fields a `ChangeItem` takes from its difference as they are.
_SHARED_FIELDS = ("category", "source", "target", "action", "account_id", "severity")


def _sides(row: Difference) -> tuple[Any, Any]:
    """What the row says was there before and after (None: absent)."""
    family = _FAMILY_OF[row.category]
    added, removed, _ = _FAMILIES[family]
    if family == "edge":
        return row.detail.get("before"), row.detail.get("after")
    if row.category == added:
        return None, row.detail
    return row.detail, None


def change_item(row: Difference, *, diff_run: int = 0) -> ChangeItem:
    """One difference as the pages show it."""
    before, after = _sides(row)
    shared = {name: getattr(row, name) for name in _SHARED_FIELDS}
    return ChangeItem(**shared, before=before, after=after, detail=row.detail, diff_run=diff_run)


def changes_between(
    from_id: int | None = None,
    to_id: int | None = None,
    *,
    account_id: str = "",
    category: str = "",
    severity: str = "",
    now: datetime | None = None,
) -> ChangeSet:
    """The net differences from analysis ``from_id`` to ``to_id`` (default: the last two),
    filtered; added edges carry whether a reviewer or a rule expects them."""
    if to_id is None:
        previous_id, to_id = default_runs()
        from_id = previous_id if from_id is None else from_id
    if from_id is None:
        from_id = (
            AccessDiff.objects.filter(run_id=to_id).values_list("previous_id", flat=True).first()
        )
        if from_id is None:
            raise HistoryUnavailable(f"analysis #{to_id} has no earlier analysis to compare with")
    from_run, to_run = _run(from_id), _run(to_id)
    chain = _chain(from_id, to_id) if from_id != to_id else []
    rows = AccessChange.objects.filter(diff__in=[diff.pk for diff in chain]).order_by(
        "diff__run_id", "id"
    )
    if account_id:
        rows = rows.filter(account_id=account_id)
    if category:
        family = category if category in _FAMILIES else _FAMILY_OF.get(category, "")
        rows = rows.filter(category__in=[c for c in _FAMILIES.get(family, ()) if c])
    composed: dict[tuple[str, str, str, str], ChangeItem] = {}
    run_of = {diff.pk: diff.run_id for diff in chain}
    for row in rows:
        key = _identity(row)
        item = composed.get(key)
        if item is None:
            composed[key] = change_item(row, diff_run=run_of[row.diff_id])
        else:
            item.after, item.severity, item.detail = _sides(row)[1], row.severity, row.detail
            item.diff_run = run_of[row.diff_id]
    items = []
    for item in composed.values():
        added, removed, changed = _FAMILIES[item.family]
        if item.before is None and item.after is None:
            continue
        if item.before is None:
            item.category = added
        elif item.after is None:
            item.category = removed
            if item.family == "edge":
                item.severity = "low"
        elif item.before == item.after or changed is None:
            continue
        else:
            item.category = changed
        if severity and item.severity != severity:
            continue
        if category and category not in _FAMILIES and item.category != category:
            continue
        items.append(item)
    items.sort(
        key=lambda item: (
            SEVERITY_RANK.get(item.severity, 9),
            _ORDER.index(item.category),
            item.source,
            item.target,
        )
    )
    _mark_expected(items, now)
    sync_ids = sorted({pk for diff in chain for pk in diff.sync_runs}, reverse=True)
    return ChangeSet(from_run=from_run, to_run=to_run, items=items, sync_runs=sync_ids)


def _mark_expected(items: list[ChangeItem], now: datetime | None) -> None:
    added = [item for item in items if item.category == Category.EDGE_ADDED]
    expected = expected_edges(
        ((item.source, item.target, item.conditions) for item in added), now or timezone.now()
    )
    for item in added:
        item.expected = expected.get((item.source, item.target), "")


# -- the access_changes contract ----------------------------------------------------------------


def _edge(item: ChangeItem, side: Any) -> dict[str, Any]:
    return {
        "source": item.source,
        "target": item.target,
        "conditions": list(side["conditions"]),
        "condition_values": dict(side.get("condition_values", {})),
        "transitive": False,
        "path": [item.source, item.target],
        "granted_by": list(side["granted_by"]),
    }


def _finding(item: ChangeItem) -> dict[str, Any]:
    side = item.after or item.before
    return {
        "key": item.source,
        "kind": side["kind"],
        "severity": side["severity"],
        "principal": side["principal"],
        "title": side["title"],
    }


def _escalations(changes: ChangeSet, category: str) -> list[dict[str, Any]]:
    """The escalations of one category as the ``escalations`` command prints them, sorted by
    (principal, target, method)."""
    rows = [dict(item.side) for item in changes.of(category)]
    return sorted(rows, key=lambda row: (row["principal"], row["target"] or "", row["method"]))


def changes_document(changes: ChangeSet) -> dict[str, Any]:
    """The object ``access_changes --format json`` prints (the README documents its keys)."""

    def arns(category: str) -> list[str]:
        return sorted(item.source for item in changes.of(category))

    by_edge = sorted(
        changes.of(Category.EDGE_ADDED, Category.EDGE_REMOVED, Category.EDGE_CHANGED),
        key=lambda item: (item.source, item.target, item.action),
    )
    return {
        "from": changes.from_run.pk,
        "to": changes.to_run.pk,
        "edges_added": [
            _edge(item, item.after) for item in by_edge if item.category == Category.EDGE_ADDED
        ],
        "edges_removed": [
            _edge(item, item.before) for item in by_edge if item.category == Category.EDGE_REMOVED
        ],
        "edges_changed": [
            {
                **_edge(item, item.after),
                "conditions_before": list(item.before["conditions"]),
                "conditions_after": list(item.after["conditions"]),
            }
            for item in by_edge
            if item.category == Category.EDGE_CHANGED
        ],
        "administrators_added": arns(Category.ADMIN_ADDED),
        "administrators_removed": arns(Category.ADMIN_REMOVED),
        "admin_reach_added": arns(Category.REACH_ADDED),
        "admin_reach_removed": arns(Category.REACH_REMOVED),
        "escalations_added": _escalations(changes, Category.ESCALATION_ADDED),
        "escalations_removed": _escalations(changes, Category.ESCALATION_REMOVED),
        "findings_new": sorted(
            (_finding(item) for item in changes.of(Category.FINDING_NEW)),
            key=lambda f: (f["kind"], f["principal"], f["key"]),
        ),
        "findings_resolved": sorted(
            (_finding(item) for item in changes.of(Category.FINDING_RESOLVED)),
            key=lambda f: (f["kind"], f["principal"], f["key"]),
        ),
    }


# -- what caused a change -----------------------------------------------------------------------


def causes_of(source: str, target: str, sync_runs: Iterable[int], limit: int = 50) -> list[Change]:
    """The entity changes of these sync runs that name the edge's source, its groups or its
    target: a trust policy edit, an attachment, a group membership or policy, a policy of
    either end."""
    ends = [end for end in (source, target) if end.startswith("arn:")]
    ends.extend(
        GroupMembership.objects.filter(user__arn=source).values_list("group__arn", flat=True)
    )
    if not ends:
        return []
    named = Q()
    for end in ends:
        named |= Q(key__startswith=end)
    return list(
        Change.objects.filter(named, sync_run_id__in=list(sync_runs))
        .select_related("sync_run")
        .order_by("-sync_run_id", "id")[:limit]
    )


# -- the dashboard and principal pages ----------------------------------------------------------


def risk_trend(limit: int = 10) -> list[dict[str, Any]]:
    """Administrators and principals that can reach one, over the last analyses, oldest first."""
    runs = (
        AnalysisRun.objects.filter(status=AnalysisRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .values("pk", "finished_at", "counts")[:limit]
    )
    return [
        {
            "run": run["pk"],
            "finished_at": run["finished_at"],
            "administrators": run["counts"].get("administrators", 0),
            "admin_paths": run["counts"].get("admin_paths", 0),
        }
        for run in reversed(list(runs))
    ]


def open_findings_by_severity(now: datetime) -> dict[str, int]:
    counts = dict(
        TrackedFinding.objects.filter(is_open_q(now))
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in ("high", "medium", "low")}


def risk_summary(now: datetime) -> dict[str, Any]:
    """What the dashboard shows first: administrators, reach and its trend, what is new since
    the last sync, open findings by severity, the last sync."""
    diff = latest_diff()
    new: dict[str, int] = {}
    if diff is not None and not diff.baseline:
        try:
            changes = changes_between(diff.previous_id, diff.run_id, now=now)
        except HistoryUnavailable:
            changes = None
        if changes is not None:
            new = dict(Counter(item.category for item in changes.new))
    return {
        "administrators": Administrator.objects.count(),
        "admin_paths": AdminPath.objects.count(),
        "trend": risk_trend(),
        "latest_diff": diff,
        "new": new,
        "new_total": sum(new.values()),
        "open_findings": open_findings_by_severity(now),
        "last_sync": SyncRun.objects.filter(parent__isnull=True)
        .order_by("-started_at", "-id")
        .first(),
    }


def new_since_last_sync(arn: str, now: datetime) -> list[ChangeItem]:
    """The new (not expected) changes of the last analysis that involve this principal: an
    edge from or into it, it becoming an administrator or reaching one, a finding on it."""
    diff = latest_diff()
    if diff is None or diff.baseline:
        return []
    rows = AccessChange.objects.filter(diff=diff, category__in=ADDED).filter(
        Q(source=arn) | Q(target=arn)
    )
    items = [change_item(row, diff_run=diff.run_id) for row in rows[:50]]
    _mark_expected(items, now)
    return [item for item in items if item.is_new]


# -- finding triage -----------------------------------------------------------------------------


def tracked_findings(
    *, status: str = "", severity: str = "", kind: str = "", account_id: str = "", now: datetime
) -> QuerySet[TrackedFinding]:
    """Tracked findings; ``status="open"`` counts expired decisions as open."""
    found = filter_given(
        TrackedFinding.objects.select_related("decided_by"),
        account_id=account_id,
        severity=severity,
        kind=kind,
    )
    if status == TriageStatus.OPEN:
        found = found.filter(is_open_q(now))
    elif status in DECIDED:
        found = found.filter(status=status).exclude(until__lte=now)
    elif status:
        found = found.filter(status=status)
    return found.order_by("status", "kind", "principal_arn", "key")


def effective_status(finding: TrackedFinding, now: datetime) -> str:
    if finding.status in DECIDED and finding.until is not None and finding.until <= now:
        return TriageStatus.OPEN
    return finding.status


def finding_row(finding: TrackedFinding, now: datetime) -> dict[str, Any]:
    """The object the ``findings`` command prints (a contract: see the README)."""
    return {
        "key": finding.key,
        "kind": finding.kind,
        "severity": finding.severity,
        "status": effective_status(finding, now),
        "account": finding.account_id,
        "principal": finding.principal_arn,
        "title": finding.title,
        "detail": finding.detail,
        "first_seen": finding.first_seen_at.isoformat(),
        "last_seen": finding.last_seen_at.isoformat(),
    }


def finding_events(finding: TrackedFinding) -> Iterator[Any]:
    yield from finding.events.select_related("actor").order_by("at", "id")
