"""The what-if pages: the editor prefilled from the estate, validation naming the JSON path,
the difference as lists, saved proposals by permalink, run again after the next analysis."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from identities.analysis import analyse_estate
from identities.analysis.what_if import TRUST, PolicyRef, current_document
from identities.models import AuditEvent, WhatIfProposal
from identities.queries.access import current_run

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.test import Client

PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
DEV_OPS = "arn:aws:iam::333333333333:role/dev-ops"
ALICE = "arn:aws:iam::333333333333:user/alice"


def _trust_with_anyone() -> str:
    document = current_document(PolicyRef(TRUST, PROD_OPS))
    document["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    )
    return json.dumps(document)


def _change(document: str, **extra: str) -> dict[str, str]:
    return {"change": "trust-policy", "target": PROD_OPS, "document": document, **extra}


def test_the_editor_is_prefilled_with_the_current_trust_policy(
    imported_sample: Any, viewer_client: Client
) -> None:
    page = viewer_client.get(f"/what-if/?edit=trust-policy&target={PROD_OPS}").content.decode()

    assert f'value="{PROD_OPS}"' in page
    assert "FromDevOps" in page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert 'class="htmx-indicator what-if-progress"' in page


def test_the_role_page_links_to_its_what_if(imported_sample: Any, viewer_client: Client) -> None:
    page = viewer_client.get("/accounts/444444444444/roles/prod-ops/").content.decode()

    assert "/what-if/?edit=trust-policy&amp;target=arn%3Aaws%3Aiam%3A%3A444444444444" in page


def test_a_choke_point_link_prefills_a_statement_removal(
    imported_sample: Any, viewer_client: Client
) -> None:
    page = viewer_client.get(
        "/what-if/", {"change": f"--remove-statement {PROD_OPS} FromDevOps"}
    ).content.decode()

    assert 'value="FromDevOps"' in page
    assert '<option value="remove-statement" selected>' in page


def test_an_invalid_document_is_refused_naming_the_json_path(
    imported_sample: Any, viewer_client: Client
) -> None:
    bad = json.dumps({"Statement": [{"Effect": "allow", "Action": "sts:AssumeRole"}]})

    response = viewer_client.post("/what-if/run/", _change(bad))
    unparsable = viewer_client.post("/what-if/run/", _change('{"Statement": ['))

    assert response.status_code == 400
    assert "$.Statement[0].Effect" in response.content.decode()
    assert "The difference" not in response.content.decode()
    assert unparsable.status_code == 400
    assert "$:" in unparsable.content.decode()
    # htmx swaps no error response in: it gets the editor with the error, as a 200.
    swapped = viewer_client.post("/what-if/run/", _change(bad), HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200 and "$.Statement[0].Effect" in swapped.content.decode()


def test_a_trust_policy_opened_to_anyone_shows_the_edges_it_adds(
    imported_sample: Any, viewer_client: Client
) -> None:
    response = viewer_client.post(
        "/what-if/run/", _change(_trust_with_anyone()), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in body  # the fragment htmx swaps in
    added = body.split("Edges added", 1)[1].split("</table>", 1)[0]
    assert ALICE in added and "* anyone" in added
    assert DEV_OPS not in added  # it could assume prod-ops already
    assert "Findings appearing" in body
    assert "re-evaluated only what the change touches" in body


def test_a_membership_removal_shows_the_paths_lost(
    imported_sample: Any, viewer_client: Client
) -> None:
    from identities.models import GroupMembership

    group = GroupMembership.objects.filter(user__arn=ALICE).values_list("group__arn", flat=True)
    response = viewer_client.post(
        "/what-if/run/",
        {"change": "remove-membership", "target": ALICE, "argument": group[0]},
    )

    assert response.status_code == 200
    assert "re-evaluated only what the change touches" in response.content.decode()


def test_a_saved_proposal_has_a_permalink_and_runs_again_after_the_next_analysis(
    imported_sample: Any, client: Client, user_with_role: Callable[[str], Any]
) -> None:
    reviewer, viewer = user_with_role("reviewer"), user_with_role("viewer")
    first = current_run()
    assert first is not None

    client.force_login(reviewer)
    saved = client.post("/what-if/save/", _change(_trust_with_anyone(), name="open prod-ops"))

    proposal = WhatIfProposal.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/what-if/{proposal.pk}/"
    assert proposal.name == "open prod-ops" and proposal.computed_run_id == first.pk
    assert proposal.created_by == reviewer
    assert proposal.changes[0][0] == "trust-policy"
    assert proposal.changes[0][1][1]["Statement"][-1]["Principal"] == {"AWS": "*"}
    assert proposal.result["counts"]["edges_added"] > 0
    assert AuditEvent.objects.filter(action="what_if_save", target=str(proposal)).exists()

    client.force_login(viewer)
    page = client.get(f"/what-if/{proposal.pk}/").content.decode()
    assert "open prod-ops" in page
    assert f"Computed against analysis #{first.pk}" in page and f"current is #{first.pk}" in page
    assert ALICE in page
    assert "Run again</button>" not in page  # a viewer may not rewrite the result
    graph_url = page.split('href="/graph/access/?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    graph = client.get(f"/graph/access/?{graph_url}").content.decode()
    assert f"what_if={proposal.pk}" in graph_url
    assert "change-added" in graph and "open prod-ops" in graph

    second = analyse_estate()["run"]
    stale = client.get(f"/what-if/{proposal.pk}/").content.decode()
    assert f"Computed against analysis #{first.pk}" in stale and f"current is #{second}" in stale
    assert "run it again" in stale
    assert client.post(f"/what-if/{proposal.pk}/run/").status_code == 403

    client.force_login(reviewer)
    rerun = client.post(f"/what-if/{proposal.pk}/run/", HTTP_HX_REQUEST="true")
    proposal.refresh_from_db()
    assert rerun.status_code == 200
    assert proposal.computed_run_id == second
    assert f"Computed against analysis #{second}" in rerun.content.decode()
    assert AuditEvent.objects.filter(action="what_if_rerun").count() == 1


def test_viewers_run_but_only_reviewers_save(
    imported_sample: Any, client: Client, user_with_role: Callable[[str], Any]
) -> None:
    document = _trust_with_anyone()
    client.force_login(user_with_role("viewer"))

    assert client.post("/what-if/run/", _change(document)).status_code == 200
    assert "formaction" not in client.get("/what-if/").content.decode()  # no Save button
    assert client.post("/what-if/save/", _change(document, name="x")).status_code == 403
    assert not WhatIfProposal.objects.exists()

    client.force_login(user_with_role("reviewer"))
    unnamed = client.post("/what-if/save/", _change(document))
    assert unnamed.status_code == 400 and "Name the proposal" in unnamed.content.decode()
    assert not WhatIfProposal.objects.exists()


def test_a_big_groups_members_are_counted_not_all_listed(
    imported_sample: Any, viewer_client: Client
) -> None:
    from identities.models import GroupMembership, IamGroup, IamUser
    from identities.views.what_if import MEMBERS_SHOWN

    group = IamGroup.objects.get(memberships__user__arn=ALICE)
    account = group.account
    users = IamUser.objects.bulk_create(
        IamUser(
            account=account,
            name=f"extra-{n:02}",
            arn=f"arn:aws:iam::{account.account_id}:user/extra-{n:02}",
            unique_id=f"AIDAEXTRA{n:02}",
            path="/",
        )
        for n in range(30)
    )
    GroupMembership.objects.bulk_create(GroupMembership(user=u, group=group) for u in users)
    total = GroupMembership.objects.filter(group=group).count()

    page = viewer_client.get(
        "/what-if/", {"change": f"--remove-membership {ALICE} {group.arn}"}
    ).content.decode()

    assert f"Members ({total}; the first {MEMBERS_SHOWN})" in page
    listed = page.split("Members (", 1)[1].split("</small>", 1)[0]
    assert listed.count('<code class="arn">') == MEMBERS_SHOWN
