"""The review pages through the test client: Changes, an edge's change, finding triage, rules,
notification settings, and the risk-first dashboard."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from identities.models import EdgeReview, NotificationDestination, TrackedFinding
from tests.review.conftest import PROD_OPS, VENDOR_ROOT


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def section(body: str, name: str) -> str:
    start = body.index(f'<section id="{name}"')
    return body[start : body.index("</section>", start)]


def test_changes_page_lists_new_changes_and_what_went_away(two_analyses, logged_in_client):
    response = logged_in_client.get(reverse("identities:changes"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "can assume arn:aws:iam::444444444444:role/prod-ops" in section(body, "new")
    assert "arn:aws:iam::111111111111:role/audit" in section(body, "gone")
    assert "No new edge is marked expected." in section(body, "expected")


def test_changes_page_filters_by_kind_and_serves_its_fragment(two_analyses, logged_in_client):
    response = logged_in_client.get(
        reverse("identities:changes"),
        {"kind": "finding"},
        headers={"HX-Request": "true", "HX-Target": "changes"},
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="changes">')
    assert "<html" not in body
    assert "trusts the whole account 999999999999" in body
    assert "can assume" not in body


def test_changes_page_without_history_says_why(imported_sample, logged_in_client):
    response = logged_in_client.get(reverse("identities:changes"))

    assert "fewer than two analyses" in response.content.decode()


def test_marking_an_edge_expected_moves_it_to_the_expected_section(two_analyses, logged_in_client):
    edge_url = f"{reverse('identities:change-edge')}?{urlencode({'source': VENDOR_ROOT, 'target': PROD_OPS})}"
    page = logged_in_client.get(edge_url)

    response = logged_in_client.post(
        reverse("identities:edge-review"),
        {
            "source": VENDOR_ROOT,
            "target": PROD_OPS,
            "conditions": "",
            "reason": "vendor support",
            "next": reverse("identities:changes"),
        },
        follow=True,
    )

    body = response.content.decode()
    assert "trust_policy" in section(page.content.decode(), "causes")
    assert EdgeReview.objects.get().reason == "vendor support"
    assert f"can assume {PROD_OPS}" in section(body, "expected")
    assert f"can assume {PROD_OPS}" not in section(body, "new")


def test_finding_detail_records_a_decision_in_the_audit_trail(two_analyses, logged_in_client):
    finding = TrackedFinding.objects.get(principal_arn=PROD_OPS)

    response = logged_in_client.post(
        reverse("identities:finding-decide", args=[finding.key]),
        {"decision": "accepted", "reason": "vendor support contract", "until": ""},
        follow=True,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "open → accepted" in section(body, "trail")
    assert "vendor support contract" in section(body, "trail")


def test_suppression_needs_an_end(two_analyses, logged_in_client):
    finding = TrackedFinding.objects.get(principal_arn=PROD_OPS)

    response = logged_in_client.post(
        reverse("identities:finding-decide", args=[finding.key]),
        {"decision": "suppressed", "reason": "later", "until": ""},
    )

    assert response.status_code == 400
    finding.refresh_from_db()
    assert finding.status == "open"


def test_triage_list_shows_open_findings(two_analyses, logged_in_client):
    response = logged_in_client.get(reverse("identities:finding-triage"))

    assert response.context["page"].paginator.count == 6


def test_rule_page_creates_a_rule_that_decides_open_findings(two_analyses, logged_in_client):
    response = logged_in_client.post(
        reverse("identities:suppression-rules"),
        {
            "applies_to": "finding",
            "decision": "accepted",
            "finding_kind": "root_trust_without_external_id",
            "source": "999999999999",
            "reason": "vendor",
        },
        follow=True,
    )

    assert "it decided 1 open finding(s) now" in response.content.decode()
    assert TrackedFinding.objects.get(principal_arn=PROD_OPS).status == "accepted"


def test_notification_settings_are_for_staff(two_analyses, client, django_user_model):
    user = django_user_model.objects.create_user(username="viewer", password="x" * 12)
    client.force_login(user)

    response = client.get(reverse("identities:notification-settings"))

    assert response.status_code == 403


def slack_webhook(url: str) -> dict[str, str]:
    """The notification settings' form adding the webhook destination "slack"."""
    return {"form": "destination", "kind": "webhook", "name": "slack", "url": url, "enabled": "on"}


def test_staff_adds_a_webhook_destination(two_analyses, logged_in_client):
    response = logged_in_client.post(
        reverse("identities:notification-settings"),
        slack_webhook("https://hooks.example.com/x"),
        follow=True,
    )

    assert response.status_code == 200
    assert list(NotificationDestination.objects.values_list("name", "url")) == [
        ("slack", "https://hooks.example.com/x")
    ]


def test_webhook_without_url_is_refused(two_analyses, logged_in_client):
    response = logged_in_client.post(reverse("identities:notification-settings"), slack_webhook(""))

    assert response.status_code == 400
    assert NotificationDestination.objects.count() == 0


def test_dashboard_shows_risk_before_the_estate(two_analyses, logged_in_client):
    response = logged_in_client.get(reverse("identities:dashboard"))

    body = response.content.decode()
    risk = response.context["risk"]
    assert body.index('id="risk"') < body.index("<h1>Estate</h1>")
    assert (risk["administrators"], risk["admin_paths"], risk["new_total"]) == (9, 8, 13)
    assert risk["open_findings"] == {"high": 3, "medium": 3, "low": 0}
    assert [point["admin_paths"] for point in risk["trend"]] == [7, 8]


def test_user_page_marks_what_is_new_since_the_last_sync(two_analyses, logged_in_client):
    response = logged_in_client.get("/accounts/333333333333/users/ci-deploy/")

    body = response.content.decode()
    mark = body[body.index('<aside class="new-since-sync"') : body.index("</aside>")]
    assert "edge added: can assume arn:aws:iam::444444444444:role/partner-gateway" in mark
    assert "edge added: can assume arn:aws:iam::222222222222:role/org-inventory" in mark


def test_role_page_without_news_has_no_mark(two_analyses, logged_in_client):
    response = logged_in_client.get("/accounts/444444444444/roles/audit/")

    assert 'class="new-since-sync"' not in response.content.decode()


def _diff_with_new_edges(count: int) -> None:
    from django.utils import timezone

    from identities.models import AccessChange, AccessDiff, AnalysisRun

    now = timezone.now()
    first, second = (
        AnalysisRun.objects.create(status="succeeded", started_at=now, finished_at=now)
        for _ in range(2)
    )
    diff = AccessDiff.objects.create(run=second, previous=first, created_at=now)
    AccessChange.objects.bulk_create(
        AccessChange(
            diff=diff,
            category="edge_added",
            source=f"arn:aws:iam::999999999999:role/r{number}",
            target="arn:aws:iam::111111111111:role/target",
            action="sts:AssumeRole",
            account_id="111111111111",
            severity="high",
            detail={"before": None, "after": {"conditions": [], "granted_by": ["s"]}},
        )
        for number in range(count)
    )


@pytest.mark.parametrize("count", [1, 3])
def test_changes_page_query_count_is_constant(logged_in_client, django_assert_num_queries, count):
    _diff_with_new_edges(count)

    # session, user, runs; the latest diff, from and to runs, the chain of diffs, their rows;
    # edge reviews and edge rules (expected edges)
    with django_assert_num_queries(10):
        response = logged_in_client.get(reverse("identities:changes"))

    assert len(response.context["changes"].new) == count


def test_dashboard_new_since_last_sync_counts_are_pluralised(two_analyses, logged_in_client):
    body = logged_in_client.get(reverse("identities:dashboard")).content.decode()

    card = body[body.index('id="risk-new"') :]
    summary = card.split('<p class="muted">', 1)[1].split("</p>", 1)[0]
    counts = [(int(n), word) for n, word in re.findall(r"(\d+) (\w+)", summary)]
    assert [word.rstrip("s") for _, word in counts] == ["administrator", "path", "edge", "finding"]
    assert any(n == 1 for n, _ in counts)
    assert all(word.endswith("s") == (n != 1) for n, word in counts), summary
