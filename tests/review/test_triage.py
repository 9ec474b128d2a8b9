"""The lifecycle of findings across analyses, suppression rules and edge review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from identities.models import SuppressionRule, TrackedFinding
from identities.queries.changes import changes_between, tracked_findings
from identities.triage import (
    create_rule,
    decide_finding,
    digest,
    mark_edge_expected,
    reopen_finding,
    track_findings,
)
from tests.review.conftest import CI_DEPLOY, PROD_OPS, VENDOR_ROOT, analyse

MONDAY = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
DAVE = "arn:aws:iam::111111111111:user/dave"


def trail(finding: TrackedFinding) -> list[tuple[str, str, str]]:
    return [(e.from_status, e.to_status, e.note) for e in finding.events.order_by("at", "id")]


def summary(severity: str = "high", material: str = "m1") -> dict:
    found = {
        "kind": "admin_without_mfa",
        "severity": severity,
        "principal": DAVE,
        "account_id": "111111111111",
        "title": "Administrator dave has no MFA",
        "detail": "",
        "data": {},
        "material": material,
    }
    return {**found, "content": digest({k: v for k, v in found.items() if k != "detail"})}


def test_new_finding_opens_and_a_decision_is_kept_across_analyses(db, staff_user):
    with time_machine.travel(MONDAY, tick=False):
        track_findings(None, {"k": summary()}, MONDAY)
        finding = TrackedFinding.objects.get(key="k")
        decide_finding(finding, "accepted", reason="break-glass user", user=staff_user, now=MONDAY)
        track_findings(None, {"k": summary()}, MONDAY + timedelta(days=1))

    finding.refresh_from_db()
    assert (finding.status, finding.reason, finding.decided_by) == (
        "accepted",
        "break-glass user",
        staff_user,
    )
    assert trail(finding) == [
        ("", "open", "found by the analysis"),
        ("open", "accepted", "break-glass user"),
    ]


def test_suppression_expires_with_the_clock_and_the_next_analysis_reopens_it(db, staff_user):
    until = MONDAY + timedelta(days=7)
    with time_machine.travel(MONDAY, tick=False):
        track_findings(None, {"k": summary()}, MONDAY)
        finding = TrackedFinding.objects.get(key="k")
        decide_finding(
            finding, "suppressed", reason="fix planned", until=until, user=staff_user, now=MONDAY
        )

    with time_machine.travel(until - timedelta(minutes=1), tick=False):
        now = datetime.now(UTC)
        open_before = list(tracked_findings(status="open", now=now))
    with time_machine.travel(until + timedelta(days=1), tick=False):
        now = datetime.now(UTC)
        open_after = list(tracked_findings(status="open", now=now))
        track_findings(None, {"k": summary()}, now)

    finding.refresh_from_db()
    assert (open_before, open_after) == ([], [finding])
    assert finding.status == "open"
    assert trail(finding)[-1] == (
        "suppressed",
        "open",
        "suppressed until 2027-03-08 07:00, expired",
    )


def test_material_change_reopens_an_accepted_finding(db, staff_user):
    track_findings(None, {"k": summary()}, MONDAY)
    finding = TrackedFinding.objects.get(key="k")
    decide_finding(finding, "accepted", reason="known", user=staff_user, now=MONDAY)

    track_findings(None, {"k": summary("medium", "m2")}, MONDAY + timedelta(days=1))

    finding.refresh_from_db()
    assert (finding.status, finding.severity) == ("open", "medium")
    assert trail(finding)[-1] == ("accepted", "open", "changed: severity high -> medium")


def test_finding_that_disappears_is_resolved_and_reopens_when_found_again(db):
    track_findings(None, {"k": summary()}, MONDAY)

    track_findings(None, {}, MONDAY + timedelta(days=1))
    resolved = TrackedFinding.objects.get(key="k").status
    track_findings(None, {"k": summary()}, MONDAY + timedelta(days=2))

    finding = TrackedFinding.objects.get(key="k")
    assert (resolved, finding.status) == ("resolved", "open")
    assert trail(finding) == [
        ("", "open", "found by the analysis"),
        ("open", "resolved", "no longer found"),
        ("resolved", "open", "found again"),
    ]


def test_reviewer_reopens_a_decision(db, staff_user):
    track_findings(None, {"k": summary()}, MONDAY)
    finding = TrackedFinding.objects.get(key="k")
    decide_finding(finding, "accepted", reason="ok", user=staff_user, now=MONDAY)

    reopen_finding(finding, note="not ok after all", user=staff_user, now=MONDAY)

    assert (finding.status, trail(finding)[-1]) == (
        "open",
        ("accepted", "open", "not ok after all"),
    )


def test_rule_decides_matching_open_findings_and_future_ones(two_analyses, staff_user):
    rule = SuppressionRule(
        applies_to="finding",
        decision="accepted",
        finding_kind="root_trust_without_external_id",
        source="999999999999",
        reason="vendor support contract",
    )

    decided_now = create_rule(rule, user=staff_user, now=MONDAY)
    found = TrackedFinding.objects.get(kind="root_trust_without_external_id")
    future = {
        "kind": "root_trust_without_external_id",
        "severity": "high",
        "principal": "arn:aws:iam::444444444444:role/deploy",
        "account_id": "444444444444",
        "title": "deploy trusts 999999999999",
        "detail": "",
        "data": {"trusted_account": "999999999999"},
        "material": "x",
        "content": "x",
    }
    current = {f.key: _summary_of(f) for f in TrackedFinding.objects.exclude(status="resolved")}
    track_findings(None, {**current, "new": future}, MONDAY)

    assert (decided_now, found.status, found.principal_arn) == (1, "accepted", PROD_OPS)
    assert TrackedFinding.objects.get(key="new").status == "accepted"
    assert trail(TrackedFinding.objects.get(key="new"))[-1] == (
        "open",
        "accepted",
        f"rule #{rule.pk}: vendor support contract",
    )


def _summary_of(finding: TrackedFinding) -> dict:
    return {
        "kind": finding.kind,
        "severity": finding.severity,
        "principal": finding.principal_arn,
        "account_id": finding.account_id,
        "title": finding.title,
        "detail": finding.detail,
        "data": finding.data,
        "material": finding.material,
        "content": finding.content,
    }


def test_findings_of_two_imports_go_through_the_analysis(two_analyses):
    statuses = dict(TrackedFinding.objects.values_list("principal_arn", "status"))

    assert statuses[PROD_OPS] == "open"
    assert TrackedFinding.objects.filter(status="resolved").count() == 0


def test_edge_marked_expected_leaves_the_new_changes(two_analyses, staff_user):
    before = [(i.source, i.target) for i in changes_between().new if i.family == "edge"]

    mark_edge_expected(
        VENDOR_ROOT, PROD_OPS, reason="vendor support", conditions=[], user=staff_user, now=MONDAY
    )
    changes = changes_between()

    assert (VENDOR_ROOT, PROD_OPS) in before
    assert [(i.source, i.target) for i in changes.new if i.family == "edge"] == [
        pair for pair in before if pair != (VENDOR_ROOT, PROD_OPS)
    ]
    assert [(i.source, i.target, i.expected) for i in changes.expected] == [
        (VENDOR_ROOT, PROD_OPS, "vendor support")
    ]


def test_edge_rule_with_a_condition_key_expects_only_edges_with_it(two_analyses, staff_user):
    create_rule(
        SuppressionRule(
            applies_to="edge",
            decision="expected",
            source=CI_DEPLOY,
            condition_key="aws:SourceIp",
            reason="CI reaches the partner gateway from the office",
        ),
        user=staff_user,
        now=MONDAY,
    )

    expected = [(i.source, i.target) for i in changes_between().expected]

    assert expected == [(CI_DEPLOY, "arn:aws:iam::444444444444:role/partner-gateway")]


def test_a_third_analysis_without_changes_keeps_every_status(two_analyses):
    before = dict(TrackedFinding.objects.values_list("key", "status"))

    analyse()

    assert dict(TrackedFinding.objects.values_list("key", "status")) == before
