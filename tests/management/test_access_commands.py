"""The command-line contract of `analyse`, `access_edges` and `explain` on the sample."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from identities.models import AnalysisRun

MGMT, SEC, DEV, PROD = "111111111111", "222222222222", "333333333333", "444444444444"
ALICE = f"arn:aws:iam::{DEV}:user/alice"
DEV_OPS = f"arn:aws:iam::{DEV}:role/dev-ops"
PROD_OPS = f"arn:aws:iam::{PROD}:role/prod-ops"
BREAK_GLASS = f"arn:aws:iam::{PROD}:role/prod-break-glass"
PARTNER_GATEWAY = f"arn:aws:iam::{PROD}:role/partner-gateway"
KEYS = ["source", "target", "conditions", "condition_values", "transitive", "path", "granted_by"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def edges(*args: str) -> list[dict]:
    return json.loads(run("access_edges", "--format", "json", *args))


def alice_with_mfa(path: list[str], *granted_by: str) -> dict:
    """The row of alice's edge (or chain) along `path`, which needs MFA."""
    return {
        "source": ALICE,
        "target": path[-1],
        "conditions": ["aws:MultiFactorAuthPresent"],
        "condition_values": {"aws:MultiFactorAuthPresent": "MFA = true"},
        "transitive": len(path) > 2,
        "path": path,
        "granted_by": list(granted_by),
    }


def test_analyse_command_stores_a_run(imported_sample):
    output = run("analyse", "--now", "2026-11-28")

    assert output.splitlines()[-1].endswith(
        "67 access edges from 18 access groups, 9 administrators, 7 principals that can reach "
        f"one, 5 findings (analysis #{AnalysisRun.objects.order_by('-id').first().pk})"
    )
    assert AnalysisRun.objects.filter(status="succeeded").count() == 2


def test_access_edges_json_has_the_contract_keys_sorted(imported_sample):
    rows = edges()

    assert {tuple(row) for row in rows} == {tuple(KEYS)}
    assert [(row["source"], row["target"]) for row in rows] == sorted(
        (row["source"], row["target"]) for row in rows
    )
    assert len(rows) == 90  # the 67 stored edges, access groups' edges once per member
    assert all(
        row["transitive"] is False and row["path"] == [row["source"], row["target"]] for row in rows
    )


def test_access_edges_json_direct_edge_of_the_chain(imported_sample):
    [row] = [row for row in edges() if row["target"] == DEV_OPS]

    # Issue 9, item 10: what the condition requires, beside the key (condition operators page,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean).
    assert row == alice_with_mfa(
        [ALICE, DEV_OPS],
        f"statement 'AliceWithMFA' (Statement[0]) of trust policy dev-ops ({DEV_OPS})",
    )


def test_access_edges_sources_cover_every_kind(imported_sample):
    sources = sorted({row["source"] for row in edges()})

    # Every user and role but acme-management's audit role: no public role is in its account,
    # and it has no identity statement about sts:AssumeRole for those of other accounts.
    assert sources == [
        "*",
        f"arn:aws:iam::{MGMT}:role/okta-admin",
        f"arn:aws:iam::{MGMT}:user/carol",
        f"arn:aws:iam::{MGMT}:user/dave",
        f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{SEC}:role/org-inventory",
        f"arn:aws:iam::{SEC}:user/auditor",
        f"arn:aws:iam::{SEC}:user/secops-admin",
        f"arn:aws:iam::{SEC}:user/service/svc-key-rotator",
        f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{DEV}:role/app-server",
        f"arn:aws:iam::{DEV}:role/audit",
        DEV_OPS,
        f"arn:aws:iam::{DEV}:role/github-deploy",
        f"arn:aws:iam::{DEV}:role/lambda-exec",
        f"arn:aws:iam::{DEV}:role/public-reader",
        f"arn:aws:iam::{DEV}:role/terraform-build",
        ALICE,
        f"arn:aws:iam::{DEV}:user/bob",
        f"arn:aws:iam::{DEV}:user/ci-deploy",
        f"arn:aws:iam::{DEV}:user/erin",
        f"arn:aws:iam::{DEV}:user/frank",
        f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{PROD}:role/audit",
        f"arn:aws:iam::{PROD}:role/deploy",
        PARTNER_GATEWAY,
        BREAK_GLASS,
        PROD_OPS,
        f"federated:arn:aws:iam::{MGMT}:saml-provider/Okta",
        f"federated:arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com",
        "service:codebuild.amazonaws.com",
        "service:ec2.amazonaws.com",
        "service:lambda.amazonaws.com",
    ]


def test_access_edges_account_filter_keeps_targets_in_that_account(imported_sample):
    rows = edges("--account", PROD)

    gateway = "role/partner-gateway"
    assert [(row["source"], row["target"].rsplit(":", 1)[-1]) for row in rows] == [
        ("*", gateway),
        (f"arn:aws:iam::{MGMT}:role/okta-admin", "role/OrganizationAccountAccessRole"),
        (f"arn:aws:iam::{MGMT}:role/okta-admin", gateway),
        (f"arn:aws:iam::{MGMT}:user/carol", "role/OrganizationAccountAccessRole"),
        (f"arn:aws:iam::{MGMT}:user/carol", gateway),
        (f"arn:aws:iam::{MGMT}:user/dave", "role/OrganizationAccountAccessRole"),
        (f"arn:aws:iam::{MGMT}:user/dave", gateway),
        (f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole", "role/audit"),
        (f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole", gateway),
        (f"arn:aws:iam::{SEC}:user/auditor", "role/audit"),
        (f"arn:aws:iam::{SEC}:user/secops-admin", "role/audit"),
        (f"arn:aws:iam::{SEC}:user/secops-admin", gateway),
        (f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole", gateway),
        (DEV_OPS, gateway),
        (DEV_OPS, "role/prod-ops"),
        (f"arn:aws:iam::{DEV}:role/github-deploy", gateway),
        (f"arn:aws:iam::{DEV}:role/terraform-build", gateway),
        (ALICE, gateway),
        (f"arn:aws:iam::{DEV}:user/bob", gateway),
        (f"arn:aws:iam::{DEV}:user/ci-deploy", "role/deploy"),
        (f"arn:aws:iam::{DEV}:user/erin", gateway),
        (f"arn:aws:iam::{DEV}:user/frank", gateway),
        (f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole", gateway),
        (f"arn:aws:iam::{PROD}:role/audit", gateway),
        (f"arn:aws:iam::{PROD}:role/deploy", gateway),
        (PARTNER_GATEWAY, gateway),
        (BREAK_GLASS, gateway),
        (PROD_OPS, gateway),
        (PROD_OPS, "role/prod-break-glass"),
    ]


def test_access_edges_unknown_account_is_an_error(imported_sample):
    with pytest.raises(CommandError, match="no synced account 999999999999"):
        edges("--account", "999999999999")


def test_access_edges_transitive_gives_the_chain_with_every_hop(imported_sample):
    rows = edges("--transitive", "--account", PROD)
    [row] = [row for row in rows if row["source"] == ALICE and row["target"] == BREAK_GLASS]

    assert row == alice_with_mfa(
        [ALICE, DEV_OPS, PROD_OPS, BREAK_GLASS],
        f"statement 'AliceWithMFA' (Statement[0]) of trust policy dev-ops ({DEV_OPS})",
        f"statement 'FromDevOps' (Statement[0]) of trust policy prod-ops ({PROD_OPS})",
        "statement (Statement[0]) of AWS-managed policy PowerUserAccess "
        "(arn:aws:iam::aws:policy/PowerUserAccess)",
        f"statement 'HopToProd' (Statement[0]) of inline policy assume-prod-ops ({DEV_OPS})",
        f"statement 'FromProdOps' (Statement[0]) of trust policy prod-break-glass ({BREAK_GLASS})",
    )
    assert [(r["source"], r["target"]) for r in rows] == sorted(
        (r["source"], r["target"]) for r in rows
    )
    # 13 role chains and 2 through an escalation hop (svc-key-rotator can act as auditor and as
    # secops-admin).
    assert sum(r["transitive"] for r in rows) == 15
    # The 29 direct edges into the account but partner-gateway's to itself: a role does not
    # "end up" in itself through a chain.
    assert len(rows) == 15 + 28


def test_a_chain_through_an_escalation_names_the_statements_of_that_hop_too(imported_sample):
    rotator = "arn:aws:iam::222222222222:user/service/svc-key-rotator"
    auditor = "arn:aws:iam::222222222222:user/auditor"
    [row] = [
        row
        for row in edges("--transitive", "--source", rotator)
        if row["target"] == "arn:aws:iam::111111111111:role/audit"
    ]

    # svc-key-rotator becomes auditor by creating an access key for it (an escalation), then
    # assumes audit as auditor: the first hop's statement comes first.
    assert row["path"] == [rotator, auditor, "arn:aws:iam::111111111111:role/audit"]
    assert row["granted_by"][0] == (
        "statement (Statement[0]) of customer-managed policy iam-key-rotation "
        "(arn:aws:iam::222222222222:policy/iam-key-rotation)"
    )
    assert len(row["granted_by"]) == 3
    assert row in edges("--transitive")


def test_access_edges_of_one_source_are_its_rows_of_the_whole_list(imported_sample):
    for args in ([], ["--transitive"], ["--transitive", "--account", PROD]):
        whole = edges(*args)
        for source in (ALICE, DEV_OPS, "service:ec2.amazonaws.com"):
            mine = [row for row in whole if row["source"] == source]
            assert edges(*args, "--source", source) == mine
    assert any(row["transitive"] for row in edges("--transitive", "--source", ALICE))


def test_access_edges_unknown_source_is_an_error(imported_sample):
    with pytest.raises(CommandError, match="--source: no user or role arn:aws:iam::1:user/x"):
        edges("--source", "arn:aws:iam::1:user/x")


def test_access_edges_csv_has_the_same_rows(imported_sample):
    rows = list(csv.reader(io.StringIO(run("access_edges", "--format", "csv"))))

    assert rows[0] == KEYS
    assert len(rows) == 1 + 90
    assert [row for row in rows if row[1] == DEV_OPS] == [
        [
            ALICE,
            DEV_OPS,
            "aws:MultiFactorAuthPresent",
            "MFA = true",
            "false",
            f"{ALICE} | {DEV_OPS}",
            f"statement 'AliceWithMFA' (Statement[0]) of trust policy dev-ops ({DEV_OPS})",
        ]
    ]


def test_explain_allowed_pair(imported_sample):
    text = run("explain", ALICE, DEV_OPS)
    lines = text.splitlines()

    assert lines[0] == (
        f"{ALICE} CAN assume {DEV_OPS}, only if conditions on aws:MultiFactorAuthPresent are met."
    )
    assert lines[2] == (
        f"Request: sts:AssumeRole by user alice of acme-dev ({DEV}) on role dev-ops of "
        f"acme-dev ({DEV}); same account."
    )
    assert (
        "   - 'AliceWithMFA' Statement[0] (Allow): allows only if conditions on "
        "aws:MultiFactorAuthPresent are met; it names the principal." in lines
    )
    assert "Decision: allowed only if conditions on aws:MultiFactorAuthPresent are met." in lines


def test_explain_refused_pair_names_the_denying_layer_and_the_chain(imported_sample):
    text = run("explain", "acme-dev/alice", "acme-prod/prod-break-glass")
    lines = text.splitlines()

    # The chain's first hop needs MFA: the headline says so (it used to drop the condition).
    assert lines[0] == (
        f"{ALICE} cannot assume {BREAK_GLASS} directly, but can through dev-ops → prod-ops, "
        "only if conditions on aws:MultiFactorAuthPresent (hop 1) are met (3 hops; each chained "
        "session lasts at most one hour)."
    )
    assert (
        f"{ALICE} CANNOT assume {BREAK_GLASS}: not allowed (decided by the trust layer)."
    ) in lines
    assert (
        "   - 'FromProdOps' Statement[0] (Allow): does not apply: it does not name "
        f"{ALICE}." in lines
    )
    assert lines[-1] == (
        "It can still end up in the role through role chaining (stored analysis): "
        f"{ALICE} -> {DEV_OPS} -> {PROD_OPS} -> {BREAK_GLASS}"
    )


def test_explain_service_and_anyone(imported_sample):
    service = run("explain", "service:ec2.amazonaws.com", f"arn:aws:iam::{DEV}:role/app-server")
    anyone = run("explain", "*", f"arn:aws:iam::{DEV}:role/app-server")

    assert service.splitlines()[0] == (
        f"service:ec2.amazonaws.com CAN assume arn:aws:iam::{DEV}:role/app-server."
    )
    assert anyone.splitlines()[0] == (
        f"* CANNOT assume arn:aws:iam::{DEV}:role/app-server: not allowed (decided by the trust "
        "layer)."
    )


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (f"arn:aws:iam::{DEV}:user/nobody", DEV_OPS, "no user or role with ARN"),
        (ALICE, f"arn:aws:iam::{DEV}:role/nothing", "no role with ARN"),
        ("acme-nowhere/alice", DEV_OPS, "no synced account 'acme-nowhere'"),
        (f"arn:aws:iam::{MGMT}:root", DEV_OPS, "the root user cannot assume roles"),
    ],
)
def test_explain_unknown_names_exit_non_zero(imported_sample, source, target, message):
    with pytest.raises(CommandError, match=message):
        run("explain", source, target)


@pytest.mark.parametrize(
    "args",
    [
        ["access_edges", "--format", "json"],
        ["access_edges", "--format", "csv", "--transitive"],
        ["explain", ALICE, PROD_OPS],
    ],
    ids=["access_edges-json", "access_edges-csv", "explain"],
)
def test_command_stops_quietly_when_its_reader_closes_the_pipe(
    transactional_db, imported_sample, args
):
    """`manage.py access_edges --format json | head -1` must not end in a BrokenPipeError
    traceback (bug 4): the reader here is gone before the command prints its first line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": _test_database_url()},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)

    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.returncode == 128 + signal.SIGPIPE


def _test_database_url() -> str:
    """The URL of the database this test runs on, for a subprocess to read the same tables."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or 'localhost'}{port}/{db['NAME']}"
