"""The audit log (issue 14, item 12): logins, failed logins, sync settings, schedules, syncs,
triage and bundle downloads are recorded; admins read and export them, nobody else does."""

from __future__ import annotations

import gzip
from typing import Any

from django.urls import reverse

from identities.audit import record_audit
from identities.models import AuditEvent, SyncRun

PASSWORD = "correct-horse-battery"


def _actions() -> list[tuple[str, str, str]]:
    return list(AuditEvent.objects.order_by("pk").values_list("username", "action", "target"))


def test_login_and_failed_login_are_recorded_with_the_address(client: Any, staff_user: Any):
    client.post("/login/", {"username": "reviewer", "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    client.post("/login/", {"username": "reviewer", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")

    events = list(AuditEvent.objects.order_by("pk"))
    assert [(e.username, e.action, e.ip) for e in events] == [
        ("reviewer", "login_failed", "10.0.0.7"),
        ("reviewer", "login", "10.0.0.7"),
    ]
    assert PASSWORD not in str(events[0].details) and "wrong" not in str(events[0].details)
    assert events[1].user == staff_user


def test_settings_schedule_and_sync_now_are_recorded(operator_client: Any, settings: Any):
    settings.REDIS_URL = ""
    AuditEvent.objects.all().delete()

    operator_client.post(
        reverse("identities:sync-schedule"), {"cron": "0 3 * * *", "timezone": "UTC"}
    )
    operator_client.post(reverse("identities:sync-now"))
    operator_client.post(reverse("identities:sync-account-add"), {"account_id": "123456789012"})

    assert _actions() == [
        ("as-operator", "sync_schedule", "nightly"),
        ("as-operator", "sync_now", "organisation"),
        ("as-operator", "account_add", "123456789012"),
    ]
    schedule = AuditEvent.objects.get(action="sync_schedule")
    assert schedule.details == {"cron": "0 3 * * *", "timezone": "UTC", "enabled": True}


def test_bundle_download_is_streamed_to_operators_and_recorded(client_as: Any, db: None) -> None:
    run = SyncRun.objects.create(source=SyncRun.Source.IMPORT, bundle_gzip=gzip.compress(b"{}"))

    refused = client_as("reviewer").get(f"/runs/{run.pk}/bundle.json.gz")
    response = client_as("operator").get(f"/runs/{run.pk}/bundle.json.gz")

    assert refused.status_code == 403
    assert response.status_code == 200 and response.streaming
    assert gzip.decompress(b"".join(response.streaming_content)) == b"{}"
    assert AuditEvent.objects.filter(action="bundle_download").get().username == "as-operator"


def test_finding_decision_is_recorded(client_as: Any, imported_sample: Any) -> None:
    from identities.models import TrackedFinding

    finding = TrackedFinding.objects.order_by("key").first()
    assert finding is not None
    client = client_as("reviewer")

    client.post(
        reverse("identities:finding-decide", args=[finding.key]),
        {"decision": "accepted", "reason": "break-glass"},
    )

    event = AuditEvent.objects.get(action="finding_decide")
    assert (event.username, event.target) == ("as-reviewer", finding.key)
    assert event.details["reason"] == "break-glass"


def test_audit_log_page_is_for_admins_and_exports_formula_safe_csv(client_as: Any) -> None:
    record_audit(None, "sync_settings", '=HYPERLINK("http://x")', username="mallory")

    operator = client_as("operator").get("/audit/")
    admin = client_as("admin")
    page = admin.get("/audit/", {"action": "sync_settings"})
    export = admin.get("/audit/", {"format": "csv"})

    assert operator.status_code == 403
    assert page.status_code == 200
    assert "mallory" in page.content.decode()
    body = b"".join(export.streaming_content).decode()
    assert export["Content-Type"].startswith("text/csv")
    assert body.splitlines()[0] == "at,user,action,target,ip,details"
    assert "'=HYPERLINK" in body
    assert AuditEvent.objects.filter(action="audit_export", username="as-admin").exists()


def test_header_shows_the_role(client_as: Any) -> None:
    body = client_as("reviewer").get("/").content.decode()

    assert '<span class="user-role" title="Your role">reviewer</span>' in body
    assert "Audit log" not in body
