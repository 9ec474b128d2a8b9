"""The what-if editor in a browser: a choke point's change opened, a second change added and its
kind chosen (the editor redrawn for it), the proposal run as one; a choke point's "Run what-if"
shows the difference with no further click."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.browser

PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
ALICE = "arn:aws:iam::333333333333:user/alice"


def test_a_proposal_of_two_changes_built_in_the_editor(
    transactional_db, live_server, imported_sample, staff_user, page, screenshot
):
    from identities.models import GroupMembership

    group = GroupMembership.objects.filter(user__arn=ALICE).values_list("group__arn", flat=True)[0]
    query = urlencode({"change": f"--remove-statement {PROD_OPS} FromDevOps"})

    page.goto(f"{live_server.url}/what-if/?{query}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/what-if/"))
    page.click("button[name=action][value=add]")
    page.wait_for_selector("#what-if-change-2")
    page.select_option("#id_form-1-change", "remove-membership")
    page.wait_for_selector("#id_form-1-argument")  # redrawn: a membership takes a group
    page.fill("#id_form-1-target", ALICE)
    page.fill("#id_form-1-argument", group)
    page.click(".what-if-actions button[type=submit]:not([formaction])")
    page.wait_for_selector("#what-if-result", timeout=60_000)
    screenshot("what-if-two-changes")

    assert page.locator("#id_form-0-argument").input_value() == "FromDevOps"
    assert page.locator("fieldset.what-if-change").count() == 2
    result = page.locator("#what-if-result").inner_text()
    assert "Lose their path to an administrator" in result and "alice" in result
    assert page.errors == []


def test_a_choke_points_run_what_if_shows_its_difference_at_once(
    transactional_db, live_server, imported_sample, staff_user, page, screenshot
):
    page.goto(f"{live_server.url}/access/choke-points/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    first = page.locator("a[role=button]", has_text="Run what-if").first
    change = page.locator("#choke-points tbody tr").first.locator("td").nth(1).inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/what-if/\?change=.*run=1"))
    page.wait_for_selector("#what-if-result", timeout=60_000)
    screenshot("what-if-from-choke-point")

    result = page.locator("#what-if-result").inner_text()
    assert "Lose their path to an administrator" in result, (change, result[:400])
    # Run once: the result's editor does not run the proposal again on its own.
    assert page.locator("form.what-if-editor[hx-trigger]").count() == 0
    assert page.errors == []


def test_a_proposal_answered_by_a_worker_appears_when_its_job_is_done(
    transactional_db, live_server, imported_sample, staff_user, page, screenshot, settings
):
    """With the what-if in the background the page shows the job, polls it (htmx, every
    second) and swaps the difference in once answered, with no click."""
    from identities.models import WhatIfJob

    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True
    query = urlencode({"change": f"--remove-statement {PROD_OPS} FromDevOps"})
    page.goto(f"{live_server.url}/what-if/?{query}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/what-if/"))
    page.click(".what-if-actions button[type=submit]:not([formaction])")
    page.wait_for_selector("#what-if-job")
    page.wait_for_selector("#what-if-job[data-status=done] #what-if-result", timeout=60_000)
    screenshot("what-if-answered-by-a-job")

    job = WhatIfJob.objects.get()
    assert job.status == WhatIfJob.Status.DONE
    result = page.locator("#what-if-result").inner_text()
    assert f"Against analysis #{job.result['run']}" in result
    assert page.errors == []


def test_saving_a_proposal_through_a_job_shows_its_result_on_its_page(
    transactional_db, live_server, imported_sample, staff_user, page, screenshot, settings
):
    """Save (htmx) goes to the proposal's page, which polls its job until the result is
    stored; no htmx error on the way (the Save button disables itself, not a descendant)."""
    from identities.models import WhatIfProposal

    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = True
    query = urlencode({"change": f"--remove-statement {PROD_OPS} FromDevOps"})
    page.goto(f"{live_server.url}/what-if/?{query}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/what-if/"))
    page.fill("#id_name", "close prod-ops to dev-ops")
    page.click("button[formaction]")
    page.wait_for_url(re.compile(r"/what-if/\d+/$"))
    page.wait_for_selector("#what-if-result", timeout=60_000)
    screenshot("what-if-saved-through-a-job")

    proposal = WhatIfProposal.objects.get()
    assert proposal.result and proposal.computed_run_id is not None
    assert "Lose their path to an administrator" in page.locator("#what-if-result").inner_text()
    assert page.errors == []
