"""Throttling (issue 14 item 10): botocore's adaptive retry mode, then the account is tried again
later in the same run before it fails."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from identities import tasks
from identities.aws import build_client
from identities.models import SyncRun
from identities.sync import runs
from tests.awsfake import FakeOrg
from tests.conftest import users_of

pytestmark = pytest.mark.usefixtures("embedded")


def throttled_for(monkeypatch: pytest.MonkeyPatch, account_id: str, times: int) -> dict[str, int]:
    """Make collecting `account_id` answer Throttling `times` times (as after botocore's own
    retries), then read it as usual."""
    real = runs.collect_member_account
    calls = {"throttled": 0}

    def collect(session: boto3.Session, *, account_id: str, **kwargs: Any) -> dict[str, Any]:
        if account_id == target and calls["throttled"] < times:
            calls["throttled"] += 1
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                "GetAccountAuthorizationDetails",
            )
        return real(session, account_id=account_id, **kwargs)

    target = account_id
    monkeypatch.setattr(runs, "collect_member_account", collect)
    return calls


def sync_throttled(
    fake_org: FakeOrg, monkeypatch: pytest.MonkeyPatch, times: int
) -> tuple[str, dict[str, int], SyncRun, SyncRun]:
    """Sync the organisation while its dev account answers Throttling `times` times: dev's
    account id, the throttle count, the run and dev's child run."""
    dev = fake_org.accounts["dev"]
    calls = throttled_for(monkeypatch, dev, times)

    started = tasks.sync_organization.delay().get()

    run = SyncRun.objects.get(pk=started["run_id"])
    return dev, calls, run, run.children.get(target_account_id=dev)


def test_every_client_retries_in_adaptive_mode(aws_session: boto3.Session) -> None:
    client = build_client(aws_session, "iam")

    assert client.meta.config.retries["mode"] == "adaptive"


def test_a_throttled_account_is_tried_again_later_in_the_same_run(
    fake_org: FakeOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One of 19 accounts failed with Throttling after botocore's retries; the others synced."""
    dev, calls, run, child = sync_throttled(fake_org, monkeypatch, times=2)

    assert (calls["throttled"], run.status, child.status) == (2, "succeeded", "succeeded")
    assert (
        child.warnings[:2]
        == [
            "Throttling (GetAccountAuthorizationDetails): Rate exceeded; tried again at once in "
            "the same run"
        ]
        * 2
    )
    assert users_of(dev) == ["user-0", "user-1"]


def test_an_account_throttled_past_its_retries_fails_and_keeps_its_data(
    fake_org: FakeOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev, calls, run, child = sync_throttled(fake_org, monkeypatch, times=99)

    assert calls["throttled"] == tasks.THROTTLE_RETRIES + 1
    assert (run.status, child.status) == ("failed", "failed")
    assert child.error == "Throttling (GetAccountAuthorizationDetails): Rate exceeded"
    assert run.error.startswith(f"1 of 3 accounts failed\n{dev}: Throttling")
    assert users_of(dev) == []


def test_with_a_worker_the_pause_is_the_setting_within_half_the_stale_timeout(
    settings: Any,
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.IAMVIZ_THROTTLE_RETRY_SECONDS = 60
    settings.IAMVIZ_SYNC_STALE_SECONDS = 120
    assert runs.throttle_pause() == 60
    settings.IAMVIZ_SYNC_STALE_SECONDS = 60
    assert runs.throttle_pause() == 30
