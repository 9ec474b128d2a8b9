"""Benchmark of choke points on an imported and analysed estate.

    python bench/choke.py [--database-url URL] [--repeat 5] [--prepare] [--check 3]
        [--sensitive GLOB]... [--target admin|sensitive|all]...

Times `choke_points` (identities.queries.choke_points) for each target set with sensitive roles
(or administrators only): the first call in a fresh process (it loads the stored reach graph, as
the command does) and the median of `--repeat` further calls (graph cached, as a web worker has
it), with the CPU seconds of each; and the `manage.py choke_points --format json --target T`
command end to end, wall and CPU (user + system of the process), first with no stored ranking
(it ranks, and stores the ranking for the analysis run) and then reading the stored one.
`--check N` runs the what-if of each of the top N changes to administrators (those cutting at
most `--check-max` principals: the what-if of a change cutting thousands takes long) and
compares the principals it says lose their path with the ones the change cuts on its own.
`--sensitive GLOB` (repeatable) marks the roles whose name matches as sensitive first, as the
analysis would (a name-pattern rule, and the roles it matches as `SensitiveRule.matches` does;
the stored paths are left as they are: choke points read only the roles). `--target`
(repeatable) times only those targets.

`--prepare` generates the 50-account bundle (var/bench/org-50x500u1000r-s1.json, 500 users and
1,000 roles per account, seed 1), migrates, imports and analyses it first. Results are printed
and written to bench-results/choke.json.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from graph import setup_django  # bench/graph.py: this folder is on the path of a script

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/choke_bench"
BUNDLE = ROOT / "var" / "bench" / "org-50x500u1000r-s1.json"
BUDGET_SECONDS = 30


def manage(
    database_url: str, *args: str, data_dir: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    if data_dir is not None:
        # The command's own shared cache (files under it): it starts without a stored ranking.
        env.pop("REDIS_URL", None)
        env["IAMVIZ_DATA_DIR"] = data_dir
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def prepare(database_url: str) -> None:
    if not BUNDLE.exists():
        BUNDLE.parent.mkdir(parents=True, exist_ok=True)
        manage(database_url, "generate_org", "--accounts", "50", "--users", "500", "--roles",
               "1000", "--seed", "1", "-o", str(BUNDLE))  # fmt: skip
    manage(database_url, "migrate", "-v0")
    manage(database_url, "import_authz", str(BUNDLE))


def mark_sensitive(globs: list[str]) -> int:
    """Name-pattern rules for ``globs`` and the roles they match, as an analysis stores them."""
    from django.db import transaction
    from django.utils import timezone

    from identities.analysis.sensitive import NAME_GLOB, SensitiveRule
    from identities.models import IamRole, SensitiveRole, SensitiveTarget

    rules = [SensitiveRule(NAME_GLOB, glob, "benchmark") for glob in globs]
    with transaction.atomic():
        SensitiveRole.objects.all().delete()
        SensitiveTarget.objects.all().delete()
        for rule in rules:
            SensitiveTarget.objects.create(
                kind=rule.kind, value=rule.value, reason=rule.reason, created_at=timezone.now()
            )
        roles = []
        for pk, arn, name in IamRole.objects.values_list("pk", "arn", "name"):
            texts = [rule.text for rule in rules if fnmatch.fnmatchcase(name, rule.value)]
            if texts:
                roles.append(SensitiveRole(role_id=pk, arn=arn, rules=texts))
        SensitiveRole.objects.bulk_create(roles, batch_size=2000)
    return len(roles)


def time_target(target: str, repeat: int) -> dict[str, Any]:
    from identities.queries import access
    from identities.queries.choke_points import choke_points

    access._cache.update(run=None, values={})  # the first call loads the graph, as a new process
    clock, cpu = time.perf_counter(), time.process_time()
    report = choke_points(target)
    first, first_cpu = time.perf_counter() - clock, time.process_time() - cpu
    warm, warm_cpu = [], []
    for _ in range(repeat):
        clock, cpu = time.perf_counter(), time.process_time()
        choke_points(target)
        warm.append(time.perf_counter() - clock)
        warm_cpu.append(time.process_time() - cpu)
    top = report.points[0] if report.points else None
    return {
        "target": target,
        "targets": report.targets,
        "principals_reaching": report.principals,
        "critical_hops": report.critical_hops,
        "choke_points": len(report.points),
        "principals_cut_by_all": sum(len(point.principals) for point in report.points),
        "top": top.as_dict() if top else None,
        "first_call_seconds": round(first, 2),
        "first_call_cpu_seconds": round(first_cpu, 2),
        "warm_median_seconds": round(statistics.median(warm), 2) if warm else None,
        "warm_median_cpu_seconds": round(statistics.median(warm_cpu), 2) if warm else None,
    }


def time_command(database_url: str, target: str, data_dir: str) -> dict[str, float]:
    """``manage.py choke_points`` end to end: wall seconds, and CPU seconds of the process."""
    before = os.times()
    clock = time.perf_counter()
    manage(database_url, "choke_points", "--format", "json", "--target", target,
           data_dir=data_dir)  # fmt: skip
    wall = time.perf_counter() - clock
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}


def check_top(count: int, most: int) -> list[dict[str, Any]]:
    """The what-if of each of the top changes against the principals it cuts on its own (what
    the covering set starts from; a change ranked below counts only those the ones above it
    leave)."""
    from identities.analysis.choke_points import build_choke_graph, statement_cuts
    from identities.analysis.what_if import proposal_from, what_if
    from identities.queries import access
    from identities.queries.choke_points import (
        attachment_cuts,
        hop_evidence,
        membership_cuts,
        target_arns,
        verified_ranking,
    )

    reach = access.reach_graph()
    assert reach is not None
    choke = build_choke_graph(reach.graph, target_arns("admin"))
    evidence = hop_evidence(choke, reach.graph, reach.needs)
    cuts = statement_cuts(choke, evidence)
    cuts.update(membership_cuts(choke, evidence, reach.graph))
    cuts.update(attachment_cuts(choke, evidence, reach.graph))
    points = verified_ranking(choke, evidence, cuts, reach)
    found = []
    for point in points[:count]:
        alone = sorted(cuts[point.item].principals)
        row: dict[str, Any] = {
            "what_if": point.item.what_if,
            "principals": len(point.principals),
            "cuts_alone": len(alone),
        }
        if len(alone) <= most:
            clock = time.perf_counter()
            argv = point.item.what_if
            answer = what_if(proposal_from([(argv[0][2:], argv[1:])]))
            removed = sorted(c.source for c in answer.changes if c.category == "reach_removed")
            row.update(
                what_if_reach_removed=len(removed),
                agree=removed == alone,
                what_if_seconds=round(time.perf_counter() - clock, 1),
            )
        found.append(row)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prepare", action="store_true", help="generate, import and analyse")
    parser.add_argument("--check", type=int, default=0, help="what-if the top N changes")
    parser.add_argument(
        "--check-max", type=int, default=2000, help="only changes cutting at most N principals"
    )
    parser.add_argument(
        "--sensitive", action="append", default=[], metavar="GLOB", help="mark roles sensitive"
    )
    parser.add_argument(
        "--target", action="append", choices=["admin", "sensitive", "all"], help="only these"
    )
    args = parser.parse_args()
    if args.prepare:
        prepare(args.database_url)
    setup_django(args.database_url)
    from identities.models import AnalysisRun, SensitiveRole

    run = AnalysisRun.objects.filter(status="succeeded").order_by("-finished_at").first()
    if run is None:
        sys.exit("no analysed estate in this database: run with --prepare")
    results: dict[str, Any] = {"analysis": run.pk, "counts": run.counts, "runs": []}
    if args.sensitive:
        results["sensitive_roles"] = mark_sensitive(args.sensitive)
        print(f"marked {results['sensitive_roles']} roles sensitive ({', '.join(args.sensitive)})")
    targets = ["admin", "sensitive", "all"] if SensitiveRole.objects.exists() else ["admin"]
    targets = [target for target in targets if not args.target or target in args.target]
    for target in targets:
        results["runs"].append(time_target(target, args.repeat))
        print(json.dumps(results["runs"][-1]))
    results["commands"] = {}
    for target in targets:
        with tempfile.TemporaryDirectory(prefix="choke-bench-") as data_dir:
            ranked = time_command(args.database_url, target, data_dir)
            stored = time_command(args.database_url, target, data_dir)
        results["commands"][target] = {"ranking": ranked, "stored": stored}
        print(f"manage.py choke_points --format json --target {target}: ranking "
              f"{ranked['wall_seconds']} s ({ranked['cpu_seconds']} s CPU), stored "
              f"{stored['wall_seconds']} s ({stored['cpu_seconds']} s CPU) "
              f"(budget {BUDGET_SECONDS} s)")  # fmt: skip
    if args.check:
        results["checks"] = check_top(args.check, args.check_max)
        for check in results["checks"]:
            print(json.dumps(check))
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "choke.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
