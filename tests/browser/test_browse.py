"""A reviewer logs in, searches users with htmx, opens a user and follows it to its group."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_browse_journey_search_user_then_group(
    transactional_db, live_server, imported_sample, staff_user, page, screenshot
):
    page.goto(f"{live_server.url}/users/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    screenshot("01-login")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/users/")
    screenshot("02-users")

    page.locator("#id_q").press_sequentially("alic", delay=30)
    row_link = page.locator("#results a.principal-name", has_text=re.compile(r"^alice$"))
    row_link.wait_for()
    page.wait_for_url(re.compile(r"/users/\?q=alic"))
    result_names = page.locator("#results tbody a.principal-name").all_inner_texts()
    screenshot("03-users-search")

    row_link.click()
    page.wait_for_url(f"{live_server.url}/accounts/333333333333/users/alice/")
    screenshot("04-user")
    page.locator("#groups a", has_text="developers").click()
    page.wait_for_url(f"{live_server.url}/accounts/333333333333/groups/developers/")
    members = page.locator("#members tbody a.principal-name").all_inner_texts()
    screenshot("05-group")

    assert result_names == ["alice"]
    assert "alice" in members
    assert page.errors == []
