"""The AWS sync pages through the test client: progress (page and htmx fragment), "Sync now",
history, settings, schedule, accounts, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from moto import mock_aws

from identities.models import AccountSyncConfig, Change, SyncRun, SyncSettings
from identities.sync.runs import request_account_sync
from identities.sync.schedule import (
    ensure_periodic_tasks,
    get_nightly_schedule,
    update_nightly_schedule,
)
from tests.awsfake import CLEARED_VARIABLES, build_org, fake_credentials
from tests.views.conftest import page_body

HTMX = {"HX-Request": "true", "HX-Target": "progress"}


@pytest.fixture(autouse=True)
def _embedded(settings: Any) -> None:
    settings.REDIS_URL = ""


@pytest.fixture
def reader_client(client: Any, django_user_model: Any) -> Any:
    from identities.roles import VIEWER, grant_role

    user = django_user_model.objects.create_user(username="reader", password="x" * 20)
    grant_role(user, VIEWER)
    client.force_login(user)
    return client


@pytest.fixture
def aws_org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: None) -> Any:
    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_credentials(tmp_path).items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        from identities.aws import management_session

        yield build_org(management_session(region_name="us-east-1"), {"dev": {"users": 2}})


def test_sync_page_shows_accounts_and_buttons_to_staff(logged_in_client: Any) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111", name="dev")

    response = logged_in_client.get(reverse("identities:sync"))

    body = page_body(response)
    assert "<html" in body
    assert "Sync organisation now" in body
    assert 'aria-label="Sync account 111111111111 now"' in body
    assert "never synced" in body
    assert 'hx-trigger="every 1s"' not in body


def test_sync_page_fragment_polls_only_while_a_sync_runs(logged_in_client: Any) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111")
    idle = logged_in_client.get(reverse("identities:sync"), headers=HTMX)
    run, _ = request_account_sync("111111111111")

    busy = logged_in_client.get(reverse("identities:sync"), headers=HTMX)

    assert "<html" not in busy.content.decode()
    assert "HX-Request" in busy["Vary"]
    assert 'hx-trigger="every 1s"' in busy.content.decode()
    assert 'data-active="true"' in busy.content.decode()
    assert 'hx-trigger="every 1s"' not in idle.content.decode()
    assert 'data-active="false"' in idle.content.decode()


@pytest.mark.parametrize("accounts", [1, 3])
def test_sync_page_query_count_does_not_grow_with_accounts(
    logged_in_client: Any, django_assert_num_queries: Any, accounts: int
) -> None:
    ensure_periodic_tasks()
    SyncSettings.objects.create()
    for number in range(accounts):
        account_id = f"11111111111{number}"
        AccountSyncConfig.objects.create(account_id=account_id)
        request_account_sync(account_id, reap=False)

    with django_assert_num_queries(10):
        logged_in_client.get(reverse("identities:sync"), headers=HTMX)


def test_readers_see_progress_but_cannot_start_or_configure(reader_client: Any) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111")

    page = reader_client.get(reverse("identities:sync"))
    start = reader_client.post(reverse("identities:sync-now"))
    account = reader_client.post(reverse("identities:sync-account-now", args=["111111111111"]))
    settings_page = reader_client.get(reverse("identities:sync-settings"))

    assert (page.status_code, start.status_code, account.status_code) == (200, 403, 403)
    assert settings_page.status_code == 403
    assert "Sync organisation now" not in page.content.decode()
    assert SyncRun.objects.count() == 0


def test_anonymous_visitors_are_sent_to_log_in(client: Any, db: None) -> None:
    response = client.get(reverse("identities:sync"))

    assert (response.status_code, response["Location"].split("?")[0]) == (302, reverse("login"))


def test_two_sync_now_clicks_queue_one_sync(
    logged_in_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111")
    url = reverse("identities:sync-account-now", args=["111111111111"])

    with django_capture_on_commit_callbacks() as callbacks:
        first = logged_in_client.post(url, headers=HTMX)
        second = logged_in_client.post(url, headers=HTMX)

    assert (first.status_code, second.status_code, len(callbacks)) == (200, 200, 1)
    assert list(SyncRun.objects.values_list("target_account_id", "status")) == [
        ("111111111111", "pending")
    ]
    assert 'hx-trigger="every 1s"' in second.content.decode()


def test_sync_now_runs_the_organization_in_process_without_a_broker(
    aws_org: Any, logged_in_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post(reverse("identities:sync-now"))

    page = logged_in_client.get(reverse("identities:sync")).content.decode()
    run = SyncRun.objects.get(target_account_id="", source="aws")
    assert (response.status_code, response["Location"]) == (302, reverse("identities:sync"))
    assert (run.status, run.children.count()) == ("succeeded", 2)
    assert run.label == "organisation (Sync now by reviewer)"
    assert f'<tr id="account-{aws_org.accounts["dev"]}" data-status="succeeded">' in page


def test_history_lists_runs_with_calls_changes_and_errors(logged_in_client: Any) -> None:
    run, _ = request_account_sync("111111111111")
    SyncRun.objects.filter(pk=run.pk).update(
        status="failed",
        aws_calls=2,
        error="AccessDenied (AssumeRole): not authorized",
        change_counts={"user": {"added": 2, "removed": 1, "changed": 0}},
    )

    response = logged_in_client.get(reverse("identities:sync-runs"))

    body = page_body(response)
    assert '<pre class="sync-error">AccessDenied (AssumeRole): not authorized</pre>' in body
    assert '<td class="num">3</td>' in body
    assert '<td class="num">2</td>' in body


def test_settings_are_saved_and_validated(logged_in_client: Any) -> None:
    url = reverse("identities:sync-settings")
    valid = {
        "discover_accounts": "on",
        "role_name": "audit/iamviz",
        "external_id": "acme-7f3a",
        "region": "eu-west-1",
        "profile_name": "",
    }

    saved = logged_in_client.post(url, valid)
    refused = logged_in_client.post(url, {**valid, "external_id": "has spaces"})

    settings = SyncSettings.objects.get()
    assert (saved.status_code, refused.status_code) == (302, 400)
    assert (settings.role_name, settings.external_id, settings.region) == (
        "audit/iamviz",
        "acme-7f3a",
        "eu-west-1",
    )
    assert "An ExternalId has 2 to 1224 letters" in refused.content.decode()


def test_schedule_can_be_changed_and_paused_from_the_ui(logged_in_client: Any) -> None:
    url = reverse("identities:sync-schedule")

    changed = logged_in_client.post(
        url, {"cron": "15 4 * * 1-5", "timezone": "Europe/Berlin", "paused": "on"}
    )
    refused = logged_in_client.post(url, {"cron": "every night", "timezone": "UTC"})

    schedule = get_nightly_schedule()
    assert (changed.status_code, refused.status_code) == (302, 400)
    assert (schedule.cron, schedule.timezone, schedule.enabled) == (
        "15 4 * * 1-5",
        "Europe/Berlin",
        False,
    )


def test_accounts_are_added_changed_and_removed(logged_in_client: Any) -> None:
    add = reverse("identities:sync-account-add")
    update = reverse("identities:sync-account-update", args=["222222222222"])

    added = logged_in_client.post(
        add, {"account_id": "222222222222", "name": "prod", "role_name_or_arn": "", "enabled": "on"}
    )
    bad = logged_in_client.post(add, {"account_id": "2222", "name": "", "enabled": "on"})
    changed = logged_in_client.post(
        update,
        {"name": "prod", "role_name_or_arn": "arn:aws:iam::{account_id}:role/x", "external_id": ""},
    )
    config = AccountSyncConfig.objects.get()
    removed = logged_in_client.post(update, {"delete": "1"})

    assert (added.status_code, bad.status_code, changed.status_code) == (302, 400, 302)
    assert (config.role_name_or_arn, config.enabled) == ("arn:aws:iam::{account_id}:role/x", False)
    assert (removed.status_code, AccountSyncConfig.objects.count()) == (302, 0)


def test_admin_edits_sync_settings_and_accounts(admin_client: Any) -> None:
    config = AccountSyncConfig.objects.create(account_id="111111111111", name="dev")

    pages = [
        admin_client.get(reverse("admin:identities_syncsettings_add")),
        admin_client.get(reverse("admin:identities_accountsyncconfig_changelist")),
        admin_client.get(reverse("admin:identities_accountsyncconfig_change", args=[config.pk])),
    ]
    changed = admin_client.post(
        reverse("admin:identities_accountsyncconfig_change", args=[config.pk]),
        {"name": "dev", "role_name_or_arn": "audit/iamviz", "external_id": "", "enabled": "on"},
    )

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert changed.status_code == 302
    assert AccountSyncConfig.objects.get().role_name_or_arn == "audit/iamviz"


HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


@pytest.mark.parametrize("name", ["identities:sync", "identities:sync-runs"])
def test_history_restore_gets_the_full_page(logged_in_client: Any, name: str) -> None:
    """On Back with a cold history cache htmx asks for the page it will put in whole: the
    page, not the fragment that its own swaps ask for (bug 2: /sync/runs/ sent the fragment)."""
    response = logged_in_client.get(reverse(name), headers=HISTORY_RESTORE)

    body = response.content.decode()
    assert "<html" in body
    assert 'class="site-header"' in body
    assert {"HX-Request", "HX-History-Restore-Request"} <= {
        header.strip() for header in response["Vary"].split(",")
    }


def test_history_fragment_for_htmx_swaps(logged_in_client: Any) -> None:
    response = logged_in_client.get(
        reverse("identities:sync-runs"), headers={"HX-Request": "true", "HX-Target": "results"}
    )

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_a_sync_now_that_cannot_start_says_which_run_holds_the_account(
    logged_in_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 14 item 9: a click during a running sync answered 302 and silently did nothing."""
    AccountSyncConfig.objects.create(account_id="111111111111")
    run, _ = request_account_sync("111111111111")
    beat = timezone.now() - timedelta(seconds=7)
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", started_at=beat, heartbeat_at=beat, phase="importing"
    )
    url = reverse("identities:sync-account-now", args=["111111111111"])

    with django_capture_on_commit_callbacks() as callbacks:
        fragment = logged_in_client.post(url, headers=HTMX).content.decode()
        redirected = logged_in_client.post(url, follow=True).content.decode()

    started = timezone.localtime(beat).strftime("%H:%M:%S")
    reason = (
        f"Not started: account 111111111111 is already being synced by run #{run.pk} "
        f"(running since {started}, importing; last heartbeat 7 s ago)."
    )
    assert callbacks == []
    assert f'data-testid="sync-message">{reason}</li>' in fragment
    assert f'data-testid="sync-message">{reason}</li>' in redirected


def test_an_organisation_run_page_shows_its_account_runs_and_their_changes(
    logged_in_client: Any,
) -> None:
    """Issue 15 item 10: the organisation run listed "0 changes": they were its children's."""
    parent = SyncRun.objects.create(source="aws", status="succeeded", label="organisation")
    child = SyncRun.objects.create(
        source="aws",
        status="succeeded",
        parent=parent,
        target_account_id="111111111111",
        change_counts={"user": {"added": 1, "removed": 0, "changed": 0}},
    )
    Change.objects.create(
        sync_run=child, account_id="111111111111", kind="user", action="added", key="arn:x"
    )

    page = logged_in_client.get(reverse("identities:syncrun-detail", args=[parent.pk]))
    listed = logged_in_client.get(reverse("identities:syncrun-list")).content.decode()

    body = page.content.decode()
    assert page.context["page"].paginator.count == 1
    assert f'<a href="{child.get_absolute_url()}">#{child.pk}</a>' in body
    assert '<td class="num">1</td>' in body  # the account run's own total
    parent_row = listed.split(f">#{parent.pk}</a>")[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in parent_row


def test_the_next_scheduled_run_is_shown_in_the_schedules_time_zone(
    logged_in_client: Any,
) -> None:
    """Issue 15 item 11: a Europe/Paris cron showed its next run in UTC, unlabelled."""
    update_nightly_schedule(cron="0 2 * * *", timezone_name="Europe/Paris", enabled=True)

    pages = [
        logged_in_client.get(reverse(name)).content.decode()
        for name in ("identities:sync", "identities:sync-settings")
    ]

    for body in pages:
        shown = body.split('data-testid="next-run">')[1].split("</time>")[0]
        assert shown.endswith(" 02:00 CET (Europe/Paris)") or shown.endswith(
            " 02:00 CEST (Europe/Paris)"
        ), shown


def test_a_run_has_one_change_total_on_every_page_and_the_kind_filter_explains_summaries(
    logged_in_client: Any, imported_sample: SyncRun
) -> None:
    """Issue 11 item 4: the run list said 20 changes, the by-kind table 123, Kind=role "0"."""
    run = imported_sample
    total = sum(sum(actions.values()) for actions in run.change_counts.values())
    roles = sum(run.change_counts["role"].values())

    listed = logged_in_client.get(reverse("identities:syncrun-list")).content.decode()
    detail = logged_in_client.get(reverse("identities:syncrun-detail", args=[run.pk]))
    by_role = logged_in_client.get(
        reverse("identities:syncrun-detail", args=[run.pk]), {"kind": "role"}
    ).content.decode()

    row = listed.split(f">#{run.pk}</a>")[1].split("</tr>")[0]
    assert f'<td class="num">{total}</td>' in row
    assert sum(sum(a.values()) for a in detail.context["change_counts"].values()) == total
    assert f"{roles} more role changes came with the first import" in by_role
    assert "inline policies" in detail.content.decode()
    assert "inlinepolicies" not in detail.content.decode()
    SyncRun.objects.create(source="aws", status="succeeded")
    syncs = logged_in_client.get(reverse("identities:sync-runs")).content.decode()
    assert "<strong>1</strong> sync</p>" in syncs
