"""Each endpoint returns exactly what its management command prints (same keys, same rows, same
order) on the sample estate, page after page; bad filters get a 400 naming the parameter."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from identities.models import AnalysisRun
from tests.management.test_access_commands import KEYS as EDGE_KEYS
from tests.review.conftest import change_sample

DEV, PROD = "333333333333", "444444444444"
ALICE = f"arn:aws:iam::{DEV}:user/alice"
ESCALATION_KEYS = ["principal", "method", "status", "target", "conditions", "granted_by"]
FINDING_KEYS = [
    "key",
    "kind",
    "severity",
    "status",
    "account",
    "principal",
    "title",
    "detail",
    "first_seen",
    "last_seen",
]
WHO_CAN_KEYS = ["principal", "kind", "account", "conditional", "conditions", "granted_by"]


def printed(*args: str) -> Any:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def walk(api_get: Callable[..., Any], path: str, **params: str) -> list[dict[str, Any]]:
    """Every row of a paged endpoint, following `next` from the first page."""
    page = api_get(path, **params)
    rows = list(page["results"])
    pages = 1
    while page["next"] is not None:
        assert page["next"].startswith("http://testserver/api/v1/")
        page = api_get(page["next"].removeprefix("http://testserver"))
        assert page["previous"] is not None
        rows.extend(page["results"])
        pages += 1
    assert len(rows) == page["count"]
    if page["count"] > int(params.get("page_size", 100)):
        assert pages > 1
    return rows


CASES = [
    ("access-edges", ["access_edges"], {}, EDGE_KEYS),
    ("access-edges", ["access_edges", "--account", PROD], {"account": PROD}, EDGE_KEYS),
    ("access-edges", ["access_edges", "--transitive"], {"transitive": "true"}, EDGE_KEYS),
    (
        "access-edges",
        ["access_edges", "--transitive", "--source", ALICE],
        {"transitive": "true", "source": ALICE},
        EDGE_KEYS,
    ),
    (
        "access-edges",
        ["access_edges", "--transitive", "--source", ALICE, "--account", PROD],
        {"transitive": "true", "source": ALICE, "account": PROD},
        EDGE_KEYS,
    ),
    ("access-edges", ["access_edges", "--source", ALICE], {"source": ALICE}, EDGE_KEYS),
    (
        "access-edges",
        ["access_edges", "--source", "service:ec2.amazonaws.com"],
        {"source": "service:ec2.amazonaws.com"},
        EDGE_KEYS,
    ),
    ("escalations", ["escalations"], {}, ESCALATION_KEYS),
    ("escalations", ["escalations", "--account", DEV], {"account": DEV}, ESCALATION_KEYS),
    ("escalations", ["escalations", "--principal", ALICE], {"principal": ALICE}, ESCALATION_KEYS),
    ("findings", ["findings"], {}, FINDING_KEYS),
    (
        "findings",
        ["findings", "--kind", "public_role"],
        {"kind": "public_role"},
        FINDING_KEYS,
    ),
    ("findings", ["findings", "--status", "open"], {"status": "open"}, FINDING_KEYS),
]


@pytest.mark.parametrize(("endpoint", "command", "params", "keys"), CASES)
def test_each_endpoint_pages_through_exactly_the_commands_rows(
    imported_sample, api_get, endpoint, command, params, keys
):
    expected = printed(*command, "--format", "json")

    rows = walk(api_get, f"/api/v1/{endpoint}/", page_size="7", **params)

    assert expected, "the sample should give rows to compare"
    assert rows == expected
    assert all(list(row) == keys for row in rows)
    assert len({json.dumps(row, sort_keys=True) for row in rows}) == len(rows)


def test_the_sample_gives_several_pages_of_edges(imported_sample, api_get):
    first = api_get("/api/v1/access-edges/", page_size="30")
    second = api_get(first["next"].removeprefix("http://testserver"))

    count = len(printed("access_edges", "--format", "json"))
    assert count > 60
    assert (first["count"], len(first["results"]), first["previous"]) == (count, 30, None)
    assert second["previous"] == "http://testserver/api/v1/access-edges/?page_size=30"
    assert second["results"][0] != first["results"][-1]


def test_who_can_answers_as_the_command(imported_sample, api_get):
    expected = printed("who_can", "iam:CreateAccessKey", "*", "--format", "json")

    rows = walk(api_get, "/api/v1/who-can/", action="iam:CreateAccessKey", resource="*")

    assert expected and rows == expected
    assert list(rows[0]) == WHO_CAN_KEYS


@pytest.fixture
def two_analyses(imported_sample: Any, sample_bundle: dict[str, Any]) -> tuple[int, int]:
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle

    first = AnalysisRun.objects.filter(status="succeeded").latest("id").pk
    import_bundle(change_sample(sample_bundle), label="changed.json")
    return first, analyse_estate()["run"]


def test_access_changes_is_the_commands_document(two_analyses, api_get):
    first, second = two_analyses

    document = api_get("/api/v1/access-changes/")

    assert document == printed("access_changes", "--format", "json")
    assert (document["from"], document["to"]) == (first, second)
    assert document["edges_added"] and document["findings_new"]
    same = api_get("/api/v1/access-changes/", **{"from": str(second), "to": str(second)})
    assert same == printed(
        "access_changes", "--from", str(second), "--to", str(second), "--format", "json"
    )


def test_access_changes_refuses_runs_the_wrong_way_round(two_analyses, client, token_for):
    first, second = two_analyses

    response = client.get(
        f"/api/v1/access-changes/?from={second}&to={first}",
        headers={"Authorization": f"Bearer {token_for('viewer')}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"no history from analysis #{second} to #{first} (not an earlier succeeded "
        "analysis, or beyond the retention)"
    }


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/v1/access-edges/?account=999999999999", 400, "account: no synced account"),
        ("/api/v1/access-edges/?acount=1", 400, "unknown query parameter acount"),
        ("/api/v1/access-edges/?transitive=maybe", 400, "transitive: 'maybe' is not true"),
        (
            "/api/v1/access-edges/?source=arn:aws:iam::333333333333:user/nobody",
            400,
            "source: no user or role arn:aws:iam::333333333333:user/nobody in the estate",
        ),
        ("/api/v1/access-edges/?source=group:1", 400, "source: group:1 is an access group"),
        ("/api/v1/access-edges/?page_size=0", 400, "page_size: '0' is not a whole number"),
        ("/api/v1/access-edges/?page_size=5000", 400, "page_size: '5000' is not a whole"),
        ("/api/v1/access-edges/?page=x", 400, "page: 'x' is not a whole number"),
        ("/api/v1/access-edges/?page=99", 404, "page: 99 is past the last page (1)"),
        ("/api/v1/escalations/?principal=arn:aws:iam::1:user/x", 400, "principal: no user"),
        ("/api/v1/findings/?kind=bad", 400, "kind: 'bad' is not one of public_role"),
        ("/api/v1/findings/?severity=huge", 400, "severity: 'huge' is not one of high"),
        ("/api/v1/access-changes/?from=x", 400, "from: 'x' is not an analysis run id"),
        ("/api/v1/access-changes/?from=999999&to=999998", 400, "no analysis #999999"),
        ("/api/v1/access-changes/", 400, "fewer than two analyses with history"),
        ("/api/v1/access-changes/?page=2", 400, "unknown query parameter page"),
        ("/api/v1/who-can/", 400, "action and resource are both needed"),
        ("/api/v1/who-can/?action=CreateUser&resource=*", 400, "'CreateUser' is not an action"),
        ("/api/v1/who-can/?action=iam:X&resource=bucket", 400, "'bucket' is not an ARN"),
    ],
)
def test_bad_parameters_get_a_clear_error(imported_sample, client, token_for, path, status, detail):
    response = client.get(path, headers={"Authorization": f"Bearer {token_for('viewer')}"})

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail), response.json()


def test_a_page_read_before_the_next_analysis_is_not_served_after_it(
    imported_sample, sample_bundle, api_get
):
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle

    before = walk(api_get, "/api/v1/access-edges/", page_size="1000")
    import_bundle(change_sample(sample_bundle), label="changed.json")
    analyse_estate()

    after = walk(api_get, "/api/v1/access-edges/", page_size="1000")

    assert after != before
    assert after == printed("access_edges", "--format", "json")


def test_transitive_edges_as_the_first_read_of_a_run_do_not_wait_on_the_cache(
    imported_sample, api_get
):
    """The API's cached list reads the reach graph, itself cached: the lock must be reentrant
    (it was not, and this request waited for ever)."""
    from identities.queries import access

    def give_up(signum: int, frame: Any) -> None:
        raise TimeoutError("the request waited 30 s")

    access._cache.update(run=None, values={})
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(30)
    try:
        page = api_get("/api/v1/access-edges/", transitive="true")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    assert page["count"] == len(printed("access_edges", "--transitive", "--format", "json"))
