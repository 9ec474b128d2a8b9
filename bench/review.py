"""Benchmark of the daily review: the access history of two analyses of a generated
organisation where one account changed, and the Changes page that reads it.

    python bench/review.py [--accounts 50] [--users 500] [--roles 1000] [--database-url URL]
    make bench-review REVIEW_ARGS="--accounts 10"   (also the second half of `make bench`)

Against PostgreSQL (`iamviz_bench_review` on 127.0.0.1, recreated): import and analyse the
organisation, change one account (five roles trust an outside account, a user joins a group,
a user loses an inline policy), import and analyse again. Reports the analysis' `history`
stage (compare with the previous state, store the differences, move findings along), the
read of the differences (`changes_between`) and the Changes page through Django's test client
(median of 5), each with its target (history under 5 s and the page under 300 ms for 50
accounts). Results are printed and written to bench-results/review.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import fresh_database, run_step  # noqa: E402 - after the repository is on sys.path

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/iamviz_bench_review"
OUTSIDE = "arn:aws:iam::999999999999:root"


def change_one_account(bundle: dict[str, Any]) -> dict[str, Any]:
    """Five roles of the first account trust an outside account; a user joins another group;
    a user loses its inline policies."""
    details = bundle["accounts"][0]["authorization_details"]
    for role in details["RoleDetailList"][:5]:
        trust = role["AssumeRolePolicyDocument"]
        if isinstance(trust, str):  # URL-encoded, as the AWS CLI prints it
            trust = json.loads(unquote(trust))
        trust["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": OUTSIDE}, "Action": "sts:AssumeRole"}
        )
        role["AssumeRolePolicyDocument"] = trust
    groups = [group["GroupName"] for group in details["GroupDetailList"]]
    user = details["UserDetailList"][0]
    user["GroupList"] = sorted({*user.get("GroupList", []), *groups[:2]})
    carrier = next(u for u in details["UserDetailList"] if u.get("UserPolicyList"))
    carrier["UserPolicyList"] = []
    return bundle


def import_twice(options: argparse.Namespace, env: dict[str, str]) -> tuple[float, float]:
    """A fresh database, the organisation imported and analysed, then again with one account
    changed; returns the seconds of each import and analysis."""
    work = ROOT / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    name = f"org-{options.accounts}x{options.users}u{options.roles}r-s{options.seed}"
    bundle = work / f"{name}.json"
    if not bundle.exists():
        run_step(
            ["generate_org", "--accounts", str(options.accounts), "--users", str(options.users),
             "--roles", str(options.roles), "--seed", str(options.seed), "-o", str(bundle)],
            env,
        )  # fmt: skip
    changed = work / f"{name}-changed.json"
    changed.write_text(json.dumps(change_one_account(json.loads(bundle.read_text()))))
    fresh_database(options.database_url)
    run_step(["migrate", "--no-input", "-v", "0"], env)
    first = run_step(["import_authz", str(bundle)], env)[0]
    second = run_step(["import_authz", str(changed)], env)[0]
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument(
        "--measure-only", action="store_true", help="reuse the database of the last run"
    )
    options = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    first = second = 0.0
    if not options.measure_only:
        first, second = import_twice(options, env)
    os.environ.update(DATABASE_URL=options.database_url, LOG_LEVEL="WARNING")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iamviz.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from identities.models import AccessChange, AccessState, AnalysisRun
    from identities.queries.changes import changes_between

    setup_test_environment()
    run = AnalysisRun.objects.filter(status="succeeded").order_by("-id").first()
    assert run is not None
    started = time.perf_counter()
    changes = changes_between()
    read_s = time.perf_counter() - started
    user, _ = get_user_model().objects.update_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(ALLOWED_HOSTS=["*"])
    client.force_login(user)
    page_ms = []
    for _ in range(6):
        started = time.perf_counter()
        response = client.get("/review/changes/", HTTP_HOST="localhost")
        page_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    state = AccessState.objects.get()
    row = {
        "accounts": options.accounts,
        "access_edges": run.counts.get("access_edges"),
        "import_and_analyse_s": [round(first, 1), round(second, 1)],
        "history_s": run.timings.get("history"),
        "history_target_s": 5.0,
        "analysis_timings": run.timings,
        "changes_stored": AccessChange.objects.filter(diff__run=run).count(),
        "changes_shown": len(changes.items),
        "state_mib": round(len(bytes(state.blob)) / 2**20, 1),
        "changes_between_s": round(read_s, 3),
        "changes_page_ms_median": round(statistics.median(page_ms[1:]), 1),
        "changes_page_target_ms": 300,
        "changes_page_ms_first": round(page_ms[0], 1),
    }
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "review.json").write_text(json.dumps(row, indent=2))
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
