"""Row dicts -> the tables: write only the difference, in ONE transaction, as a change set.

`apply_estate` compares the normalised rows with what the database holds and writes only the
difference, with bulk statements, recording every difference as a `Change` of the run. A failure
anywhere rolls the whole transaction back: the previous state stays exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import CharField, Model, UniqueConstraint

from identities import models
from identities.bundle import BundleError
from identities.db import BATCH, copy_rows, update_rows
from identities.ingest.cascade import record_cascade
from identities.ingest.facts import (
    VOLATILE,
    keep_previous_credentials,
    kept_credentials_warning,
    store_volatile,
)
from identities.ingest.normalise import AccountRows, EstateRows, Key, OrganizationRows, Rows

# How a change names a row: from its key and its values.
Describe = Callable[[Key, dict[str, Any]], str]


class ChangeLog:
    """Collects the change set of one run and counts it by kind."""

    def __init__(self, sync_run: models.SyncRun) -> None:
        self.sync_run = sync_run
        self.entries: list[models.Change] = []
        self.counts: dict[str, dict[str, int]] = defaultdict(
            lambda: {"added": 0, "removed": 0, "changed": 0}
        )
        self.warnings: list[str] = []

    def add(
        self,
        account_id: str,
        kind: str,
        action: str,
        key: str,
        detail: dict[str, Any] | None = None,
        *,
        record: bool = True,
    ) -> None:
        self.counts[kind][action] += 1
        if record:
            self.entries.append(
                models.Change(
                    sync_run=self.sync_run,
                    account_id=account_id,
                    kind=kind,
                    action=action,
                    key=key,
                    detail=detail or {},
                )
            )

    def total(self) -> int:
        return sum(sum(actions.values()) for actions in self.counts.values())


def apply_estate(estate: EstateRows, sync_run: models.SyncRun) -> ChangeLog:
    """Write the difference between `estate` and the database in one transaction."""
    changes = ChangeLog(sync_run)
    with transaction.atomic():
        if estate.organization is not None:
            apply_organization(estate.organization, changes)
        for account_rows in estate.accounts:
            _apply_account(account_rows, sync_run, changes)
        models.Change.objects.bulk_create(changes.entries, batch_size=BATCH)
    return changes


def apply_organization(org: OrganizationRows, changes: ChangeLog) -> None:
    nodes_and_policies: list[tuple[type[Model], str, Rows, str, Describe]] = [
        (models.OrgNode, "node_id", org.nodes, "org_unit", lambda key, row: row["path"]),
        (
            models.OrgPolicy,
            "policy_id",
            org.policies,
            "org_policy",
            lambda key, row: f"{row['type']} {row['name']}",
        ),
    ]
    for model, key_field, desired, kind, describe in nodes_and_policies:
        _sync_rows(
            model,
            scope={},
            key_fields=(key_field,),
            desired=desired,
            kind=kind,
            changes=changes,
            account_id="",
            describe=describe,
        )
    members = org.member_accounts
    existing = {account.account_id: account for account in models.Account.objects.all()}
    _refuse_second_organization(org, existing.values())
    for account_id, member in members.items():
        wanted = {
            "ou_path": member["ou_path"],
            "parent_id": member["parent_id"],
            "in_organization": True,
            "is_management": account_id == org.management_account_id,
            "organization_id": org.organization_id,
        }
        account = existing.get(account_id)
        if account is None:
            models.Account.objects.create(account_id=account_id, name=member["name"], **wanted)
            changes.add(account_id, "account", "added", account_id)
            continue
        if not account.name and member["name"]:
            wanted["name"] = member["name"]
        differing = [name for name, value in wanted.items() if getattr(account, name) != value]
        if differing:
            models.Account.objects.filter(pk=account.pk).update(**wanted)
            changes.add(account_id, "account", "changed", account_id, {"fields": differing})
    gone = [
        acc for acc in existing.values() if acc.in_organization and acc.account_id not in members
    ]
    for account in gone:
        models.Account.objects.filter(pk=account.pk).update(
            in_organization=False, is_management=False, ou_path="", parent_id="", organization_id=""
        )
        changes.add(
            account.account_id,
            "account",
            "changed",
            account.account_id,
            {"fields": ["in_organization"]},
        )


def _refuse_second_organization(org: OrganizationRows, accounts: Iterable[models.Account]) -> None:
    """The estate holds one organisation: importing another would make the first one's
    accounts standalone and drop their SCPs and OUs, so refuse it and say why."""
    held: dict[str, list[str]] = defaultdict(list)
    for account in accounts:
        if account.in_organization and account.organization_id:
            held[account.organization_id].append(account.account_id)
    others = {org_id: ids for org_id, ids in held.items() if org_id != org.organization_id}
    if not others or not org.organization_id:
        return
    org_id, ids = sorted(others.items())[0]
    shown = ", ".join(sorted(ids)[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    raise BundleError(
        "bundle",
        "$.organization",
        f"this is organisation {org.organization_id}, but the estate already holds organisation "
        f"{org_id} (accounts {shown}). iamviz keeps one organisation: importing a second "
        f"would turn {org_id}'s accounts standalone and drop their SCPs. Nothing was imported; "
        "import it into a separate iamviz, or delete the other organisation's accounts first.",
    )


def _apply_account(rows: AccountRows, sync_run: models.SyncRun, changes: ChangeLog) -> None:
    account_id = rows.account_id
    account = models.Account.objects.filter(account_id=account_id).first()
    has_data_before = account is not None and account.last_sync_run_id is not None
    if (
        account is not None
        and has_data_before
        and rows.content_sha256
        and account.content_sha256 == rows.content_sha256
    ):
        # The same section as the last applied import of this account: its rows equal it
        # already (only ingest writes them), so nightly syncs of quiet accounts cost nothing
        # but the volatile fields (last used), which are no change.
        store_volatile(account, rows)
        report = {"credential_report_run": sync_run} if rows.has_credential_report else {}
        models.Account.objects.filter(pk=account.pk).update(last_sync_run=sync_run, **report)
        return
    if account is None:
        account = models.Account.objects.create(
            account_id=account_id, name=rows.name, alias=rows.alias
        )
        changes.add(account_id, "account", "added", account_id)
    else:
        updates = {}
        if rows.name and rows.name != account.name:
            updates["name"] = rows.name
        if rows.alias != account.alias:
            updates["alias"] = rows.alias
        if updates:
            models.Account.objects.filter(pk=account.pk).update(**updates)
            changes.add(account_id, "account", "changed", account_id, {"fields": sorted(updates)})
    # A first import of an account is one "added" summary, not one row per entity.
    record = has_data_before
    if not has_data_before:
        changes.entries.append(
            models.Change(
                sync_run=sync_run,
                account_id=account_id,
                kind="account_data",
                action="added",
                key=account_id,
                detail=rows.counts(),
            )
        )
    if has_data_before and not rows.has_credential_report:
        kept = keep_previous_credentials(account, rows)
        if kept:
            changes.warnings.append(kept_credentials_warning(account, kept))
    scope = {"account": account}

    def sync(
        model: type[Model],
        desired: Rows,
        key_fields: tuple[str, ...],
        kind: str,
        describe: Describe,
        *,
        scope: dict[str, Any] = scope,
        watch: dict[str, str] | None = None,
    ) -> dict[Key, int]:
        return _sync_rows(
            model,
            scope=scope,
            key_fields=key_fields,
            desired=desired,
            kind=kind,
            changes=changes,
            account_id=account_id,
            describe=describe,
            record=record,
            watch=watch,
        )

    def sync_owned(
        model: type[Model],
        desired: Rows,
        kind: str,
        *,
        key_field: str = "unique_id",
        watch: dict[str, str] | None = None,
    ) -> dict[Key, int]:
        """Rows that belong to the account and are described by their ARN."""
        desired = _with(desired, account_id=account.pk)
        return sync(model, desired, (key_field,), kind, lambda key, row: row["arn"], watch=watch)

    policy_pks = sync_owned(
        models.ManagedPolicy,
        rows.policies,
        "policy",
        key_field="arn",
        watch={"document": "policy_document"},
    )
    versions = {
        (policy_pks[(arn,)], version_id): {**row, "policy_id": policy_pks[(arn,)]}
        for (arn, version_id), row in rows.versions.items()
    }
    # Relations of removed principals and policies go with them (cascade), so both ends of a
    # removed relation are among the rows just synced.
    policy_arn = {pk: key[0] for key, pk in policy_pks.items()}
    sync(
        models.PolicyVersion,
        versions,
        ("policy_id", "version_id"),
        "policy_version",
        lambda key, row: f"{policy_arn[key[0]]} {key[1]}",
        scope={"policy__account": account},
    )

    group_pks = sync_owned(models.IamGroup, rows.groups, "group")
    user_pks = sync_owned(models.IamUser, rows.users, "user")
    role_pks = sync_owned(
        models.IamRole, rows.roles, "role", watch={"trust_policy": "trust_policy"}
    )

    arn_of = {
        **{("group", pk): rows.groups[key]["arn"] for key, pk in group_pks.items()},
        **{("user", pk): rows.users[key]["arn"] for key, pk in user_pks.items()},
        **{("role", pk): rows.roles[key]["arn"] for key, pk in role_pks.items()},
    }
    owner_pks = {"user": user_pks, "group": group_pks, "role": role_pks}

    sync(
        models.GroupMembership,
        _pair_rows(rows.memberships, user_pks, group_pks, ("user_id", "group_id")),
        ("user_id", "group_id"),
        "membership",
        lambda key, row: f"{arn_of[('user', key[0])]} in {arn_of[('group', key[1])]}",
        scope={"user__account": account},
    )

    attachment_key = ("policy_id", "user_id", "group_id", "role_id")
    attachments = _keyed(
        (
            {"policy_id": policy_pks[(arn,)], **_owner_columns(owner, owner_pks[owner][(uid,)])}
            for arn, owner, uid in rows.attachments
        ),
        attachment_key,
    )
    sync(
        models.PolicyAttachment,
        attachments,
        attachment_key,
        "attachment",
        lambda key, row: f"{policy_arn[key[0]]} on {_owner_arn(arn_of, row)}",
        scope={"policy__account": account},
    )

    inline_key = ("user_id", "group_id", "role_id", "name")
    inline = _keyed(
        (
            {**row, "account_id": account.pk, **_owner_columns(owner, owner_pks[owner][(uid,)])}
            for (owner, uid, _name), row in rows.inline_policies.items()
        ),
        inline_key,
    )
    sync(
        models.InlinePolicy,
        inline,
        inline_key,
        "inline_policy",
        lambda key, row: f"{_owner_arn(arn_of, row)} inline {row['name']}",
        watch={"document": "inline_policy"},
    )

    profile_pks = sync_owned(models.InstanceProfile, rows.instance_profiles, "instance_profile")
    profile_role_columns = ("instanceprofile_id", "iamrole_id")
    sync(
        models.InstanceProfile.roles.through,
        _pair_rows(rows.profile_roles, profile_pks, role_pks, profile_role_columns),
        profile_role_columns,
        "instance_profile_role",
        lambda key, row: f"{arn_of[('role', key[1])]} in profile {key[0]}",
        scope={"instanceprofile__account": account},
    )
    sync_owned(models.IdentityProvider, rows.providers, "identity_provider", key_field="arn")
    keys = {
        (user_pks[(uid,)], slot): {**row, "user_id": user_pks[(uid,)]}
        for (uid, slot), row in rows.access_keys.items()
    }
    sync(
        models.AccessKey,
        keys,
        ("user_id", "slot"),
        "access_key",
        lambda key, row: f"{arn_of[('user', key[0])]} key {key[1]}",
        scope={"user__account": account},
    )

    report = {"credential_report_run": sync_run} if rows.has_credential_report else {}
    models.Account.objects.filter(pk=account.pk).update(
        last_sync_run=sync_run, content_sha256=rows.content_sha256, **report
    )


def _owner_columns(owner: str, pk: int) -> dict[str, int | None]:
    """The user_id, group_id and role_id of a row that belongs to one principal."""
    return {f"{kind}_id": pk if kind == owner else None for kind in ("user", "group", "role")}


def _keyed(rows: Iterable[dict[str, Any]], key_fields: tuple[str, ...]) -> Rows:
    """Rows by their key: the values of ``key_fields``, in that order."""
    return {tuple(row[field] for field in key_fields): row for row in rows}


def _owner_arn(arn_of: dict[tuple[str, int], str], row: dict[str, Any]) -> str:
    for owner in ("user", "group", "role"):
        if row.get(f"{owner}_id") is not None:
            return arn_of.get((owner, row[f"{owner}_id"]), f"{owner} #{row[f'{owner}_id']}")
    return "?"


def _pair_rows(
    pairs: Iterable[tuple[Any, Any]],
    left_pks: dict[Key, int],
    right_pks: dict[Key, int],
    columns: tuple[str, str],
) -> Rows:
    """The rows of a many-to-many table, keyed by (left pk, right pk), from pairs of natural keys."""
    rows: Rows = {}
    for left, right in pairs:
        key = (left_pks[(left,)], right_pks[(right,)])
        rows[key] = dict(zip(columns, key, strict=True))
    return rows


def _with(rows: Rows, **extra: Any) -> Rows:
    return {key: {**row, **extra} for key, row in rows.items()}


def _sync_rows(
    model: type[Model],
    *,
    scope: dict[str, Any],
    key_fields: tuple[str, ...],
    desired: Rows,
    kind: str,
    changes: ChangeLog,
    account_id: str,
    describe: Describe,
    record: bool = True,
    watch: dict[str, str] | None = None,
) -> dict[Key, int]:
    """Make the rows of `model` within `scope` equal `desired`; return key -> pk for all of them.

    Only differences are written: new rows in bulk inserts, changed ones in bulk updates,
    vanished ones in bulk deletes. `watch` maps a field to a change kind of its own (a role's
    trust policy changing is worth its own entry, with before and after).
    """
    volatile = VOLATILE.get(model, ())
    fingerprinted = any(field.name == "fingerprint" for field in model._meta.concrete_fields)
    if fingerprinted:
        for row in desired.values():
            row["fingerprint"] = _fingerprint(row, volatile)
    fields = list(next(iter(desired.values())).keys()) if desired else []
    # With a fingerprint only it (and the key) is read: an unchanged re-import decodes no JSON.
    compared = ["fingerprint"] if fingerprinted else [n for n in fields if n not in volatile]
    volatile = tuple(name for name in volatile if name in fields)
    read = ["pk", *key_fields, *(n for n in (*compared, *volatile) if n not in key_fields)]
    width = len(key_fields)
    existing: dict[Key, tuple[Any, ...]] = {}
    # One account's rows: a plain fetch of tuples beats a server-side cursor and dicts.
    for values in model._default_manager.filter(**scope).values_list(*read):
        existing[values[1 : 1 + width]] = values

    result: dict[Key, int] = {}
    to_create: list[tuple[Key, dict[str, Any]]] = []
    candidates: list[tuple[Key, dict[str, Any], int]] = []
    touched: list[Model] = []  # only volatile fields differ: written, not a change
    for key, row in desired.items():
        current = existing.pop(key, None)
        if current is None:
            to_create.append((key, row))
            changes.add(account_id, kind, "added", describe(key, row), record=record)
            continue
        result[key] = current[0]
        stored_values = dict(zip(read[1:], current[1:], strict=True))
        if any(stored_values[name] != row[name] for name in compared):
            candidates.append((key, row, current[0]))
        elif any(stored_values[name] != row[name] for name in volatile):
            touched.append(model(pk=current[0], **{name: row[name] for name in volatile}))

    to_update: list[Model] = []
    changed_fields: set[str] = set()
    stored = _full_rows(model, [pk for *_, pk in candidates], fields)
    for key, row, pk in candidates:
        before = stored[pk]
        to_update.append(model(pk=pk, **row))
        differing = [
            name
            for name in fields
            if name != "fingerprint" and name not in volatile and before[name] != row[name]
        ]
        changed_fields.update(differing)
        changed_fields.update(name for name in volatile if before[name] != row[name])
        if fingerprinted:
            changed_fields.add("fingerprint")
        plain = [name for name in differing if not (watch and name in watch)]
        if plain:
            changes.add(
                account_id, kind, "changed", describe(key, row), {"fields": plain}, record=record
            )
        for name in differing:
            if watch and name in watch:
                changes.add(
                    account_id,
                    watch[name],
                    "changed",
                    describe(key, row),
                    {"before": before[name], "after": row[name]},
                    record=record,
                )

    # Removed rows go first: a principal recreated under the same name must not collide.
    if existing:
        pks = [values[0] for values in existing.values()]
        described = dict.fromkeys(["pk", *key_fields, *_DESCRIBED_BY.get(model, ())])
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            for row in model._default_manager.filter(pk__in=batch).values(*described):
                key = tuple(row[name] for name in key_fields)
                changes.add(account_id, kind, "removed", describe(key, row), record=record)
            # Their memberships, attachments, inline policies… go with them: say so.
            record_cascade(model, batch, changes, account_id, record=record)
            model._default_manager.filter(pk__in=batch).delete()
    # A renamed row may hand its name to a new row or to another renamed one (a rename and a
    # new user under the old name; two names swapped), and UNIQUE(account, name) is checked
    # row by row on SQLite and PostgreSQL alike. So renamed rows first park under a name no
    # IAM name can be, then the inserts and updates write the names AWS reports.
    _park_renamed(model, key_fields, to_update, stored)
    if to_create and connection.vendor == "postgresql":
        copy_rows(model, fields, (row for _, row in to_create))
        for row in model._default_manager.filter(**scope).values("pk", *key_fields):
            result.setdefault(tuple(row[name] for name in key_fields), row["pk"])
    elif to_create:
        created = model._default_manager.bulk_create(
            [model(**row) for _, row in to_create], batch_size=BATCH
        )
        for (key, _), obj in zip(to_create, created, strict=True):
            result[key] = obj.pk
    if to_update:
        update_rows(model, to_update, sorted(changed_fields))
    if touched:
        update_rows(model, touched, volatile)
    return result


def _park_renamed(
    model: type[Model],
    key_fields: tuple[str, ...],
    to_update: list[Model],
    stored: dict[int, dict[str, Any]],
) -> None:
    """Move the rows whose unique name changes out of the way of the names being written."""
    for fields in _unique_beside_key(model, key_fields):
        parked = [
            obj
            for obj in to_update
            if any(getattr(obj, name) != stored[obj.pk][name] for name in fields)
        ]
        for obj in parked:
            # A space and "#" are in no IAM name (`[\w+=,.@-]`), so this meets no real row.
            model._default_manager.filter(pk=obj.pk).update(
                **dict.fromkeys(fields, f"#renaming {obj.pk}")
            )


def _unique_beside_key(model: type[Model], key_fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The text columns of each UNIQUE constraint that is not on the natural key (a name)."""
    result = []
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint):
            fields = tuple(
                name
                for name in constraint.fields
                if isinstance(model._meta.get_field(name), CharField)
            )
            if fields and not set(fields) <= set(key_fields):
                result.append(fields)
    return result


def _fingerprint(row: dict[str, Any], volatile: tuple[str, ...] = ()) -> str:
    """A digest of a row's values less the volatile ones, stored beside it so an unchanged row
    is known by one column."""
    values = {
        name: value for name, value in row.items() if name != "fingerprint" and name not in volatile
    }
    text = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _full_rows(model: type[Model], pks: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
    """The stored values of the rows whose fingerprint differs, to name what changed."""
    rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(pks), BATCH):
        for row in model._default_manager.filter(pk__in=pks[start : start + BATCH]).values(
            "pk", *fields
        ):
            rows[row["pk"]] = row
    return rows


_DESCRIBED_BY: dict[type[Model], tuple[str, ...]] = {
    models.ManagedPolicy: ("arn",),
    models.IamGroup: ("arn",),
    models.IamUser: ("arn",),
    models.IamRole: ("arn",),
    models.InstanceProfile: ("arn",),
    models.IdentityProvider: ("arn",),
    models.OrgNode: ("path",),
    models.OrgPolicy: ("type", "name"),
    models.PolicyAttachment: ("user_id", "group_id", "role_id"),
    models.InlinePolicy: ("user_id", "group_id", "role_id", "name"),
}
