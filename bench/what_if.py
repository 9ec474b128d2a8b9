"""Benchmark of a single-policy what-if on an imported and analysed estate.

    python bench/what_if.py [--database-url URL] [--repeat 5] [--full]

Times `what_if` (as ``manage.py what_if`` runs it) on a trust policy change: the role trusting
the most principals by name loses its first statement naming a principal (no service), and gets
a statement trusting a user of another account instead; then the same for the administrator role
trusting the most principals (the paths to administrators are searched again). The median of
``--repeat`` runs of each incremental answer (from the stored analysis); with ``--full``, one run
of the whole-estate answer of the last too, and whether the two answers are equal.

The database must hold an imported and analysed estate; for the 50-account one:

    python manage.py generate_org --accounts 50 --users 500 --roles 1000 --seed 1 \\
        -o var/bench/org-50x500u1000r-s1.json
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/whatif_bench python manage.py migrate
    DATABASE_URL=... python manage.py import_authz var/bench/org-50x500u1000r-s1.json
    (import_authz analyses; else DATABASE_URL=... python manage.py analyse)

Results are printed and written to bench-results/what_if.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph import ROOT, setup_django  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/whatif_bench"


def pick_change(admin: bool = False) -> tuple[str, dict[str, Any], str]:
    """(role ARN, its proposed trust policy, what the change is); ``admin``: of an
    administrator role (then the paths to administrators are searched again)."""
    from identities.analysis.what_if import TRUST, PolicyRef, current_document
    from identities.models import IamRole, IamUser

    best: tuple[int, str] | None = None
    roles = IamRole.objects.exclude(path__startswith="/aws-service-role/")
    if admin:
        roles = roles.filter(administrator__isnull=False)
    for arn, trust in roles.values_list("arn", "trust_policy"):
        text = json.dumps(trust)
        if "Service" in text:
            continue
        named = text.count("arn:aws:iam::")
        if best is None or named > best[0]:
            best = (named, arn)
    if best is None:
        raise SystemExit("no role trusts principals by name")
    arn = best[1]
    document = current_document(PolicyRef(TRUST, arn))
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    account = arn.split(":")[4]
    user = IamUser.objects.exclude(arn__contains=f":{account}:").order_by("pk").first()
    assert user is not None
    document["Statement"] = [
        *statements[1:],
        {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole"},
    ]
    return arn, document, f"{arn}: first trust statement removed, {user.arn} trusted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="time the whole-estate answer too")
    options = parser.parse_args()
    setup_django(options.database_url)

    from identities.analysis.what_if import INCREMENTAL, TRUST, PolicyRef, Proposal, what_if
    from identities.models import Account, IamRole, IamUser

    result: dict[str, Any] = {
        "accounts": Account.objects.count(),
        "users": IamUser.objects.count(),
        "roles": IamRole.objects.count(),
    }
    for prefix, admin in (("", False), ("admin_role_", True)):
        arn, document, change = pick_change(admin)
        proposal = Proposal()
        proposal.replace(PolicyRef(TRUST, arn), document)
        seconds, cpu = [], []
        answer = None
        for _ in range(options.repeat):
            started, used = time.perf_counter(), time.process_time()
            answer = what_if(proposal)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
            if answer.method != INCREMENTAL:
                raise SystemExit(f"not answered incrementally: {answer.why_full}")
        assert answer is not None
        result.update(
            {
                f"{prefix}change": change,
                f"{prefix}differences": len(answer.changes),
                f"{prefix}incremental_median_s": round(statistics.median(seconds), 2),
                f"{prefix}incremental_runs_s": [round(s, 2) for s in seconds],
                # The process's own CPU time: on a shared machine the wall clock waits.
                f"{prefix}incremental_cpu_median_s": round(statistics.median(cpu), 2),
            }
        )
    result["load_average"] = round(os.getloadavg()[0], 1)
    if options.full:
        started, used = time.perf_counter(), time.process_time()
        full = what_if(proposal, incremental=False)
        result["full_s"] = round(time.perf_counter() - started, 2)
        result["full_cpu_s"] = round(time.process_time() - used, 2)
        # The whole-estate answer of the last proposal (the administrator role's).
        result["ratio"] = round(result["full_s"] / result["admin_role_incremental_median_s"], 1)
        assert answer is not None
        result["equal_answers"] = full.document() == answer.document()
    print(json.dumps(result, indent=2))
    out = ROOT / "bench-results" / "what_if.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[str(result["accounts"])] = result
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
