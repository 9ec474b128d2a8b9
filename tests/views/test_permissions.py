"""Every URL of `identities/urls.py`, walked as anonymous, no role, viewer, reviewer, operator and
admin (issue 14, item 11): anonymous visitors go to log in, a role below the view's gets a 403,
the rest get the view's own answer. A URL pattern without an expectation below fails the test."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import URLPattern, URLResolver

from identities import urls
from identities.roles import ADMIN, OPERATOR, REVIEWER, ROLES, VIEWER
from tests.acme import ALICE, DEV, PROD

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.test import Client

    from identities.models import SyncRun

ANONYMOUS, NO_ROLE = "anonymous", ""


@dataclass(frozen=True)
class Expect:
    """GET `path` needs `get_role` and then answers `get_status`; POST (mutating views only)
    needs `post_role` and answers `post_status`. `{run}` and `{finding}` are filled in.
    An anonymous request gets `anonymous`: 302 to log in, or the JSON API's 401."""

    path: str
    get_role: str = VIEWER
    get_status: int = 200
    post_role: str | None = None
    post_status: int = 0
    anonymous: int = 302


EDGE = f"?source={ALICE}&target=arn:aws:iam::{PROD}:role/deploy"

EXPECTED: dict[str, Expect] = {
    "dashboard": Expect("/"),
    "account-detail": Expect(f"/accounts/{DEV}/"),
    "user-list": Expect("/users/"),
    "group-list": Expect("/groups/"),
    "role-list": Expect("/roles/"),
    "policy-list": Expect("/policies/"),
    "user-detail": Expect(f"/accounts/{DEV}/users/alice/"),
    "group-detail": Expect(f"/accounts/{DEV}/groups/developers/"),
    "role-detail": Expect(f"/accounts/{PROD}/roles/deploy/"),
    "policy-detail": Expect(
        f"/accounts/{DEV}/policies/arn:aws:iam::{DEV}:policy/ci-deploy-assume/"
    ),
    "syncrun-list": Expect("/runs/"),
    "syncrun-detail": Expect("/runs/{run}/"),
    "syncrun-bundle": Expect("/runs/{run}/bundle.json.gz", OPERATOR),
    "search": Expect("/search/?q=alice"),
    "arn": Expect(f"/arn/{ALICE}", get_status=302),
    "sync": Expect("/sync/"),
    "sync-runs": Expect("/sync/runs/"),
    "sync-settings": Expect("/sync/settings/", OPERATOR, 200, OPERATOR, 400),
    "sync-schedule": Expect("/sync/schedule/", OPERATOR, 405, OPERATOR, 400),
    "sync-now": Expect("/sync/now/", OPERATOR, 405, OPERATOR, 302),
    "sync-account-add": Expect("/sync/accounts/", OPERATOR, 405, OPERATOR, 400),
    "sync-account-update": Expect(f"/sync/accounts/{DEV}/", OPERATOR, 405, OPERATOR, 302),
    "sync-account-now": Expect(f"/sync/accounts/{DEV}/now/", OPERATOR, 405, OPERATOR, 302),
    "role-access": Expect(f"/accounts/{PROD}/roles/deploy/access/"),
    "role-access-list": Expect(f"/accounts/{PROD}/roles/deploy/access/list/?part=direct&bunch=x"),
    "role-reach-list": Expect(f"/accounts/{PROD}/roles/deploy/reach/list/?part=chains&bunch=x"),
    "user-reach-list": Expect(f"/accounts/{DEV}/users/alice/reach/list/?part=direct&bunch=x"),
    "account-matrix": Expect("/access/matrix/"),
    "role-reach": Expect(f"/accounts/{PROD}/roles/deploy/reach/"),
    "user-reach": Expect(f"/accounts/{DEV}/users/alice/reach/"),
    "administrators": Expect("/access/administrators/"),
    "findings": Expect("/access/findings/"),
    "explain": Expect(f"/access/explain/{EDGE}"),
    "escalations": Expect("/access/escalations/"),
    "escalation-catalogue": Expect("/access/escalations/methods/"),
    # Asking for an export is a read: a viewer's POST makes one (then its page).
    "export-escalations": Expect("/access/escalations/export/", VIEWER, 405, VIEWER, 302),
    "export-list": Expect("/exports/"),
    "what-if-job": Expect("/what-if/jobs/0/", VIEWER, 404),
    "export-detail": Expect("/exports/0/", VIEWER, 404),
    "export-download": Expect("/exports/0/download/", VIEWER, 404),
    "who-can": Expect("/access/who-can/"),
    # An empty POST is an invalid rule: the page again, with the errors.
    "sensitive-targets": Expect("/access/sensitive/", VIEWER, 200, OPERATOR, 400),
    "choke-points": Expect("/access/choke-points/"),
    "user-escalations": Expect(f"/accounts/{DEV}/users/alice/escalations/"),
    "role-escalations": Expect(f"/accounts/{PROD}/roles/deploy/escalations/"),
    "changes": Expect("/review/changes/"),
    "change-edge": Expect(f"/review/changes/edge/{EDGE}", get_status=404),  # one analysis only
    "edge-review": Expect("/review/edges/", REVIEWER, 405, REVIEWER, 302),
    "finding-triage": Expect("/review/findings/"),
    "finding-detail": Expect("/review/findings/{finding}/"),
    "finding-decide": Expect("/review/findings/{finding}/decide/", REVIEWER, 405, REVIEWER, 400),
    "finding-reopen": Expect("/review/findings/{finding}/reopen/", REVIEWER, 405, REVIEWER, 400),
    # An empty POST leaves the form unbound: the page again.
    "suppression-rules": Expect("/review/rules/", VIEWER, 200, REVIEWER, 200),
    "notification-settings": Expect("/review/notifications/", OPERATOR, 200, OPERATOR, 400),
    "audit-log": Expect("/audit/", ADMIN),
    "graph-identity": Expect("/graph/identity/"),
    "graph-start": Expect("/graph/"),
    "graph-access": Expect("/graph/access/"),
    "graph-paths": Expect("/graph/paths/"),
    "graph-data": Expect("/graph/data.json?view=identity"),
    "graph-graphml": Expect("/graph/export.graphml?view=identity"),
    "graph-svg": Expect("/graph/export.svg?view=identity"),
    "graph-suggest": Expect("/graph/suggest/?q=alice"),
    "graph-edge": Expect(f"/graph/edge/{EDGE}", get_status=404),  # no such edge
    "graph-node": Expect(f"/graph/node/role/{PROD}:deploy"),
    "graph-folded": Expect(f"/graph/folded/?id=agg:roles:{PROD}&of=role&account={PROD}"),
    "what-if": Expect("/what-if/"),
    # An empty POST is an invalid change: the editor again, with the errors.
    "what-if-run": Expect("/what-if/run/", VIEWER, 405, VIEWER, 400),
    "what-if-save": Expect("/what-if/save/", REVIEWER, 405, REVIEWER, 400),
    "what-if-detail": Expect("/what-if/0/", get_status=404),  # no such proposal
    "what-if-rerun": Expect("/what-if/0/run/", REVIEWER, 405, REVIEWER, 404),
    "api-access-edges": Expect("/api/v1/access-edges/", anonymous=401),
    "api-escalations": Expect("/api/v1/escalations/", anonymous=401),
    # One analysis only: nothing to compare with.
    "api-access-changes": Expect("/api/v1/access-changes/", get_status=400, anonymous=401),
    "api-findings": Expect("/api/v1/findings/", anonymous=401),
    "api-who-can": Expect("/api/v1/who-can/?action=iam:PassRole&resource=*", anonymous=401),
    "api-tokens": Expect("/api/tokens/", VIEWER, 200, VIEWER, 400),
    "api-token-revoke": Expect("/api/tokens/0/revoke/", VIEWER, 405, VIEWER, 404),
}


def url_names(patterns: list[Any] | None = None, namespace: str = "") -> Iterator[str]:
    """Every named URL the resolver serves under `identities/urls.py`, includes followed."""
    for pattern in urls.urlpatterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_names(pattern.url_patterns, f"{namespace}{pattern.namespace or ''}")
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}"


def test_every_url_has_an_expectation() -> None:
    names = list(url_names())

    assert None not in names, "a URL pattern has no name"
    assert sorted(set(names) - set(EXPECTED)) == [], "declare these URLs in EXPECTED"
    assert sorted(set(EXPECTED) - set(names)) == [], "these URLs no longer exist"


def _rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def _expected(role: str, needed: str, status: int, anonymous: int = 302) -> int:
    if role == ANONYMOUS:
        return anonymous
    return status if _rank(role) >= _rank(needed) else 403


@pytest.fixture
def estate(imported_sample: SyncRun) -> dict[str, Any]:
    from identities.models import AccountSyncConfig, TrackedFinding

    AccountSyncConfig.objects.create(account_id=DEV, name="dev")
    imported_sample.bundle_gzip = gzip.compress(b"{}")
    imported_sample.save(update_fields=["bundle_gzip"])
    finding = TrackedFinding.objects.order_by("key").first()
    assert finding is not None
    return {"run": imported_sample.pk, "finding": finding.key}


@pytest.mark.parametrize("role", [ANONYMOUS, NO_ROLE, *ROLES])
def test_each_role_gets_the_expected_status_at_every_url(
    role: str, estate: dict[str, Any], client: Client, client_as: Callable[[str], Client]
) -> None:
    if role != ANONYMOUS:
        client = client_as(role)
    wrong = []
    for name, expect in EXPECTED.items():
        path = expect.path.format(**estate)
        response = client.get(path)
        wanted = _expected(role, expect.get_role, expect.get_status, expect.anonymous)
        if response.status_code != wanted or (
            wanted == 302 and role == ANONYMOUS and not response["Location"].startswith("/login/")
        ):
            wrong.append(f"GET {name} {path}: {response.status_code}, expected {wanted}")
    for name, expect in EXPECTED.items():
        if expect.post_role is None:
            continue
        path = expect.path.format(**estate)
        response = client.post(path, {})
        wanted = _expected(role, expect.post_role, expect.post_status)
        if response.status_code != wanted:
            wrong.append(f"POST {name} {path}: {response.status_code}, expected {wanted}")

    assert not wrong, "\n".join(wrong)


def test_pages_offer_only_the_actions_a_role_may_take(
    estate: dict[str, Any], client_as: Callable[[str], Client]
) -> None:
    finding = "/review/findings/{finding}/".format(**estate)
    bundle = "/runs/{run}/bundle.json.gz".format(**estate)

    viewer = client_as(VIEWER)
    viewer_pages = [viewer.get(path).content.decode() for path in (finding, "/runs/", "/sync/")]
    reviewer = client_as(REVIEWER)
    reviewer_finding = reviewer.get(finding).content.decode()
    reviewer_runs = reviewer.get("/runs/").content.decode()
    operator_runs = client_as(OPERATOR).get("/runs/").content.decode()

    assert "Save decision" not in viewer_pages[0] and "Save decision" in reviewer_finding
    assert bundle not in viewer_pages[1] and bundle not in reviewer_runs
    assert bundle in operator_runs
    assert "Sync organisation now" not in viewer_pages[2]
