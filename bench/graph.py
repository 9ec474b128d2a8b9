"""Benchmark of the graph endpoints on an imported and analysed estate.

    python bench/graph.py [--database-url URL] [--repeat 25] [--browser]

Times `graph/data.json` (the JSON the graph pages draw) through Django's request handling, the
median of `--repeat` requests after one warm-up, for:

- the 2-hop access neighbourhood of the busiest role (the most possible access edges into it);
- the whole access view of that role's account;
- the identity view of that account, and the path finder from a member of a busy access group;
- the organisation-wide access view (aggregated past the threshold).

With `--browser` it also serves the database with `manage.py runserver`, opens the
organisation-wide access view in Debian's Chromium (Playwright) and reports the time from
navigation to the first draw of the graph, and whether the page stays responsive.

The database must hold an imported and analysed estate; for the 50-account one:
`python bench/run.py --sizes 50 --database-url postgres://postgres@127.0.0.1:5432/iamviz_bench_graph`.
Results are printed and written to bench-results/graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/iamviz_bench"
BUDGET_MS = 300
# Debian's Chromium, as the browser tests drive it (tests/browser/conftest.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamviz.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def pick_targets() -> dict[str, str]:
    """The busiest role, its account, and a user that reaches it through an access group."""
    from django.db.models import Count

    from identities.models import AccessEdge, AccessGroupMember, Account, AnalysisRun, IamRole

    if not AnalysisRun.objects.filter(status="succeeded").exists():
        raise SystemExit(
            "The database holds no analysed estate: run "
            "`python bench/run.py --sizes 50 --database-url <URL>` first."
        )
    busiest = (
        AccessEdge.objects.filter(outcome__in=["allow", "conditional"])
        .values("target_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "target_id")
        .first()
    )
    if busiest is None:
        raise SystemExit("The analysis stored no access edge.")
    role = IamRole.objects.select_related("account").get(pk=busiest["target_id"])
    account_id = role.account.account_id
    group_edge = (
        AccessEdge.objects.filter(target=role, source_kind="group", source_group__kind="user")
        .order_by("source")
        .values_list("source_group_id", flat=True)
        .first()
    )
    member = (
        AccessGroupMember.objects.filter(group_id=group_edge)
        .select_related("user__account")
        .order_by("arn")
        .first()
        if group_edge
        else None
    )
    return {
        "role": f"role:{account_id}:{role.name}",
        "in_edges": str(busiest["n"]),
        "account": account_id,
        "accounts": str(Account.objects.count()),
        "user": (
            f"user:{member.user.account.account_id}:{member.user.name}"
            if member and member.user
            else ""
        ),
    }


def time_requests(query: dict[str, str], repeat: int) -> dict[str, Any]:
    """Median wall time of GET graph/data.json?<query> through the URL resolver and view."""
    import orjson
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory
    from django.urls import resolve, reverse
    from django_htmx.middleware import HtmxDetails

    url = reverse("identities:graph-data")
    view = resolve(url).func
    factory = RequestFactory()
    from identities.roles import VIEWER, grant_role

    # The views require a role (identities.roles): a saved viewer, as bench/pages.py logs in.
    user, _ = get_user_model().objects.get_or_create(username="iamviz-bench-viewer")
    grant_role(user, VIEWER)
    times = []
    response = None
    for attempt in range(repeat + 1):
        request = factory.get(url, query)
        request.user = user
        # What django-htmx's middleware adds (the view reads it); a plain GET is no htmx request.
        cast(Any, request).htmx = HtmxDetails(request)
        started = time.perf_counter()
        response = view(request)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}?{query} answered {response.status_code}")
        if attempt:  # the first request warms caches (reach graph, URL resolver)
            times.append(elapsed)
    assert response is not None
    data = orjson.loads(response.content)
    return {
        "query": query,
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 1),
        "nodes": data["stats"]["nodes"],
        "edges": data["stats"]["edges"],
        "aggregated": data["aggregated"],
        "folded": data["stats"].get("folded", []),
        "bytes": len(response.content),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser_first_draw(database_url: str, path: str) -> dict[str, Any]:
    """Serve the database, open `path` in Chromium and time navigation -> first graph draw."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(username="iamviz-bench")
    user.is_staff = True
    user.set_password(password)
    user.save()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/login/")
            page.fill("#id_username", "iamviz-bench")
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            started = time.perf_counter()
            page.goto(f"{base}{path}")
            page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=60000)
            ready_ms = (time.perf_counter() - started) * 1000
            canvas = page.locator("#graph-canvas")
            draw_ms = float(canvas.get_attribute("data-first-draw-ms") or "nan")
            # The page answers a script within a frame or two once drawn: it is not frozen.
            probe = time.perf_counter()
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
            frame_ms = (time.perf_counter() - probe) * 1000
            counts = page.evaluate(
                "() => [window.iamvizGraph.nodes().length, window.iamvizGraph.edges().length]"
            )
            shot = ROOT / "test-artifacts" / "screenshots" / "graph" / "bench-org-access.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return {
        "path": path,
        "navigation_to_drawn_ms": round(ready_ms),
        "graph_first_draw_ms": draw_ms,
        "next_frame_ms": round(frame_ms, 1),
        "drawn_elements": counts,
        "page_errors": errors,
        "screenshot": str(shot),
    }


def write_results(name: str, results: dict[str, Any]) -> None:
    """Write a benchmark's results to bench-results/<name>.json."""
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=25, help="timed requests per endpoint")
    parser.add_argument("--browser", action="store_true", help="also time the first draw")
    options = parser.parse_args()
    if options.repeat < 5:
        parser.error("--repeat must be at least 5")
    setup_django(options.database_url)
    targets = pick_targets()
    print(
        f"estate: {targets['accounts']} accounts; busiest role {targets['role']} "
        f"({targets['in_edges']} access edges in); account {targets['account']}"
    )
    cases = {
        "access 2-hop neighbourhood of the busiest role": {
            "view": "access",
            "focus": targets["role"],
            "depth": "2",
        },
        "access view of one whole account": {"view": "access", "account": targets["account"]},
        "identity view of one whole account": {"view": "identity", "account": targets["account"]},
        "organisation-wide access view": {"view": "access"},
    }
    if targets["user"]:
        cases["path finder, user to the busiest role"] = {
            "view": "paths",
            "source": targets["user"],
            "target": targets["role"],
            "mode": "all",
            "length": "4",
        }
    results: dict[str, Any] = {"targets": targets, "budget_ms": BUDGET_MS, "endpoints": {}}
    print(f"{'endpoint':<48} {'median ms':>9} {'p90 ms':>7} {'nodes':>6} {'edges':>6}  folded")
    for name, query in cases.items():
        row = time_requests(query, options.repeat)
        results["endpoints"][name] = row
        print(
            f"{name:<48} {row['median_ms']:>9} {row['p90_ms']:>7} {row['nodes']:>6} "
            f"{row['edges']:>6}  {', '.join(row['folded']) or '-'}"
        )
    for name in (
        "access 2-hop neighbourhood of the busiest role",
        "access view of one whole account",
    ):
        verdict = "within" if results["endpoints"][name]["median_ms"] < BUDGET_MS else "OVER"
        print(f"  {name}: {verdict} the {BUDGET_MS} ms budget")
    if options.browser:
        browser = browser_first_draw(options.database_url, "/graph/access/")
        results["browser"] = browser
        print(
            f"Chromium, organisation-wide access view: drawn {browser['navigation_to_drawn_ms']} ms "
            f"after navigation (graph first draw {browser['graph_first_draw_ms']} ms after the "
            f"script ran; next frame {browser['next_frame_ms']} ms; "
            f"{browser['drawn_elements'][0]} nodes, {browser['drawn_elements'][1]} edges drawn); "
            f"errors: {browser['page_errors'] or 'none'}; screenshot {browser['screenshot']}"
        )
    write_results("graph", results)


if __name__ == "__main__":
    main()
