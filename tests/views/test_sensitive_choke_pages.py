"""The Sensitive roles page (operators add and remove rules, audited, an analysis queued) and the
Choke points page (issue 12, items 2 and 3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils.http import urlencode

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import AnalysisRun, AuditEvent, SensitiveTarget
from identities.roles import OPERATOR, VIEWER
from tests.analysis.test_choke_points import ADMIN, ROLE_A, U1, small_estate
from tests.bundles import estate_bundle

PAGE, CHOKE = "/access/sensitive/", "/access/choke-points/"


@pytest.fixture
def small(db: None) -> None:
    import_bundle(estate_bundle(small_estate()), label="small.json")
    analyse_estate()


def test_an_operator_adds_and_removes_a_rule_audited_with_an_analysis_queued(
    small: None, client_as: Callable[[str], Client], django_capture_on_commit_callbacks
):
    operator = client_as(OPERATOR)
    runs_before = AnalysisRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        added = operator.post(
            PAGE, {"kind": "name_glob", "value": " a ", "reason": "break-glass hop"}
        )
    page = operator.get(PAGE).content.decode()
    rule = SensitiveTarget.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        removed = operator.post(PAGE, {"delete": rule.pk})

    assert (added.status_code, removed.status_code) == (302, 302)
    assert rule.created_by is not None
    assert (rule.kind, rule.value, rule.created_by.username) == ("name_glob", "a", "as-operator")
    # The analysis queued after the rule ran: the role it marks and who reaches it are listed,
    # u1-u3 through their policy, the admin role (anything) and b and u4 through it.
    assert AnalysisRun.objects.count() == runs_before + 2
    assert (
        ROLE_A in page and 'Who can reach a sensitive role <small class="muted">6</small>' in page
    )
    assert list(
        AuditEvent.objects.exclude(action="login").order_by("pk").values_list("action", "target")
    ) == [
        ("sensitive_target_add", "Role name pattern a"),
        ("sensitive_target_delete", "Role name pattern a"),
    ]
    assert SensitiveTarget.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "arn", "value": "arn:aws:iam::1:user/u", "reason": "x"}, "is not a role ARN"),
        ({"kind": "tag", "value": "=prod", "reason": "x"}, "a tag rule is KEY=VALUE"),
        ({"kind": "tag", "value": "env=prod", "reason": ""}, "This field is required"),
    ],
)
def test_a_bad_rule_is_refused_with_the_reason(
    small: None, client_as: Callable[[str], Client], data: dict, error: str
):
    response = client_as(OPERATOR).post(PAGE, data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert SensitiveTarget.objects.count() == 0


def test_a_viewer_reads_the_rules_but_may_not_change_them(
    small: None, client_as: Callable[[str], Client]
):
    viewer = client_as(VIEWER)

    page = viewer.get(PAGE).content.decode()
    refused = viewer.post(PAGE, {"kind": "tag", "value": "env=prod", "reason": "x"})

    assert "Add rule" not in page and "No rule yet" in page
    assert refused.status_code == 403


def test_choke_points_page_ranks_the_changes_with_their_principals_and_what_if(
    small: None, client_as: Callable[[str], Client]
):
    viewer = client_as(VIEWER)

    page = viewer.get(CHOKE).content.decode()
    fragment = viewer.get(CHOKE + "?target=sensitive", HTTP_HX_REQUEST="true")

    assert page.count('<td class="num">') == 4  # rank and paths cut of two changes
    assert '<code>FromA</code> of <code class="arn">' + ADMIN in page
    run = urlencode({"change": f"--remove-statement {ADMIN} FromA", "run": "1"})
    assert f'href="/what-if/?{run.replace("&", "&amp;")}">Run what-if</a>' in page
    assert U1 in page and "4 principals" in page
    assert "No single statement, attachment or membership" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_the_rules_list_reads_as_many_queries_for_one_rule_as_for_three(
    small: None, client_as: Callable[[str], Client]
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    viewer = client_as(VIEWER)
    counts = []
    for value in ("a", "b", "admin"):
        SensitiveTarget.objects.create(
            kind="name_glob", value=value, reason="r", created_at=timezone.now()
        )
        with CaptureQueriesContext(connection) as queries:
            assert viewer.get(PAGE).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[2]
