"""Access history: what an analysis changed against the previous one, and the access_changes
contract."""

from __future__ import annotations

import io
import json
import zlib
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from identities.analysis import history
from identities.analysis.history import AccessSnapshot, diff_states, edge_line
from identities.models import AccessDiff, AccessState, AnalysisRun, TrackedFinding
from identities.queries.changes import causes_of, changes_between
from tests.review.conftest import AUDITOR, CI_DEPLOY, PROD_OPS, VENDOR_ROOT, analyse

PARTNER_GATEWAY = "arn:aws:iam::444444444444:role/partner-gateway"
ORG_INVENTORY = "arn:aws:iam::222222222222:role/org-inventory"
MFA = "aws:MultiFactorAuthPresent"
# The lists of the access_changes document, in their documented order after "from" and "to".
CHANGE_LISTS = (
    "edges_added",
    "edges_removed",
    "edges_changed",
    "administrators_added",
    "administrators_removed",
    "admin_reach_added",
    "admin_reach_removed",
    "escalations_added",
    "escalations_removed",
    "findings_new",
    "findings_resolved",
)


def access_changes(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("access_changes", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def edges(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(row["source"], row["target"], row["conditions"]) for row in rows]


def test_second_import_gives_exactly_the_changed_edges_reach_and_findings(two_analyses):
    first, second = two_analyses

    document = access_changes()

    assert list(document) == ["from", "to", *CHANGE_LISTS]
    assert (document["from"], document["to"]) == (first, second)
    assert edges(document["edges_added"]) == [
        (CI_DEPLOY, ORG_INVENTORY, []),
        (CI_DEPLOY, PARTNER_GATEWAY, ["aws:SourceIp"]),
        (VENDOR_ROOT, PROD_OPS, []),
    ]
    assert edges(document["edges_removed"]) == [
        (AUDITOR, "arn:aws:iam::111111111111:role/audit", [MFA]),
        (AUDITOR, "arn:aws:iam::333333333333:role/audit", [MFA]),
        (AUDITOR, "arn:aws:iam::444444444444:role/audit", [MFA]),
    ]
    assert document["edges_changed"] == []
    assert document["administrators_added"] == []
    assert document["administrators_removed"] == []
    assert document["admin_reach_added"] == [VENDOR_ROOT]
    assert document["admin_reach_removed"] == []
    # ci-deploy joins developers: it gains their escalations.
    assert {row["principal"] for row in document["escalations_added"]} == {CI_DEPLOY}
    assert len(document["escalations_added"]) == 8
    assert document["escalations_removed"] == []
    assert [(f["kind"], f["severity"], f["principal"]) for f in document["findings_new"]] == [
        ("root_trust_without_external_id", "high", PROD_OPS)
    ]
    assert document["findings_resolved"] == []


def test_added_edge_is_printed_as_access_edges_prints_it(two_analyses):
    out = io.StringIO()
    call_command("access_edges", "--format", "json", stdout=out)
    printed = [row for row in json.loads(out.getvalue()) if row["source"] == CI_DEPLOY]

    document = access_changes()

    added = [edge for edge in document["edges_added"] if edge["source"] == CI_DEPLOY]
    assert added == [row for row in printed if row["target"] in (ORG_INVENTORY, PARTNER_GATEWAY)]
    assert added[1]["condition_values"] == {"aws:SourceIp": "SourceIp in 203.0.113.0/24"}


def test_condition_values_changed_make_an_edge_changed():
    old = snapshot([("u1", "R", ("aws:SourceIp",))], {}, {"aws:SourceIp": "SourceIp in 10.0.0.0/8"})
    new = snapshot([("u1", "R", ("aws:SourceIp",))], {}, {"aws:SourceIp": "SourceIp in 0.0.0.0/0"})

    changes = diff_states(old, new)

    assert [(c.category, c.detail["after"]["condition_values"]) for c in changes] == [
        ("edge_changed", {"aws:SourceIp": "SourceIp in 0.0.0.0/0"})
    ]


def test_reimport_of_the_same_bundle_changes_nothing(imported_sample, sample_bundle, reimport):
    reimport(sample_bundle)

    document = access_changes()

    assert {key: value for key, value in document.items() if key not in ("from", "to")} == {
        key: [] for key in CHANGE_LISTS
    }


def test_any_two_runs_compare_by_composing_the_diffs_between_them(
    two_analyses, sample_bundle, reimport
):
    first, second = two_analyses
    third = reimport(sample_bundle, label="back.json").pk

    back = access_changes("--from", str(second), "--to", str(third))
    round_trip = access_changes("--from", str(first), "--to", str(third))

    assert edges(back["edges_removed"]) == [
        (CI_DEPLOY, ORG_INVENTORY, []),
        (CI_DEPLOY, PARTNER_GATEWAY, ["aws:SourceIp"]),
        (VENDOR_ROOT, PROD_OPS, []),
    ]
    assert back["admin_reach_removed"] == [VENDOR_ROOT]
    assert [f["principal"] for f in back["findings_resolved"]] == [PROD_OPS]
    assert (round_trip["edges_added"], round_trip["edges_removed"]) == ([], [])
    assert (round_trip["findings_new"], round_trip["findings_resolved"]) == ([], [])


def test_changes_name_the_entity_changes_of_the_sync_that_caused_them(two_analyses):
    changes = changes_between()

    causes = causes_of(VENDOR_ROOT, PROD_OPS, changes.sync_runs)

    assert [(c.kind, c.action, c.key) for c in causes] == [("trust_policy", "changed", PROD_OPS)]


def test_a_removed_edge_names_the_change_of_its_principal_group(two_analyses):
    changes = changes_between()

    causes = causes_of(AUDITOR, "arn:aws:iam::444444444444:role/audit", changes.sync_runs)

    assert [(c.kind, c.action, c.key) for c in causes] == [
        (
            "inline_policy",
            "removed",
            "arn:aws:iam::222222222222:group/auditors inline assume-audit-roles",
        )
    ]


def test_failed_analysis_records_no_history(two_analyses, sample_bundle, reimport, monkeypatch):
    first, second = two_analyses
    real = history.record_history

    def record_then_fail(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("the store failed after the history was written")

    monkeypatch.setattr("identities.analysis.record_history", record_then_fail)
    with pytest.raises(RuntimeError):
        reimport(sample_bundle, label="back.json")
    monkeypatch.undo()
    failed = AnalysisRun.objects.get(status="failed")
    tracked = dict(TrackedFinding.objects.values_list("principal_arn", "status"))
    third = analyse().pk

    assert AccessDiff.objects.filter(run=failed).exists() is False
    assert tracked[PROD_OPS] == "open"
    assert list(AccessState.objects.values_list("run_id", flat=True)) == [third]
    assert [d.previous_id for d in AccessDiff.objects.filter(run_id=third)] == [second]
    assert access_changes()["admin_reach_removed"] == [VENDOR_ROOT]


def test_first_analysis_is_a_baseline_and_the_command_says_why_it_cannot_compare(
    imported_sample,
):
    diff = AccessDiff.objects.get()
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("access_changes", stderr=err)

    assert (diff.baseline, diff.counts, diff.changes.count()) == (True, {}, 0)
    assert "fewer than two analyses" in str(raised.value)


def test_unknown_run_is_an_error(two_analyses):
    with pytest.raises(CommandError) as raised:
        call_command("access_changes", "--from", str(two_analyses[0]), "--to", "9999")

    assert str(raised.value) == "no analysis #9999"


def test_history_past_the_retention_is_pruned(two_analyses, sample_bundle, reimport, settings):
    settings.IAMVIZ_HISTORY_RETENTION_DAYS = 1
    AccessDiff.objects.update(created_at=timezone.now() - timedelta(days=2))

    third = reimport(sample_bundle, label="back.json").pk

    assert list(AccessDiff.objects.values_list("run_id", flat=True)) == [third]
    with pytest.raises(CommandError):
        call_command("access_changes", "--from", str(two_analyses[0]), "--to", str(third))


# -- the comparison, without a database ---------------------------------------------------------


def snapshot(
    rows: list[tuple[str, str, tuple[str, ...]]],
    members: dict[str, str],
    values: dict[str, str] | None = None,
) -> AccessSnapshot:
    return AccessSnapshot(
        rows={
            edge_line(
                source,
                target,
                "sts:AssumeRole",
                "conditional" if keys else "allow",
                keys,
                ["s"],
                values,
            )
            for source, target, keys in rows
        },
        members=members,
        accounts=["111111111111"],
    )


def test_conditions_changed_on_a_group_edge_change_each_member_edge():
    old = snapshot([("group:g", "R", ())], {"u1": "group:g", "u2": "group:g"})
    new = snapshot([("group:g", "R", (MFA,))], {"u1": "group:g", "u2": "group:g"})

    changes = diff_states(old, new)

    assert [(c.category, c.source, c.target, c.detail["before"]["conditions"],
             c.detail["after"]["conditions"]) for c in changes] == [
        ("edge_changed", "u1", "R", [], [MFA]),
        ("edge_changed", "u2", "R", [], [MFA]),
    ]  # fmt: skip


def test_member_own_edge_replaces_its_group_edge_in_the_comparison():
    old = snapshot([("group:g", "R", ()), ("u1", "R", (MFA,))], {"u1": "group:g"})
    new = snapshot([("group:g", "R", ())], {"u1": "group:g"})

    changes = diff_states(old, new)

    assert [(c.category, c.source, c.detail["before"]["conditions"], c.detail["after"]["conditions"])
            for c in changes] == [("edge_changed", "u1", [MFA], [])]  # fmt: skip


def test_member_moving_to_another_group_gains_and_loses_that_group_edges():
    rows = [("group:a", "R1", ()), ("group:b", "R2", ())]
    old = snapshot(rows, {"u1": "group:a"})
    new = snapshot(rows, {"u1": "group:b"})

    changes = diff_states(old, new)

    assert [(c.category, c.source, c.target) for c in changes] == [
        ("edge_removed", "u1", "R1"),
        ("edge_added", "u1", "R2"),
    ]


def test_new_trust_from_outside_the_estate_is_high_and_from_inside_low():
    old = snapshot([], {})
    new = snapshot(
        [
            ("arn:aws:iam::999999999999:root", "R", ()),
            ("arn:aws:iam::111111111111:user/u", "R", ()),
        ],
        {},
    )

    changes = diff_states(old, new)

    assert [(c.source, c.severity) for c in changes] == [
        ("arn:aws:iam::111111111111:user/u", "low"),
        ("arn:aws:iam::999999999999:root", "high"),
    ]


def test_snapshot_round_trips_through_bytes():
    state = snapshot([("group:g", "R", (MFA,))], {"u1": "group:g"})

    again = AccessSnapshot.from_bytes(state.to_bytes())

    assert again is not None
    assert (again.rows, again.members, again.accounts) == (
        state.rows,
        state.members,
        state.accounts,
    )


def test_snapshot_of_another_format_is_not_compared_with():
    blob = zlib.compress(orjson.dumps({"rows": ["a\x1fb"], "members": {}}))

    assert AccessSnapshot.from_bytes(blob) is None


def test_snapshot_written_before_statement_ids_compares_equal_to_the_same_state():
    """A format 4 snapshot (zlib, statement references written out in each row) reads with
    its references named by id: the same edges compare equal, and read back as they were."""
    from identities.analysis.history import META_END, ROW_END, SEP, RefIds

    refs = ["statement 'A' (Statement[0]) of {trust policy}", "statement (Statement[1]) of p"]
    rows = [
        ("arn:aws:iam::111111111111:user/a", "arn:aws:iam::111111111111:role/r", refs),
        ("arn:aws:iam::111111111111:user/b", "arn:aws:iam::111111111111:role/r", refs[1:]),
    ]
    written_out = {
        edge_line(source, target, "sts:AssumeRole", "allow", (), granted)
        for source, target, granted in rows
    }
    meta = {"format": 4, "members": {}, "admins": {}, "reach": {}, "findings": {}}
    old_blob = zlib.compress(orjson.dumps(meta) + META_END + ROW_END.join(written_out).encode())
    ref_ids = RefIds()
    now = AccessSnapshot(
        rows={
            edge_line(source, target, "sts:AssumeRole", "allow", (), ref_ids(granted))
            for source, target, granted in rows
        },
        refs=ref_ids.texts,
    )

    old = AccessSnapshot.from_bytes(old_blob)

    assert old is not None
    assert old.rows == now.rows
    assert diff_states(old, now) == []
    line = next(line for line in old.rows if line.split(SEP)[0].endswith("/a"))
    assert old.edges(line)[0].granted_by == tuple(refs)
