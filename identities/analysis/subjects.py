"""Who asks and what is asked about: the requester (:class:`Subject`) and the role
(:class:`Target`) of an assume-role question, with the condition keys the stored estate answers
for each.

Inside the synced estate the analysis knows a principal's account, type, organisation, ARN,
name, user id and tags, and a role's account, organisation and tags; for a caller outside it
(``*``, an outside account) those keys stay unknown, so conditions on them stay conditional.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from identities.analysis.estate import AccountInfo, Actor, Doc
from identities.policy import (
    Effect,
    Layer,
    PolicySource,
    Principal,
    PrincipalKind,
    PrincipalSpec,
    Statement,
)


class Mode(StrEnum):
    """Who is asking: decides which condition keys the analysis knows the values of."""

    MEMBER = "member"  # one IAM user or role of a synced account
    GROUP = "group"  # any member of an access group (keys about the individual are unknown)
    SERVICE = "service"
    FEDERATED = "federated"
    ANYONE = "anyone"
    OUTSIDER = "outsider"  # an account root or principal outside the synced accounts


# Keys whose value differs between members of one access group: a group decision that depends
# on them is redone member by member.
PRINCIPAL_SPECIFIC_KEYS = frozenset({"aws:principalarn", "aws:username", "aws:userid"})
PRINCIPAL_TAG_PREFIX = "aws:principaltag/"
RESOURCE_TAG_PREFIXES = ("aws:resourcetag/", "iam:resourcetag/")
# Keys about the role being assumed that the estate answers; they differ between roles (of
# different accounts), so decisions depending on them are not shared between roles.
RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})

_ANYONE_ARN = "arn:aws:iam::000000000000:role/#anyone"


def display_key(key: str) -> str:
    """A condition key as reports show it: the service prefix lower-cased (``SAML:aud`` ->
    ``saml:aud``), the rest as written; keys are case-insensitive in AWS."""
    prefix, sep, rest = key.partition(":")
    return f"{prefix.lower()}{sep}{rest}" if sep else key


def display_keys(keys: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for key in keys:
        shown = display_key(key)
        found.setdefault(shown.casefold(), shown)
    return tuple(sorted(found.values()))


_PROFILES: dict[tuple[Any, ...], int] = {}


@dataclass(eq=False)
class Subject:
    """The requester side of an assume-role question."""

    principal: Principal
    mode: Mode
    account: AccountInfo | None
    identity: tuple[Statement, ...] = ()
    boundary: tuple[Statement, ...] | None = None
    boundary_source: PolicySource | None = None
    scp_levels: tuple[tuple[Doc, ...], ...] = ()
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()
    known_prefixes: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    standins: frozenset[int] = frozenset()  # statements never cited as a grant
    actor: Actor | None = None

    @cached_property
    def profile(self) -> int:
        """What the analysis knows about this requester's keys (not their values), interned."""
        shape = (
            self.mode,
            tuple(sorted(self.values)),
            tuple(sorted(self.absent)),
            tuple(sorted(self.known)),
            self.known_prefixes,
        )
        return _PROFILES.setdefault(shape, len(_PROFILES))

    @cached_property
    def has_boundary(self) -> bool:
        return (
            self.principal.kind is PrincipalKind.AWS
            and self.boundary is not None
            and not self.principal.is_account_root
        )

    def lookup(self, key: str) -> tuple[bool, tuple[str, ...] | None]:
        """(known, values) of a lower-cased principal-side key; values None means absent."""
        if key in self.values:
            return True, self.values[key]
        if key in self.absent:
            return True, None
        if key in self.known:
            return True, None
        for prefix in self.known_prefixes:
            if key.startswith(prefix):
                tag = self._tag(key[len(prefix) :])
                return True, (tag,) if tag is not None else None
        return False, None

    def _tag(self, name: str) -> str | None:
        for tag_key, value in self.tags.items():
            if tag_key.casefold() == name:
                return value
        return None


@dataclass(eq=False)
class Target:
    """A role as the object of an assume-role question."""

    role: Actor

    @property
    def arn(self) -> str:
        return self.role.arn

    @property
    def account(self) -> AccountInfo:
        return self.role.account

    def lookup(self, key: str) -> tuple[bool, tuple[str, ...] | None]:
        if key in RESOURCE_KEYS:
            return _account_key(self.role.account, key.removeprefix("aws:resource"))
        for prefix in RESOURCE_TAG_PREFIXES:
            if key.startswith(prefix):
                name = key[len(prefix) :]
                for tag_key, value in self.role.tags.items():
                    if tag_key.casefold() == name:
                        return True, (value,)
                return True, None
        return False, None


def _account_key(account: AccountInfo, what: str) -> tuple[bool, tuple[str, ...] | None]:
    """(known, values) of the account-level keys ``aws:Principal…``/``aws:Resource…`` ``what``
    (account, orgid, orgpaths). Org keys are absent outside an organisation and unknown when
    the estate does not store the organisation's id.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
    """
    if what == "account":
        return True, (account.account_id,)
    if not account.in_organization:
        return True, None
    value = account.org_id if what == "orgid" else account.org_path
    return (True, (value,)) if value is not None else (False, None)


def resource_key_known(key: str) -> bool:
    """A key about the role (its account, organisation or tags) the analysis can answer."""
    return key in RESOURCE_KEYS or key.startswith(RESOURCE_TAG_PREFIXES)


# -- subjects ------------------------------------------------------------------------------------


def member_subject(
    actor: Actor,
    identity: tuple[Statement, ...],
    boundary: tuple[Statement, ...] | None,
) -> Subject:
    """One IAM user or role: everything about it is known except session keys (MFA, IP, …)."""
    account = actor.account
    values, absent = _principal_values(account, actor.kind)
    values["aws:principalarn"] = (actor.arn,)
    if actor.kind == "user":
        values["aws:username"] = (actor.name,)
        if actor.unique_id:
            values["aws:userid"] = (actor.unique_id,)
    return Subject(
        principal=Principal.aws(actor.arn),
        mode=Mode.MEMBER,
        account=account,
        identity=identity,
        boundary=boundary,
        boundary_source=actor.boundary.policy.source if actor.boundary else None,
        scp_levels=_scp_levels(account, actor.is_service_linked),
        values=values,
        absent=frozenset(absent),
        known_prefixes=(PRINCIPAL_TAG_PREFIX,),
        tags=actor.tags,
        actor=actor,
    )


def group_subject(
    account: AccountInfo,
    kind: str,
    is_service_linked: bool,
    identity: tuple[Statement, ...],
    boundary: tuple[Statement, ...] | None,
    boundary_source: PolicySource | None,
) -> Subject:
    """Any member of an access group: a stand-in principal no policy names by ARN.

    ``#`` cannot occur in IAM names, so no Principal element names the stand-in itself; keys that
    differ between members (aws:PrincipalArn, aws:username, tags) stay unknown.
    """
    arn = f"arn:aws:iam::{account.account_id}:{kind}/#member"
    values, absent = _principal_values(account, kind)
    return Subject(
        principal=Principal.aws(arn),
        mode=Mode.GROUP,
        account=account,
        identity=identity,
        boundary=boundary,
        boundary_source=boundary_source,
        scp_levels=_scp_levels(account, is_service_linked),
        values=values,
        absent=frozenset(absent),
    )


def _principal_values(
    account: AccountInfo, kind: str
) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """The keys every user (or every role session) of ``account`` shares, from the stored
    estate: account, type, organisation id and path; aws:username is absent for roles.

    A role assuming a role calls as an assumed-role session: aws:PrincipalType AssumedRole.
    Principals grouped together are of one account and kind, so they share these answers.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype
    """
    values: dict[str, tuple[str, ...]] = {
        "aws:principalaccount": (account.account_id,),
        "aws:principalisawsservice": ("false",),
        "aws:principaltype": ("User" if kind == "user" else "AssumedRole",),
    }
    absent: set[str] = set()
    if kind != "user":
        absent.add("aws:username")
    for key, what in (("aws:principalorgid", "orgid"), ("aws:principalorgpaths", "orgpaths")):
        known, found = _account_key(account, what)
        if known and found is None:
            absent.add(key)
        elif found is not None:
            values[key] = found
    return values, absent


def _scp_levels(account: AccountInfo, is_service_linked: bool) -> tuple[tuple[Doc, ...], ...]:
    # SCPs restrict neither the management account nor service-linked roles.
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
    if is_service_linked or account.is_management:
        return ()
    return account.scp_levels


def service_subject(name: str) -> Subject:
    return Subject(
        principal=Principal.service(name),
        mode=Mode.SERVICE,
        account=None,
        values={
            "aws:principalisawsservice": ("true",),
            "aws:principalservicename": (name,),
        },
    )


def federated_subject(provider: str) -> Subject:
    return Subject(principal=Principal.federated(provider), mode=Mode.FEDERATED, account=None)


def assume_role_allow(
    source: PolicySource,
    *,
    resources: tuple[str, ...] | None = None,
    principals: tuple[PrincipalSpec, ...] | None = None,
) -> Statement:
    """An Allow of sts:AssumeRole that stands in for a statement no stored document holds."""
    return Statement(
        source,
        0,
        None,
        Effect.ALLOW,
        ("sts:AssumeRole",),
        resources=resources,
        principals=principals,
    )


_ANYONE_SOURCE = PolicySource(
    Layer.IDENTITY,
    "identity-based policies",
    kind="(the caller's own, not evaluated)",
)


def anyone_subject() -> Subject:
    """``*``: any principal of any account; nothing about it is known.

    It stands for an IAM user or role of an account outside the estate (not an account root:
    that would read as "the root user has full access"), with a stand-in identity Allow that is
    never cited: whether the caller's own policies allow sts:AssumeRole is the caller's matter.
    Estate principals get their own edges (`edges`).
    """
    standin = assume_role_allow(_ANYONE_SOURCE, resources=("*",))
    return Subject(
        principal=Principal.aws(_ANYONE_ARN),
        mode=Mode.ANYONE,
        account=None,
        identity=(standin,),
        standins=frozenset({id(standin)}),
    )


_OUTSIDE_SOURCE = PolicySource(
    Layer.IDENTITY,
    "identity-based policies",
    kind="(outside the synced accounts, not evaluated)",
)


def outsider_subject(arn: str) -> Subject:
    """An account root or principal of an account outside the synced set.

    Its identity-based policies are unknown; its account decides who of its principals may use
    the trust, so only the trust side is evaluated (a stand-in Allow is never cited as a grant).
    """
    principal = Principal.aws(arn)
    standin = assume_role_allow(_OUTSIDE_SOURCE, resources=("*",))
    account_id = principal.account_id or ""
    return Subject(
        principal=principal,
        mode=Mode.OUTSIDER,
        account=AccountInfo(0, account_id, account_id, False, False),
        identity=(standin,),
        values={
            "aws:principalaccount": (account_id,),
            "aws:principalisawsservice": ("false",),
        },
        standins=frozenset({id(standin)}),
    )
