"""Triage: the lifecycle of findings across analyses, suppression rules, and edge review.

A finding keeps its identity from one analysis to the next by a key made of what it is about
(kind, principal, and the trusted account or key slot where that tells two apart), not of what
it says. Its lifecycle::

    open -> accepted | suppressed      a reviewer (or a rule) decides, with a reason, maybe until
    accepted | suppressed -> open      the decision expires, or the finding changes materially
                                       (severity or the facts behind it), or a reviewer reopens it
    any -> resolved                    the finding is no longer found
    resolved -> open                   it is found again

Every transition is a `FindingEvent` (the audit trail shown on the finding). The analysis moves
findings along (`track_findings`, in its transaction); reviewers through `decide_finding`,
`reopen_finding` and `create_rule`. A suppression that expired reads as open at once
(`is_open`); the next analysis records the transition.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.db.models import Q

from identities.arns import account_of
from identities.db import update_rows
from identities.models import (
    AnalysisRun,
    EdgeReview,
    FindingEvent,
    SuppressionRule,
    TrackedFinding,
    TriageStatus,
)

logger = logging.getLogger(__name__)

OPEN, ACCEPTED, SUPPRESSED, RESOLVED = (
    TriageStatus.OPEN,
    TriageStatus.ACCEPTED,
    TriageStatus.SUPPRESSED,
    TriageStatus.RESOLVED,
)
DECIDED = (ACCEPTED, SUPPRESSED)


def digest(value: object) -> str:
    """A short stable digest of JSON-like data (keys sorted)."""
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


# -- rules (pure) -------------------------------------------------------------------------------


def _like(pattern: str, value: str) -> bool:
    return not pattern or fnmatch.fnmatchcase(value, pattern)


def rule_matches_finding(rule: SuppressionRule, summary: Mapping[str, Any]) -> bool:
    if rule.applies_to != SuppressionRule.AppliesTo.FINDING:
        return False
    data = summary.get("data") or {}
    return (
        (not rule.finding_kind or rule.finding_kind == summary["kind"])
        and _like(rule.principal, summary["principal"])
        and (not rule.account_id or rule.account_id == summary["account_id"])
        and _like(rule.source, str(data.get("trusted_account", "")))
        and (not rule.condition_key or rule.condition_key in data.get("condition_keys", ()))
    )


def rule_matches_edge(
    rule: SuppressionRule, source: str, target: str, conditions: Iterable[str]
) -> bool:
    if rule.applies_to != SuppressionRule.AppliesTo.EDGE:
        return False
    return (
        _like(rule.source, source)
        and _like(rule.principal, target)
        and (not rule.account_id or rule.account_id == account_of(target))
        and (not rule.condition_key or rule.condition_key in set(conditions))
    )


def active_rules(applies_to: str, now: datetime) -> list[SuppressionRule]:
    return list(
        SuppressionRule.objects.filter(applies_to=applies_to, active=True)
        .filter(Q(until__isnull=True) | Q(until__gt=now))
        .order_by("created_at", "id")
    )


def is_open_q(now: datetime) -> Q:
    """Open findings, counting decisions that expired as open."""
    return Q(status=OPEN) | Q(status__in=DECIDED, until__lte=now)


# -- the analysis moves findings along ----------------------------------------------------------


def _event(
    finding: TrackedFinding,
    to_status: str,
    note: str,
    now: datetime,
    *,
    from_status: str = "",
    actor: Any = None,
    run: AnalysisRun | None = None,
    until: datetime | None = None,
) -> FindingEvent:
    return FindingEvent(
        finding=finding,
        at=now,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        run=run,
        until=until,
    )


def _apply_rule(
    finding: TrackedFinding, rules: list[SuppressionRule], now: datetime, run: AnalysisRun | None
) -> FindingEvent | None:
    summary = {
        "kind": finding.kind,
        "principal": finding.principal_arn,
        "account_id": finding.account_id,
        "data": finding.data,
    }
    rule = next((rule for rule in rules if rule_matches_finding(rule, summary)), None)
    if rule is None:
        return None
    before = finding.status
    finding.status = rule.decision
    finding.reason = rule.reason
    finding.until = rule.until
    finding.rule = rule
    finding.decided_by_id = rule.created_by_id
    finding.decided_at = now
    return _event(
        finding,
        rule.decision,
        f"rule #{rule.pk}: {rule.reason}",
        now,
        from_status=before,
        run=run,
        until=rule.until,
    )


_CONTENT = (
    "kind",
    "severity",
    "account_id",
    "principal_arn",
    "title",
    "detail",
    "data",
    "material",
    "content",
)
_UPDATED = (
    *_CONTENT,
    "status",
    "reason",
    "until",
    "rule_id",
    "decided_by_id",
    "decided_at",
    "last_seen_at",
    "last_run_id",
)


def track_findings(
    run: AnalysisRun | None, found: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, int]:
    """Move every tracked finding along after an analysis that found ``found`` (key -> summary,
    see `finding_identity`); returns the transitions by target status."""
    rules = active_rules(SuppressionRule.AppliesTo.FINDING, now)
    # Most findings are found again unchanged: decide that on light tuples, and load (and
    # write) only the rows that change.
    light = TrackedFinding.objects.values_list("key", "status", "material", "content", "until")
    touched = []
    known = set()
    for key, status, material, content, until in light.iterator(chunk_size=5000):
        known.add(key)
        summary = found.get(key)
        if summary is None:
            if status != RESOLVED:
                touched.append(key)
        elif (
            status == RESOLVED
            or content != summary["content"]
            or (status in DECIDED and (material != summary["material"] or _expired(until, now)))
        ):
            touched.append(key)
    tracked = TrackedFinding.objects.in_bulk(touched, field_name="key") if touched else {}
    events: list[FindingEvent] = []
    created: list[TrackedFinding] = []
    updated: list[TrackedFinding] = []
    for key, summary in found.items():
        finding = tracked.get(key)
        if finding is None and key in known:
            continue  # found again, unchanged
        if finding is None:
            finding = TrackedFinding(
                key=key,
                kind=summary["kind"],
                severity=summary["severity"],
                account_id=summary["account_id"],
                principal_arn=summary["principal"],
                title=summary["title"][:1000],
                detail=summary["detail"],
                data=summary["data"],
                material=summary["material"],
                content=summary["content"],
                status=OPEN,
                first_seen_at=now,
                last_seen_at=now,
                last_run=run,
            )
            created.append(finding)
            events.append(_event(finding, OPEN, "found by the analysis", now, run=run))
            ruled = _apply_rule(finding, rules, now, run)
            if ruled is not None:
                events.append(ruled)
            continue
        note = _reopen_reason(finding, summary, now)
        (
            finding.kind,
            finding.severity,
            finding.account_id,
            finding.principal_arn,
            finding.title,
            finding.detail,
            finding.data,
            finding.material,
            finding.content,
        ) = (
            summary["kind"],
            summary["severity"],
            summary["account_id"],
            summary["principal"],
            summary["title"][:1000],
            summary["detail"],
            summary["data"],
            summary["material"],
            summary["content"],
        )
        finding.last_seen_at, finding.last_run = now, run
        if note is not None:
            events.append(_event(finding, OPEN, note, now, from_status=finding.status, run=run))
            finding.status, finding.reason, finding.until, finding.rule = OPEN, "", None, None
            ruled = _apply_rule(finding, rules, now, run)
            if ruled is not None:
                events.append(ruled)
        updated.append(finding)
    for key, finding in tracked.items():
        if key in found or finding.status == RESOLVED:
            continue
        events.append(
            _event(finding, RESOLVED, "no longer found", now, from_status=finding.status, run=run)
        )
        finding.status, finding.until = RESOLVED, None
        updated.append(finding)
    TrackedFinding.objects.bulk_create(created, batch_size=2000)
    update_rows(TrackedFinding, updated, _UPDATED)
    FindingEvent.objects.bulk_create(events, batch_size=2000)
    moved: dict[str, int] = {}
    for event in events:
        moved[event.to_status] = moved.get(event.to_status, 0) + 1
    return moved


def _expired(until: datetime | None, now: datetime) -> bool:
    return until is not None and until <= now


def _reopen_reason(
    finding: TrackedFinding, summary: Mapping[str, Any], now: datetime
) -> str | None:
    """Why a tracked finding found again opens (again), or None when it keeps its status."""
    if finding.status == RESOLVED:
        return "found again"
    if finding.status not in DECIDED:
        return None
    if summary["material"] != finding.material:
        if summary["severity"] != finding.severity:
            return f"changed: severity {finding.severity} -> {summary['severity']}"
        return "changed: the facts behind it differ"
    if _expired(finding.until, now):
        assert finding.until is not None
        return (
            f"{finding.get_status_display().lower()} until {finding.until:%Y-%m-%d %H:%M}, expired"
        )
    return None


# -- reviewers' decisions -----------------------------------------------------------------------


@transaction.atomic
def decide_finding(
    finding: TrackedFinding,
    status: str,
    *,
    reason: str,
    user: Any,
    now: datetime,
    until: datetime | None = None,
) -> FindingEvent:
    """Accept or suppress a finding (with a reason, optionally until a time)."""
    if status not in DECIDED:
        raise ValueError(f"a reviewer accepts or suppresses, not {status!r}")
    if finding.status == RESOLVED:
        raise ValueError("a resolved finding cannot be decided")
    event = _event(
        finding, status, reason, now, from_status=finding.status, actor=user, until=until
    )
    finding.status, finding.reason, finding.until, finding.rule = status, reason, until, None
    finding.decided_by, finding.decided_at = user, now
    finding.save(update_fields=["status", "reason", "until", "rule", "decided_by", "decided_at"])
    event.save()
    return event


@transaction.atomic
def reopen_finding(finding: TrackedFinding, *, note: str, user: Any, now: datetime) -> FindingEvent:
    """A reviewer takes back a decision."""
    if finding.status not in DECIDED:
        raise ValueError("only an accepted or suppressed finding can be reopened")
    event = _event(finding, OPEN, note, now, from_status=finding.status, actor=user)
    finding.status, finding.reason, finding.until, finding.rule = OPEN, "", None, None
    finding.save(update_fields=["status", "reason", "until", "rule"])
    event.save()
    return event


@transaction.atomic
def create_rule(rule: SuppressionRule, *, user: Any, now: datetime) -> int:
    """Save a rule and apply it to the open findings it matches (future ones: `track_findings`);
    returns how many findings it decided now."""
    rule.created_by, rule.created_at = user, now
    rule.save()
    if rule.applies_to != SuppressionRule.AppliesTo.FINDING:
        return 0
    events = []
    changed = []
    for finding in TrackedFinding.objects.filter(status=OPEN):
        event = _apply_rule(finding, [rule], now, None)
        if event is not None:
            event.actor = user
            events.append(event)
            changed.append(finding)
    update_rows(TrackedFinding, changed, _UPDATED)
    FindingEvent.objects.bulk_create(events)
    return len(events)


# -- edge review --------------------------------------------------------------------------------


def mark_edge_expected(
    source: str, target: str, *, reason: str, conditions: Iterable[str], user: Any, now: datetime
) -> EdgeReview:
    review, _ = EdgeReview.objects.update_or_create(
        source=source,
        target=target,
        defaults={
            "reason": reason,
            "conditions": sorted(conditions),
            "reviewed_by": user,
            "reviewed_at": now,
        },
    )
    return review


def unmark_edge(source: str, target: str) -> None:
    EdgeReview.objects.filter(source=source, target=target).delete()


def expected_edges(
    edges: Iterable[tuple[str, str, Iterable[str]]], now: datetime
) -> dict[tuple[str, str], str]:
    """Of these (source, target, conditions), the ones a reviewer or a rule expects, with why."""
    edges = list(edges)
    if not edges:
        return {}
    found: dict[tuple[str, str], str] = {}
    sources = {source for source, _, _ in edges}
    reviews = EdgeReview.objects.filter(source__in=sources).values_list(
        "source", "target", "reason"
    )
    reviewed = {(source, target): reason for source, target, reason in reviews}
    rules = active_rules(SuppressionRule.AppliesTo.EDGE, now)
    for source, target, conditions in edges:
        if (source, target) in reviewed:
            found[(source, target)] = reviewed[(source, target)]
            continue
        for rule in rules:
            if rule_matches_edge(rule, source, target, conditions):
                found[(source, target)] = f"rule #{rule.pk}: {rule.reason}"
                break
    return found
