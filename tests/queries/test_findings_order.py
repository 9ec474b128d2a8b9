"""The findings page orders in the database as it used to in Python: severity, kind, ARN, id."""

from __future__ import annotations

from identities.models import Finding
from identities.queries.findings import findings, findings_by_severity, severity_rank


def _python_order(rows: list[Finding]) -> list[int]:
    ordered = sorted(
        sorted(rows, key=lambda f: f.pk),
        key=lambda f: (severity_rank(f), f.kind, f.principal_arn),
    )
    return [f.pk for f in ordered]


def test_findings_by_severity_is_the_python_order(imported_sample):
    every = list(findings())
    assert len({f.severity for f in every}) > 1

    assert [f.pk for f in findings_by_severity()] == _python_order(every)
    high = list(findings(severity="high"))
    assert [f.pk for f in findings_by_severity(severity="high")] == _python_order(high)
