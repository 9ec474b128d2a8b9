"""Findings a reviewer wants to see, each with a severity and a plain explanation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from identities.analysis.admins import AdminRecord
from identities.analysis.edges import EdgeRecord, SourceKind
from identities.analysis.estate import ASSUME_ROLE, AccountInfo, Actor, Estate
from identities.policy import Effect, principals_named_in

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(days=90)


@dataclass
class FindingRecord:
    kind: str
    severity: str
    title: str
    detail: str
    principal_arn: str
    account: AccountInfo | None = None
    actor: Actor | None = None
    data: dict[str, Any] = field(default_factory=dict)


def find_findings(
    estate: Estate, edges: list[EdgeRecord], admins: list[AdminRecord], now: datetime
) -> list[FindingRecord]:
    """Public roles, account-root trust without ExternalId, admins without MFA, stale
    credentials (unused for more than 90 days before ``now``)."""
    found = trust_findings(estate, edges)
    found.extend(_admins_without_mfa(admins))
    found.extend(_stale_credentials(estate, admins, now))
    return found


# The kinds of finding a role's trust policy alone decides.
TRUST_FINDINGS = ("public_role", "root_trust_without_external_id")


def trust_findings(estate: Estate, edges: list[EdgeRecord]) -> list[FindingRecord]:
    """The findings of kinds TRUST_FINDINGS for the estate's roles and these edges."""
    return [*_public_roles(edges), *_root_trust_without_external_id(estate)]


def _public_roles(edges: list[EdgeRecord]) -> list[FindingRecord]:
    found = []
    for edge in edges:
        if edge.source_kind != SourceKind.ANYONE or not edge.possible:
            continue
        role = edge.target
        if edge.condition_keys:
            severity = "medium"
            title = (
                f"Anyone can assume {role.name} in {role.account.name} under conditions on "
                f"{', '.join(edge.condition_keys)}"
            )
            how = (
                'Its trust policy names every principal ("*") and limits it only with '
                f"conditions on {', '.join(edge.condition_keys)}: any AWS principal of any "
                "account that meets them can assume the role."
            )
        else:
            severity = "high"
            title = f"Anyone can assume {role.name} in {role.account.name}"
            how = (
                'Its trust policy names every principal ("*") without a condition: any AWS '
                "principal of any account whose own policies allow sts:AssumeRole can assume it."
            )
        found.append(
            FindingRecord(
                kind="public_role",
                severity=severity,
                title=title,
                detail=f"{how} Granted by {'; '.join(edge.granted_by)}.",
                principal_arn=role.arn,
                account=role.account,
                actor=role,
                data={
                    "condition_keys": list(edge.condition_keys),
                    "granted_by": list(edge.granted_by),
                },
            )
        )
    return found


def _root_trust_without_external_id(estate: Estate) -> list[FindingRecord]:
    """A role trusting the root of an account outside its organisation for sts:AssumeRole with no
    sts:ExternalId test.

    AWS documents the external ID for access by a third party's account, against the confused
    deputy problem; between accounts of one organisation it does not apply, so trust inside the
    organisation is not reported (and a synced account outside it is named as such).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
    """
    found = []
    for role in estate.roles:
        if role.trust is None or role.trust.unknown:
            continue
        for name, statements in principals_named_in(role.trust.policy, ASSUME_ROLE).items():
            if not name.is_account or name.account_id == role.account.account_id:
                continue
            other = estate.accounts.get(name.account_id or "")
            if other is not None and _same_organization(role.account, other):
                continue
            bare = [
                s
                for s in statements
                if s.effect is Effect.ALLOW
                and not any(c.key.lower() == "sts:externalid" for c in s.conditions)
            ]
            if not bare:
                continue
            who = f"{other.name} ({other.account_id})" if other else name.account_id
            where = (
                "a synced account outside the organisation"
                if other is not None
                else "an account outside the synced set and the organisation (a third party?)"
            )
            refs = [s.ref for s in bare]
            found.append(
                FindingRecord(
                    kind="root_trust_without_external_id",
                    severity="medium" if other is not None else "high",
                    title=f"{role.name} in {role.account.name} trusts the whole account {who}, "
                    "outside the organisation, without an ExternalId",
                    detail=(
                        f"The trust policy names arn:aws:iam::{name.account_id}:root, {where}, "
                        "without a condition on sts:ExternalId, so every principal of that "
                        "account whose own policies allow it can assume the role; an external ID "
                        f"guards against the confused deputy problem. Statement: {'; '.join(refs)}."
                    ),
                    principal_arn=role.arn,
                    account=role.account,
                    actor=role,
                    data={"trusted_account": name.account_id, "statements": refs},
                )
            )
    return found


def _same_organization(one: AccountInfo, other: AccountInfo) -> bool:
    if not (one.in_organization and other.in_organization):
        return False
    return one.org_id is None or other.org_id is None or one.org_id == other.org_id


def _admins_without_mfa(admins: list[AdminRecord]) -> list[FindingRecord]:
    found = []
    for record in admins:
        actor = record.actor
        if actor.kind != "user" or actor.mfa_active is not False:
            continue
        found.append(
            FindingRecord(
                kind="admin_without_mfa",
                severity="high",
                title=f"Administrator {actor.name} in {actor.account.name} has no MFA device",
                detail=(
                    f"{actor.name} is an administrator ({record.reason}) and the credential "
                    "report shows no active MFA device: a stolen password or access key is enough "
                    "to take over the account."
                ),
                principal_arn=actor.arn,
                account=actor.account,
                actor=actor,
                data={"basis": record.basis},
            )
        )
    return found


def _unused_since(
    last_used: datetime | None, created: datetime | None, cutoff: datetime, created_label: str
) -> str | None:
    """How a credential unused since before the cutoff was last used; None when it is in use."""
    if last_used is not None:
        return None if last_used >= cutoff else f"not used since {last_used:%Y-%m-%d}"
    if created is not None and created < cutoff:
        return f"never used ({created_label} {created:%Y-%m-%d})"
    return None


def _stale_credentials(
    estate: Estate, admins: list[AdminRecord], now: datetime
) -> list[FindingRecord]:
    admin_ids = {id(record.actor) for record in admins}
    users = {actor.pk: actor for actor in estate.users}
    cutoff = now - STALE_AFTER
    found = []

    def stale(kind: str, user: Actor, title: str, detail: str, **data: Any) -> FindingRecord:
        severity = "high" if id(user) in admin_ids else "medium"
        return FindingRecord(
            kind, severity, title, detail, user.arn, user.account, actor=user, data=data
        )

    for key in sorted(estate.access_keys, key=lambda k: (k.user_pk, k.slot)):
        user = users.get(key.user_pk)
        when = _unused_since(key.last_used_date, key.last_rotated, cutoff, "created")
        if user is None or not key.active or when is None:
            continue
        found.append(
            stale(
                "stale_access_key",
                user,
                f"Access key {key.slot} of {user.name} in {user.account.name} is active and {when}",
                f"The key is active and {when}, more than 90 days before {now:%Y-%m-%d}: "
                "deactivate or delete it (an unused key is only a liability).",
                slot=key.slot,
            )
        )
    for user in estate.users:
        when = _unused_since(user.password_last_used, user.create_date, cutoff, "user created")
        if user.password_enabled and when is not None:
            found.append(
                stale(
                    "stale_password",
                    user,
                    f"Console password of {user.name} in {user.account.name} {when}",
                    f"The console password is enabled and {when}, more than 90 days before "
                    f"{now:%Y-%m-%d}: remove the login profile if the person no longer needs it.",
                )
            )
    return found
