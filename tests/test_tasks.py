"""identities.tasks: eagerly in this process, and the import on a real worker."""

from __future__ import annotations

from typing import Any

import pytest

from identities import tasks
from identities.models import IamUser, SyncRun
from identities.sync.runs import request_account_sync
from identities.tasks import import_bundle_file
from tests.awsfake import FakeOrg
from tests.conftest import TEST_DATA, users_of


@pytest.mark.django_db
def test_import_bundle_file_task_imports_in_process() -> None:
    run_id = import_bundle_file(path=str(TEST_DATA / "aws" / "authz-page-2.json"), analyse=False)

    run = SyncRun.objects.get(pk=run_id)
    assert (run.status, run.label, run.bundle_bytes > 0) == ("succeeded", "authz-page-2.json", True)
    assert list(IamUser.objects.values_list("name", flat=True)) == ["deployer"]


@pytest.mark.services
def test_import_bundle_file_task_runs_on_a_real_worker(celery_worker_process: object) -> None:
    result = import_bundle_file.apply_async(
        kwargs={"path": str(TEST_DATA / "aws" / "authz-page-2.json"), "analyse": False}
    )

    run_id = result.get(timeout=60)

    assert SyncRun.objects.get(pk=run_id).status == SyncRun.Status.SUCCEEDED
    assert list(IamUser.objects.values_list("name", flat=True)) == ["deployer"]


@pytest.mark.services
def test_an_export_is_built_by_a_real_worker(
    celery_worker_process: object, sample_bundle: dict, django_user_model: Any
) -> None:
    import gzip
    import time

    from django.utils import timezone

    from identities.analysis import analyse_estate
    from identities.exporting import export_path, request_export
    from identities.ingest.imports import import_bundle
    from identities.models import Export
    from identities.queries.escalations import matching_escalations
    from identities.queries.exports import escalation_csv_rows
    from identities.views.common import csv_chunks

    import_bundle(sample_bundle, label="sample-org.json")
    analyse_estate()
    user = django_user_model.objects.create_user(username="exporter")

    export = request_export(Export.Kind.ESCALATIONS, {"status": "proven"}, user, now=timezone.now())
    deadline = time.monotonic() + 60
    while export.active and time.monotonic() < deadline:
        time.sleep(0.3)
        export.refresh_from_db()

    path = export_path(export)
    try:
        assert export.status == Export.Status.DONE, export.error
        expected = "".join(csv_chunks(escalation_csv_rows(matching_escalations(status="proven"))))
        assert gzip.decompress(path.read_bytes()).decode() == expected
        assert export.rows_written == expected.count("\r\n") - 1 > 0
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.services
def test_a_what_if_is_answered_by_a_real_worker(
    celery_worker_process: object, sample_bundle: dict
) -> None:
    import time

    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from identities.analysis import analyse_estate
    from identities.analysis.what_if import answer_summary, proposal_from, what_if
    from identities.ingest.imports import import_bundle
    from identities.models import GroupMembership, WhatIfJob
    from identities.what_if_jobs import request_what_if

    import_bundle(sample_bundle, label="sample-org.json")
    analyse_estate()
    alice = "arn:aws:iam::333333333333:user/alice"
    group = GroupMembership.objects.filter(user__arn=alice).values_list("group__arn", flat=True)[0]
    changes: Any = [["remove-membership", [alice, group]]]

    job = request_what_if(changes, AnonymousUser(), now=timezone.now())
    deadline = time.monotonic() + 90
    while job.active and time.monotonic() < deadline:
        time.sleep(0.3)
        job.refresh_from_db()

    assert job.status == WhatIfJob.Status.DONE, job.error
    here = answer_summary(what_if(proposal_from(changes)))
    assert job.result["counts"] == here["counts"] and job.result["run"] == here["run"]


def test_reaper_task_fails_a_run_whose_worker_died(db: None) -> None:
    run, _ = request_account_sync("111111111111")
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at="2020-01-01T00:00:00Z", phase="importing"
    )

    reaped = tasks.reap_stale_syncs.apply().get()

    run.refresh_from_db()
    assert (reaped["failed"], run.status) == ([run.pk], "failed")
    assert "Marked failed by the reaper" in run.error


@pytest.mark.usefixtures("embedded")
def test_sync_organization_task_runs_the_chord_in_process(fake_org: FakeOrg) -> None:
    result = tasks.sync_organization.delay()

    run = SyncRun.objects.get(pk=result.get()["run_id"])
    assert (run.status, run.target_account_id, run.children.count()) == ("succeeded", "", 3)
    assert sorted(run.children.values_list("status", flat=True)) == ["succeeded"] * 3
    assert users_of(fake_org.accounts["dev"]) == ["user-0", "user-1"]


@pytest.mark.usefixtures("embedded")
def test_queue_account_sync_runs_one_account(fake_org: FakeOrg) -> None:
    run, _ = request_account_sync(fake_org.accounts["prod"])

    tasks.queue_account_sync(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.parent_id, users_of(fake_org.accounts["prod"])) == (
        "succeeded",
        None,
        ["user-0"],
    )
