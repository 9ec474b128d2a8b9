"""The readers the graph views draw principals' risk flags and escalation edges through: the
flags of a run read once for every principal, the escalations of many principals in one query
on PostgreSQL, with the same answers as the per-principal reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from identities.models import (
    Administrator,
    AnalysisRun,
    EscalationEdge,
    Finding,
    IamRole,
    IamUser,
)
from identities.queries import escalations, findings, shared_cache

pytestmark = pytest.mark.django_db


def _flags_from_rows() -> dict[tuple[str, int], list[str]]:
    """The flags straight from the stored rows, one principal at a time."""
    expected: dict[tuple[str, int], list[str]] = {}
    for kind, model in (("user", IamUser), ("role", IamRole)):
        for pk in model.objects.values_list("pk", flat=True):
            found = [
                flag
                for flag, rows in (("admin", Administrator), ("finding", Finding))
                if rows.objects.filter(**{f"{kind}_id": pk}).exists()
            ]
            if found:
                expected[(kind, pk)] = found
    return expected


def test_flags_of_a_run_match_the_stored_rows(imported_sample, monkeypatch):
    users = list(IamUser.objects.values_list("pk", flat=True))
    roles = list(IamRole.objects.values_list("pk", flat=True))
    expected = _flags_from_rows()
    assert any(flags == ["admin", "finding"] for flags in expected.values())
    assert {"admin"} <= {f for flags in expected.values() for f in flags}

    assert findings.principal_flags(users=users, roles=roles) == expected
    # Without a run: read with one query per flag and kind, the same answer.
    monkeypatch.setattr(findings, "flagged_principals", lambda: None)
    assert findings.principal_flags(users=users, roles=roles) == expected


def test_flags_of_some_principals_only(imported_sample):
    flagged = _flags_from_rows()
    (kind, pk), flags = next(iter(flagged.items()))
    unflagged = IamUser.objects.exclude(pk__in=[p for k, p in flagged if k == "user"]).first()
    assert unflagged is not None
    asked = {"users": [pk, unflagged.pk]} if kind == "user" else {"roles": [pk]}
    assert findings.principal_flags(**asked) == {(kind, pk): flags}
    assert findings.principal_flags() == {}


def test_flags_are_read_once_per_run(imported_sample, django_assert_max_num_queries):
    users = list(IamUser.objects.values_list("pk", flat=True))
    roles = list(IamRole.objects.values_list("pk", flat=True))
    first = findings.principal_flags(users=users, roles=roles)
    # The run's flags are kept: a view then asks only which run is current.
    with django_assert_max_num_queries(1):
        assert findings.principal_flags(users=users, roles=roles) == first

    # A new run with a finding less: its own flags, not the previous run's.
    finding = Finding.objects.filter(role__isnull=False).first()
    assert finding is not None and finding.role_id is not None
    Finding.objects.filter(role_id=finding.role_id).delete()
    run = AnalysisRun.objects.get(pk=shared_cache.current_key()[0])  # type: ignore[index]
    AnalysisRun.objects.create(
        status=AnalysisRun.Status.SUCCEEDED,
        started_at=run.started_at,
        finished_at=run.finished_at + timedelta(seconds=1),
    )
    again = findings.principal_flags(users=users, roles=roles)
    assert "finding" in first[("role", finding.role_id)]
    assert "finding" not in again.get(("role", finding.role_id), [])
    assert again == _flags_from_rows()


def test_flags_warmer_is_registered(imported_sample):
    took = shared_cache.warm_run()
    assert "principal-flags" in took


def _principals() -> list[str]:
    return sorted(
        [
            *IamUser.objects.values_list("arn", flat=True),
            *IamRole.objects.values_list("arn", flat=True),
        ]
    )


def test_escalation_pairs_of_many_principals_match_one_by_one(imported_sample):
    principals = _principals()
    assert EscalationEdge.objects.exists()
    together = escalations.read_escalation_pairs(principals)
    one_by_one: dict[tuple[str, str], int] = {}
    for principal in principals:
        one_by_one.update(escalations.read_escalation_pairs([principal]).flags)
    assert together.flags and together.flags == one_by_one
    assert together.summaries() == escalations.escalation_pairs(principals)

    every = escalations.escalations_from(principals)
    assert every
    for principal in principals:
        assert every.get(principal, []) == escalations.escalations_from([principal]).get(
            principal, []
        )


def test_escalation_reads_take_a_few_queries_for_many_principals(
    imported_sample, django_assert_num_queries, django_assert_max_num_queries
):
    # More principals than a chunk of SQLite holds: on PostgreSQL still one list each.
    principals = _principals() + [
        f"arn:aws:iam::000000000000:role/absent-{n}" for n in range(2 * escalations._CHUNK)
    ]
    expected = escalations.read_escalation_pairs(_principals()).flags
    queries = 2 if connection.vendor == "postgresql" else 2 * 3
    # The pairs read the principals' own rows and their groups' rows apart (one more query
    # where a chunk has group members).
    if connection.vendor == "postgresql":
        pairs_read = django_assert_num_queries(3)
    else:
        pairs_read = django_assert_max_num_queries(3 * 3)
    with pairs_read:
        assert escalations.read_escalation_pairs(principals).flags == expected
    with django_assert_num_queries(queries):
        found = escalations.escalations_from(principals)
    assert found == escalations.escalations_from(_principals())
