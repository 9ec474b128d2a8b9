"""What a sync reads before it calls AWS: the sync settings, each account's role and ExternalId,
the accounts the organisation lists, and how long a run may stay silent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
from django.conf import settings

from identities.aws import management_session
from identities.models import Account, AccountSyncConfig, SyncRun, SyncSettings

logger = logging.getLogger(__name__)

# A run in one of these states holds its account: no second run of the account may start.
ACTIVE = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)
DEFAULT_STALE_SECONDS = 120


def stale_after() -> timedelta:
    """How long a sync or analysis may go without a heartbeat before it counts as dead: taken
    over by its redelivered task or failed by the reaper (`IAMVIZ_SYNC_STALE_SECONDS`, 120)."""
    return timedelta(seconds=getattr(settings, "IAMVIZ_SYNC_STALE_SECONDS", DEFAULT_STALE_SECONDS))


def takeover_after() -> timedelta:
    """How long a run's worker may be silent before a redelivered task of the same run takes it
    over: half of `stale_after()` (three missed heartbeats), so that it comes before the reaper,
    which fails the run at `stale_after()`."""
    return stale_after() / 2


def beat_interval() -> float:
    """Seconds between the background heartbeats of a worker: a sixth of `stale_after()`, so
    that a live worker is never taken for dead (between 0.5 and 20 s)."""
    return min(20.0, max(0.5, stale_after().total_seconds() / 6))


def has_broker() -> bool:
    """Tasks run in worker processes (which may die on their own), not in-process."""
    return bool(getattr(settings, "REDIS_URL", ""))


def load_settings() -> SyncSettings:
    """The single SyncSettings row; before anyone saved one, an unsaved row with the defaults.

    Reading never writes (a GET of a page must not): the row is created by the first save, the
    settings form's or the `sync` command's.
    """
    return SyncSettings.objects.order_by("pk").first() or SyncSettings()


@dataclass(frozen=True)
class AccountTarget:
    """How one account is reached: the role to assume in it and the ExternalId to present."""

    account_id: str
    name: str
    role_name_or_arn: str
    external_id: str


def role_for(config: AccountSyncConfig | None, account_id: str, sync_settings: SyncSettings) -> str:
    """The account's own role, else the settings' role name, with `{account_id}` filled in."""
    role = (config.role_name_or_arn if config else "") or sync_settings.role_name
    return role.replace("{account_id}", account_id)


def resolve_target(account_id: str, sync_settings: SyncSettings | None = None) -> AccountTarget:
    """The role of the account's own configuration, else the settings' role name.

    `{account_id}` in a role ARN is replaced by the account id, so one ARN pattern with a path
    (`arn:aws:iam::{account_id}:role/audit/iamviz`) serves every account.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-api.html
    """
    sync_settings = sync_settings or load_settings()
    config = AccountSyncConfig.objects.filter(account_id=account_id).first()
    account = Account.objects.filter(account_id=account_id).only("name").first()
    external_id = (config.external_id if config else "") or sync_settings.external_id
    name = (config.name if config else "") or (account.name if account else "")
    return AccountTarget(
        account_id=account_id,
        name=name,
        role_name_or_arn=role_for(config, account_id, sync_settings),
        external_id=external_id,
    )


def base_session(sync_settings: SyncSettings) -> boto3.Session:
    """The management account's session from boto3's standard credential chain (never stored)."""
    return management_session(
        profile_name=sync_settings.profile_name or None, region_name=sync_settings.region
    )


def update_discovered_accounts(organization: dict[str, Any]) -> list[str]:
    """Make an AccountSyncConfig for every ACTIVE account of the organisation; returns their ids.

    Accounts listed by hand are left as they are (a name is only filled in). Discovered accounts
    that left the organisation or were suspended are disabled, not deleted.
    """
    active: dict[str, str] = {}
    for member in organization.get("accounts") or []:
        state = str(member.get("State") or member.get("Status") or "")
        if state == "ACTIVE":
            active[member["Id"]] = member.get("Name") or ""
    existing = {config.account_id: config for config in AccountSyncConfig.objects.all()}
    for account_id, name in active.items():
        config = existing.get(account_id)
        if config is None:
            AccountSyncConfig.objects.create(account_id=account_id, name=name, discovered=True)
        elif name and config.name != name and (config.discovered or not config.name):
            AccountSyncConfig.objects.filter(pk=config.pk).update(name=name)
    gone = [
        config.pk
        for account_id, config in existing.items()
        if config.discovered and config.enabled and account_id not in active
    ]
    if gone:
        AccountSyncConfig.objects.filter(pk__in=gone).update(enabled=False)
        logger.info(
            "Disabled %d discovered accounts no longer active in the organisation", len(gone)
        )
    return list(active)
