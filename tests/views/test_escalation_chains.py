"""Pages that show chains render escalation hops with their method (issue 10, item 3): the
Administrators page's "who can become an administrator", a role's "who can assume" and a
principal's reach."""

from __future__ import annotations

from django.urls import reverse

from identities.analysis import analyse_estate
from identities.models import IamRole, ManagedPolicy, PolicyAttachment

DEV, SEC = "333333333333", "222222222222"
PASS_TO_LAMBDA = "Lambda-PassExistingRoleToNewLambdaThenInvoke"


def test_administrators_page_shows_the_escalation_hop_to_an_administrator(
    logged_in_client, imported_sample
):
    # lambda-exec made an administrator: frank, who can pass it to a new function, reaches one.
    lambda_exec = IamRole.objects.get(arn=f"arn:aws:iam::{DEV}:role/lambda-exec")
    admin = ManagedPolicy.objects.get(account=lambda_exec.account, name="AdministratorAccess")
    PolicyAttachment.objects.create(policy=admin, role=lambda_exec)
    analyse_estate()

    response = logged_in_client.get(reverse("identities:administrators"))

    body = response.content.decode()
    assert response.status_code == 200
    assert f"<code>{PASS_TO_LAMBDA}</code>" in body
    assert "by assuming roles or by an escalation" in body


def section(client, name: str, *args: str) -> str:
    """The htmx fragment a section of a page loads."""
    response = client.get(reverse(name, args=args), headers={"HX-Request": "true"})
    return response.content.decode()


def test_role_page_lists_who_can_become_it_by_escalation(logged_in_client, imported_sample):
    body = section(logged_in_client, "identities:role-access", DEV, "lambda-exec")

    assert "Through role chains and escalations" in body
    assert f"#{PASS_TO_LAMBDA}" in body
    assert 'class="badge escalate"' in body


def test_user_reach_renders_a_mixed_chain(logged_in_client, imported_sample):
    body = section(logged_in_client, "identities:user-reach", SEC, "svc-key-rotator")

    assert body.count("<code>IAM-CreateAccessKey</code>") >= 2  # the auditor, then its roles
