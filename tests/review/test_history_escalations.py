"""Escalations in the access history: an escalation an import adds is listed by access_changes,
and a what-if taking it away lists it removed, from the stored state as from a full analysis."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from identities.analysis.what_if import INCREMENTAL, PolicyRef, Proposal, what_if
from identities.models import AccessChange
from tests.review.conftest import _details, _named

CI_DEPLOY = "arn:aws:iam::333333333333:user/ci-deploy"
LAMBDA_EXEC = "arn:aws:iam::333333333333:role/lambda-exec"
METHOD = "Lambda-PassExistingRoleToNewLambdaThenInvoke"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": LAMBDA_EXEC},
        {
            "Sid": "Functions",
            "Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
            "Resource": "*",
        },
    ],
}


def _with_passrole(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    ci_deploy = _named(_details(changed, "333333333333")["UserDetailList"], "UserName", "ci-deploy")
    ci_deploy.setdefault("UserPolicyList", []).append(
        {"PolicyName": "functions", "PolicyDocument": POLICY}
    )
    return changed


def _command(name: str, *args: str) -> Any:
    out = io.StringIO()
    call_command(name, "--format", "json", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


@pytest.fixture
def escalating(imported_sample: Any, sample_bundle: dict[str, Any], reimport: Any) -> None:
    """The sample, then the sample where ci-deploy may pass lambda-exec to a function she runs."""
    reimport(_with_passrole(sample_bundle), label="passrole.json")


def _ci_deploy_lambda(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if (row["principal"], row["target"]) == (CI_DEPLOY, LAMBDA_EXEC)]


def test_an_added_escalation_is_listed_as_the_escalations_command_prints_it(escalating):
    document = _command("access_changes")

    stored = _ci_deploy_lambda(_command("escalations", "--principal", CI_DEPLOY))
    assert [row["method"] for row in stored] == [METHOD]
    assert document["escalations_added"] == stored
    assert document["escalations_removed"] == []
    change = AccessChange.objects.get(category=AccessChange.Category.ESCALATION_ADDED)
    assert (change.source, change.target, change.action) == (CI_DEPLOY, LAMBDA_EXEC, METHOD)
    assert change.severity == "medium"


def test_the_next_import_without_the_policy_lists_it_removed(escalating, sample_bundle, reimport):
    stored = _ci_deploy_lambda(_command("escalations", "--principal", CI_DEPLOY))
    reimport(sample_bundle, label="again.json")

    document = _command("access_changes")

    assert document["escalations_added"] == []
    assert document["escalations_removed"] == stored
    assert _ci_deploy_lambda(_command("escalations", "--principal", CI_DEPLOY)) == []


@pytest.mark.parametrize("incremental", [True, False])
def test_what_if_of_removing_the_statement_lists_the_escalation_removed(escalating, incremental):
    proposal = Proposal()
    proposal.remove_statement(PolicyRef.parse(f"{CI_DEPLOY}#functions"), "Pass")

    answer = what_if(proposal, incremental=incremental)

    document = answer.document()
    assert (answer.method == INCREMENTAL) is incremental
    assert document["escalations_added"] == []
    assert [
        (row["principal"], row["method"], row["target"]) for row in document["escalations_removed"]
    ] == [(CI_DEPLOY, METHOD, LAMBDA_EXEC)]
    assert document["escalations_removed"] == _ci_deploy_lambda(
        _command("escalations", "--principal", CI_DEPLOY)
    )


def test_what_if_prints_the_escalation_keys(escalating, tmp_path):
    out = io.StringIO()
    call_command("what_if", "--remove-statement", f"{CI_DEPLOY}#functions", "Functions",
                 stdout=out, stderr=io.StringIO())  # fmt: skip
    document = json.loads(out.getvalue())
    assert list(document) == list(_command("access_changes"))
    assert [row["method"] for row in document["escalations_removed"] if row["principal"] == CI_DEPLOY
            and row["target"] == LAMBDA_EXEC] == [METHOD]  # fmt: skip


def test_changes_page_lists_the_escalation_under_its_kind(escalating, logged_in_client):
    shown = logged_in_client.get(reverse("identities:changes"), {"kind": "escalation"})
    hidden = logged_in_client.get(reverse("identities:changes"), {"kind": "edge"})

    body = shown.content.decode()
    new = body[body.index('<section id="new"') : body.index('<section id="expected"')]
    assert f'can become <code class="arn">{LAMBDA_EXEC}</code> by <code>{METHOD}</code>' in new
    assert "New escalation" in new
    assert "can assume" not in new
    assert METHOD not in hidden.content.decode()
