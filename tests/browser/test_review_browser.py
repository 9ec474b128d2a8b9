"""The morning review: the Changes page, a new edge opened, marked expected, and gone from
the "new" list."""

from __future__ import annotations

import copy
import re

import pytest

pytestmark = pytest.mark.browser

VENDOR_ROOT = "arn:aws:iam::999999999999:root"
PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"


def test_morning_review_marks_a_new_edge_expected(
    transactional_db, live_server, imported_sample, sample_bundle, staff_user, page, screenshot
):
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from tests.review.conftest import change_sample

    night = import_bundle(copy.deepcopy(change_sample(sample_bundle)), label="night.json")
    analyse_estate()
    new_edge = page.locator("#new a.change-edge", has_text=f"can assume {PROD_OPS}")

    page.goto(f"{live_server.url}/review/changes/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/review/changes/")
    new_before = new_edge.count()
    screenshot("review-01-changes")

    new_edge.first.click()
    page.wait_for_url(re.compile(r"/review/changes/edge/\?"))
    causes = page.locator("#causes tbody tr").all_inner_texts()
    screenshot("review-02-edge")
    page.fill("#id_reason", "vendor support contract, ticket SEC-42")
    page.click(".edge-review-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/review/changes/")
    screenshot("review-03-expected")

    assert new_before == 1
    assert [re.sub(r"\s+", " ", row).strip() for row in causes] == [
        f"#{night.sync_run.pk} trust_policy changed {PROD_OPS}"
    ]
    assert new_edge.count() == 0
    expected = page.locator("#expected a.change-edge", has_text=f"can assume {PROD_OPS}")
    assert expected.count() == 1
    assert "vendor support contract" in page.locator("#expected").inner_text()
    assert page.errors == []
