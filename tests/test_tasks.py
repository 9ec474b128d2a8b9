from __future__ import annotations

import pytest

from identities.models import IamUser, SyncRun
from identities.tasks import import_bundle_file
from tests.conftest import TEST_DATA


@pytest.mark.django_db
def test_import_bundle_file_task_imports_in_process():
    run_id = import_bundle_file(path=str(TEST_DATA / "aws" / "authz-page-2.json"), analyse=False)

    run = SyncRun.objects.get(pk=run_id)
    assert (run.status, run.label, run.bundle_bytes > 0) == ("succeeded", "authz-page-2.json", True)
    assert list(IamUser.objects.values_list("name", flat=True)) == ["deployer"]


@pytest.mark.services
def test_import_bundle_file_task_runs_on_a_real_worker(celery_worker_process):
    result = import_bundle_file.apply_async(
        kwargs={"path": str(TEST_DATA / "aws" / "authz-page-2.json"), "analyse": False}
    )

    run_id = result.get(timeout=60)

    assert SyncRun.objects.get(pk=run_id).status == SyncRun.Status.SUCCEEDED
    assert list(IamUser.objects.values_list("name", flat=True)) == ["deployer"]
