"""Benchmarks: import (and re-import, and analysis) of generated organisations.

    python bench/run.py [--sizes 1,10,50] [--users 500] [--roles 1000] [--database-url URL]

Each step runs as its own `manage.py` process against a fresh database (PostgreSQL by default,
`iamviz_bench` on 127.0.0.1), timed with a wall clock; peak memory is the process's maximum
resident set size. Results are printed and written to bench-results/import.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/iamviz_bench"


def run_step(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run one manage.py command; return (seconds, peak MiB, output)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def fresh_database(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme.startswith("postgres"):
        import psycopg

        name = parsed.path.lstrip("/")
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    elif parsed.scheme == "sqlite":
        path = Path(parsed.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="account counts, comma-separated")
    parser.add_argument("--users", type=int, default=500, help="users per account")
    parser.add_argument("--roles", type=int, default=1000, help="roles per account")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--no-analyse", action="store_true", help="time the import only")
    options = parser.parse_args()

    work = ROOT / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    results = []
    print(f"database: {urlparse(options.database_url).scheme}; {os.cpu_count()} cores")
    for accounts in (int(size) for size in options.sizes.split(",")):
        bundle = work / f"org-{accounts}x{options.users}u{options.roles}r-s{options.seed}.json"
        if not bundle.exists():
            seconds, _, _ = run_step(
                [
                    "generate_org",
                    "--accounts",
                    str(accounts),
                    "--users",
                    str(options.users),
                    "--roles",
                    str(options.roles),
                    "--seed",
                    str(options.seed),
                    "-o",
                    str(bundle),
                ],
                env,
            )
            print(f"generated {bundle.name} in {seconds:.1f}s")
        fresh_database(options.database_url)
        run_step(["migrate", "--no-input", "-v", "0"], env)
        row = {
            "accounts": accounts,
            "users": accounts * options.users,
            "roles": accounts * options.roles,
            "bundle_mib": round(bundle.stat().st_size / 2**20, 1),
        }
        for step in ("import", "reimport"):
            seconds, peak, _ = run_step(["import_authz", str(bundle), "--no-analyse"], env)
            row[f"{step}_s"], row[f"{step}_peak_mib"] = round(seconds, 1), round(peak)
        if not options.no_analyse and _has_command("analyse"):
            # The analysis alone: warming the shared cache afterwards is timed by `analyse`.
            seconds, peak, output = run_step(["analyse", "--no-warm"], env)
            row["analyse_s"], row["analyse_peak_mib"] = round(seconds, 1), round(peak)
            row["analyse_output"] = output.strip().splitlines()[-1:]
        results.append(row)
        print(json.dumps(row))
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "import.json").write_text(json.dumps(results, indent=2))
    print()
    print(
        f"{'accounts':>8} {'users':>7} {'roles':>7} {'MiB':>6} {'import s':>9} {'peak MiB':>9} "
        f"{'reimport s':>10} {'peak MiB':>9} {'analyse s':>9} {'peak MiB':>9}"
    )
    for row in results:
        print(
            f"{row['accounts']:>8} {row['users']:>7} {row['roles']:>7} {row['bundle_mib']:>6} "
            f"{row['import_s']:>9} {row['import_peak_mib']:>9} {row['reimport_s']:>10} "
            f"{row['reimport_peak_mib']:>9} {row.get('analyse_s', '-'):>9} "
            f"{row.get('analyse_peak_mib', '-'):>9}"
        )


def _has_command(name: str) -> bool:
    return (ROOT / "identities" / "management" / "commands" / f"{name}.py").exists()


if __name__ == "__main__":
    main()
