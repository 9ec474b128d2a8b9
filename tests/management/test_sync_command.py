"""`manage.py sync` and `manage.py setup_periodic_tasks` against moto in this process."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from identities.models import AccountSyncConfig, SyncSettings
from tests.awsfake import FakeOrg
from tests.conftest import users_of

pytestmark = pytest.mark.usefixtures("embedded")


def test_sync_command_discovers_and_syncs_the_organization(fake_org: FakeOrg) -> None:
    out = StringIO()

    call_command(
        "sync", "--organization", "--role-name", "iamviz-audit", "--no-progress", stdout=out
    )

    lines = out.getvalue().splitlines()
    assert lines[0] == "Saved in the sync settings: role_name"
    assert lines[-1] == "3 accounts synced."
    assert sum(line.startswith("ok    ") for line in lines) == 3
    assert SyncSettings.objects.get().role_name == "iamviz-audit"
    assert users_of(fake_org.accounts["prod"]) == ["user-0"]


def test_sync_command_exits_non_zero_when_an_account_fails(fake_org: FakeOrg) -> None:
    AccountSyncConfig.objects.create(account_id=fake_org.accounts["dev"], external_id="x")
    out = StringIO()

    with pytest.raises(CommandError, match=f"1 of 1 accounts failed: {fake_org.accounts['dev']}"):
        call_command("sync", "--account", fake_org.accounts["dev"], "--no-progress", stdout=out)

    assert "ParamValidationError" in out.getvalue()
    assert users_of(fake_org.accounts["dev"]) == []


def test_sync_command_without_accounts_explains_how_to_discover(db: None) -> None:
    SyncSettings.objects.create(discover_accounts=False)

    with pytest.raises(CommandError, match="--organization --role-name NAME"):
        call_command("sync", "--no-progress")


def test_setup_periodic_tasks_installs_the_schedules(db: None) -> None:
    PeriodicTask.objects.all().delete()
    out = StringIO()

    call_command("setup_periodic_tasks", stdout=out)

    assert PeriodicTask.objects.count() == 3
    assert out.getvalue() == (
        "Nightly organisation sync: 0 2 * * * (UTC), enabled; stale runs reaped every 60 seconds; "
        "archived bundles pruned every 3600 seconds.\n"
    )
