"""Benchmarks of the live sync: AWS calls per account, and an organisation against moto_server.

    python bench/sync.py [--roles 100,5000] [--accounts 20] [--workers 1,2]
                         [--database-url URL] [--redis-url URL]

1. Calls per account: one account with 100 and with 5,000 roles, collected in-process against
   moto with AWS's paging emulated (100 entities per GetAccountAuthorizationDetails page; moto
   answers everything in one page), counted by the collector's CallCounter.
2. An organisation of `--accounts` member accounts (20 users and 50 roles each) in moto_server
   on 127.0.0.1, synced by a real Celery worker with 1 and then 2 processes (prefork), through
   Redis and PostgreSQL (`iamviz_bench_sync`, recreated for each run). Timed from queueing
   `sync_organization` to the organisation run's end; then a second, no-change sync.

Results are printed and written to bench-results/sync.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import fresh_database  # noqa: E402 - after the repository is on sys.path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/iamviz_bench_sync"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"


def calls_per_account(role_counts: list[int]) -> list[dict]:
    """AWS calls of one account's collection, with AWS-like pages of 100 entities."""
    import boto3
    from moto import mock_aws

    from identities.aws import CallCounter, management_session
    from identities.collect import collect_member_account
    from tests.awsfake import MANAGEMENT_ID, REGION, TRUST_EC2, AuthorizationDetailsPager

    rows = []
    for roles in role_counts:
        with mock_aws():
            iam = boto3.client("iam", region_name=REGION)
            for number in range(roles):
                iam.create_role(
                    RoleName=f"role-{number}", AssumeRolePolicyDocument=json.dumps(TRUST_EC2)
                )
            for paged in (False, True):
                session = management_session(region_name=REGION)
                if paged:
                    source = boto3.Session(region_name=REGION).client("iam")
                    AuthorizationDetailsPager(source).attach(session)
                counter = CallCounter()
                started = time.perf_counter()
                entry = collect_member_account(
                    session,
                    account_id=MANAGEMENT_ID,
                    role_name_or_arn="unused",
                    external_id=None,
                    region=REGION,
                    counter=counter,
                )
                seconds = time.perf_counter() - started
                assert len(entry["authorization_details"]["RoleDetailList"]) == roles
                pages = counter.calls_by_operation["iam.GetAccountAuthorizationDetails"]
                rows.append(
                    {
                        "roles": roles,
                        "paging": "AWS (100 per page)" if paged else "moto (one page)",
                        "pages": pages,
                        "calls": counter.calls,
                        "calls_member_account": counter.calls + 1,  # + sts:AssumeRole
                        "target": 10 + pages,
                        "collect_s": round(seconds, 2),
                    }
                )
                print(json.dumps(rows[-1]))
    return rows


def organization_sync(
    accounts: int, workers: list[int], database_url: str, redis_url: str
) -> list[dict]:
    """Sync an organisation in moto_server with real workers of 1, 2, … processes."""
    from tests.awsfake import CLEARED_VARIABLES, fake_credentials, moto_server

    tmp = Path(tempfile.mkdtemp(prefix="iamviz-bench-sync-"))
    env = {key: value for key, value in os.environ.items() if key not in CLEARED_VARIABLES}
    env.update(fake_credentials(tmp))
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING")
    rows = []
    with moto_server() as url:
        env["AWS_ENDPOINT_URL"] = url
        os.environ.update(env)
        started = time.perf_counter()
        _build_org(accounts)
        print(
            f"moto_server organisation of {accounts} accounts built in "
            f"{time.perf_counter() - started:.1f}s"
        )
        for processes in workers:
            fresh_database(database_url)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
            worker = _start_worker(processes, env, tmp / f"worker-{processes}.log")
            try:
                first = _timed_sync(env)
                second = _timed_sync(env)
            finally:
                worker.terminate()
                worker.wait(timeout=60)
            row = {
                "accounts": accounts + 1,
                "worker_processes": processes,
                "first_sync_s": first["seconds"],
                "first_sync_with_analysis_s": first["idle"],
                "resync_s": second["seconds"],
                "resync_with_analysis_s": second["idle"],
                "status": first["status"],
                "aws_calls": first["aws_calls"],
                "resync_aws_calls": second["aws_calls"],
                "resync_changes": second["changes"],
            }
            rows.append(row)
            print(json.dumps(row))
    return rows


def _build_org(accounts: int) -> None:
    from identities.aws import management_session
    from tests.awsfake import REGION, build_org

    members = {f"member-{n:02d}": {"users": 20, "roles": 50} for n in range(accounts)}
    build_org(management_session(region_name=REGION), members)


def _start_worker(processes: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from tests.awsfake import start_celery_worker

    options = ["--pool", "prefork", "--concurrency", str(processes)]
    options += ["-n", f"bench-{os.getpid()}-{processes}@%h"]
    try:
        return start_celery_worker(options, env=env, log=log)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def _timed_sync(env: dict[str, str]) -> dict:
    """Queue sync_organization through the broker and wait for the organisation run to end."""
    code = (
        "import json, time\n"
        "from identities import tasks\n"
        "from identities.models import SyncRun\n"
        "started = time.perf_counter()\n"
        "run_id = tasks.sync_organization.apply_async(kwargs={}).get(timeout=600)['run_id']\n"
        "while SyncRun.objects.get(pk=run_id).status in ('pending', 'running'):\n"
        "    time.sleep(0.1)\n"
        "seconds = time.perf_counter() - started\n"
        "from iamviz.celery import app\n"
        "inspect = app.control.inspect(timeout=1)\n"
        "while any((inspect.active() or {}).values()) or any((inspect.reserved() or {}).values()):\n"
        "    time.sleep(0.2)\n"
        "idle = time.perf_counter() - started\n"
        "run = SyncRun.objects.get(pk=run_id)\n"
        "changes = sum(sum(a.values()) for a in (run.change_counts or {}).values())\n"
        "print(json.dumps({'seconds': round(seconds, 1), 'idle': round(idle, 1),"
        " 'status': run.status, 'aws_calls': run.aws_calls, 'changes': changes}))\n"
    )
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="100,5000", help="roles per account, comma-separated")
    parser.add_argument("--accounts", type=int, default=20, help="member accounts")
    parser.add_argument("--workers", default="1,2", help="worker processes, comma-separated")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-organization", action="store_true")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamviz.settings")
    results: dict[str, list[dict]] = {}
    print(f"{os.cpu_count()} cores")
    if not options.skip_calls:
        results["calls_per_account"] = calls_per_account(
            [int(value) for value in options.roles.split(",")]
        )
    if not options.skip_organization:
        results["organization_sync"] = organization_sync(
            options.accounts,
            [int(value) for value in options.workers.split(",")],
            options.database_url,
            options.redis_url,
        )
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "sync.json").write_text(json.dumps(results, indent=2) + "\n")

    print()
    for row in results.get("calls_per_account", []):
        print(
            f"{row['roles']:>5} roles, {row['paging']:<19}: {row['pages']:>3} pages, "
            f"{row['calls']:>3} calls ({row['calls_member_account']} for a member account; "
            f"target <= {row['target']}), collected in {row['collect_s']} s"
        )
    for row in results.get("organization_sync", []):
        print(
            f"{row['accounts']} accounts, {row['worker_processes']} worker process(es): "
            f"first sync {row['first_sync_s']} s ({row['first_sync_with_analysis_s']} s with "
            f"the analysis), no-change re-sync {row['resync_s']} s "
            f"({row['resync_with_analysis_s']} s), "
            f"{row['aws_calls']} AWS calls, {row['status']}"
        )


if __name__ == "__main__":
    main()
