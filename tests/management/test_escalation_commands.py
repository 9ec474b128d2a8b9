"""The command-line contract of `escalations` and `who_can` (README, "Escalations")."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

SEC, DEV = "222222222222", "333333333333"
FRANK = f"arn:aws:iam::{DEV}:user/frank"
KEY_ROTATOR = f"arn:aws:iam::{SEC}:user/service/svc-key-rotator"
KEYS = ["principal", "method", "status", "target", "conditions", "granted_by"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_escalations_json_has_the_contract_keys_sorted(imported_sample):
    rows = json.loads(run("escalations", "--format", "json"))

    assert {tuple(row) for row in rows} == {tuple(KEYS)}
    assert [(r["principal"], r["method"], r["target"] or "") for r in rows] == sorted(
        (r["principal"], r["method"], r["target"] or "") for r in rows
    )
    assert {r["status"] for r in rows} == {"proven", "potential"}
    assert all(r["conditions"] == sorted(r["conditions"]) for r in rows)


def test_escalations_principal_filter(imported_sample):
    rows = json.loads(run("escalations", "--principal", KEY_ROTATOR))

    assert [(r["method"], r["target"], r["conditions"]) for r in rows] == [
        ("IAM-CreateAccessKey", f"arn:aws:iam::{SEC}:user/auditor", []),
        ("IAM-CreateAccessKey", f"arn:aws:iam::{SEC}:user/secops-admin", []),
    ]


def test_escalations_account_filter_and_csv_agree(imported_sample):
    rows = json.loads(run("escalations", "--account", DEV))
    table = list(csv.reader(io.StringIO(run("escalations", "--account", DEV, "--format", "csv"))))

    assert table[0] == KEYS
    assert len(table) - 1 == len(rows)
    assert {r["principal"].split(":")[4] for r in rows} == {DEV}
    assert FRANK in {r["principal"] for r in rows}


def test_self_grant_has_a_null_target(imported_sample):
    rows = json.loads(run("escalations", "--account", "444444444444"))

    assert {(r["method"], r["target"]) for r in rows} >= {("IAM-PutRolePolicy", None)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "999999999999"], "no synced account 999999999999"),
        (
            ["--principal", "arn:aws:iam::1:user/nobody"],
            "no user or role arn:aws:iam::1:user/nobody",
        ),
    ],
)
def test_escalations_unknown_filters_are_errors(imported_sample, args, message):
    with pytest.raises(CommandError, match=message):
        run("escalations", *args)


def test_who_can_json_marks_conditional_principals(imported_sample):
    rows = json.loads(
        run("who_can", "iam:PassRole", f"arn:aws:iam::{DEV}:role/lambda-exec", "--format", "json")
    )
    found = {r["principal"]: (r["conditional"], r["conditions"]) for r in rows}

    assert found[FRANK] == (False, [])
    # The developers group passes lambda-* roles only to Lambda.
    assert found[f"arn:aws:iam::{DEV}:user/alice"] == (True, ["iam:PassedToService"])
    assert f"arn:aws:iam::{DEV}:user/bob" not in found  # his boundary allows no iam:PassRole


def test_who_can_lists_the_key_rotator(imported_sample):
    out = run("who_can", "iam:CreateAccessKey", f"arn:aws:iam::{SEC}:user/auditor")

    assert out.splitlines() == [
        f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{SEC}:user/secops-admin",
        KEY_ROTATOR,
    ]


def test_who_can_rejects_a_bad_action(imported_sample):
    with pytest.raises(CommandError, match="is not an action"):
        run("who_can", "CreateAccessKey", "*")
