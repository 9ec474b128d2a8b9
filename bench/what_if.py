"""Benchmark of single-policy what-ifs on an imported and analysed estate.

    python bench/what_if.py [--database-url URL] [--repeat 3] [--full] [--only KIND,...]

Times `what_if` (as ``manage.py what_if`` runs it) on one change of each kind:

- ``trust``: the role trusting the most principals by name loses its first statement naming a
  principal (no service) and trusts a user of another account instead; ``admin_role_trust``:
  the same for the administrator role trusting the most principals;
- ``managed``: the customer-managed policy attached most often loses its first statement;
- ``power_user``: the AWS-managed PowerUserAccess loses statement 0 (everything but IAM, in
  every account: the top choke point, the worst case);
- ``inline``: a user's inline policy loses its first statement;
- ``boundary``: a user gets a permissions boundary allowing only S3;
- ``scp`` / ``rcp``: the SCP / RCP attached to the most targets loses its first statement;
- ``membership``: a user leaves its first group.

The first answer of each change as a new process gives it: loading the estate from the
database, as the first process after an analysis does (``first_s``, ``first_cpu_s``), and
reading it back from the file of the analysis run (`what_if_file`) the command writes once it
has answered (writing it: ``keep_s``), as every later process does (``first_from_file_s``,
``first_from_file_cpu_s``); then the median of ``--repeat`` more (the estate kept from the
first; each checked to give the same answer), the process's own CPU time, how it was answered
and how many differences; with ``--full``, one run of the whole-estate answer of each too, and
whether the two answers are equal. The files are written under ``IAMVIZ_DATA_DIR``.

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


def proposals() -> dict[str, Any]:
    """A proposal of each kind (see the module docstring), by name."""
    from django.db.models import Count

    from identities.analysis.what_if import (
        TRUST,
        PolicyRef,
        Proposal,
    )
    from identities.models import (
        GroupMembership,
        IamUser,
        InlinePolicy,
        ManagedPolicy,
        OrgPolicy,
    )

    found: dict[str, Any] = {}
    for name, admin in (("trust", False), ("admin_role_trust", True)):
        arn, document, change = pick_change(admin)
        proposal = Proposal()
        proposal.replace(PolicyRef(TRUST, arn), document)
        found[name] = (proposal, change)

    def removal(ref: str, what: str) -> tuple[Any, str]:
        proposal = Proposal()
        proposal.remove_statement(PolicyRef.parse(ref), "0")
        return proposal, f"{ref}: statement 0 removed ({what})"

    managed = (
        ManagedPolicy.objects.filter(is_aws_managed=False)
        .annotate(uses=Count("attachments"))
        .order_by("-uses", "pk")
        .first()
    )
    if managed is not None:
        found["managed"] = removal(managed.arn, "the customer-managed policy attached most")
    found["power_user"] = removal(
        "arn:aws:iam::aws:policy/PowerUserAccess", "AWS-managed, in every account"
    )
    inline = InlinePolicy.objects.filter(user__isnull=False).select_related("user").first()
    if inline is not None and inline.user is not None:
        found["inline"] = removal(f"{inline.user.arn}#{inline.name}", "a user's inline policy")
    user = IamUser.objects.order_by("pk").first()
    if user is not None:
        proposal = Proposal()
        proposal.set_boundary(
            user.arn,
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            },
        )
        found["boundary"] = (proposal, f"{user.arn}: a boundary allowing only S3")
    for name, kind in (("scp", OrgPolicy.Type.SCP), ("rcp", OrgPolicy.Type.RCP)):
        orgs = OrgPolicy.objects.filter(type=kind).exclude(
            policy_id__in=["p-FullAWSAccess", "p-RCPFullAWSAccess"]
        )
        org = max(orgs.order_by("pk"), key=lambda o: len(o.targets or []), default=None)
        if org is not None:
            found[name] = removal(org.policy_id, f"the {name.upper()} attached most")
    membership = GroupMembership.objects.select_related("user", "group").order_by("pk").first()
    if membership is not None:
        proposal = Proposal()
        proposal.remove_membership(membership.user.arn, membership.group.arn)
        found["membership"] = (
            proposal,
            f"{membership.user.arn} leaves {membership.group.arn}",
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="time the whole-estate answers too")
    parser.add_argument("--only", default="", help="kinds to run, comma-separated")
    options = parser.parse_args()
    setup_django(options.database_url)

    from identities.analysis import what_if_file
    from identities.analysis.what_if import clear_prepared, keep_prepared, what_if
    from identities.models import Account, IamRole, IamUser

    result: dict[str, Any] = {
        "accounts": Account.objects.count(),
        "users": IamUser.objects.count(),
        "roles": IamRole.objects.count(),
    }
    wanted = {name for name in options.only.split(",") if name}
    for name, (proposal, change) in proposals().items():
        if wanted and name not in wanted:
            continue
        clear_prepared()  # the first answer loads the estate, as a new process's does
        what_if_file.remove_all()
        started, used = time.perf_counter(), time.process_time()
        answer = what_if(proposal)
        first, first_cpu = time.perf_counter() - started, time.process_time() - used
        started = time.perf_counter()
        assert keep_prepared() is not None
        keep = time.perf_counter() - started
        clear_prepared()  # now reading the file back
        started, used = time.perf_counter(), time.process_time()
        read_back = what_if(proposal)
        from_file = time.perf_counter() - started
        from_file_cpu = time.process_time() - used
        assert read_back.document() == answer.document()
        seconds, cpu = [], []
        for _ in range(options.repeat):
            started, used = time.perf_counter(), time.process_time()
            again = what_if(proposal)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
            assert again.document() == answer.document()
        entry: dict[str, Any] = {
            "change": change,
            "method": answer.method,
            "why_full": answer.why_full,
            "differences": len(answer.changes),
            "first_s": round(first, 2),
            "first_cpu_s": round(first_cpu, 2),
            "keep_s": round(keep, 2),
            "first_from_file_s": round(from_file, 2),
            "first_from_file_cpu_s": round(from_file_cpu, 2),
            "median_s": round(statistics.median(seconds), 2),
            "runs_s": [round(s, 2) for s in seconds],
            # The process's own CPU time: on a shared machine the wall clock waits.
            "cpu_median_s": round(statistics.median(cpu), 2),
            "load_average": round(os.getloadavg()[0], 1),
        }
        if options.full:
            started, used = time.perf_counter(), time.process_time()
            full = what_if(proposal, incremental=False)
            entry["full_s"] = round(time.perf_counter() - started, 2)
            entry["full_cpu_s"] = round(time.process_time() - used, 2)
            entry["equal_answers"] = full.document() == answer.document()
        result[name] = entry
        print(name, json.dumps(entry), flush=True)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench-results" / "what_if.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[str(result["accounts"])] = {**previous.get(str(result["accounts"]), {}), **result}
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
