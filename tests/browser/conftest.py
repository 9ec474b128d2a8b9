"""Debian's Chromium driven by Playwright's sync API; never a browser download."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"REQUIRED browser missing: {reason}")
        pytest.skip(reason)  # on a laptop only; REQUIRED in CI (fails above)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Any]:
    """A fresh page whose console errors and uncaught exceptions land in `page.errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    # Any: `errors` is this fixture's own attribute, unknown to Playwright's Page.
    # A CSP violation's console line names neither the element nor the script behind it.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => console.error("
        "'CSP violation:', e.effectiveDirective, 'by', e.sourceFile + ':' + e.lineNumber, "
        "'sample', JSON.stringify(e.sample)));"
    )
    page: Any = context.new_page()
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def screenshot_taker(page: Any, folder: Path, *, full_page: bool) -> Callable[[str], Path]:
    """A function that saves a screenshot of the current step as ``folder/<name>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def screenshot(page: Any) -> Callable[[str], Path]:
    """Save a full-page screenshot of the current step under test-artifacts/screenshots/."""
    return screenshot_taker(page, SCREENSHOTS, full_page=True)
