"""identities.sync.config: the sync settings, each account's role, discovered accounts."""

from __future__ import annotations

from identities.models import AccountSyncConfig, SyncSettings
from identities.sync.config import (
    AccountTarget,
    load_settings,
    resolve_target,
    update_discovered_accounts,
)


def test_resolve_target_prefers_the_account_role_and_fills_the_account_id(db: None) -> None:
    SyncSettings.objects.create(role_name="iamviz-readonly", external_id="fake_org-wide")
    AccountSyncConfig.objects.create(
        account_id="111111111111",
        name="dev",
        role_name_or_arn="arn:aws:iam::{account_id}:role/audit/iamviz",
    )
    AccountSyncConfig.objects.create(account_id="222222222222", external_id="prod-only")

    dev = resolve_target("111111111111")
    prod = resolve_target("222222222222")

    assert dev == AccountTarget(
        "111111111111", "dev", "arn:aws:iam::111111111111:role/audit/iamviz", "fake_org-wide"
    )
    assert prod == AccountTarget("222222222222", "", "iamviz-readonly", "prod-only")


def test_discovery_disables_accounts_that_left_and_keeps_hand_listed_ones(db: None) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111", discovered=True)
    AccountSyncConfig.objects.create(account_id="222222222222", name="by hand")
    organization = {
        "accounts": [
            {"Id": "333333333333", "Name": "new", "Status": "ACTIVE"},
            {"Id": "444444444444", "Name": "closing", "Status": "SUSPENDED"},
        ]
    }

    active = update_discovered_accounts(organization)

    assert active == ["333333333333"]
    assert list(
        AccountSyncConfig.objects.values_list("account_id", "name", "enabled", "discovered")
    ) == [
        ("111111111111", "", False, True),
        ("222222222222", "by hand", True, False),
        ("333333333333", "new", True, True),
    ]


def test_load_settings_reads_the_defaults_without_writing(db: None) -> None:
    sync_settings = load_settings()

    assert (sync_settings.pk, sync_settings.role_name, sync_settings.discover_accounts) == (
        None,
        "iamviz-readonly",
        True,
    )
    assert SyncSettings.objects.count() == 0


def test_load_settings_reads_the_saved_row(db: None) -> None:
    saved = SyncSettings.objects.create(role_name="audit")

    assert (load_settings().pk, load_settings().role_name) == (saved.pk, "audit")
