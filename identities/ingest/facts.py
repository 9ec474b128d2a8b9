"""Facts that are not changes: fields AWS updates by mere use, and credential facts kept when
the credential report could not be had.

*Volatile* fields (a role's RoleLastUsed, the credential report's last-used times) move every
time anyone, the sync's own AssumeRole included, uses a principal. They are stored, but left
out of the row fingerprints and the account digest, so they never make a row or an account
"changed" nor appear in the change set; `store_volatile` writes them when nothing else changed.

Without a credential report (throttled, not ready in time, or a file without one) the users'
password, MFA and access-key facts would all become unknown and flip back the next night:
`keep_previous_credentials` carries the stored facts over instead, and the account remembers
which run's report they come from (`Account.credential_report_run`).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from identities.db import update_rows
from identities.ingest.normalise import VOLATILE_COLUMNS, AccountRows, Rows
from identities.models import AccessKey, Account, IamRole, IamUser, SyncRun

VOLATILE: dict[type[models.Model], tuple[str, ...]] = {
    IamRole: VOLATILE_COLUMNS["role"],
    IamUser: VOLATILE_COLUMNS["user"],
    AccessKey: VOLATILE_COLUMNS["access_key"],
}
CREDENTIAL_FIELDS = (
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
)
KEY_FIELDS = ("slot", "active", "last_rotated", "last_used_date", "last_used_region")


def store_volatile(account: Account, rows: AccountRows) -> int:
    """Write the volatile fields of an account whose other content is unchanged; returns the
    number of rows updated (no change is recorded)."""
    touched = _touch(IamRole, account.roles.all(), "unique_id", _by_uid(rows.roles))
    touched += _touch(IamUser, account.users.all(), "unique_id", _by_uid(rows.users))
    keys = {(uid, slot): row for (uid, slot), row in rows.access_keys.items()}
    stored = AccessKey.objects.filter(user__account=account)
    touched += _touch(AccessKey, stored, ("user__unique_id", "slot"), keys)
    return touched


def _by_uid(rows: Rows) -> dict[Any, dict[str, Any]]:
    return {key[0]: row for key, row in rows.items()}


def _touch(
    model: type[models.Model],
    stored: models.QuerySet[Any],
    key: str | tuple[str, ...],
    desired: dict[Any, dict[str, Any]],
) -> int:
    fields = VOLATILE[model]
    names = (key,) if isinstance(key, str) else key
    objects = []
    for values in stored.values_list("pk", *names, *fields):
        found = values[1] if len(names) == 1 else tuple(values[1 : 1 + len(names)])
        row = desired.get(found)
        if row is None:
            continue
        current = dict(zip(fields, values[1 + len(names) :], strict=True))
        if any(current[name] != row.get(name, current[name]) for name in fields):
            objects.append(model(pk=values[0], **{name: row[name] for name in fields}))
    if objects:
        update_rows(model, objects, fields)
    return len(objects)


def keep_previous_credentials(account: Account, rows: AccountRows) -> int:
    """Without a credential report, give the users still there their stored credential facts
    and access keys; returns how many users kept facts."""
    stored_users = {
        uid: dict(zip(CREDENTIAL_FIELDS, values, strict=True))
        for uid, *values in account.users.values_list("unique_id", *CREDENTIAL_FIELDS)
    }
    kept = 0
    for (uid,), row in rows.users.items():
        facts = stored_users.get(uid)
        if facts is not None and any(value is not None for value in facts.values()):
            row.update(facts)
            kept += 1
    for uid, *values in AccessKey.objects.filter(user__account=account).values_list(
        "user__unique_id", *KEY_FIELDS, "last_used_service"
    ):
        if (uid,) in rows.users:
            key = dict(zip((*KEY_FIELDS, "last_used_service"), values, strict=True))
            rows.access_keys[(uid, key["slot"])] = key
    return kept


def kept_credentials_warning(account: Account, kept: int) -> str:
    """The run's warning when credential facts come from an earlier report."""
    source = (
        SyncRun.objects.filter(pk=account.credential_report_run_id or 0)
        .values_list("pk", "finished_at")
        .first()
    )
    if source is None:
        when = "an earlier run"
    else:
        pk, finished_at = source
        when = f"run #{pk}" + (f" of {finished_at:%Y-%m-%d %H:%M} UTC" if finished_at else "")
    return (
        f"account {account.account_id}: no credential report in this run; the password, MFA "
        f"and access-key facts of {kept} users are kept from the report of {when}"
    )
