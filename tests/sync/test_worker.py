"""Live sync through a real Celery worker on Redis, against moto_server, with the test database
(PostgreSQL in CI): the chord, a failing account, simultaneous clicks. Fails in CI when a
service is missing; skips with the reason on a laptop."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identities import tasks
from identities.models import AccountSyncConfig, SyncRun
from identities.sync.config import ACTIVE
from tests.awsfake import MANAGEMENT_ID, FakeOrg
from tests.conftest import at_once, users_of

pytestmark = pytest.mark.services

WAIT = 60.0


@pytest.fixture
def fake_aws(aws_server: str, transactional_db: None) -> None:
    """The fake AWS is moto_server, which the worker process reaches too."""


@pytest.fixture
def sync_worker(aws_server: str, celery_worker_process: Any) -> Any:
    """A worker that reaches moto_server (aws_server first: the worker inherits its env)."""
    return celery_worker_process


def wait_until_finished(run_id: int, timeout: float = WAIT) -> SyncRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SyncRun.objects.defer("bundle_gzip").get(pk=run_id)
        if run.status not in ACTIVE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout} s")


def test_organization_chord_syncs_every_account_and_survives_a_failing_one(
    fake_org: FakeOrg, sync_worker: Any
) -> None:
    dev, prod = fake_org.accounts["dev"], fake_org.accounts["prod"]
    # A client-side refusal moto cannot fake otherwise: an ExternalId AWS would reject.
    AccountSyncConfig.objects.create(account_id=prod, name="prod", external_id="x")

    started = tasks.sync_organization.apply_async(kwargs={}).get(timeout=WAIT)
    run = wait_until_finished(started["run_id"])

    children = {child.target_account_id: child for child in run.children.all()}
    assert (started["accounts"], run.status) == (3, "failed")
    assert {account: child.status for account, child in children.items()} == {
        MANAGEMENT_ID: "succeeded",
        dev: "succeeded",
        prod: "failed",
    }
    assert children[prod].error.startswith("ParamValidationError: Parameter validation failed")
    assert run.error.startswith(f"1 of 3 accounts failed\n{prod}: ParamValidationError")
    assert users_of(dev) == ["user-0", "user-1"]
    assert users_of(prod) == []
    assert children[dev].aws_calls == 9
    assert all(child.task_id for child in children.values())


def test_simultaneous_sync_now_clicks_make_one_sync(
    fake_org: FakeOrg, sync_worker: Any, staff_user: Any
) -> None:
    dev = fake_org.accounts["dev"]
    AccountSyncConfig.objects.create(account_id=dev, name="dev")
    url = reverse("identities:sync-account-now", args=[dev])
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(staff_user)

    statuses = at_once(2, lambda number: clients[number].post(url).status_code)

    runs = list(SyncRun.objects.filter(target_account_id=dev).values_list("pk", flat=True))
    run = wait_until_finished(runs[0])

    assert (statuses, len(runs)) == ([302, 302], 1)
    assert (run.status, users_of(dev)) == ("succeeded", ["user-0", "user-1"])
