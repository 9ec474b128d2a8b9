"""The what-if editor with several changes in one proposal (added, left out, each validated
and named in its error), saved and permalinked; and the "What if…" links of the pages of
roles, users, groups and policies (managed, inline, boundaries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from identities.models import GroupMembership, InlinePolicy, PolicyAttachment, WhatIfProposal

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.test import Client

PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
ALICE = "arn:aws:iam::333333333333:user/alice"


def _formset(*changes: dict[str, str], **extra: str) -> dict[str, str]:
    data = {"form-TOTAL_FORMS": str(len(changes)), "form-INITIAL_FORMS": "0", **extra}
    for index, change in enumerate(changes):
        data.update({f"form-{index}-{name}": value for name, value in change.items()})
    return data


def _alices_group() -> str:
    return GroupMembership.objects.filter(user__arn=ALICE).values_list("group__arn", flat=True)[0]


def test_add_a_change_shows_one_more_with_the_current_document_prefilled(
    imported_sample: Any, viewer_client: Client
) -> None:
    first = {"change": "remove-statement", "target": PROD_OPS, "argument": "FromDevOps"}

    added = viewer_client.post("/what-if/run/", _formset(first, action="add")).content.decode()
    refreshed = viewer_client.post(
        "/what-if/run/",
        _formset(first, {"change": "trust-policy", "target": PROD_OPS}, action="refresh"),
    ).content.decode()

    assert added.count("<fieldset") == 2 and "Change 2 of 2" in added
    assert 'value="FromDevOps"' in added and "The difference" not in added
    second = refreshed.split('id="what-if-change-2"', 1)[1]
    assert "FromDevOps" in second.split("<textarea", 1)[1].split("</textarea>", 1)[0]


def test_a_proposal_of_two_changes_is_one_answer_saved_with_both(
    imported_sample: Any, client: Client, user_with_role: Callable[[str], Any]
) -> None:
    client.force_login(user_with_role("reviewer"))
    group = _alices_group()
    changes = (
        {"change": "remove-statement", "target": PROD_OPS, "argument": "FromDevOps"},
        {"change": "remove-membership", "target": ALICE, "argument": group},
    )

    shown = client.post("/what-if/run/", _formset(*changes)).content.decode()
    saved = client.post("/what-if/save/", _formset(*changes, name="cut alice"))
    proposal = WhatIfProposal.objects.get()
    permalink = client.get(f"/what-if/{proposal.pk}/").content.decode()
    editor = client.get(f"/what-if/?proposal={proposal.pk}").content.decode()

    lost = shown.split("Lose their path to an administrator", 1)[1]
    assert ALICE in lost
    assert saved.status_code == 302
    assert proposal.changes == [
        ["remove-statement", [PROD_OPS, "FromDevOps"]],
        ["remove-membership", [ALICE, group]],
    ]
    assert "--remove-statement" in permalink and "--remove-membership" in permalink
    assert editor.count("<fieldset") == 2 and 'value="cut alice"' in editor


def test_a_change_left_out_is_not_run_and_an_error_names_its_change(
    imported_sample: Any, viewer_client: Client
) -> None:
    changes = (
        {"change": "remove-statement", "target": PROD_OPS, "argument": "FromDevOps"},
        {"change": "remove-statement", "target": PROD_OPS, "argument": "NoSuchSid"},
    )

    refused = viewer_client.post("/what-if/run/", _formset(*changes))
    left_out = viewer_client.post("/what-if/run/", _formset(*changes, **{"form-1-DELETE": "on"}))

    body = refused.content.decode()
    assert refused.status_code == 400
    second = body.split('id="what-if-change-2"')[1]
    assert "no statement with Sid or index &#x27;NoSuchSid&#x27;" in second
    assert "no statement" not in body.split('id="what-if-change-2"')[0]
    assert left_out.status_code == 200 and "The difference" in left_out.content.decode()


def test_a_detach_runs_from_the_editor_and_is_prefilled_from_a_link(
    imported_sample: Any, viewer_client: Client
) -> None:
    attachment = PolicyAttachment.objects.select_related("policy", "role").exclude(role=None)[0]
    policy, role = attachment.policy.arn, attachment.role.arn

    page = viewer_client.get(
        "/what-if/", {"edit": "detach", "target": policy, "principal": role}
    ).content.decode()
    run = viewer_client.post(
        "/what-if/run/", _formset({"change": "detach", "target": policy, "argument": role})
    )
    not_attached = viewer_client.post(
        "/what-if/run/", _formset({"change": "detach", "target": policy, "argument": ALICE})
    )

    assert '<option value="detach" selected>' in page and f'value="{role}"' in page
    assert run.status_code == 200 and "The difference" in run.content.decode()
    assert f"is not attached to {ALICE}" in not_attached.content.decode()


def test_every_policy_of_a_role_user_group_and_policy_page_has_its_what_if(
    imported_sample: Any, viewer_client: Client
) -> None:
    attachment = PolicyAttachment.objects.select_related(
        "policy__account", "role__account"
    ).exclude(role=None)[0]
    inline = InlinePolicy.objects.select_related("user__account").exclude(user=None)[0]
    role, user = attachment.role, inline.user

    role_page = viewer_client.get(role.get_absolute_url()).content.decode()
    user_page = viewer_client.get(user.get_absolute_url()).content.decode()
    policy_page = viewer_client.get(attachment.policy.get_absolute_url()).content.decode()

    detach = f"edit=detach&amp;target={quote(attachment.policy.arn, safe='/')}"
    assert f"{detach}&amp;principal={quote(role.arn, safe='/')}" in role_page
    assert f"{detach}&amp;principal={quote(role.arn, safe='/')}" in policy_page
    assert f"edit=boundary&amp;target={quote(role.arn, safe='/')}" in role_page
    inline_target = quote(f"{user.arn}#{inline.name}", safe="/")
    assert f"edit=policy&amp;target={inline_target}" in user_page
    assert f"edit=boundary&amp;target={quote(user.arn, safe='/')}" in user_page


def test_a_groups_own_policies_have_their_what_if(imported_sample: Any, viewer_client: Client):
    attachment = PolicyAttachment.objects.select_related("policy", "group__account").exclude(
        group=None
    )[0]
    group = attachment.group

    page = viewer_client.get(group.get_absolute_url()).content.decode()

    target = quote(attachment.policy.arn, safe="/")
    assert f"edit=detach&amp;target={target}&amp;principal={quote(group.arn, safe='/')}" in page
    assert "edit=remove-membership" in page
