"""The `findings` command: every tracked finding as one JSON object, filtered like the page."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from identities.models import TrackedFinding


def findings(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("findings", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_findings_prints_each_tracked_finding_once_in_a_stable_order(imported_sample):
    rows = findings()

    assert [row["key"] for row in rows] == list(
        TrackedFinding.objects.order_by("status", "kind", "principal_arn", "key").values_list(
            "key", flat=True
        )
    )
    assert len(rows) == 5
    assert {row["kind"] for row in findings("--kind", "public_role")} == {"public_role"}
    assert len(findings("--kind", "public_role")) == 3
    assert findings("--severity", "high") == [row for row in rows if row["severity"] == "high"]
    assert findings("--account", "333333333333") == [
        row for row in rows if row["account"] == "333333333333"
    ]


def test_a_decision_past_its_date_is_printed_open(imported_sample):
    finding = TrackedFinding.objects.order_by("key").first()
    assert finding is not None
    TrackedFinding.objects.filter(pk=finding.pk).update(
        status="accepted", until=timezone.now() - timedelta(days=1)
    )

    row = next(row for row in findings() if row["key"] == finding.key)

    assert row["status"] == "open"
    assert finding.key in [row["key"] for row in findings("--status", "open")]
    assert finding.key not in [row["key"] for row in findings("--status", "accepted")]


def test_an_unknown_account_is_an_error(imported_sample):
    with pytest.raises(CommandError, match="no synced account 999999999999"):
        findings("--account", "999999999999")
