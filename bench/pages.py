"""Benchmark of the pages that used to be walls of rows, on an imported and analysed estate.

    python bench/pages.py [--database-url URL] [--repeat 5]

Times, through Django's test client (middleware, view, template), the median of ``--repeat``
requests after one warm-up, with the size of the answer, for: a role's "who can assume" (the
role with the most principals) and one of its summary rows opened, its CSV, Administrators and
one account's lists, the account matrix and one of its cells, and a folded node's members.

The database must hold an imported and analysed estate, for instance
`manage.py generate_org --accounts 10 --users 300 --roles 600 --seed 1 -o org.json`, then
`import_authz org.json`. Results are printed and written to bench-results/pages.json.
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

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 500


def urls() -> dict[str, str]:
    """The pages to time, for the busiest role and the account with the most administrators."""
    from django.urls import reverse

    from identities.models import AccessEdge, IamRole
    from identities.queries import access, summaries
    from identities.queries.findings import administrators_by_account

    targets = AccessEdge.objects.filter(outcome__in=access.POSSIBLE).values_list(
        "target_id", flat=True
    )
    role = max(
        IamRole.objects.select_related("account").filter(pk__in=set(targets)),
        key=lambda r: (len(access.access_into(r)), r.arn),
    )
    args = [role.account.account_id, role.name]
    bunch = summaries.direct_bunches(access.access_into(role))[0]
    account = max(administrators_by_account(), key=lambda row: row.administrators).account_id
    matrix = access.account_matrix()
    source, target = max(matrix.cells, key=lambda cell: (cell[0] != cell[1], matrix.cells[cell]))
    admins = reverse("identities:administrators")
    return {
        "role who can assume": reverse("identities:role-access", args=args),
        "role summary row opened": reverse("identities:role-access-list", args=args)
        + f"?part=direct&bunch={bunch.key}",
        "role who can assume, CSV": reverse("identities:role-access", args=args) + "?format=csv",
        "administrators": admins,
        "administrators of one account": f"{admins}?account={account}&list=admins",
        "who can become one, page 2": f"{admins}?account={account}&list=paths&page=2",
        "account matrix": reverse("identities:account-matrix"),
        "account matrix cell": reverse("identities:account-matrix") + f"?from={source}&to={target}",
        "folded node members": reverse("identities:graph-folded")
        + f"?id=agg%3Aroles%3A{account}&of=role&account={account}",
    }


def time_page(client: Any, url: str, repeat: int) -> dict[str, Any]:
    times, size = [], 0
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        if attempt:  # the first request warms the per-run caches
            times.append(elapsed)
        size = len(body)
    return {"url": url, "median_ms": round(statistics.median(times), 1), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    if options.database_url:
        os.environ["DATABASE_URL"] = options.database_url
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
    results = {name: time_page(client, url, options.repeat) for name, url in urls().items()}
    for name, row in results.items():
        verdict = "within" if row["median_ms"] < BUDGET_MS else "OVER"
        print(f"{name:34} {row['median_ms']:8.1f} ms {row['bytes'] / 1024:8.0f} KB  {verdict}")
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
