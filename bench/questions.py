"""Benchmark of the question-scoped graphs (issue 11) on a generated estate.

    python bench/questions.py --database-url URL [--setup] [--repeat 5] [--browser]

``--setup`` migrates the database and, when it holds no analysed estate, imports and analyses
the generated estate the browser tests use (10 accounts × 30 users × 60 roles, seed 1). Then
times `graph/data.json` for each question of the questions page (`/graph/`): the median of
``--repeat`` requests after a warm-up (bench/graph.py's timing; served from the view kept for
the analysis run), the median time of building the view afresh, and with ``--browser`` the
time from navigation to the graph's drawn state in Chromium for each. Results are printed and
written to bench-results/questions.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph import browser_first_draw, setup_django, time_build, write_results  # noqa: E402


def time_json(query: dict[str, str], repeat: int) -> dict[str, Any]:
    """Median wall time of GET graph/data.json?<query> through Django's test client (the whole
    middleware stack), logged in as a superuser, after one warm-up request."""
    import time

    import orjson
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="iamviz-bench-questions", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    times = []
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        response = client.get("/graph/data.json", query)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"data.json?{query} answered {response.status_code}")
        if attempt:
            times.append(elapsed)
    data = orjson.loads(response.content)
    return {
        "query": query,
        "median_ms": round(statistics.median(times), 1),
        # A view is kept per analysis run once built: what its first request paid.
        "built_ms": round(statistics.median(time_build(query) for _ in range(3)), 1),
        "nodes": data["stats"]["nodes"],
        "edges": data["stats"]["edges"],
        "bytes": len(response.content),
    }


def setup_estate() -> None:
    from django.core.management import call_command

    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.models import AnalysisRun
    from identities.sample.generate import generate_bundle

    call_command("migrate", verbosity=0)
    if not AnalysisRun.objects.filter(status="succeeded").exists():
        import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
        analyse_estate()


def questions() -> dict[str, dict[str, str]]:
    """One query per question, on the estate's busiest role and a user that reaches it."""
    from identities.graph.build import arn_node_id
    from identities.models import AccessEdge, IamRole
    from identities.queries import access

    role_pk = statistics.mode(
        AccessEdge.objects.filter(source_kind__in=["user", "role"]).values_list(
            "target_id", flat=True
        )
    )
    role = IamRole.objects.select_related("account").get(pk=role_pk)
    user = next(a.source for a in access.access_into(role) if a.source_kind == "user")
    return {
        "who can reach this role": {"view": "access", "focus": arn_node_id(role.arn), "dir": "in"},
        "what can this principal reach": {
            "view": "access",
            "focus": arn_node_id(user),
            "dir": "out",
        },
        "paths from A to B": {
            "view": "paths",
            "source": arn_node_id(user),
            "target": arn_node_id(role.arn),
        },
        "this account's trust boundary": {"view": "access", "account": role.account.account_id},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", action="store_true")
    options = parser.parse_args()
    setup_django(options.database_url)
    if options.setup:
        setup_estate()
    if options.browser:
        # bench/graph.py logs in as this user; the graph pages need a role (a superuser has all).
        from django.contrib.auth import get_user_model

        get_user_model().objects.update_or_create(
            username="iamviz-bench", defaults={"is_staff": True, "is_superuser": True}
        )
    results: dict[str, Any] = {}
    for name, query in questions().items():
        row = time_json(dict(query), options.repeat)
        if options.browser:
            view = query.pop("view")
            path = f"/graph/{view}/?" + "&".join(f"{k}={v}" for k, v in query.items())
            row["browser"] = browser_first_draw(options.database_url, path)
        results[name] = row
        drawn = row.get("browser", {}).get("navigation_to_drawn_ms", "-")
        print(
            f"{name:<32} json median {row['median_ms']:>7} ms  built {row['built_ms']:>7} ms  "
            f"{row['nodes']:>4} nodes "
            f"{row['edges']:>4} edges  {row['bytes']:>7} B  first draw {drawn} ms"
        )
    write_results("questions", results)


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Django's test client asks for the host "testserver".
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    main()
