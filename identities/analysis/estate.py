"""The estate as the analysis sees it: bulk-loaded rows, every policy parsed once.

Everything is read with `values_list` (one query per table, no per-row queries) into plain
dataclasses. Documents are parsed once each; AWS-managed policies, which appear once per
account, are parsed once per distinct document. A document that is missing (a placeholder
policy with ``document=None``) or malformed becomes a stand-in whose statements hold only if the
pseudo condition key :data:`UNKNOWN_DOCUMENT_KEY` is met, so every decision that depends on it
comes out conditional with that key listed, never silently allowed or denied.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

import orjson
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from identities.models import (
    AccessKey,
    Account,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    IdentityProvider,
    InlinePolicy,
    ManagedPolicy,
    OrgNode,
    OrgPolicy,
    PolicyAttachment,
)
from identities.policy import (
    Condition,
    ConditionOperator,
    Effect,
    Layer,
    Policy,
    PolicyParseError,
    PolicySource,
    Statement,
    parse_policy,
    statement_matches_action,
)

logger = logging.getLogger(__name__)

ASSUME_ROLE = "sts:AssumeRole"
ASSUME_ROLE_WITH_SAML = "sts:AssumeRoleWithSAML"
ASSUME_ROLE_WITH_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
# Actions a trust policy must also allow when its statements need a source identity or session
# tags in the request (the engine checks them; see policy.evaluate.SESSION_REQUIREMENTS).
SESSION_ACTIONS = ("sts:SetSourceIdentity", "sts:TagSession")

# A pseudo condition key: statements of a document the bundle does not hold are conditional on
# it, so the decisions that depend on them are reported as conditional with this key.
UNKNOWN_DOCUMENT_KEY = "iamviz:PolicyDocumentUnknown"


@dataclass(eq=False)
class Doc:
    """A policy document as the analysis uses it.

    ``policy`` is the parsed document or, when ``unknown`` says why it is missing or malformed, a
    stand-in (one Allow and one Deny of everything, both conditional on UNKNOWN_DOCUMENT_KEY).
    """

    key: str
    name: str
    label: str
    policy: Policy
    unknown: str | None = None
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, repr=False)
    # What its readers found out about the document, kept by them under keys of their own (a
    # document never changes once parsed: a proposal makes new ones).
    memo: dict[object, Any] = field(default_factory=dict, repr=False)

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers ``action`` (any effect), cached."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for s in self.policy.statements if statement_matches_action(s, action))
            self._by_action[action] = found
        return found

    def __getstate__(self) -> dict[str, Any]:
        # Pickled without what was found out about it: it is found again as asked.
        return {**self.__dict__, "_by_action": {}, "memo": {}}

    def trust_statements(self, action: str) -> tuple[Statement, ...]:
        """The statements of a trust policy that matter to ``action``: those covering it and
        those covering the session actions it may need (sts:SetSourceIdentity, sts:TagSession)."""
        memo = f"trust:{action}"
        found = self._by_action.get(memo)
        if found is None:
            found = tuple(
                s
                for s in self.policy.statements
                if any(statement_matches_action(s, a) for a in (action, *SESSION_ACTIONS))
            )
            self._by_action[memo] = found
        return found


@dataclass(eq=False)
class AccountInfo:
    pk: int
    account_id: str
    name: str
    is_management: bool
    in_organization: bool
    scp_levels: tuple[tuple[Doc, ...], ...] = ()
    rcp_levels: tuple[tuple[Doc, ...], ...] = ()
    org_levels: tuple[str, ...] = ()  # root, OUs, account: the ids the levels belong to
    org_note: str | None = None
    # The organisation's id (o-…) when the estate stores it; None when unknown. An account
    # outside any organisation has in_organization False: its org keys are absent.
    org_id: str | None = None

    @property
    def org_path(self) -> str | None:
        """The aws:PrincipalOrgPaths / aws:ResourceOrgPaths value: ``o-…/r-…/ou-…/``."""
        if self.org_id is None or not self.org_levels:
            return None
        return "/".join([self.org_id, *self.org_levels[:-1]]) + "/"


@dataclass(eq=False)
class Actor:
    """An IAM user or role of a synced account, with every policy that applies to it."""

    kind: str  # "user" | "role"
    pk: int
    arn: str
    name: str
    path: str
    account: AccountInfo
    docs: list[Doc]
    boundary: Doc | None
    boundary_arn: str
    tags: dict[str, str]
    group_pks: list[int] = field(default_factory=list)
    unique_id: str = ""  # AIDA… / AROA…: the aws:userid of a user (a role's adds the session)
    # users (from the credential report; None when no report was imported)
    mfa_active: bool | None = None
    password_enabled: bool | None = None
    password_last_used: datetime | None = None
    create_date: datetime | None = None
    # roles
    trust: Doc | None = None

    @property
    def is_service_linked(self) -> bool:
        return self.kind == "role" and self.path.startswith("/aws-service-role/")

    def __repr__(self) -> str:
        return f"Actor({self.arn})"


@dataclass(eq=False)
class GroupInfo:
    pk: int
    arn: str
    name: str
    account: AccountInfo
    docs: list[Doc]


@dataclass(frozen=True)
class KeyInfo:
    user_pk: int
    slot: int
    active: bool
    last_rotated: datetime | None
    last_used_date: datetime | None


@dataclass
class Estate:
    accounts: dict[str, AccountInfo]
    users: list[Actor]
    roles: list[Actor]
    groups: list[GroupInfo]
    by_arn: dict[str, Actor]
    providers: dict[str, str]  # provider ARN -> saml | oidc
    access_keys: list[KeyInfo]
    notes: list[str]

    @property
    def actors(self) -> list[Actor]:
        return [*self.users, *self.roles]


def unknown_policy(source: PolicySource, why: str) -> Policy:
    """A stand-in for a document the analysis cannot read: it may allow or deny anything."""
    condition = Condition(
        operator=ConditionOperator(name="StringEquals", base="StringEquals"),
        key=UNKNOWN_DOCUMENT_KEY,
        values=("allows",),
    )
    statements = tuple(
        Statement(
            source=source,
            index=index,
            sid=f"Unknown{effect.value}",
            effect=effect,
            actions=("*",),
            resources=("*",),
            conditions=(condition,),
        )
        for index, effect in enumerate((Effect.ALLOW, Effect.DENY))
    )
    logger.debug("stand-in for %s: %s", source.label, why)
    return Policy(source=source, statements=statements)


def make_doc(key: str, document: Any, source: PolicySource, *, missing: str | None = None) -> Doc:
    """Parse ``document`` into a Doc, or a stand-in when it is absent or malformed."""
    if document is None:
        why = missing or "the document is not in the bundle"
        return Doc(key, source.name, source.label, unknown_policy(source, why), unknown=why)
    try:
        policy = parse_policy(document, source)
    except PolicyParseError as exc:
        why = f"the document does not parse ({exc})"
        logger.warning("%s: %s", source.label, why)
        return Doc(key, source.name, source.label, unknown_policy(source, why), unknown=why)
    return Doc(key, source.name, source.label, policy)


class _Parser:
    """Parse each distinct document text once (per layer); equal documents of other owners get
    copies of its statements with their own source, so every reference names its real policy."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[Layer, str], Policy] = {}

    def doc(self, key: str, raw: Any, source: PolicySource, missing: str | None = None) -> Doc:
        if not isinstance(raw, str):
            return make_doc(key, _json(raw), source, missing=missing)
        base = self._parsed.get((source.layer, raw))
        if base is None:
            doc = make_doc(key, _json(raw), source, missing=missing)
            if doc.unknown is None:
                self._parsed[(source.layer, raw)] = doc.policy
            return doc
        policy = Policy(
            source=source,
            statements=tuple(_rebind(s, source) for s in base.statements),
            version=base.version,
        )
        return Doc(key, source.name, source.label, policy)


# A statement's fields after its source, read in one call.
_AFTER_SOURCE = attrgetter(*(f.name for f in fields(Statement) if f.name != "source"))
assert fields(Statement)[0].name == "source"


def _rebind(statement: Statement, source: PolicySource) -> Statement:
    # The constructor, not dataclasses.replace: replace() introspects the fields on every call.
    return Statement(source, *_AFTER_SOURCE(statement))


def load_estate(only: set[str] | None = None) -> Estate:
    """Read the whole estate with one query per table and parse every policy once.

    ``only``: load just the users and roles with these ARNs (and their groups and policies),
    for questions about one pair.
    """
    notes: list[str] = []
    accounts = _load_accounts(notes)
    account_by_pk = {info.pk: info for info in accounts.values()}

    managed_rows = list(
        ManagedPolicy.objects.order_by("pk").values_list(
            "pk", "account_id", "arn", "name", "is_aws_managed", _text("document")
        )
    )
    managed: dict[int, Doc] = {}
    managed_by_account_arn: dict[tuple[int, str], tuple[str, Any, bool]] = {}
    shared: dict[tuple[str, bytes], Doc] = {}
    for pk, account_pk, arn, name, is_aws, raw in managed_rows:
        document = _json(raw)
        managed_by_account_arn[(account_pk, arn)] = (name, document, is_aws)
        kind = "AWS-managed policy" if is_aws else "customer-managed policy"
        source = PolicySource(Layer.IDENTITY, name, arn, kind=kind)
        if document is None:
            managed[pk] = make_doc(f"managed:{pk}", None, source)
            continue
        # AWS-managed policies appear once per account with the same ARN and document.
        cache_key = (arn, orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
        doc = shared.get(cache_key)
        if doc is None:
            doc = make_doc(f"managed:{arn}:{len(shared)}", document, source)
            shared[cache_key] = doc
        managed[pk] = doc

    # Ordered, so that edges and the reach graph come out the same way on every run.
    users_qs = IamUser.objects.order_by("pk")
    roles_qs = IamRole.objects.order_by("pk")
    if only is not None:
        users_qs = users_qs.filter(arn__in=only)
        roles_qs = roles_qs.filter(arn__in=only)
    principal_columns = ("pk", "account_id", "arn", "name", "path", "boundary_arn", _text("tags"))
    user_rows = list(
        users_qs.values_list(
            *principal_columns,
            "mfa_active",
            "password_enabled",
            "password_last_used",
            "create_date",
            "unique_id",
        )
    )
    role_rows = list(roles_qs.values_list(*principal_columns, _text("trust_policy")))
    memberships_qs = GroupMembership.objects.order_by("pk")
    groups_qs = IamGroup.objects.order_by("pk")
    attachments_qs = PolicyAttachment.objects.order_by("pk")
    inline_qs = InlinePolicy.objects.order_by("pk")
    keys_qs = AccessKey.objects.all()
    if only is not None:
        user_pks = [row[0] for row in user_rows]
        role_pks = [row[0] for row in role_rows]
        memberships_qs = memberships_qs.filter(user_id__in=user_pks)
    memberships: dict[int, list[int]] = defaultdict(list)
    for user_pk, group_pk in memberships_qs.values_list("user_id", "group_id"):
        memberships[user_pk].append(group_pk)
    if only is not None:
        group_pks = sorted({pk for pks in memberships.values() for pk in pks})
        groups_qs = groups_qs.filter(pk__in=group_pks)
        owned = Q(user_id__in=user_pks) | Q(group_id__in=group_pks) | Q(role_id__in=role_pks)
        attachments_qs = attachments_qs.filter(owned)
        inline_qs = inline_qs.filter(owned)
        keys_qs = keys_qs.filter(user_id__in=user_pks)
    group_rows = list(groups_qs.values_list("pk", "account_id", "arn", "name"))

    owners: dict[str, dict[int, list[Doc]]] = {
        "user": defaultdict(list),
        "group": defaultdict(list),
        "role": defaultdict(list),
    }
    for policy_pk, user_pk, group_pk, role_pk in attachments_qs.values_list(
        "policy_id", "user_id", "group_id", "role_id"
    ):
        owner, owner_pk = _owner(user_pk, group_pk, role_pk)
        owners[owner][owner_pk].append(managed[policy_pk])
    owner_arn = {
        "user": {row[0]: row[2] for row in user_rows},
        "group": {row[0]: row[2] for row in group_rows},
        "role": {row[0]: row[2] for row in role_rows},
    }
    parser = _Parser()
    for pk, name, raw, user_pk, group_pk, role_pk in inline_qs.values_list(
        "pk", "name", _text("document"), "user_id", "group_id", "role_id"
    ):
        owner, owner_pk = _owner(user_pk, group_pk, role_pk)
        source = PolicySource(
            Layer.IDENTITY, name, owner_arn[owner].get(owner_pk), kind="inline policy"
        )
        owners[owner][owner_pk].append(parser.doc(f"inline:{pk}", raw, source))

    groups = [
        GroupInfo(pk, arn, name, account_by_pk[account_pk], owners["group"].get(pk, []))
        for pk, account_pk, arn, name in group_rows
    ]
    group_docs = {group.pk: group.docs for group in groups}

    boundaries: dict[tuple[int, str], Doc] = {}

    def boundary_of(account: AccountInfo, arn: str) -> Doc | None:
        if not arn:
            return None
        found = boundaries.get((account.pk, arn))
        if found is None:
            name, document, is_aws = managed_by_account_arn.get(
                (account.pk, arn), (None, None, False)
            )
            source = PolicySource(
                Layer.BOUNDARY, name or arn.rsplit("/", 1)[-1], arn, kind="permissions boundary"
            )
            missing = None if name else "the boundary policy is not in the bundle"
            found = make_doc(f"boundary:{account.pk}:{arn}", document, source, missing=missing)
            boundaries[(account.pk, arn)] = found
        return found

    def actor(kind: str, principal: tuple[Any, ...], docs: list[Doc], **details: Any) -> Actor:
        """A user or role from its ``principal_columns`` and what only its kind has."""
        pk, account_pk, arn, name, path, boundary_arn, tags = principal
        account = account_by_pk[account_pk]
        return Actor(
            kind=kind,
            pk=pk,
            arn=arn,
            name=name,
            path=path,
            account=account,
            docs=docs,
            boundary=boundary_of(account, boundary_arn),
            boundary_arn=boundary_arn,
            tags=dict(_json(tags) or {}),
            **details,
        )

    users: list[Actor] = []
    for row in user_rows:
        pk = row[0]
        mfa_active, password_enabled, password_last_used, create_date, unique_id = row[7:]
        group_pks = sorted(memberships.get(pk, []))
        docs = list(owners["user"].get(pk, []))
        for group_pk in group_pks:
            docs.extend(group_docs.get(group_pk, []))
        users.append(
            actor(
                "user",
                row[:7],
                docs,
                group_pks=group_pks,
                mfa_active=mfa_active,
                password_enabled=password_enabled,
                password_last_used=password_last_used,
                create_date=create_date,
                unique_id=unique_id,
            )
        )

    roles: list[Actor] = []
    for row in role_rows:
        pk, _, arn, name = row[:4]
        trust = parser.doc(
            f"trust:{pk}",
            row[7],
            PolicySource(Layer.TRUST, name, arn),
            missing="the role has no trust policy in the bundle",
        )
        roles.append(actor("role", row[:7], list(owners["role"].get(pk, [])), trust=trust))

    by_arn = {actor.arn: actor for actor in (*users, *roles)}
    providers = dict(IdentityProvider.objects.values_list("arn", "kind"))
    keys = [
        KeyInfo(*row)
        for row in keys_qs.values_list(
            "user_id", "slot", "active", "last_rotated", "last_used_date"
        )
    ]
    logger.log(
        logging.DEBUG if only is not None else logging.INFO,
        "loaded %d accounts, %d users, %d roles, %d groups",
        len(accounts),
        len(users),
        len(roles),
        len(groups),
    )
    return Estate(accounts, users, roles, groups, by_arn, providers, keys, notes)


def _text(field_name: str) -> Cast:
    """A JSON column read as text, decoded with orjson (several times faster than json)."""
    return Cast(field_name, output_field=TextField())


def _json(value: Any) -> Any:
    if value is None or not isinstance(value, str | bytes):
        return value
    return orjson.loads(value)


def _owner(user_pk: int | None, group_pk: int | None, role_pk: int | None) -> tuple[str, int]:
    if user_pk is not None:
        return "user", user_pk
    if group_pk is not None:
        return "group", group_pk
    assert role_pk is not None
    return "role", role_pk


def _load_accounts(notes: list[str]) -> dict[str, AccountInfo]:
    """Accounts with the SCP levels of each (root, OUs, account) and its RCP levels.

    An SCP or RCP allows only through an Allow at every level from the root down to the account,
    so each level is kept apart; the management account is not restricted by either.
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
    """
    parents = dict(OrgNode.objects.values_list("node_id", "parent_id"))
    attached: dict[str, dict[str, list[Doc]]] = {
        OrgPolicy.Type.SCP: defaultdict(list),
        OrgPolicy.Type.RCP: defaultdict(list),
    }
    present: dict[str, bool] = {OrgPolicy.Type.SCP: False, OrgPolicy.Type.RCP: False}
    for policy_id, name, policy_type, document, targets in OrgPolicy.objects.order_by(
        "policy_id"
    ).values_list("policy_id", "name", "type", "document", "targets"):
        layer = Layer.SCP if policy_type == OrgPolicy.Type.SCP else Layer.RCP
        doc = make_doc(f"org:{policy_id}", document, PolicySource(layer, name, policy_id))
        present[policy_type] = True
        for target in targets or []:
            attached[policy_type][target].append(doc)

    accounts: dict[str, AccountInfo] = {}
    for (
        pk,
        account_id,
        name,
        alias,
        parent_id,
        is_management,
        in_org,
        org_id,
    ) in Account.objects.values_list(
        "pk",
        "account_id",
        "name",
        "alias",
        "parent_id",
        "is_management",
        "in_organization",
        "organization_id",
    ):
        info = AccountInfo(pk, account_id, name or alias or account_id, is_management, in_org)
        # aws:PrincipalOrgID / …OrgPaths and aws:ResourceOrgID / …OrgPaths need the id (o-…);
        # without one (a bundle that omits it) those keys stay unknown, so conditional.
        info.org_id = org_id if in_org and org_id else None
        accounts[account_id] = info
        if not in_org:
            continue
        chain: list[str] = []
        node = parent_id
        while node:
            chain.append(node)
            node = parents.get(node, "")
            if node in chain:  # a cycle would be a broken bundle; stop rather than loop
                break
        if not chain or (chain[-1] not in parents and not chain[-1].startswith("r-")):
            if is_management:
                continue
            info.org_note = (
                f"the place of account {account_id} in the organisation is unknown; "
                "its SCPs and RCPs are not applied"
            )
            notes.append(info.org_note)
            continue
        levels = [*reversed(chain), account_id]
        # The management account has an organisation path (aws:PrincipalOrgPaths) like any
        # member, but no SCP or RCP restricts it.
        info.org_levels = tuple(levels)
        if is_management:
            continue
        if present[OrgPolicy.Type.SCP]:
            info.scp_levels = tuple(
                tuple(attached[OrgPolicy.Type.SCP].get(level, ())) for level in levels
            )
        if present[OrgPolicy.Type.RCP]:
            info.rcp_levels = tuple(
                tuple(attached[OrgPolicy.Type.RCP].get(level, ())) for level in levels
            )
    return accounts


_T = TypeVar("_T")


def private_copy(estate: Estate) -> Estate:
    """A copy of ``estate`` that a proposal may change (`what_if.apply_proposal` replaces
    documents, boundaries, memberships and SCP/RCP levels) without changing the original: its
    accounts, users, roles and groups are new objects with their own lists of documents and
    groups, sharing the parsed documents themselves (never changed once parsed)."""
    accounts = {aid: _clone(info) for aid, info in estate.accounts.items()}

    def actor(original: Actor) -> Actor:
        new = _clone(original)
        new.account = accounts[original.account.account_id]
        new.docs = list(original.docs)
        new.group_pks = list(original.group_pks)
        return new

    users = [actor(user) for user in estate.users]
    roles = [actor(role) for role in estate.roles]
    groups = []
    for original in estate.groups:
        group = _clone(original)
        group.account = accounts[original.account.account_id]
        group.docs = list(original.docs)
        groups.append(group)
    return Estate(
        accounts,
        users,
        roles,
        groups,
        {a.arn: a for a in (*users, *roles)},
        dict(estate.providers),
        list(estate.access_keys),
        list(estate.notes),
    )


def _clone(original: _T) -> _T:
    """A shallow copy of a dataclass instance, without `copy.copy`'s per-object reduce."""
    new = object.__new__(type(original))
    new.__dict__.update(original.__dict__)
    return new
