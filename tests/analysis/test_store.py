"""What an analysis run stores: it replaces the rows of the previous run, or, when it fails,
leaves them."""

from __future__ import annotations

import pytest

from identities.analysis import analyse_estate
from identities.models import AccessEdge, AccessGroup, AnalysisRun, Finding


def test_analysis_replaces_the_previous_results(imported_sample):
    first = AnalysisRun.objects.get(status="succeeded")
    edges = AccessEdge.objects.count()

    summary = analyse_estate()

    assert AccessEdge.objects.count() == edges == summary["access_edges"] == 67
    assert AnalysisRun.objects.filter(status="succeeded").count() == 2
    assert AnalysisRun.objects.get(pk=first.pk).graph is None
    assert AccessGroup.objects.count() == summary["access_groups"] == 18


def test_failed_analysis_leaves_the_previous_results(imported_sample):
    before = sorted(AccessEdge.objects.values_list("source", "target__arn", "outcome"))

    with pytest.raises(TypeError):
        analyse_estate(now="not a time")  # type: ignore[arg-type]

    failed = AnalysisRun.objects.get(status="failed")
    assert failed.error.startswith("TypeError: ")
    assert sorted(AccessEdge.objects.values_list("source", "target__arn", "outcome")) == before
    assert Finding.objects.count() == 5
