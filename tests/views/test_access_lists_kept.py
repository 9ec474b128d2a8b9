"""The findings and administrators pages read what the analysis stored once per run: the
findings' order and the administrators' counts are kept until another run finishes."""

from __future__ import annotations

from django.utils import timezone

from identities.models import Administrator, AnalysisRun, Finding
from identities.queries.findings import findings_by_severity


def _new_run() -> None:
    """What a finished analysis changes for the readers: the current run's key."""
    AnalysisRun.objects.update(finished_at=timezone.now())


def test_findings_page_shows_the_severity_order(imported_sample, logged_in_client):
    response = logged_in_client.get("/access/findings/", {"severity": "medium"})

    shown = [finding.pk for finding in response.context["page"]]
    assert shown == [finding.pk for finding in findings_by_severity(severity="medium")]


def test_findings_page_order_is_kept_until_another_run(
    imported_sample, logged_in_client, django_assert_num_queries
):
    total = Finding.objects.count()
    first = logged_in_client.get("/access/findings/").context["page"].paginator.count
    Finding.objects.filter(pk=findings_by_severity().last().pk).delete()

    # session, user, current run, account choices, page (the order is kept)
    with django_assert_num_queries(5):
        kept = logged_in_client.get("/access/findings/").context["page"].paginator.count
    _new_run()
    after_run = logged_in_client.get("/access/findings/").context["page"].paginator.count

    assert (first, kept, after_run) == (total, total, total - 1)


def test_administrators_counts_are_kept_until_another_run(imported_sample, logged_in_client):
    total = Administrator.objects.count()
    first = logged_in_client.get("/access/administrators/").context["admin_total"]
    Administrator.objects.filter(pk=Administrator.objects.order_by("pk").last().pk).delete()
    kept = logged_in_client.get("/access/administrators/").context["admin_total"]
    _new_run()

    after_run = logged_in_client.get("/access/administrators/").context["admin_total"]

    assert (first, kept, after_run) == (total, total, total - 1)
