"""Benchmark of the graph endpoints on an imported and analysed estate.

    python bench/graph.py [--database-url URL] [--repeat 25] [--browser] [--only TEXT]

Times `graph/data.json` (the JSON the graph pages draw) through Django's request handling, the
median of `--repeat` requests after one warm-up, for:

- the 2-hop access neighbourhood of the busiest role (the most possible access edges into it);
- the whole access view of that role's account;
- the identity view of that account, and the path finder from a member of a busy access group;
- the organisation-wide access view (aggregated past the threshold).

A view is kept once built, per analysis run (identities/graph/cached.py), so the median is of
requests served from the shared cache; ``built ms`` is the median time of building the view
afresh (the builder called without the store but, as the store builds it, with the cyclic
garbage collector paused; `--built-repeat` times), what the first request of a view after an
analysis pays. ``--load-sample N`` also builds, afresh, the three views the load test asks for
(bench/load_locustfile.py: identity and access view around a role, identity view of an
account) for N of the roles bench/load.py picks, and reports the median and the 95th
percentile over them. ``--only TEXT`` times only the views whose name contains TEXT.

``--first-reads`` times what a fresh process reads of the current run before its first graph
with escalation edges (median of 3 processes each): the escalation hops from the shared cache
(`queries.access.escalation_hops`, filled when an analysis finishes), the same hops parsed out
of the stored reach graph (a cold cache), and the whole reach graph as a networkx graph (what
the graphs read before, and what the path finder and the access pages still read).

With `--browser` it also serves the database with `manage.py runserver` and opens each graph
view in Debian's Chromium (Playwright): who can reach the busiest role, what a user can reach,
the paths between them, the trust boundary and the identity view of the role's account and the
organisation-wide access view. For each it reports the median time from navigation to the graph
drawn (budget 1.5 s), the time the script took to draw it and Cytoscape's first frame within
it, the bundles of parallel edges drawn, the opening zoom and the smallest
rendered label (legible: at least 7 px at a zoom of at least 0.5), with a screenshot under
test-artifacts/screenshots/graph/.

The database must hold an imported and analysed estate; for the 50-account one:
`python bench/run.py --sizes 50 --database-url postgres://postgres@127.0.0.1:5432/iamviz_bench_graph`.
Results are printed and written to bench-results/graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


def time_build(query: dict[str, str]) -> float:
    """Milliseconds to build the view of GET graph/data.json?<query> afresh: the form's
    parameters, then the builder without the per-run store (`kept_for_run`), with the cyclic
    garbage collector paused as the store builds it (`without_gc`)."""
    from django.http import QueryDict

    from identities.forms.graph import AccessGraphForm, IdentityGraphForm, PathForm
    from identities.graph.access import build_access_graph
    from identities.graph.cached import without_gc
    from identities.graph.identity import build_identity_graph
    from identities.graph.paths import find_paths

    params = QueryDict(mutable=True)
    params.update({key: value for key, value in query.items() if key != "view"})
    form: Any = {"identity": IdentityGraphForm, "access": AccessGraphForm}.get(
        query["view"], PathForm
    )(params)
    build: Any = {"identity": build_identity_graph, "access": build_access_graph}.get(
        query["view"], find_paths
    )
    build = getattr(build, "__wrapped__", build)
    started = time.perf_counter()
    without_gc(lambda: build(**form.params()))
    return (time.perf_counter() - started) * 1000


def time_requests(query: dict[str, str], repeat: int, built_repeat: int = 3) -> dict[str, Any]:
    """Median wall time of GET graph/data.json?<query> through the URL resolver and view, and
    the median time of building the view afresh (``built_repeat`` times)."""
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
    built = [time_build(query) for _ in range(built_repeat)]
    return {
        "query": query,
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 1),
        "built_ms": round(statistics.median(built), 1) if built else None,
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


# What the first draw of each view is measured on, and its budget (navigation -> drawn).
DRAW_BUDGET_MS = 1500
DRAW_TIMEOUT_MS = 90000
# A label is legible from this many rendered pixels; a view opens no smaller than this zoom.
LEGIBLE_PX = 7
OPENING_ZOOM = 0.5
# The drawn state of a view: its size, opening zoom and the rendered size of its node labels.
_DRAWN_STATE = """() => {
  const cy = window.iamvizGraph;
  const nodes = cy.nodes('[kind != "column"][kind != "box"]');
  const fonts = nodes.map(n => parseFloat(n.renderedStyle('font-size')));
  return {nodes: nodes.length, edges: cy.edges().length, bundles: cy.edges('.bundle').length,
          zoom: cy.zoom(), font_px: fonts.length ? Math.min(...fonts) : null};
}"""


def browser_views(targets: dict[str, str]) -> dict[str, str]:
    """One page per graph view of the graph pages: the questions of /graph/, the identity view
    of an account and the organisation-wide access view."""
    role, user, account = targets["role"], targets["user"], targets["account"]
    views = {
        "who can reach (the busiest role)": f"/graph/access/?focus={role}&dir=in",
        "what can reach (a user)": f"/graph/access/?focus={user}&dir=out",
        "paths (a user to the busiest role)": f"/graph/paths/?source={user}&target={role}",
        "trust boundary (the busiest role's account)": f"/graph/access/?account={account}",
        "identity view of an account": f"/graph/identity/?account={account}",
        "access view (organisation-wide)": "/graph/access/",
    }
    if not user:
        views = {name: path for name, path in views.items() if "user" not in path}
    return views


def browser_first_draw(database_url: str, path: str) -> dict[str, Any]:
    """Serve the database, open `path` in Chromium and time navigation -> drawn graph."""
    return browser_first_draws(database_url, {path: path})[path]


def browser_first_draws(
    database_url: str, paths: dict[str, str], repeat: int = 3
) -> dict[str, dict[str, Any]]:
    """Serve the database, open each named path in Chromium ``repeat`` times (a fresh page each
    time, after one warm-up) and report for each: the median time from navigation to the graph
    drawn (the page's request, its parse, the script and Cytoscape's first frame), the median
    time the script took from its start to the first frame, the opening zoom, the smallest
    rendered label and a screenshot."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    from identities.roles import VIEWER, grant_role

    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(username="iamviz-bench")
    user.is_staff = True
    user.set_password(password)
    user.save()
    # The graph pages need a role: without one each answered 403 and was never drawn.
    grant_role(user, VIEWER)
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
    shots = ROOT / "test-artifacts" / "screenshots" / "graph"
    shots.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
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
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            login = context.new_page()
            login.goto(f"{base}/login/")
            login.fill("#id_username", "iamviz-bench")
            login.fill("#id_password", password)
            login.click("button[type=submit]")
            login.wait_for_load_state()
            login.close()
            for name, path in paths.items():
                results[name] = _first_draw(context, f"{base}{path}", repeat, shots, name)
                results[name]["path"] = path
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results


_TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const canvas = document.getElementById('graph-canvas');
  const steps = window.iamvizGraphTimings;
  return {server: nav.responseStart - nav.requestStart,
          drawn_at: parseFloat(canvas.dataset.drawnAtMs), response_start: nav.responseStart,
          script: parseFloat(canvas.dataset.firstDrawMs),
          render: steps ? steps.frame - steps.viewport : null};
}"""


def _first_draw(context: Any, url: str, repeat: int, shots: Path, name: str) -> dict[str, Any]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ready: list[float] = []
    parts: dict[str, list[float]] = {"server": [], "browser": [], "script": [], "render": []}
    frames: list[float] = []
    errors: list[str] = []
    state: dict[str, Any] = {}
    shot = shots / ("bench-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".png")
    for attempt in range(repeat + 1):
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        started = time.perf_counter()
        try:
            response = page.goto(url, wait_until="commit", timeout=DRAW_TIMEOUT_MS)
            if response is None or response.status != 200:
                raise SystemExit(f"{url} answered {response.status if response else 'nothing'}")
            page.wait_for_selector("#graph-canvas[data-ready=true]", timeout=DRAW_TIMEOUT_MS)
        except PlaywrightTimeout:
            page.close()
            return {"timed_out": True, "timeout_ms": DRAW_TIMEOUT_MS, "page_errors": errors}
        elapsed = (time.perf_counter() - started) * 1000
        # The page answers a script within a frame or two once drawn: it is not frozen.
        probe = time.perf_counter()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
        frame_ms = (time.perf_counter() - probe) * 1000
        if attempt:  # the first visit warms the server's caches and the browser's
            ready.append(elapsed)
            frames.append(frame_ms)
            timings = page.evaluate(_TIMINGS)
            parts["server"].append(timings["server"])
            parts["browser"].append(timings["drawn_at"] - timings["response_start"])
            parts["script"].append(timings["script"])
            if timings["render"] is not None:
                parts["render"].append(timings["render"])
        if attempt == repeat:
            state = page.evaluate(_DRAWN_STATE)
            page.screenshot(path=str(shot))
        page.close()
    median = statistics.median(ready)
    browser_ms = statistics.median(parts["browser"])
    return {
        "timed_out": False,
        "navigation_to_drawn_ms": round(median),
        # Of which: the page's request until its first byte, then the browser's part (the
        # page's download and parse, the scripts and Cytoscape's first frame).
        "server_ms": round(statistics.median(parts["server"])),
        "browser_ms": round(browser_ms),
        "script_to_drawn_ms": round(statistics.median(parts["script"])),
        # Of the script's part: Cytoscape's first frame once the elements are in (styles,
        # label sizes, edge shapes and drawing).
        "first_frame_ms": round(statistics.median(parts["render"])) if parts["render"] else None,
        "next_frame_ms": round(statistics.median(frames), 1),
        "within_budget": median < DRAW_BUDGET_MS,
        "browser_within_budget": browser_ms < DRAW_BUDGET_MS,
        "legible": bool(state["zoom"] >= OPENING_ZOOM and (state["font_px"] or 0) >= LEGIBLE_PX),
        **state,
        "page_errors": errors,
        "screenshot": str(shot),
    }


def load_sample(count: int, only: str = "") -> dict[str, Any]:
    """The three views the load test asks for, built afresh for ``count`` of the roles
    bench/load.py picks (its seed): median and 95th percentile over the roles, in ms. With
    ``only``, just the views whose name contains it."""
    import random

    from identities.models import IamRole

    sys.path.insert(0, str(ROOT / "bench"))
    from load import SEED

    roles = list(IamRole.objects.order_by("pk").values_list("account__account_id", "name"))
    picked = random.Random(SEED).sample(roles, min(300, len(roles)))[:count]
    views = {
        "identity view around a role": lambda a, n: {"view": "identity", "focus": f"role:{a}:{n}"},
        "access view around a role": lambda a, n: {"view": "access", "focus": f"role:{a}:{n}"},
        "identity view of an account": lambda a, n: {"view": "identity", "account": a},
    }
    results = {}
    for name, query in views.items():
        if only not in name:
            continue
        times = sorted(time_build(query(account_id, role)) for account_id, role in picked)
        results[name] = {
            "roles": len(times),
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1),
        }
    return results


FIRST_READS = {
    "escalation hops, from the shared cache": "hops",
    "escalation hops, parsed from the stored graph": "hops-stored",
    "whole reach graph (networkx)": "reach",
}


def first_read(what: str) -> float:
    """Milliseconds this process takes to read ``what`` (a value of FIRST_READS) for the
    current run, its database connection opened first."""
    from identities.analysis.reach import EscalationHops
    from identities.models import AnalysisRun
    from identities.queries import access

    run = access.current_run()
    if run is None:
        raise SystemExit("no analysed run")
    started = time.perf_counter()
    if what == "hops":
        access.escalation_hops()
    elif what == "hops-stored":
        blob = AnalysisRun.objects.filter(pk=run.pk).values_list("graph", flat=True).first()
        EscalationHops.from_bytes(bytes(blob or b""))
    else:
        access.reach_graph()
    return (time.perf_counter() - started) * 1000


def first_reads(database_url: str, repeat: int = 3) -> dict[str, float]:
    """`first_read` of each of FIRST_READS in ``repeat`` fresh processes: the median, in ms."""
    from identities.queries.access import escalation_hops

    escalation_hops()  # in the shared cache, as an analysis leaves it
    found = {}
    for name, what in FIRST_READS.items():
        times = []
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, __file__, "--database-url", database_url, "--first-read", what],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            times.append(float(done.stdout.split()[-1]))
        found[name] = round(statistics.median(times), 1)
    return found


def write_results(name: str, results: dict[str, Any]) -> None:
    """Write a benchmark's results to bench-results/<name>.json."""
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=25, help="timed requests per endpoint")
    parser.add_argument(
        "--built-repeat", type=int, default=3, help="fresh builds timed per endpoint"
    )
    parser.add_argument(
        "--load-sample", type=int, default=0, help="roles of the load test to build views of"
    )
    parser.add_argument("--browser", action="store_true", help="also time the first draw")
    parser.add_argument(
        "--only", default="", help="time only the views whose name contains this text"
    )
    parser.add_argument(
        "--browser-only", action="store_true", help="time the first draw only, not the JSON"
    )
    parser.add_argument(
        "--first-reads", action="store_true", help="time a fresh process's first reads"
    )
    parser.add_argument("--first-read", default="", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.first_read:
        setup_django(options.database_url)
        print(round(first_read(options.first_read), 1))
        return
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
    cases = {name: query for name, query in cases.items() if options.only in name}
    if options.browser_only:
        options.browser, cases = True, {}
    results: dict[str, Any] = {"targets": targets, "budget_ms": BUDGET_MS, "endpoints": {}}
    print(
        f"{'endpoint':<48} {'median ms':>9} {'p90 ms':>7} {'built ms':>8} {'nodes':>6} "
        f"{'edges':>6}  folded"
    )
    for name, query in cases.items():
        row = time_requests(query, options.repeat, options.built_repeat)
        results["endpoints"][name] = row
        print(
            f"{name:<48} {row['median_ms']:>9} {row['p90_ms']:>7} {row['built_ms'] or '-':>8} "
            f"{row['nodes']:>6} {row['edges']:>6}  {', '.join(row['folded']) or '-'}"
        )
    if options.load_sample:
        results["load_sample"] = load_sample(options.load_sample, options.only)
        print(f"built afresh for {options.load_sample} roles of the load test (ms):")
        for name, row in results["load_sample"].items():
            print(
                f"  {name:<46} median {row['median_ms']:>7}  p95 {row['p95_ms']:>7}  "
                f"max {row['max_ms']:>7}"
            )
    if options.first_reads:
        results["first_reads"] = first_reads(options.database_url)
        print("a fresh process's first read of the current run (ms, median of 3 processes):")
        for name, ms in results["first_reads"].items():
            print(f"  {name:<46} {ms:>7}")
    for name in (
        "access 2-hop neighbourhood of the busiest role",
        "access view of one whole account",
    ):
        if name not in results["endpoints"]:
            continue
        verdict = "within" if results["endpoints"][name]["median_ms"] < BUDGET_MS else "OVER"
        print(f"  {name}: {verdict} the {BUDGET_MS} ms budget")
    if options.browser:
        draws = browser_first_draws(options.database_url, browser_views(targets))
        results["browser"] = draws
        print(
            f"Chromium first draw, median of 3 (budget {DRAW_BUDGET_MS} ms; labels >= "
            f"{LEGIBLE_PX} px at zoom >= {OPENING_ZOOM}):"
        )
        print(
            f"{'view':<44} {'drawn':>6} {'server':>6} {'browser':>7} {'script':>6} {'frame':>5} "
            f"{'nodes':>5} {'edges':>5} {'bndl':>4} {'zoom':>5} {'label px':>8}  (ms)"
        )
        for name, row in draws.items():
            if row["timed_out"]:
                print(f"{name:<44} not drawn within {row['timeout_ms']} ms")
                continue
            print(
                f"{name:<44} {row['navigation_to_drawn_ms']:>6} {row['server_ms']:>6} "
                f"{row['browser_ms']:>7} {row['script_to_drawn_ms']:>6} "
                f"{row['first_frame_ms'] or 0:>5} {row['nodes']:>5} {row['edges']:>5} "
                f"{row['bundles']:>4} {row['zoom']:>5.2f} {row['font_px'] or 0:>8.1f}  "
                f"{'' if row['within_budget'] else 'OVER '}{'' if row['legible'] else 'ILLEGIBLE '}"
                f"{'errors: ' + '; '.join(row['page_errors']) if row['page_errors'] else ''}"
            )
    write_results("graph", results)


if __name__ == "__main__":
    main()
