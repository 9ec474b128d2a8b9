"""Benchmark of every page of the site on an imported and analysed estate.

    python bench/pages.py [--database-url URL] [--repeat 3] [--only NAME…] [--skip NAME…] [--cold]

Times, through Django's test client (middleware, view, template), every URL pattern of
`identities/urls.py` and `identities/api/urls.py` with representative parameters: the lists
and their CSV exports, the detail pages of the busiest role, user, group, policy and account,
their lazy sections and htmx fragments, the access pages and the JSON API. For each page: the
first request in this process, the median of ``--repeat`` requests after it, and the size of
the answer (for a CSV download also when its first byte, the header, and its first rows came).
With ``--cold`` each page's first request is made in a fresh process (as after a
restart of the web server, once the process has answered one small page), one page at a time.

The database must hold an imported and analysed estate, for instance
`manage.py generate_org --accounts 10 --users 300 --roles 600 --seed 1 -o org.json`, then
`import_authz org.json`. Results are printed and written to bench-results/pages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 500
HTMX = {"HTTP_HX_REQUEST": "true"}
STREAM_LIMIT = 8 * 1024 * 1024
# An action no warmer asks about: its "Who can…?" question is answered in the background (the
# page polls), timed until the answer is shown (``answered_s``).
UNANSWERED_ACTION = "ec2:RunInstances"
WORKING = b"who-can-pending"


def urls() -> dict[str, tuple[str, dict[str, str]]]:
    """Name → (URL, extra request headers) of every page type, for the busiest principals."""
    from django.db.models import Count
    from django.urls import reverse

    from identities.models import (
        AccessEdge,
        Account,
        AnalysisRun,
        IamGroup,
        IamRole,
        IamUser,
        ManagedPolicy,
        SyncRun,
        TrackedFinding,
    )
    from identities.queries import access, summaries
    from identities.queries.findings import administrators_by_account

    def r(name: str, *args: Any) -> str:
        return reverse(f"identities:{name}", args=args)

    targets = AccessEdge.objects.filter(outcome__in=access.POSSIBLE).values_list(
        "target_id", flat=True
    )
    counts = dict(
        AccessEdge.objects.filter(outcome__in=access.POSSIBLE)
        .values_list("target_id")
        .annotate(n=Count("id"))
        .values_list("target_id", "n")
    )
    role = max(
        IamRole.objects.select_related("account").filter(pk__in=set(targets)),
        key=lambda r: (counts.get(r.pk, 0), r.arn),
    )
    role_args = (role.account.account_id, role.name)
    bunch = summaries.direct_bunches(access.access_into(role))[0]
    user = (
        IamUser.objects.select_related("account")
        .annotate(n=Count("groups"))
        .order_by("-n", "arn")
        .first()
    )
    assert user is not None
    user_args = (user.account.account_id, user.name)
    group = (
        IamGroup.objects.select_related("account")
        .annotate(n=Count("members"))
        .order_by("-n", "arn")
        .first()
    )
    assert group is not None
    policy = (
        ManagedPolicy.objects.select_related("account")
        .annotate(n=Count("attachments"))
        .order_by("-n", "arn")
        .first()
    )
    assert policy is not None
    account = max(administrators_by_account(), key=lambda row: row.administrators).account_id
    matrix = access.account_matrix()
    source, target = max(matrix.cells, key=lambda cell: (cell[0] != cell[1], matrix.cells[cell]))
    admins = r("administrators")
    run = SyncRun.objects.order_by("-pk").first()
    analysis = AnalysisRun.objects.order_by("-pk").first()
    finding = TrackedFinding.objects.order_by("pk").first()
    edge = AccessEdge.objects.filter(target=role).order_by("pk").first()
    assert edge is not None
    who_can = {"action": "iam:PassRole", "resource": "*"}
    pages: dict[str, tuple[str, dict[str, str]]] = {
        "dashboard": (r("dashboard"), {}),
        "users": (r("user-list"), {}),
        "users, CSV": (r("user-list") + "?format=csv", {}),
        "groups": (r("group-list"), {}),
        "groups, CSV": (r("group-list") + "?format=csv", {}),
        "roles": (r("role-list"), {}),
        "roles, CSV": (r("role-list") + "?format=csv", {}),
        "policies": (r("policy-list"), {}),
        "policies, CSV": (r("policy-list") + "?format=csv", {}),
        "account": (r("account-detail", account), {}),
        "user": (r("user-detail", *user_args), {}),
        "user reach": (r("user-reach", *user_args), {}),
        "user reach list": (r("user-reach-list", *user_args), HTMX),
        "user escalations": (r("user-escalations", *user_args), {}),
        "group": (r("group-detail", group.account.account_id, group.name), {}),
        "role": (r("role-detail", *role_args), {}),
        "role who can assume": (r("role-access", *role_args), {}),
        "role summary row opened": (
            r("role-access-list", *role_args) + f"?part=direct&bunch={bunch.key}",
            HTMX,
        ),
        "role who can assume, CSV": (r("role-access", *role_args) + "?format=csv", {}),
        "role reach": (r("role-reach", *role_args), {}),
        "role reach list": (r("role-reach-list", *role_args), HTMX),
        "role escalations": (r("role-escalations", *role_args), {}),
        "policy": (r("policy-detail", policy.account.account_id, policy.arn), {}),
        "search": (r("search") + "?q=admin", HTMX),
        "runs": (r("syncrun-list"), {}),
        "sync": (r("sync"), {}),
        "sync runs": (r("sync-runs"), HTMX),
        "sync settings": (r("sync-settings"), {}),
        "administrators": (admins, {}),
        "administrators of one account": (f"{admins}?account={account}&list=admins", HTMX),
        "who can become one, page 2": (f"{admins}?account={account}&list=paths&page=2", HTMX),
        "account matrix": (r("account-matrix"), {}),
        "account matrix cell": (
            r("account-matrix") + "?" + urlencode({"from": source, "to": target}),
            {**HTMX, "HTTP_HX_TARGET": "matrix-cell"},
        ),
        "account matrix column": (
            r("account-matrix") + f"?to={target}",
            {**HTMX, "HTTP_HX_TARGET": "matrix-cell"},
        ),
        "findings": (r("findings"), {}),
        "explain": (
            r("explain") + "?" + urlencode({"source": edge.source, "target": role.arn}),
            {},
        ),
        "escalations": (r("escalations"), {}),
        "escalations by principal": (r("escalations") + "?view=principal", {}),
        "escalations, CSV": (r("escalations") + "?format=csv", {}),
        "exports": (r("export-list"), {}),
        "escalation methods": (r("escalation-catalogue"), {}),
        "who can": (r("who-can") + "?" + urlencode(who_can), {}),
        "who can, account opened": (
            r("who-can") + "?" + urlencode({**who_can, "account": account}),
            HTMX,
        ),
        "who can, list searched": (
            r("who-can") + "?" + urlencode({**who_can, "account": account, "q": "role/"}),
            {**HTMX, "HTTP_HX_TARGET": f"rows-account-{account}"},
        ),
        "who can, CSV": (r("who-can") + "?" + urlencode({**who_can, "format": "csv"}), {}),
        "who can, not yet answered": (
            r("who-can") + "?" + urlencode({"action": UNANSWERED_ACTION, "resource": "*"}),
            {},
        ),
        "who can, one role": (
            r("who-can") + "?" + urlencode({"action": "iam:PassRole", "resource": role.arn}),
            {},
        ),
        "sensitive roles": (r("sensitive-targets"), {}),
        "choke points": (r("choke-points"), {}),
        "changes": (r("changes"), {}),
        "finding triage": (r("finding-triage"), {}),
        "suppression rules": (r("suppression-rules"), {}),
        "notifications": (r("notification-settings"), {}),
        "audit log": (r("audit-log"), {}),
        "audit log, CSV": (r("audit-log") + "?format=csv", {}),
        "graph start": (r("graph-start"), {}),
        "graph page": (r("graph-access") + "?node=" + quote(f"role:{role.arn}", safe=""), {}),
        "folded node members": (
            r("graph-folded") + f"?id=agg%3Aroles%3A{account}&of=role&account={account}",
            HTMX,
        ),
        "what if": (r("what-if"), {}),
        "API tokens": (r("api-tokens"), {}),
        "API access edges": (r("api-access-edges"), {}),
        "API access edges, page 50": (r("api-access-edges") + "?page=50", {}),
        "API access edges of one account": (r("api-access-edges") + f"?account={account}", {}),
        "API transitive edges": (r("api-access-edges") + "?transitive=true", {}),
        "API transitive edges of one account": (
            r("api-access-edges") + f"?transitive=true&account={account}",
            {},
        ),
        "API transitive edges of one source": (
            r("api-access-edges") + "?" + urlencode({"transitive": "true", "source": user.arn}),
            {},
        ),
        "API transitive edges of one source, 1000 rows, page 2": (
            r("api-access-edges")
            + "?"
            + urlencode({"transitive": "true", "source": user.arn, "page_size": 1000, "page": 2}),
            {},
        ),
        "API escalations": (r("api-escalations"), {}),
        "API access changes": (r("api-access-changes"), {}),
        "API findings": (r("api-findings"), {}),
        "API who can": (
            r("api-who-can") + "?" + urlencode({"action": "iam:PassRole", "resource": "*"}),
            {},
        ),
    }
    if run is not None:
        pages["run"] = (r("syncrun-detail", run.pk), {})
    if finding is not None:
        pages["finding"] = (r("finding-detail", finding.key), {})
    if analysis is not None:
        pages["changes of the last run"] = (r("changes") + f"?to={analysis.pk}", {})
    accounts = Account.objects.count()
    assert accounts, "the database holds no estate"
    return pages


def _size(response: Any, started: float) -> tuple[int, float, float]:
    """The answer's size, when its first byte came and when its second part came (ms after
    ``started``: a CSV download sends its header alone, then its rows). A streamed one is
    read up to `STREAM_LIMIT` bytes: a download of millions of rows is timed to its first
    `STREAM_LIMIT` bytes, shown as ``bytes`` ≥ it."""
    if not response.streaming:
        took = (time.perf_counter() - started) * 1000
        return len(response.content), took, took
    size, first, rows = 0, 0.0, 0.0
    for part in response.streaming_content:
        now = (time.perf_counter() - started) * 1000
        rows = rows or (first and now)
        first = first or now
        size += len(part)
        if size >= STREAM_LIMIT:
            response.close()
            break
    return size, first, rows or first


def time_page(client: Any, url: str, headers: dict[str, str], repeat: int) -> dict[str, Any]:
    """The first request's time, the median of ``repeat`` more, and the answer's size."""
    times, firsts, first_rows, size, status = [], [], [], 0, 0
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.get(url, **headers)
        size, first_byte, first_row = _size(response, started)
        times.append((time.perf_counter() - started) * 1000)
        firsts.append(first_byte)
        first_rows.append(first_row)
        status = response.status_code
    rest = times[1:] or times
    return {
        "url": url,
        "status": status,
        "first_ms": round(times[0], 1),
        "median_ms": round(statistics.median(rest), 1),
        "first_byte_median_ms": round(statistics.median(firsts[1:] or firsts), 1),
        "first_rows_ms": round(first_rows[0], 1),
        "first_rows_median_ms": round(statistics.median(first_rows[1:] or first_rows), 1),
        "bytes": size,
    }


def _setup(database_url: str) -> Any:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamviz.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="iamviz-bench")
    user.is_staff = user.is_superuser = True  # every role (identities.roles)
    user.save()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def time_to_answer(client: Any, url: str, started: float, limit: float = 300) -> float:
    """Seconds from ``started`` (`time.perf_counter`) until the page at ``url``, asked again
    as its htmx poll does (every 0.2 s here), no longer says that it is working on the
    answer."""
    headers = {**HTMX, "HTTP_HX_TARGET": "who-can"}
    while WORKING in client.get(url, **headers).content:
        if time.perf_counter() - started > limit:
            break
        time.sleep(0.2)
    return round(time.perf_counter() - started, 2)


def _cold(name: str, url: str, headers: dict[str, str], database_url: str) -> dict[str, Any]:
    """One page's first request in a fresh process, after one request for a small page (the
    process's own start: URL conf, templates, middleware, is not the page's)."""
    code = (
        "import json, sys; sys.path.insert(0, 'bench'); import pages;"
        f"client = pages._setup({database_url!r});"
        "client.get('/runs/');"
        f"print(json.dumps(pages.time_page(client, {url!r}, {headers!r}, 0)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[], help="names (substrings) to time")
    parser.add_argument("--skip", nargs="*", default=[], help="names (substrings) not to time")
    parser.add_argument("--cold", action="store_true", help="each first request in a new process")
    options = parser.parse_args()
    client = _setup(options.database_url)
    pages = {
        name: page
        for name, page in urls().items()
        if (not options.only or any(part in name for part in options.only))
        and not any(part in name for part in options.skip)
    }
    results: dict[str, Any] = {}
    for name, (url, headers) in pages.items():
        asked = time.perf_counter()
        if options.cold:
            row = _cold(name, url, headers, options.database_url)
            row["median_ms"] = time_page(client, url, headers, options.repeat)["median_ms"]
        else:
            row = time_page(client, url, headers, options.repeat)
        if "not yet answered" in name and not options.cold:  # a cold process ends its thread
            row["answered_s"] = time_to_answer(client, url, asked)
        results[name] = row
        worst = max(row["first_ms"], row["median_ms"])
        verdict = "within" if worst < BUDGET_MS and row["status"] < 400 else "OVER"
        print(
            f"{name:38} first {row['first_ms']:8.1f} ms  median {row['median_ms']:8.1f} ms "
            f"{row['bytes'] / 1024:8.0f} KB  {row['status']}  {verdict}"
            + (
                f"  (first byte {row['first_byte_median_ms']} ms, first rows"
                f" {row['first_rows_ms']} / {row['first_rows_median_ms']} ms)"
                if "CSV" in name
                else ""
            )
            + (f"  (answered after {row['answered_s']} s)" if "answered_s" in row else ""),
            flush=True,
        )
    over = [
        name for name, row in results.items() if max(row["first_ms"], row["median_ms"]) >= BUDGET_MS
    ]
    print(f"over {BUDGET_MS} ms: {', '.join(over) or 'none'}")
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    name = "pages-cold.json" if options.cold else "pages.json"
    (out / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
