"""Access history: what an analysis changed against the previous one, stored as differences.

Each analysis builds an `AccessSnapshot` of its results (every stored edge as one line of text, the
access-group memberships, the administrators, the paths to them, the findings) and compares it
with the state the previous analysis left (`AccessState` rows keep only the newest, compressed).
The comparison works at the level the command line and pages show: access groups expanded to
their members, a member's own edge for a role replacing its group's. Only what differs is
expanded, so a night where one account changed costs little more than reading the two states.

`record_history` runs inside the transaction that stores the analysis' results: an analysis that
fails half-way records no history, and the next one compares with the last that succeeded.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
import zstandard
from django.conf import settings

from identities.analysis.admins import AdminRecord
from identities.analysis.edges import TRUST_MARK, EdgeResult
from identities.analysis.escalation_history import EscalationRows, diff_escalations, escalation_rows
from identities.analysis.escalations import EscalationResult
from identities.analysis.findings import FindingRecord
from identities.analysis.membership import group_edge_holds
from identities.analysis.reach import Reached
from identities.arns import GROUP_PREFIX, SourceKind, account_of, classify_source
from identities.models import (
    AccessChange,
    AccessDiff,
    AccessState,
    AnalysisRun,
    SyncRun,
)
from identities.triage import digest, track_findings

logger = logging.getLogger(__name__)

SEP = "\x1f"  # between the fields of an edge line (never in an ARN or a statement reference)
LIST = "\x1e"  # between the items of a list field
PAIR = "\x1d"  # between a condition key and its requirement
SNAPSHOT_FORMAT = 7  # of `AccessSnapshot.to_bytes`; another one is not compared with
# Format 4 wrote each statement reference out in every row (no ``refs``); it reads the same.
# Formats 4 and 5 kept no escalations, 6 their target lists row by row: none are compared.
_READABLE = (4, 5, 6, SNAPSHOT_FORMAT)
META_END = b"\x00"  # after the JSON part of a stored snapshot (never in JSON text)
ROW_END = "\x1c"  # between the rows of a stored snapshot
# Snapshots are compressed with zstd (several times faster than zlib, and smaller); a zlib
# blob (written before) still reads.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
POSSIBLE = ("allow", "conditional")
Category = AccessChange.Category
_V = TypeVar("_V")


@dataclass
class AccessSnapshot:
    """One analysis' results, compactly: what the next analysis compares with."""

    rows: set[str] = field(default_factory=set)  # edge lines, see `edge_line`
    members: dict[str, str] = field(default_factory=dict)  # member ARN -> "group:KEY"
    admins: dict[str, str] = field(default_factory=dict)  # ARN -> basis
    reach: dict[str, list[str]] = field(default_factory=dict)  # source -> path to an admin
    # source -> path to the nearest sensitive role (`identities.analysis.sensitive`)
    sensitive: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> summary
    accounts: list[str] = field(default_factory=list)  # the synced accounts
    # A role class's grants are rows whose target is the class ("class:DIGEST" of its roles):
    # class -> [role ARN, trust policy label] of its roles (see `identities.analysis.edges`).
    classes: dict[str, list[list[str]]] = field(default_factory=dict)
    # Rows name the statements that grant them by id (see `RefIds`): id -> statement reference.
    refs: dict[str, str] = field(default_factory=dict)
    # The stored escalation edges, see `escalation_rows`; None: not known (an older format).
    escalations: EscalationRows | None = None

    def to_bytes(self) -> bytes:
        # The rows as lines of text after the rest as JSON: splitting text is several times
        # faster than parsing a JSON array of a million strings.
        meta = {
            "format": SNAPSHOT_FORMAT,
            "classes": self.classes,
            "members": self.members,
            "admins": self.admins,
            "reach": self.reach,
            "sensitive": self.sensitive,
            "findings": self.findings,
            "accounts": self.accounts,
            "refs": self.refs,
            "escalations": self.escalations,
        }
        rows = ROW_END.join(self.rows).encode()
        return zstandard.ZstdCompressor(level=1).compress(orjson.dumps(meta) + META_END + rows)

    @classmethod
    def from_bytes(cls, blob: bytes) -> AccessSnapshot | None:
        """The snapshot, or None when it was written in another format (a baseline then)."""
        head, _, rows = decompress_snapshot(blob).partition(META_END)
        try:
            data = orjson.loads(head)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("format") not in _READABLE:
            return None
        lines = set(rows.decode().split(ROW_END)) if rows else set()
        if data["format"] == 4:  # statement references written out: name them by id
            lines, data["refs"] = _rows_with_ref_ids(lines)
        if data["format"] < SNAPSHOT_FORMAT:  # escalations not kept as this one keeps them
            data["escalations"] = None
        return cls.from_meta(data, lines)

    @classmethod
    def from_meta(
        cls,
        data: dict[str, Any],
        rows: set[str],
        classes: dict[str, list[list[str]]] | None = None,
    ) -> AccessSnapshot:
        """The snapshot of a stored header with these of its rows (and role classes)."""
        return cls(
            rows=rows,
            members=data["members"],
            admins=data["admins"],
            reach=data["reach"],
            sensitive=data.get("sensitive", {}),
            findings=data["findings"],
            accounts=data.get("accounts", []),
            classes=data.get("classes", {}) if classes is None else classes,
            refs=data.get("refs", {}),
            escalations=data.get("escalations"),
        )

    def edges(self, line: str) -> list[Edge]:
        """The edges of one row: one, or one per role of the class it grants."""
        edge = Edge.parse(line)
        if self.refs:
            refs = self.refs
            edge = replace(edge, granted_by=tuple(refs.get(ref, ref) for ref in edge.granted_by))
        roles = self.classes.get(edge.target)
        if roles is None:
            return [edge]
        return [
            replace(
                edge,
                target=arn,
                granted_by=tuple(ref.replace(TRUST_MARK, label) for ref in edge.granted_by),
            )
            for arn, label in roles
        ]


def decompress_snapshot(blob: bytes) -> bytes:
    """A stored snapshot's text: its JSON part, `META_END`, its rows (see `to_bytes`)."""
    if blob.startswith(ZSTD_MAGIC):
        return zstandard.ZstdDecompressor().decompress(blob)
    return zlib.decompress(blob)


def stored_format(blob: bytes) -> int | None:
    """The format a stored snapshot was written in, from its first bytes alone."""
    if blob.startswith(ZSTD_MAGIC):
        with zstandard.ZstdDecompressor().stream_reader(blob) as reader:
            head = reader.read(64)
    else:
        head = zlib.decompressobj().decompress(blob, 64)
    found = re.match(rb'\{"format":(\d+),', head)
    return int(found[1]) if found else None


def edge_line(
    source: str,
    target: str,
    action: str,
    outcome: str,
    condition_keys: Iterable[str],
    granted_by: Iterable[str],
    condition_values: Mapping[str, str] | None = None,
) -> str:
    """One stored edge as text (group edges keep their ``group:KEY`` source)."""
    keys = tuple(condition_keys)
    values = condition_values or {}
    # What each key must be in words (`MFA = true`), the key itself where none is known: the
    # rule `access_edges` prints its condition_values by.
    requirements = LIST.join(f"{key}{PAIR}{values.get(key) or key}" for key in keys)
    return SEP.join(
        (source, target, action, outcome, LIST.join(keys), LIST.join(granted_by), requirements)
    )


@dataclass(frozen=True)
class Edge:
    """A stored edge read back from its line."""

    source: str
    target: str
    action: str
    outcome: str
    condition_keys: tuple[str, ...]
    granted_by: tuple[str, ...]
    condition_values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, line: str) -> Edge:
        source, target, action, outcome, keys, granted, values = line.split(SEP)
        return cls(
            source,
            target,
            action,
            outcome,
            tuple(keys.split(LIST)) if keys else (),
            tuple(granted.split(LIST)) if granted else (),
            tuple(
                (pair.partition(PAIR)[0], pair.partition(PAIR)[2])
                for pair in (values.split(LIST) if values else ())
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "conditions": list(self.condition_keys),
            "condition_values": dict(self.condition_values),
            "granted_by": list(self.granted_by),
        }


class RefIds:
    """Short ids of statement references, the same for the same text in every analysis.

    The references are most of a row's text and a few statements grant most edges: rows carry
    the ids, the snapshot each text once, and reading, hashing and compressing the rows costs
    a fraction of it."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}  # id -> reference
        self._ids: dict[str, str] = {}  # reference -> id

    def __call__(self, refs: Iterable[str]) -> list[str]:
        found = []
        for ref in refs:
            ref_id = self._ids.get(ref)
            if ref_id is None:
                raw = hashlib.blake2b(ref.encode(), digest_size=9).digest()
                ref_id = self._ids[ref] = base64.urlsafe_b64encode(raw).decode()
                self.texts[ref_id] = ref
            found.append(ref_id)
        return found


def _rows_with_ref_ids(lines: Iterable[str]) -> tuple[set[str], dict[str, str]]:
    """Format 4 rows with their statement references named by id, and the references."""
    ref_ids = RefIds()
    named: dict[str, str] = {}  # a row's references -> their ids (many rows share them)
    rows = set()
    for line in lines:
        fields = line.split(SEP)
        granted = fields[5]
        if granted not in named:
            named[granted] = LIST.join(ref_ids(granted.split(LIST))) if granted else ""
        fields[5] = named[granted]
        rows.add(SEP.join(fields))
    return rows, ref_ids.texts


def state_of_results(
    result: EdgeResult,
    admins: Sequence[AdminRecord],
    admin_paths: Mapping[str, tuple[Reached, tuple[str, ...]]],
    findings: Sequence[FindingRecord],
    accounts: Iterable[str] = (),
    sensitive_paths: Mapping[str, tuple[Reached, tuple[str, ...]]] | None = None,
    escalations: EscalationResult | None = None,
) -> AccessSnapshot:
    """The state of freshly computed results (what `store_results` and `store_sensitive`
    write)."""
    ref_ids = RefIds()
    rows = {
        edge_line(
            edge.source,
            edge.target.arn,
            edge.action,
            edge.outcome,
            edge.condition_keys,
            ref_ids(edge.granted_by),
            edge.condition_values,
        )
        for edge in result.edges
    }
    classes: dict[str, list[list[str]]] = {}
    for role_class in result.classes:
        # Named by its roles, so that an unchanged class reads the same in the next state.
        node = "class:" + digest(sorted(role.arn for role in role_class.roles))
        classes[node] = [
            [role.arn, label]
            for role, label in zip(role_class.roles, role_class.labels, strict=True)
        ]
        rows.update(
            edge_line(
                grant.source,
                node,
                grant.action,
                grant.outcome,
                grant.condition_keys,
                ref_ids(grant.granted_by),
                grant.condition_values,
            )
            for grant in role_class.grants
        )
    return AccessSnapshot(
        rows=rows,
        classes=classes,
        members={
            actor.arn: group.source for group in result.grouping.groups for actor in group.members
        },
        admins={record.actor.arn: record.basis for record in admins},
        reach={source: list(reached.path) for source, (reached, _) in admin_paths.items()},
        sensitive={
            source: list(reached.path) for source, (reached, _) in (sensitive_paths or {}).items()
        },
        findings=dict(finding_identity(record) for record in findings),
        accounts=sorted(accounts),
        refs=ref_ids.texts,
        escalations=escalation_rows(escalations) if escalations is not None else None,
    )


# The facts of a finding's data that tell two findings of one kind and principal apart.
_IDENTITY_FIELDS = ("trusted_account", "slot")


def finding_identity(record: FindingRecord) -> tuple[str, dict[str, Any]]:
    """The stable key of a finding (what it is about, not what it says) and the summary the
    history and the triage keep of it; ``material`` changes when its severity or facts do."""
    who = [record.kind, record.principal_arn]
    who.extend(str(record.data.get(name, "")) for name in _IDENTITY_FIELDS)
    summary = {
        "kind": record.kind,
        "severity": record.severity,
        "principal": record.principal_arn,
        "account_id": record.account.account_id if record.account else "",
        "title": record.title,
        "detail": record.detail,
        "data": record.data,
        "material": digest([record.severity, record.data]),
    }
    # Not the detail: it names the day of the analysis (stale credentials), so it would differ
    # every night and rewrite thousands of rows for nothing.
    summary["content"] = digest({k: v for k, v in summary.items() if k != "detail"})
    return digest(who), summary


# -- the comparison (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRecord:
    """One difference, as `AccessChange` stores it."""

    category: str
    source: str
    target: str = ""
    action: str = ""
    account_id: str = ""
    severity: str = "low"
    detail: dict[str, Any] = field(default_factory=dict)


Index = dict[str, dict[str, list[Edge]]]  # source -> target -> its edges


def _indexes(
    old: AccessSnapshot, new: AccessSnapshot, wanted: set[str], gone: set[str]
) -> tuple[Index, Index]:
    """The edges of these sources (a member, a group, an outside principal) in each state.

    One pass over the rows: the old state's are the new rows it holds too and the rows that
    are ``gone`` (only in the old state)."""
    lines = [line for line in new.rows if line[: line.index(SEP)] in wanted]
    old_lines = [line for line in lines if line in old.rows]
    old_lines += [line for line in gone if line[: line.index(SEP)] in wanted]
    return _by_source(old, old_lines), _by_source(new, lines)


def _by_source(state: AccessSnapshot, lines: Iterable[str]) -> Index:
    found: Index = defaultdict(lambda: defaultdict(list))
    for line in lines:
        for edge in state.edges(line):
            found[edge.source][edge.target].append(edge)
    return found


_NONE: dict[str, list[Edge]] = {}


def _holds(
    index: Mapping[str, Mapping[str, list[Edge]]],
    members: Mapping[str, str],
    principal: str,
    target: str,
) -> dict[str, Edge]:
    """The possible edges from ``principal`` to ``target`` by action, groups expanded.

    Groups are expanded by `group_edge_holds`, the rule the read side applies.
    """
    own = index.get(principal, _NONE).get(target, ())
    group = members.get(principal)
    own_pairs = {(principal, target)} if own else set()
    if group and group_edge_holds(own_pairs, principal, target):
        own = index.get(group, _NONE).get(target, ())
    return {edge.action: edge for edge in own if edge.outcome in POSSIBLE}


def _groups_members(members: Mapping[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for arn, group in members.items():
        found[group].append(arn)
    return found


def diff_edges(
    old: AccessSnapshot, new: AccessSnapshot
) -> list[tuple[str, Edge | None, Edge | None]]:
    """(source, before, after) of every expanded edge that appeared, disappeared or changed its
    conditions, sorted by (source, target, action)."""
    gone = old.rows - new.rows
    touched = [edge for line in gone for edge in old.edges(line)]
    touched += [edge for line in new.rows - old.rows for edge in new.edges(line)]
    moved = {arn for arn, _ in old.members.items() ^ new.members.items()}
    old_groups, new_groups = _groups_members(old.members), _groups_members(new.members)
    wanted: set[str] = set()
    for edge in touched:
        wanted.add(edge.source)
        if edge.source.startswith(GROUP_PREFIX):
            wanted.update(old_groups.get(edge.source, ()))
            wanted.update(new_groups.get(edge.source, ()))
    wanted |= moved
    for principal in list(wanted):
        for members in (old.members, new.members):
            if principal in members:
                wanted.add(members[principal])
    old_index, new_index = _indexes(old, new, wanted, gone)
    pairs: set[tuple[str, str]] = set()
    for edge in touched:
        if edge.source.startswith(GROUP_PREFIX):
            for member in (*old_groups.get(edge.source, ()), *new_groups.get(edge.source, ())):
                pairs.add((member, edge.target))
        else:
            pairs.add((edge.source, edge.target))
    for member in moved:
        for index, members in ((old_index, old.members), (new_index, new.members)):
            group = members.get(member)
            if group:
                pairs.update((member, target) for target in index.get(group, _NONE))
    found: list[tuple[str, Edge | None, Edge | None]] = []
    for principal, target in pairs:
        before = _holds(old_index, old.members, principal, target)
        after = _holds(new_index, new.members, principal, target)
        for action in before.keys() | after.keys():
            was, now = before.get(action), after.get(action)
            if (
                was is not None
                and now is not None
                and (was.condition_keys, was.condition_values)
                == (now.condition_keys, now.condition_values)
            ):
                continue
            found.append((principal, was, now))
    found.sort(key=lambda item: (item[0], *_target_action(item)))
    return found


def _target_action(item: tuple[str, Edge | None, Edge | None]) -> tuple[str, str]:
    edge = item[1] or item[2]
    assert edge is not None
    return edge.target, edge.action


def _outside(source: str, accounts: set[str]) -> bool:
    """Anyone, or a principal of an account that is not synced: trust outside the estate."""
    kind = classify_source(source)
    if kind is SourceKind.ANYONE:
        return True
    if kind in (SourceKind.SERVICE, SourceKind.FEDERATED, SourceKind.GROUP):
        return False
    account = account_of(source)
    return bool(account) and account not in accounts


def edge_severity(source: str, target: str, before: Edge | None, after: Edge | None, *,
                  admins: Mapping[str, str], accounts: set[str]) -> str:  # fmt: skip
    """High for new trust from anyone or outside the estate, or into an administrator role;
    medium for a new federated edge or conditions dropped; low otherwise."""
    if after is None:
        return "low"
    if before is None:
        if _outside(source, accounts) or target in admins:
            return "high"
        return "medium" if classify_source(source) is SourceKind.FEDERATED else "low"
    dropped = set(before.condition_keys) - set(after.condition_keys)
    return "medium" if dropped else "low"


def _only_in(
    *pairs: tuple[str, Mapping[str, _V], Mapping[str, object], str],
) -> Iterator[tuple[str, str, _V, str]]:
    """(category, key, value, severity) for each key of the first mapping of a pair that the
    second lacks, pair by pair, keys sorted."""
    for category, now, then, severity in pairs:
        for key in sorted(now.keys() - then.keys()):
            yield category, key, now[key], severity


def diff_states(old: AccessSnapshot, new: AccessSnapshot) -> list[ChangeRecord]:
    """Every difference between two states, edges first."""
    accounts = set(new.accounts) | set(old.accounts)
    changes: list[ChangeRecord] = []
    for source, before, after in diff_edges(old, new):
        edge = after or before
        assert edge is not None
        category = (
            Category.EDGE_ADDED
            if before is None
            else Category.EDGE_REMOVED
            if after is None
            else Category.EDGE_CHANGED
        )
        changes.append(
            ChangeRecord(
                category=category,
                source=source,
                target=edge.target,
                action=edge.action,
                account_id=account_of(edge.target),
                severity=edge_severity(
                    source, edge.target, before, after, admins=new.admins, accounts=accounts
                ),
                detail={
                    "before": before.as_dict() if before else None,
                    "after": after.as_dict() if after else None,
                },
            )
        )
    changes.extend(
        ChangeRecord(
            category, arn, account_id=account_of(arn), severity=severity, detail={"basis": basis}
        )
        for category, arn, basis, severity in _only_in(
            (Category.ADMIN_ADDED, new.admins, old.admins, "high"),
            (Category.ADMIN_REMOVED, old.admins, new.admins, "low"),
        )
    )
    changes.extend(
        ChangeRecord(
            category,
            source,
            target=path[-1],
            account_id=account_of(source) or account_of(path[-1]),
            severity=severity,
            detail={"path": path},
        )
        for category, source, path, severity in _only_in(
            (Category.REACH_ADDED, new.reach, old.reach, "high"),
            (Category.REACH_REMOVED, old.reach, new.reach, "low"),
            (Category.SENSITIVE_ADDED, new.sensitive, old.sensitive, "high"),
            (Category.SENSITIVE_REMOVED, old.sensitive, new.sensitive, "low"),
        )
    )
    added, removed = diff_escalations(old.escalations, new.escalations)
    changes.extend(
        ChangeRecord(
            category,
            row["principal"],
            target=row["target"] or "",
            action=row["method"],
            account_id=account_of(row["principal"]),
            # A new way to become an administrator is high, any other new one medium.
            severity="high" if severity == "medium" and row["target"] in new.admins else severity,
            detail=row,
        )
        for category, found, severity in (
            (Category.ESCALATION_ADDED, added, "medium"),
            (Category.ESCALATION_REMOVED, removed, "low"),
        )
        for row in found
    )
    changes.extend(
        # A new finding keeps its own severity.
        ChangeRecord(
            category,
            key,
            target=finding["principal"],
            account_id=finding["account_id"],
            severity=severity or finding["severity"],
            detail=finding,
        )
        for category, key, finding, severity in _only_in(
            (Category.FINDING_NEW, new.findings, old.findings, ""),
            (Category.FINDING_RESOLVED, old.findings, new.findings, "low"),
        )
    )
    return changes


# -- recording, inside the analysis transaction -------------------------------------------------


def retention() -> timedelta:
    """How long diffs are kept (``IAMVIZ_HISTORY_RETENTION_DAYS``)."""
    return timedelta(days=settings.IAMVIZ_HISTORY_RETENTION_DAYS)


def record_history(run: AnalysisRun, state: AccessSnapshot, now: datetime) -> AccessDiff:
    """Compare ``state`` with the newest stored one, store the differences and the new state,
    move the findings' triage along, prune history past the retention.

    Call inside the transaction that stores the analysis' results.
    """
    previous = (
        AccessState.objects.exclude(run=run)
        .select_related("run")
        .order_by("-run__finished_at", "-run_id")
        .first()
    )
    before = AccessSnapshot.from_bytes(bytes(previous.blob)) if previous else None
    diff = AccessDiff.objects.create(
        run=run,
        previous=previous.run if previous and before else None,
        baseline=before is None,
        created_at=now,
        sync_runs=_sync_runs_between(previous.run if previous else None, run),
    )
    changes = diff_states(before, state) if before is not None else []
    AccessChange.objects.bulk_create(
        (
            AccessChange(
                diff=diff,
                category=change.category,
                source=change.source[:2048],
                target=change.target[:2048],
                action=change.action,
                account_id=change.account_id,
                severity=change.severity,
                detail=change.detail,
            )
            for change in changes
        ),
        batch_size=2000,
    )
    counts: dict[str, int] = defaultdict(int)
    for change in changes:
        counts[str(change.category)] += 1
    diff.counts = dict(counts)
    diff.save(update_fields=["counts"])
    track_findings(run, state.findings, now)
    AccessState.objects.all().delete()
    AccessState.objects.create(run=run, blob=state.to_bytes())
    AccessDiff.objects.filter(created_at__lt=now - retention()).delete()
    logger.info("analysis %s changed %s", run.pk, dict(counts) or "nothing")
    return diff


def _sync_runs_between(previous: AnalysisRun | None, run: AnalysisRun) -> list[int]:
    """The sync runs that finished after the previous analysis started (their changes are what
    this analysis sees new), newest first."""
    runs = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED)
    if previous is not None:
        runs = runs.filter(finished_at__gte=previous.started_at)
    elif run.sync_run_id is not None:
        runs = runs.filter(pk=run.sync_run_id)
    else:
        return []
    return list(runs.order_by("-finished_at", "-id").values_list("pk", flat=True)[:100])
