"""A question answered in the background, in Chromium: the page says it is working, then shows
the answer without a reload (htmx asks again every second)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from django.utils import timezone

from identities.queries import who_can
from identities.queries.who_can import summarise
from tests.browser.test_scale_browser import _login, ten_accounts  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _answers_finished(transactional_db: None) -> Iterator[None]:
    """Each test ends, before its database is emptied, once the threads it started have
    (their database connections closed)."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("who-can "):
            thread.join(timeout=60)


def test_who_can_shows_that_it_is_working_then_the_answer(
    ten_accounts,  # noqa: F811 (fixture)
    live_server,
    staff_user,
    page,
    monkeypatch,
):
    monkeypatch.setattr(who_can, "BACKGROUND_FROM", 0)
    _login(page, live_server, "/access/who-can/")
    page.fill("input[name=action]", "iam:PassRole")
    page.fill("input[name=resource]", "*")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"action=iam%3APassRole"))
    page.locator(".who-can-pending").wait_for()  # shown for a second at least
    heading = page.locator("#who-can h2")
    heading.wait_for(timeout=60_000)

    summary = summarise(who_can.who_can("iam:PassRole", "*", now=timezone.now()))
    assert heading.inner_text().startswith(f"{summary.total} principals may iam:PassRole")
    assert page.locator(".who-can-pending").count() == 0
    assert page.locator("table.who-can-accounts tbody.bunch").count() == len(summary.by_account)


def test_who_can_page_opened_at_its_url_polls_for_the_answer(
    ten_accounts,  # noqa: F811 (fixture)
    live_server,
    staff_user,
    page,
    monkeypatch,
):
    monkeypatch.setattr(who_can, "BACKGROUND_FROM", 0)
    _login(page, live_server, "/access/who-can/?action=iam%3ACreateAccessKey&resource=%2A")

    notice = page.locator(".who-can-pending")
    notice.wait_for()
    assert "Working out who may iam:CreateAccessKey" in notice.inner_text()
    heading = page.locator("#who-can h2")
    heading.wait_for(timeout=60_000)

    assert notice.count() == 0
    assert "may iam:CreateAccessKey" in heading.inner_text()
