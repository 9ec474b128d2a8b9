"""A reviewer asks "who can iam:PassRole on *?" of a generated estate of ten accounts in
Chromium: the counts per account and per granting statements, one account's principals opened
and searched, one statement's principals paged, and the CSV of every principal. Screenshots go
to test-artifacts/screenshots/who-can/.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.utils import timezone

from identities.queries.who_can import answer_who_can, summarise
from tests.browser.conftest import SCREENSHOTS, screenshot_taker
from tests.browser.test_scale_browser import _login, ten_accounts  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "who-can"


@pytest.fixture
def shot(page):
    return screenshot_taker(page, SHOTS, full_page=False)


def test_who_can_summary_opens_searches_and_pages_its_lists(
    ten_accounts,  # noqa: F811 (fixture)
    live_server,
    staff_user,
    page,
    shot,
):
    found = answer_who_can("iam:PassRole", "*", now=timezone.now())
    summary = summarise(found)
    busiest = summary.by_account[0]
    widest = summary.by_grant[0]
    assert len(summary.by_account) == 10 and widest.principals > 50
    _login(page, live_server, "/access/who-can/")
    page.fill("input[name=action]", "iam:PassRole")
    page.fill("input[name=resource]", "*")
    page.click("form.filters button[type=submit]")
    heading = page.locator("#who-can h2")
    heading.wait_for()
    page.wait_for_url(re.compile(r"action=iam%3APassRole"))
    shot("01-who-can-summary")

    assert heading.inner_text().startswith(f"{summary.total} principals may iam:PassRole")
    assert page.locator("table.who-can-accounts tbody.bunch").count() == 10
    assert page.locator("table.who-can-grants tbody.bunch").count() == len(summary.by_grant)

    account_row = page.locator(f'tbody.bunch[data-account="{busiest.account_id}"]')
    account_row.locator("summary").click()
    rows = account_row.locator(".who-can-principals tbody tr")
    rows.first.wait_for()
    shot("02-account-opened")
    assert rows.count() == min(50, busiest.total)
    account_row.locator("input[type=search]").fill("role/")
    page.wait_for_function(
        "(id) => /matching “role\\/”/.test(document.querySelector(id).innerText)",
        arg=f"#rows-account-{busiest.account_id}",
    )
    shot("03-account-searched")
    shown = account_row.locator(".who-can-principals tbody tr .principal-name").all_inner_texts()
    assert len(shown) == min(50, busiest.roles)

    grant_row = page.locator(f'tbody.bunch[data-grant="{widest.key}"]')
    grant_row.locator("summary").click()
    grant_row.locator(".who-can-principals tbody tr").first.wait_for()
    assert f"{widest.principals} principals; 1–50 shown" in grant_row.inner_text()
    grant_row.get_by_text("Next →").click()
    page.wait_for_function(
        "(id) => /; 51–/.test(document.querySelector(id).innerText)",
        arg=f"#rows-grant-{widest.key}",
    )
    shot("04-grant-page-2")
    second = grant_row.locator(".who-can-principals tbody tr .principal-name")
    first_on_page_2 = [a for a in found if a.granted_by == widest.granted_by][50]
    assert second.first.get_attribute("title") == first_on_page_2.principal

    href = page.locator("a.who-can-csv").get_attribute("href")
    download = page.request.get(f"{live_server.url}{href}")
    rows_csv = list(csv.DictReader(io.StringIO(download.text())))
    assert [row["principal"] for row in rows_csv] == [a.principal for a in found]
    assert page.errors == []
