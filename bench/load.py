"""Load test: gunicorn + PostgreSQL holding a generated estate, browsed by concurrent viewers.

    python bench/load.py [--database-url URL] [--redis-url URL] [--users 20] [--duration 120]
                         [--workers 2] [--threads 1]

Prepares the database once (the 50-account organisation of `bench/run.py`: generate_org
--accounts 50 --users 500 --roles 1000 --seed 1, import_authz, analyse; skipped when the
database already holds that analysed estate), makes `--users` viewer logins and picks roles to
visit, serves the database with gunicorn (`docker/entrypoint.sh web`, `--workers` sync
workers, or gthread workers of `--threads` threads each), then runs locust headless
(bench/load_locustfile.py): every user logs in and, once all have, for `--duration` seconds,
every one to three seconds, opens a list (users, roles, findings, administrators, escalations,
changes), a role's page or access tab, or the graph JSON (identity or access view around a
role, identity view of an account). Prints and writes bench-results/load.json: per endpoint
group the request count, 5xx count, failures, p50/p95/max in ms (exact, from every response
of the browsing; the logins apart, as the group "login"),
and under ``server`` the same groups' times inside gunicorn (its access log's request time: the
handler's own time, without the wait for a free worker that the viewers' times include).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import fresh_database, run_step  # noqa: E402 - needs the repository on the path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/benchload"
ACCOUNTS, USERS_PER_ACCOUNT, ROLES_PER_ACCOUNT, SEED = 50, 500, 1000, 1
BIN = Path(sys.executable).parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
LOCUSTFILE = ROOT / "bench" / "load_locustfile.py"
BUDGET_MS = 300
# The most the viewers' logins may take before the browsing starts.
LOGIN_ALLOWANCE_S = 300
# Aggregates over the groups of bench/load_locustfile.py, by name prefix.
CLASSES = {"lists": "list: ", "role pages": "role: ", "graph json": "graph json: "}
# gunicorn's access log line: the request, its status and its time in milliseconds.
ACCESS_FORMAT = '"%(r)s" %(s)s %(M)s'
ACCESS_LINE = re.compile(r'"[A-Z]+ (\S+) HTTP/[\d.]+" (\d+) (\d+)$')
# The lists of bench/load_locustfile.py by path.
LIST_PATHS = {
    "/users/": "list: users",
    "/roles/": "list: roles",
    "/access/findings/": "list: findings",
    "/access/administrators/": "list: administrators",
    "/access/escalations/": "list: escalations",
    "/review/changes/": "list: changes",
}


def estate_is_ready(database_url: str) -> bool:
    """True when the database holds the analysed estate of ACCOUNTS accounts."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            accounts = conn.execute("SELECT count(*) FROM identities_account").fetchone()
            analysed = conn.execute(
                "SELECT count(*) FROM identities_analysisrun WHERE status = 'succeeded'"
            ).fetchone()
    except psycopg.Error:
        return False
    return bool(accounts and analysed and accounts[0] >= ACCOUNTS and analysed[0])


def prepare(database_url: str, env: dict[str, str]) -> None:
    """The estate in the database (generated, imported and analysed unless already there)."""
    if estate_is_ready(database_url):
        run_step(["migrate", "--no-input", "-v", "0"], env)
        print("database holds the analysed estate already")
        return
    work = ROOT / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    name = f"org-{ACCOUNTS}x{USERS_PER_ACCOUNT}u{ROLES_PER_ACCOUNT}r-s{SEED}.json"
    bundle = work / name
    if not bundle.exists():
        run_step(
            [
                *("generate_org", "--accounts", str(ACCOUNTS), "--users", str(USERS_PER_ACCOUNT)),
                *("--roles", str(ROLES_PER_ACCOUNT), "--seed", str(SEED), "-o", str(bundle)),
            ],
            env,
        )
    fresh_database(database_url)
    run_step(["migrate", "--no-input", "-v", "0"], env)
    for step in (["import_authz", str(bundle), "--no-analyse"], ["analyse"]):
        seconds, _, _ = run_step(step, env)
        print(f"{step[0]}: {seconds:.0f}s")


def make_targets(database_url: str, users: int, roles: int) -> dict[str, Any]:
    """`users` viewer logins (fresh passwords) and `roles` roles to visit, picked by SEED."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamviz.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from identities.models import IamRole
    from identities.roles import VIEWER, grant_role

    logins = []
    for number in range(1, users + 1):
        user, _ = get_user_model().objects.get_or_create(username=f"load-viewer-{number:02}")
        password = secrets.token_urlsafe(16)
        user.set_password(password)
        user.save()
        grant_role(user, VIEWER)
        logins.append({"username": user.username, "password": password})
    all_roles = list(IamRole.objects.order_by("pk").values_list("account__account_id", "name"))
    picked = random.Random(SEED).sample(all_roles, min(roles, len(all_roles)))
    return {
        "logins": logins,
        "roles": [{"account_id": account_id, "name": name} for account_id, name in picked],
    }


def serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """gunicorn through the image's entrypoint; returns once its health check answers."""
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "web"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while subprocess.run(["sh", str(ENTRYPOINT), "healthcheck"], env=env).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    return process


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarise(timings: list[float], statuses: dict[str, int]) -> dict[str, Any]:
    codes = {int(code): n for code, n in statuses.items()}
    return {
        "count": len(timings),
        "5xx": sum(n for code, n in codes.items() if code >= 500),
        # No status: the connection dropped (gunicorn killed a worker past its timeout).
        "dropped": codes.get(0, 0),
        "failures": sum(n for code, n in codes.items() if code >= 400 or code == 0),
        "p50_ms": round(percentile(timings, 0.50), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "statuses": dict(sorted(codes.items())),
    }


def group_of(path: str) -> str:
    """The group of bench/load_locustfile.py a request path belongs to ("other" for the rest:
    the dashboard after a login, the health check)."""
    parsed = urlparse(path)
    if parsed.path in LIST_PATHS:
        return LIST_PATHS[parsed.path]
    if parsed.path == "/login/":
        return "login"
    if parsed.path.startswith("/accounts/") and "/roles/" in parsed.path:
        return "role: access" if parsed.path.endswith("/access/") else "role: page"
    if parsed.path == "/graph/data.json":
        query = parse_qs(parsed.query)
        if "account" in query:
            return "graph json: account"
        return f"graph json: {query.get('view', ['identity'])[0]}"
    return "other"


def server_times(log: Path) -> dict[str, list[float]]:
    """Each group's request times in ms as gunicorn logged them (`ACCESS_FORMAT`)."""
    times: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        found = ACCESS_LINE.search(line)
        if found:
            times.setdefault(group_of(found.group(1)), []).append(float(found.group(3)))
    return times


def server_results(times: dict[str, list[float]]) -> dict[str, Any]:
    """p50/p95/max of each group's server times, and of each class of groups."""
    groups = {name: _times_summary(values) for name, values in sorted(times.items())}
    classes = {
        label: _times_summary([v for name in times if name.startswith(prefix) for v in times[name]])
        for label, prefix in CLASSES.items()
        if any(name.startswith(prefix) for name in times)
    }
    return {"groups": groups, "classes": classes}


def _times_summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "max_ms": round(max(values), 1),
    }


def results_of(raw: dict[str, Any]) -> dict[str, Any]:
    """Per group and per class of groups (lists, role pages, graph json), logins apart."""
    timings: dict[str, list[float]] = raw["timings"]
    statuses: dict[str, dict[str, int]] = raw["statuses"]
    groups = {name: summarise(timings[name], statuses[name]) for name in sorted(timings)}
    classes = {}
    for label, prefix in CLASSES.items():
        names = [name for name in timings if name.startswith(prefix)]
        if names:
            merged_statuses: dict[str, int] = {}
            for name in names:
                for code, n in statuses[name].items():
                    merged_statuses[code] = merged_statuses.get(code, 0) + n
            classes[label] = summarise(
                [value for name in names for value in timings[name]], merged_statuses
            )
    return {"groups": groups, "classes": classes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DB)
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_LOAD_REDIS_URL", ""),
        help="the shared cache in this Redis database (default: files under var/bench/load)",
    )
    parser.add_argument("--users", type=int, default=20, help="concurrent viewers")
    parser.add_argument("--duration", type=int, default=120, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (more than 1: gunicorn's gthread workers)",
    )
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--roles", type=int, default=300, help="roles the users pick from")
    parser.add_argument(
        "--skip",
        default="",
        help='groups left out, comma-separated (e.g. "list: escalations,list: findings")',
    )
    options = parser.parse_args()
    if not urlparse(options.database_url).scheme.startswith("postgres"):
        raise SystemExit("The load test runs against PostgreSQL: pass --database-url postgres://…")

    work = ROOT / "var" / "bench" / "load"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": options.database_url,
        "LOG_LEVEL": "WARNING",
        "IAMVIZ_DATA_DIR": str(work),
        "STATIC_ROOT": str(ROOT / "staticfiles"),
    }
    env.pop("REDIS_URL", None)
    if options.redis_url:  # the shared cache in Redis, as in production; else files under var/
        env["REDIS_URL"] = options.redis_url
    prepare(options.database_url, env)
    # What the worker does when an analysis finishes: the run's shared results, computed once.
    seconds, _, _ = run_step(
        ["shell", "-c", "from identities.queries.shared_cache import warm_run; warm_run()"], env
    )
    print(f"shared cache of the run warmed: {seconds:.0f}s")
    targets = make_targets(options.database_url, options.users, options.roles)
    (work / "targets.json").write_text(json.dumps(targets))

    port = _free_port()
    web_env = {
        **env,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BIND": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(options.workers),
        # gunicorn reads extra command-line arguments from this variable.
        "GUNICORN_CMD_ARGS": " ".join(
            [
                os.environ.get("GUNICORN_CMD_ARGS", ""),
                f"--threads {options.threads}",
                f"--access-logformat '{ACCESS_FORMAT}'",
            ]
        ).strip(),
    }
    load_before = os.getloadavg()
    server = serve(web_env, work / "gunicorn.log")
    timings_file = work / "timings.json"
    try:
        subprocess.run(
            [
                str(BIN / "locust"),
                *("-f", str(LOCUSTFILE), "--headless", "--only-summary"),
                *("-u", str(options.users), "-r", str(options.spawn_rate)),
                # The browsing window starts once every viewer has logged in and ends the
                # run (bench/load_locustfile.py); -t only bounds a run whose logins hang.
                *("-t", f"{options.duration + LOGIN_ALLOWANCE_S}s"),
                *("--host", f"http://127.0.0.1:{port}"),
                *("--stop-timeout", "10", "--loglevel", "WARNING"),
            ],
            env={
                **env,
                "LOAD_TARGETS": str(work / "targets.json"),
                "LOAD_TIMINGS": str(timings_file),
                "LOAD_SKIP": options.skip,
                "LOAD_USERS": str(options.users),
                "LOAD_DURATION": str(options.duration),
            },
            check=False,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    load_after = os.getloadavg()

    raw = json.loads(timings_file.read_text())
    window = raw.get("window", {})
    results = {
        "config": {
            "accounts": ACCOUNTS,
            "users_per_account": USERS_PER_ACCOUNT,
            "roles_per_account": ROLES_PER_ACCOUNT,
            "concurrent_users": options.users,
            "duration_s": options.duration,
            "browsing_s": round(window["to"] - window["from"], 1) if window else None,
            "gunicorn_workers": options.workers,
            "gunicorn_threads": options.threads,
            "skipped": options.skip,
            "cores": os.cpu_count(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in load_after],
        },
        **results_of(raw),
        "server": server_results(server_times(work / "gunicorn.log")),
    }
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\n{'group':<26} {'count':>6} {'5xx':>4} {'drop':>5} {'fail':>5} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    rows = [*results["groups"].items(), *(("= " + k, v) for k, v in results["classes"].items())]
    for name, row in rows:
        flag = "  over budget" if row["p95_ms"] > BUDGET_MS and name != "login" else ""
        print(
            f"{name:<26} {row['count']:>6} {row['5xx']:>4} {row['dropped']:>5} {row['failures']:>5} "
            f"{row['p50_ms']:>7} {row['p95_ms']:>7} {row['max_ms']:>7}{flag}"
        )
    print(
        f"\ninside gunicorn:\n{'group':<26} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    server = results["server"]
    for name, row in [
        *server["groups"].items(),
        *(("= " + k, v) for k, v in server["classes"].items()),
    ]:
        print(
            f"{name:<26} {row['count']:>6} {row['p50_ms']:>7} {row['p95_ms']:>7} {row['max_ms']:>7}"
        )
    print(f"\nwritten to bench-results/load.json (config: {results['config']})")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
