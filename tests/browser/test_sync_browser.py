"""Everything real but AWS: a staff user presses "Sync now" in Chromium, a Celery worker on
Redis syncs the organisation from moto_server into the test database, the page shows the
progress live and then the synced users and roles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.awsfake import FakeOrg

pytestmark = [pytest.mark.browser, pytest.mark.services]


@pytest.fixture
def fake_aws(aws_server: str, transactional_db: None) -> None:
    """The fake AWS is moto_server, which the worker process reaches too."""


def test_staff_syncs_the_organization_from_the_browser(
    fake_org: FakeOrg,
    celery_worker_process: Any,
    live_server: Any,
    staff_user: Any,
    page: Any,
    screenshot: Any,
) -> None:
    dev = fake_org.accounts["dev"]
    page.goto(f"{live_server.url}/sync/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/sync/")
    screenshot("sync-01-before")

    page.get_by_role("button", name="Sync organisation now").click()
    status = page.get_by_test_id("organization-status")
    status.wait_for()
    first_status = status.inner_text()
    screenshot("sync-02-progress")
    page.wait_for_function(
        "() => /^(Succeeded|Failed)$/.test("
        "document.querySelector('[data-testid=organization-status]').textContent.trim())",
        timeout=60_000,
    )
    screenshot("sync-03-done")
    final_status = status.inner_text()
    row_states = page.locator("#progress tbody tr").evaluate_all(
        "rows => rows.map(row => [row.id, row.dataset.status])"
    )
    dev_cells = page.locator(f"#account-{dev} td.num").all_inner_texts()
    polling_after = page.locator("#progress").get_attribute("hx-trigger")

    page.get_by_role("button", name=f"Sync account {dev} now").click()
    page.wait_for_selector(
        f'#account-{dev}[data-status="pending"], #account-{dev}[data-status="running"]'
    )
    page.wait_for_selector(f'#account-{dev}[data-status="succeeded"]', timeout=60_000)

    page.locator(f"#account-{dev} a", has_text="dev").click()
    page.wait_for_url(f"{live_server.url}/accounts/{dev}/")
    page.goto(f"{live_server.url}/users/?account={dev}")
    users = page.locator("#results tbody a.principal-name").all_inner_texts()
    page.goto(f"{live_server.url}/roles/?account={dev}")
    roles = page.locator("#results tbody a.principal-name").all_inner_texts()
    screenshot("sync-04-roles")

    assert first_status in {"Pending", "Running"}
    assert final_status == "Succeeded"
    assert sorted(row_states) == sorted(
        [f"account-{account_id}", "succeeded"] for account_id in fake_org.accounts.values()
    )
    # users, groups, roles, changes, AWS calls, elapsed
    assert dev_cells[:3] == ["2", "0", "3"]
    assert dev_cells[4] == "9"
    assert polling_after is None
    assert sorted(users) == ["user-0", "user-1"]
    assert sorted(roles) == ["OrganizationAccountAccessRole", "role-0", "role-1"]
    assert page.errors == []
