"""What-ifs answered by a worker (`IAMVIZ_WHAT_IF_IN_BACKGROUND`): the editor queues a job and
polls it; the job's answer is the one the editor gives within the request."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from identities.models import WhatIfJob
from tests.what_if.test_what_if_page import ALICE, DEV_OPS, PROD_OPS, _change, _trust_with_anyone

if TYPE_CHECKING:
    from django.test import Client


def _without_timing(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "seconds"}


def test_the_editor_queues_a_job_whose_answer_is_the_requests(
    imported_sample: Any, viewer_client: Client, settings: Any, django_capture_on_commit_callbacks
) -> None:
    inline = viewer_client.post("/what-if/run/", _change(_trust_with_anyone()))
    expected = inline.context["summary"]
    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True

    with django_capture_on_commit_callbacks(execute=False) as queued:
        asked = viewer_client.post(
            "/what-if/run/", _change(_trust_with_anyone()), HTTP_HX_REQUEST="true"
        )
    body = asked.content.decode()
    job = WhatIfJob.objects.get()
    assert 'id="what-if-job"' in body and 'hx-trigger="every 1s"' in body
    assert f"/what-if/jobs/{job.pk}/" in body
    assert "Edges added" not in body  # not answered in the request
    assert job.status == WhatIfJob.Status.QUEUED

    for callback in queued:  # the worker's turn
        callback()
    job.refresh_from_db()
    polled = viewer_client.get(f"/what-if/jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    answer = polled.content.decode()

    assert job.status == WhatIfJob.Status.DONE
    assert _without_timing(job.result) == _without_timing(expected)
    assert "<html" not in answer and "every 1s" not in answer
    added = answer.split("Edges added", 1)[1].split("</table>", 1)[0]
    assert ALICE in added and DEV_OPS not in added
    page = viewer_client.get(f"/what-if/jobs/{job.pk}/")  # the permalink, a whole page
    assert "<html" in page.content.decode() and PROD_OPS in page.content.decode()


def test_a_proposal_the_evaluation_refuses_fails_its_job_with_the_reason(
    imported_sample: Any,
    viewer_client: Client,
    settings: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from identities import what_if_jobs
    from identities.analysis.what_if import WhatIfError

    def refuse(proposal: Any) -> Any:
        raise WhatIfError("--trust-policy: the document grants nothing")

    monkeypatch.setattr(what_if_jobs, "what_if", refuse)
    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True

    with django_capture_on_commit_callbacks(execute=True):
        viewer_client.post("/what-if/run/", _change(_trust_with_anyone()))

    job = WhatIfJob.objects.get()
    polled = viewer_client.get(f"/what-if/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content
    assert job.status == WhatIfJob.Status.FAILED
    assert job.error == "--trust-policy: the document grants nothing"
    assert b'id="what-if-job-error"' in polled and b"the document grants nothing" in polled
    assert b"every 1s" not in polled


def test_a_job_no_worker_started_says_so(imported_sample: Any, viewer_client: Client) -> None:
    fresh = WhatIfJob.objects.create(changes=[], created_at=timezone.now())
    old = WhatIfJob.objects.create(changes=[], created_at=timezone.now() - timedelta(minutes=3))

    for job, said in ((fresh, False), (old, True)):
        html = viewer_client.get(f"/what-if/jobs/{job.pk}/").content.decode()
        assert 'hx-trigger="every 1s"' in html
        assert ('id="what-if-job-waiting"' in html) is said


def test_unknown_jobs_are_404(db: None, viewer_client: Client) -> None:
    assert viewer_client.get("/what-if/jobs/999/").status_code == 404


def test_save_and_run_again_go_through_a_job_that_stores_the_result(
    imported_sample: Any,
    client: Client,
    user_with_role: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from identities.analysis import analyse_estate
    from identities.models import WhatIfProposal
    from identities.queries.access import current_run

    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True
    client.force_login(user_with_role("reviewer"))
    first = current_run()
    assert first is not None

    with django_capture_on_commit_callbacks(execute=False) as queued:
        saved = client.post("/what-if/save/", _change(_trust_with_anyone(), name="open prod-ops"))
    proposal = WhatIfProposal.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/what-if/{proposal.pk}/"
    assert proposal.result == {} and proposal.computed_run_id is None  # saved before answered
    waiting_page = client.get(f"/what-if/{proposal.pk}/").content.decode()
    assert 'id="what-if-job-progress"' in waiting_page and 'hx-trigger="every 1s"' in waiting_page
    assert "Run again</button>" not in waiting_page  # not while it is being answered

    for callback in queued:
        callback()
    proposal.refresh_from_db()
    assert proposal.computed_run_id == first.pk
    assert proposal.result["counts"]["edges_added"] > 0
    answered = client.get(f"/what-if/{proposal.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in answered and "Edges added" in answered and ALICE in answered

    second = analyse_estate()["run"]
    with django_capture_on_commit_callbacks(execute=True):
        rerun = client.post(f"/what-if/{proposal.pk}/run/", HTTP_HX_REQUEST="true")
    proposal.refresh_from_db()
    assert rerun.status_code == 200
    assert proposal.computed_run_id == second
    assert WhatIfJob.objects.filter(proposal=proposal).count() == 2


def test_a_saved_proposal_whose_job_failed_shows_why(
    imported_sample: Any,
    client: Client,
    user_with_role: Any,
    settings: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from identities import what_if_jobs
    from identities.analysis.what_if import WhatIfError
    from identities.models import WhatIfProposal

    def refuse(proposal: Any) -> Any:
        raise WhatIfError("remove-statement: no statement FromNowhere")

    monkeypatch.setattr(what_if_jobs, "what_if", refuse)
    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True
    client.force_login(user_with_role("reviewer"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/what-if/save/", _change(_trust_with_anyone(), name="broken"))

    proposal = WhatIfProposal.objects.get()
    page = client.get(f"/what-if/{proposal.pk}/").content.decode()
    assert 'id="what-if-job-error"' in page and "no statement FromNowhere" in page
    assert "Not computed" in page and "Run again</button>" in page
