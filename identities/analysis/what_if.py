"""What-if: the difference a proposed IAM change would make, without touching the stored estate.

A proposal is a list of changes: a role's trust policy, a managed or inline identity policy, a
principal's permissions boundary or an SCP/RCP replaced by a new document; a statement removed
from one of those; a user taken out of a group; a managed policy detached from a user, group or
role. The estate is loaded twice as the analysis loads
it (`estate.load_estate`); one copy gets the proposal applied in memory, both go through the
analysis stages (edges, administrators, escalations, reach, findings) without storing anything,
and the two results are compared by the access history's own comparison (`history.diff_states`),
so the answer reads exactly like ``access_changes`` between two analyses.

Policy references (`PolicyRef.parse`): a managed policy ARN (``arn:aws:iam::…:policy/…``), a
role ARN for its trust policy, ``OWNER_ARN#POLICY_NAME`` for an inline policy of a user, group or
role, an organisation policy id (``p-…``) for an SCP or RCP.

Every proposed document is validated as the importer validates one (decoded, within AWS's size
quota) and must parse with the policy engine; a problem is a `BundleError` naming the JSON path.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import copy
import gc
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from identities import iam_limits
from identities.analysis import _without_gc, graph_of_edges, what_if_file
from identities.analysis.admins import find_administrators
from identities.analysis.edges import compute_edges
from identities.analysis.escalations import compute_escalations, load_escalation_facts
from identities.analysis.estate import (
    Actor,
    Doc,
    Estate,
    load_estate,
    make_doc,
    private_copy,
)
from identities.analysis.evaluation import Evaluator
from identities.analysis.findings import find_findings
from identities.analysis.groups import group_principals
from identities.analysis.history import AccessSnapshot, ChangeRecord, diff_states, state_of_results
from identities.analysis.incremental import (
    ChangeTooWide,
    Stored,
    capture,
    changed_since,
    incremental_after,
    policy_after,
    reach_of,
    stored_state,
)
from identities.analysis.sensitive import load_sensitive_rules, match_sensitive_roles
from identities.bundle import BundleError, decode_policy_document
from identities.models import (
    AccessChange,
    AnalysisRun,
    GroupMembership,
    IamRole,
    IamUser,
    InlinePolicy,
    ManagedPolicy,
    OrgPolicy,
    PolicyAttachment,
)
from identities.policy import Layer, PolicyParseError, PolicySource, parse_policy
from identities.queries.access import current_run
from identities.queries.changes import ChangeSet, change_item, changes_document

TRUST, MANAGED, INLINE, ORG, BOUNDARY = "trust", "managed", "inline", "org", "boundary"
Category = AccessChange.Category


class WhatIfError(ValueError):
    """A proposal that cannot be evaluated: an unknown principal, policy or statement."""


@dataclass(frozen=True)
class PolicyRef:
    """One document of the estate a change names."""

    kind: str  # TRUST | MANAGED | INLINE | ORG | BOUNDARY
    arn: str  # role, managed policy, owner (inline) or principal (boundary) ARN; org policy id
    name: str = ""  # the inline policy's name

    @classmethod
    def parse(cls, text: str) -> PolicyRef:
        """A managed policy ARN, a role ARN (its trust policy), OWNER_ARN#NAME (an inline
        policy) or an organisation policy id."""
        owner, hash_, name = text.partition("#")
        if hash_:
            if not name:
                raise WhatIfError(f"{text!r}: no inline policy name after '#'")
            return cls(INLINE, owner, name)
        if text.startswith("p-") or text.startswith("arn:aws:organizations:"):
            return cls(ORG, text.rsplit("/", 1)[-1])
        if ":policy/" in text:
            return cls(MANAGED, text)
        if ":role/" in text:
            return cls(TRUST, text)
        raise WhatIfError(
            f"{text!r} names no policy: give a managed policy ARN, a role ARN (its trust "
            "policy), OWNER_ARN#POLICY_NAME (an inline policy) or an SCP/RCP id (p-…)"
        )

    def __str__(self) -> str:
        return f"{self.arn}#{self.name}" if self.kind == INLINE else self.arn


@dataclass
class Proposal:
    """A set of changes, as final documents per policy and memberships removed."""

    documents: dict[PolicyRef, dict[str, Any]] = field(default_factory=dict)
    removed_memberships: list[tuple[str, str]] = field(default_factory=list)
    detached: list[tuple[str, str]] = field(default_factory=list)  # (policy, principal) ARNs

    def replace(self, ref: PolicyRef, document: Any, *, source: str = "<proposal>") -> None:
        """Propose ``document`` (object, JSON or URL-encoded JSON) for ``ref``."""
        current_document(ref)  # the policy must exist
        self.documents[ref] = validate_document(document, ref, source=source)

    def set_boundary(self, principal_arn: str, document: Any, *, source: str = "") -> None:
        """Give a user or role a permissions boundary with this document (replacing any)."""
        ref = PolicyRef(BOUNDARY, principal_arn)
        if _principal_kind(principal_arn) is None:
            raise WhatIfError(f"no user or role {principal_arn}")
        self.documents[ref] = validate_document(document, ref, source=source or "<proposal>")

    def remove_statement(self, ref: PolicyRef, sid_or_index: str) -> None:
        """Remove one statement, named by its Sid or else by its 0-based index."""
        document = copy.deepcopy(self.documents.get(ref) or current_document(ref))
        raw = document.get("Statement")
        statements = list(raw) if isinstance(raw, list) else [raw]
        position = next(
            (
                i
                for i, s in enumerate(statements)
                if isinstance(s, dict) and s.get("Sid") == sid_or_index
            ),
            None,
        )
        if position is None and sid_or_index.isdigit() and int(sid_or_index) < len(statements):
            position = int(sid_or_index)
        if position is None:
            raise WhatIfError(f"{ref}: no statement with Sid or index {sid_or_index!r}")
        del statements[position]
        document["Statement"] = statements
        self.documents[ref] = document

    def remove_membership(self, user_arn: str, group_arn: str) -> None:
        if not GroupMembership.objects.filter(user__arn=user_arn, group__arn=group_arn).exists():
            raise WhatIfError(f"{user_arn} is not a member of {group_arn}")
        self.removed_memberships.append((user_arn, group_arn))

    def detach(self, policy_arn: str, principal_arn: str) -> None:
        """Detach a managed policy from a user, group or role."""
        owner = _inline_owner(principal_arn)
        if not PolicyAttachment.objects.filter(
            policy__arn=policy_arn, **{f"{owner}__arn": principal_arn}
        ).exists():
            raise WhatIfError(f"{policy_arn} is not attached to {principal_arn}")
        self.detached.append((policy_arn, principal_arn))


def _principal_kind(arn: str) -> str | None:
    if IamRole.objects.filter(arn=arn).exists():
        return "role"
    if IamUser.objects.filter(arn=arn).exists():
        return "user"
    return None


def current_document(ref: PolicyRef) -> dict[str, Any]:
    """The stored document ``ref`` names (for an editor to start from); WhatIfError if none."""
    raw: Any = None
    found = False
    if ref.kind == TRUST:
        row = IamRole.objects.filter(arn=ref.arn).values_list("trust_policy", flat=True)
        found, raw = row.exists(), row.first()
    elif ref.kind == MANAGED:
        rows = ManagedPolicy.objects.filter(arn=ref.arn).order_by("pk")
        found = rows.exists()
        raw = rows.exclude(document=None).values_list("document", flat=True).first()
    elif ref.kind == INLINE:
        owner = _inline_owner(ref.arn)
        inline = InlinePolicy.objects.filter(**{f"{owner}__arn": ref.arn}, name=ref.name)
        found = inline.exists()
        raw = inline.values_list("document", flat=True).first()
    elif ref.kind == ORG:
        org = OrgPolicy.objects.filter(policy_id=ref.arn)
        found = org.exists()
        raw = org.values_list("document", flat=True).first()
    if not found:
        raise WhatIfError(f"no {_KIND_WORDS[ref.kind]} {ref}")
    if raw is None:
        return {"Version": "2012-10-17", "Statement": []}
    return decode_policy_document(raw, source=str(ref), path="$")


_KIND_WORDS = {
    TRUST: "role",
    MANAGED: "managed policy",
    INLINE: "inline policy",
    ORG: "organisation policy",
    BOUNDARY: "user or role",
}


def _inline_owner(arn: str) -> str:
    if ":role/" in arn:
        return "role"
    if ":group/" in arn:
        return "group"
    if ":user/" in arn:
        return "user"
    raise WhatIfError(f"{arn!r} is no user, group or role ARN (the owner of an inline policy)")


def _limit(ref: PolicyRef) -> tuple[int, str]:
    if ref.kind == TRUST:
        return iam_limits.TRUST_POLICY_MAX, "the trust policy"
    if ref.kind == INLINE:
        return iam_limits.INLINE_TOTAL_MAX[_inline_owner(ref.arn)], "the inline policy"
    if ref.kind == ORG:
        return iam_limits.ORG_POLICY_MAX, "the organisation policy"
    if ref.kind == MANAGED and ref.arn.startswith("arn:aws:iam::aws:"):
        return iam_limits.AWS_MANAGED_POLICY_MAX, "the policy document"
    return iam_limits.MANAGED_POLICY_MAX, "the policy document"


_LAYERS = {
    TRUST: Layer.TRUST,
    MANAGED: Layer.IDENTITY,
    INLINE: Layer.IDENTITY,
    BOUNDARY: Layer.BOUNDARY,
}


def validate_document(document: Any, ref: PolicyRef, *, source: str) -> dict[str, Any]:
    """The document decoded as the importer decodes it, within AWS's quota for its kind, and
    parsed by the engine; BundleError(source, JSON path, problem) otherwise."""
    decoded = decode_policy_document(document, source=source, path="$")
    limit, what = _limit(ref)
    problem = iam_limits.document_problem(decoded, limit, what)
    if problem:
        raise BundleError(source, "$", problem)
    layer = _LAYERS.get(ref.kind)
    if layer is None:
        layer = Layer.RCP if _org_type(ref.arn) == OrgPolicy.Type.RCP else Layer.SCP
    try:
        parse_policy(decoded, PolicySource(layer, str(ref)))
    except PolicyParseError as exc:
        raise BundleError(source, f"$.{exc.path}" if exc.path else "$", exc.message) from None
    return decoded


def _org_type(policy_id: str) -> str:
    found = OrgPolicy.objects.filter(policy_id=policy_id).values_list("type", flat=True).first()
    return found or OrgPolicy.Type.SCP


# -- applying a proposal to an estate in memory --------------------------------------------------


def _docs_of(estate: Estate, ref: PolicyRef) -> Iterable[Doc]:
    """The documents of the estate ``ref`` may name: an inline policy's owner's (a group's
    are in its members' too, as the same objects), an SCP's or RCP's accounts', or all."""
    if ref.kind == INLINE:
        owner = estate.by_arn.get(ref.arn)
        group = next((g for g in estate.groups if g.arn == ref.arn), None)
        if owner is not None:
            return owner.docs
        if group is not None:
            return group.docs
    return _docs_everywhere(estate, org=ref.kind == ORG)


def _docs_everywhere(estate: Estate, *, org: bool = False) -> Iterable[Doc]:
    """Every document of the estate (``org``: only the SCPs and RCPs)."""
    for actor in () if org else estate.actors:
        yield from actor.docs
        if actor.boundary is not None:
            yield actor.boundary
        if actor.trust is not None:
            yield actor.trust
    for group in () if org else estate.groups:
        yield from group.docs
    for account in estate.accounts.values():
        for level in (*account.scp_levels, *account.rcp_levels):
            yield from level


def _swap(estate: Estate, replaced: dict[int, Doc]) -> None:
    """Put each new Doc where the old one (by identity) was."""
    if not replaced:
        return

    def new(doc: Doc) -> Doc:
        return replaced.get(id(doc), doc)

    # SCPs and RCPs are only in the accounts' levels.
    principals = not all(doc.key.startswith("org:") for doc in replaced.values())
    ids = replaced.keys()
    for actor in estate.actors if principals else ():
        if not ids.isdisjoint(map(id, actor.docs)):
            actor.docs = [new(doc) for doc in actor.docs]
        if actor.boundary is not None:
            actor.boundary = new(actor.boundary)
        if actor.trust is not None:
            actor.trust = new(actor.trust)
    for group in estate.groups if principals else ():
        if not ids.isdisjoint(map(id, group.docs)):
            group.docs = [new(doc) for doc in group.docs]
    for account in estate.accounts.values():
        account.scp_levels = tuple(tuple(new(d) for d in lvl) for lvl in account.scp_levels)
        account.rcp_levels = tuple(tuple(new(d) for d in lvl) for lvl in account.rcp_levels)


def apply_proposal(estate: Estate, proposal: Proposal) -> None:
    """Change ``estate`` in place as the proposal says, the way `load_estate` would have built
    it had the stored documents and memberships been the proposed ones."""
    replaced: dict[int, Doc] = {}
    for ref, document in proposal.documents.items():
        if ref.kind == BOUNDARY:
            _set_boundary(estate, ref.arn, document)
            continue
        role = estate.by_arn.get(ref.arn) if ref.kind == TRUST else None
        if role is not None and role.trust is not None:
            # A trust policy is its role's alone: no need to look for it everywhere.
            old = role.trust
            role.trust = make_doc(old.key, document, old.policy.source)
            continue
        olds = {id(doc): doc for doc in _docs_of(estate, ref) if _names(doc, ref)}
        if ref.kind == MANAGED:
            # `load_estate` shares one Doc between the accounts holding an equal document, and
            # a boundary per account that has the policy.
            accounts = set(
                ManagedPolicy.objects.filter(arn=ref.arn).values_list("account_id", flat=True)
            )
            shared: Doc | None = None
            for key, old in olds.items():
                if old.key.startswith("boundary:"):
                    if int(old.key.split(":")[1]) in accounts:
                        replaced[key] = make_doc(old.key, document, old.policy.source)
                    continue
                if shared is None:
                    shared = make_doc(old.key, document, old.policy.source)
                replaced[key] = shared
            continue
        for key, old in olds.items():
            replaced[key] = make_doc(old.key, document, old.policy.source)
    _swap(estate, replaced)
    for user_arn, group_arn in proposal.removed_memberships:
        _remove_membership(estate, user_arn, group_arn)
    for policy_arn, principal_arn in proposal.detached:
        _detach(estate, policy_arn, principal_arn)


def _names(doc: Doc, ref: PolicyRef) -> bool:
    source = doc.policy.source
    if ref.kind == TRUST:
        return source.layer is Layer.TRUST and source.arn == ref.arn
    if ref.kind == MANAGED:
        return doc.key.startswith(("managed:", "boundary:")) and source.arn == ref.arn
    if ref.kind == INLINE:
        return doc.key.startswith("inline:") and source.arn == ref.arn and source.name == ref.name
    if ref.kind == ORG:
        return doc.key == f"org:{ref.arn}"
    return False


def _set_boundary(estate: Estate, arn: str, document: dict[str, Any]) -> None:
    actor = estate.by_arn.get(arn)
    if actor is None:
        return
    boundary_arn = actor.boundary_arn or f"arn:aws:iam::{actor.account.account_id}:policy/what-if"
    source = PolicySource(
        Layer.BOUNDARY, boundary_arn.rsplit("/", 1)[-1], boundary_arn, kind="permissions boundary"
    )
    actor.boundary = make_doc(f"boundary:what-if:{arn}", document, source)
    actor.boundary_arn = boundary_arn


def _remove_membership(estate: Estate, user_arn: str, group_arn: str) -> None:
    user: Actor | None = estate.by_arn.get(user_arn)
    group = next((g for g in estate.groups if g.arn == group_arn), None)
    if user is None or group is None or group.pk not in user.group_pks:
        return
    # A user's docs are its own, then each of its groups' in group order (see load_estate).
    group_docs = {g.pk: g.docs for g in estate.groups if g.pk in user.group_pks}
    own = len(user.docs) - sum(len(docs) for docs in group_docs.values())
    user.group_pks = [pk for pk in user.group_pks if pk != group.pk]
    user.docs = list(user.docs[:own])
    for pk in user.group_pks:
        user.docs.extend(group_docs[pk])


def _detach(estate: Estate, policy_arn: str, principal_arn: str) -> None:
    """Take the managed policy out of the docs of a user or role, or of a group (and so out
    of the group's part of each member's docs)."""

    def kept(docs: list[Doc]) -> list[Doc]:
        return [
            doc
            for doc in docs
            if not (doc.key.startswith("managed:") and doc.policy.source.arn == policy_arn)
        ]

    group = next((g for g in estate.groups if g.arn == principal_arn), None)
    if group is None:
        actor = estate.by_arn.get(principal_arn)
        if actor is not None:
            own = len(actor.docs) - sum(
                len(g.docs) for g in estate.groups if g.pk in actor.group_pks
            )
            actor.docs = kept(actor.docs[:own]) + actor.docs[own:]
        return
    members = [actor for actor in estate.actors if group.pk in actor.group_pks]
    group_docs = {g.pk: g.docs for g in estate.groups if any(g.pk in a.group_pks for a in members)}
    owns = [len(a.docs) - sum(len(group_docs[pk]) for pk in a.group_pks) for a in members]
    group_docs[group.pk] = group.docs = kept(group.docs)
    for actor, own in zip(members, owns, strict=True):
        # A user's docs are its own, then each of its groups' in group order (see load_estate).
        actor.docs = list(actor.docs[:own])
        for pk in actor.group_pks:
            actor.docs.extend(group_docs[pk])


# -- evaluating ---------------------------------------------------------------------------------


def analyse_in_memory(
    estate: Estate, *, now: datetime, facts: tuple[set[int], set[str]] | None = None
) -> AccessSnapshot:
    """The analysis stages of `analyse_estate` on ``estate``, nothing stored: the state the
    access history would record for it."""
    profiled, other_versions = facts if facts is not None else load_escalation_facts()
    result = compute_edges(estate, group_principals(estate), Evaluator())
    admins = find_administrators(estate, result.edges)
    escalations = compute_escalations(
        estate, result.edges, admins, now=now, profiled=profiled, other_versions=other_versions
    )
    graph = graph_of_edges(result, escalations)
    state = state_of_results(
        result,
        admins,
        {},
        find_findings(estate, result.edges, admins, now),
        estate.accounts,
        escalations=escalations,
    )
    sensitive = match_sensitive_roles(load_sensitive_rules(), estate.roles)
    state.reach, state.sensitive = reach_of(graph, list(state.admins), sensitive)
    return state


INCREMENTAL, FULL = "incremental", "full"


@dataclass
class WhatIfAnswer:
    run: AnalysisRun | None  # the stored analysis the answer starts from
    changes: list[ChangeRecord]
    seconds: float
    method: str = FULL  # INCREMENTAL: only what the change touches was evaluated again
    why_full: str = ""  # why the whole estate was analysed

    def document(self) -> dict[str, Any]:
        """The object ``what_if --format json`` prints: ``access_changes``'s, ``to`` null."""
        items = [change_item(change) for change in self.changes]
        runs = ChangeSet(
            from_run=self.run or AnalysisRun(), to_run=AnalysisRun(), items=items, sync_runs=[]
        )
        return changes_document(runs)

    @property
    def how(self) -> str:
        """How the answer was had, in words (the command prints it on stderr)."""
        if self.method == INCREMENTAL:
            return "re-evaluated only what the change touches"
        return f"analysed the whole estate: {self.why_full}"


def what_if(
    proposal: Proposal, *, now: datetime | None = None, incremental: bool = True
) -> WhatIfAnswer:
    """What the proposal would change against the estate as stored now.

    The "before" is the current analysis' stored state, when the estate has not changed since
    (`incremental.stored_state`); a change of trust policies alone is then answered from it by
    re-evaluating those roles (`incremental.incremental_after`). Otherwise both sides are
    analysed here with the same time and facts, so the answer is the proposal's effect alone.
    The estate and stored state are loaded once per process for the current analysis
    (`_prepared`) and the proposal is applied to a private copy of the estate.
    ``now``: the time of the analysis (default: when the stored one started, else now).
    ``incremental`` false: always analyse the whole estate (what the tests compare with).
    """
    clock = time.perf_counter()
    run = current_run()
    if run is None:
        raise WhatIfError("no analysis has run yet; run `manage.py analyse` first")
    with _without_gc():
        # In a function of its own: the estate copy it makes is freed on its return, before
        # the collector is back on (it would walk all of it).
        changes, why_full = _answer(proposal, run, now, incremental)
    method = INCREMENTAL if not why_full else FULL
    return WhatIfAnswer(run, changes, round(time.perf_counter() - clock, 2), method, why_full)


def _answer(
    proposal: Proposal, run: AnalysisRun, now: datetime | None, incremental: bool
) -> tuple[list[ChangeRecord], str]:
    """(the differences, why the whole estate was analysed or "") of `what_if`."""
    stored, why_full, base, facts = _prepared(run)
    when = now or (run.started_at if stored is not None else timezone.now())
    # The proposal is applied to a private copy: the prepared estate is shared.
    estate = private_copy(base)
    loaded = capture(estate)
    apply_proposal(estate, proposal)
    found: tuple[AccessSnapshot, AccessSnapshot] | str = why_full
    if stored is not None and incremental:
        roles = _trust_roles(estate, proposal)
        if roles is not None:
            found = incremental_after(stored, estate, roles)
        elif any(ref.kind == TRUST for ref in proposal.documents):
            found = _NOT_INCREMENTAL
        else:
            facts = facts or load_escalation_facts()
            try:
                found = policy_after(stored, estate, loaded, now=when, facts=facts)
            except ChangeTooWide as exc:
                raise WhatIfError(str(exc)) from None
    elif stored is not None:
        found = "asked to"
    if isinstance(found, str):
        why_full = found
        facts = facts or load_escalation_facts()
        before = (
            stored.state if stored is not None else analyse_in_memory(base, now=when, facts=facts)
        )
        found = (before, analyse_in_memory(estate, now=when, facts=facts))
    return diff_states(*found), why_full


@dataclass
class _Prepared:
    """What every what-if against one analysis starts from: its stored state, the estate as
    loaded (never changed: each what-if applies its proposal to a `private_copy`) and the
    escalation facts."""

    key: tuple[object, ...]
    stored: Stored
    estate: Estate
    facts: tuple[set[int], set[str]]
    file: str  # the name of its file (`what_if_file`)
    saved: bool  # read from that file, or written to it


_prepared_cache: _Prepared | None = None
_prepared_lock = threading.Lock()


def clear_prepared() -> None:
    """Forget the prepared estate (the next what-if loads it again)."""
    global _prepared_cache
    with _prepared_lock:
        _prepared_cache = None
        gc.unfreeze()


def _prepared(
    run: AnalysisRun,
) -> tuple[Stored | None, str, Estate, tuple[set[int], set[str]] | None]:
    """(stored state or None, why not, the estate as loaded, escalation facts or None).

    While no sync or import has finished since ``run`` started, the estate and its stored
    state are what ``run`` analysed: they are loaded once per process for that run and kept.
    Otherwise (or when the run kept no usable state) they are loaded afresh every time."""
    global _prepared_cache
    changed = changed_since(run)
    if changed:
        return None, changed, load_estate(), None
    key = (connection.alias, connection.settings_dict.get("NAME"), run.pk, run.started_at)
    with _prepared_lock:
        found = _prepared_cache
        if found is None or found.key != key:
            _prepared_cache = None  # let the old estate go before loading the next
            gc.unfreeze()
            stored, why = stored_state(run)
            if stored is None:
                return None, why, load_estate(), None
            name = what_if_file.file_name(run, stored.blob)
            kept = what_if_file.read(name)
            if kept is None:
                estate = load_estate()
            else:
                estate, graph = kept
                stored.keep_graph(graph)
            found = _Prepared(
                key, stored, estate, load_escalation_facts(), name, saved=kept is not None
            )
            _prepared_cache = found
            # The kept estate is millions of objects that live until the next analysis: out
            # of the collector's sight, a what-if does not pay for a full pass over them.
            gc.freeze()
    return found.stored, "", found.estate, found.facts


def keep_prepared() -> Path | None:
    """Write the estate prepared for the current analysis to its file (`what_if_file`), for
    the what-ifs of processes started later; the file written, or None when there is nothing
    to write (none prepared, or read from its file or written already)."""
    with _prepared_lock:
        found = _prepared_cache
        if found is None or found.saved:
            return None
        found.saved = True
    with _without_gc():
        return what_if_file.write(found.file, (found.estate, found.stored.kept_graph()))


_NOT_INCREMENTAL = (
    "a proposal changing trust policies and other policies or memberships together is "
    "evaluated as a whole"
)


def _trust_roles(estate: Estate, proposal: Proposal) -> list[Actor] | None:
    """The roles whose trust policy the proposal changes, or None when it changes more."""
    if (
        proposal.removed_memberships
        or proposal.detached
        or any(ref.kind != TRUST for ref in proposal.documents)
    ):
        return None
    return [estate.by_arn[ref.arn] for ref in proposal.documents if ref.arn in estate.by_arn]


def proposal_from(
    changes: Sequence[tuple[str, Sequence[Any]]], read: Any = None, *, source: str = ""
) -> Proposal:
    """A proposal from command-line style changes: (option, arguments) pairs, e.g.
    ``("trust-policy", [ROLE_ARN, FILE])``; ``read(path) -> text`` reads a FILE (default: the
    argument is the document). ``source`` names the documents in errors (default: FILE)."""
    proposal = Proposal()
    read = read or (lambda document: document)
    for option, args in changes:
        if option in ("trust-policy", "policy", "scp"):
            ref = PolicyRef.parse(args[0])
            wanted = {"trust-policy": (TRUST,), "policy": (MANAGED, INLINE), "scp": (ORG,)}[option]
            if option == "scp" and ref.kind != ORG:
                ref = PolicyRef(ORG, args[0])
            if ref.kind not in wanted:
                raise WhatIfError(f"--{option} {args[0]}: not a {_OPTION_WORDS[option]}")
            proposal.replace(ref, read(args[1]), source=source or args[1])
        elif option == "boundary":
            proposal.set_boundary(args[0], read(args[1]), source=source or args[1])
        elif option == "remove-statement":
            proposal.remove_statement(PolicyRef.parse(args[0]), str(args[1]))
        elif option == "remove-membership":
            proposal.remove_membership(args[0], args[1])
        elif option == "detach":
            proposal.detach(args[0], args[1])
        else:
            raise WhatIfError(f"unknown change {option!r}")
    return proposal


_OPTION_WORDS = {
    "trust-policy": "role ARN",
    "policy": "managed policy ARN or OWNER_ARN#INLINE_NAME",
    "scp": "SCP/RCP id",
}


def answer_summary(answer: WhatIfAnswer, *, limit: int = 200) -> dict[str, Any]:
    """What a page shows of an answer (and a saved proposal keeps): the ``what_if`` document's
    lists cut at ``limit`` items with their full counts, the paths of the principals that gain
    or lose a path to an administrator, how it was computed and against which analysis."""
    document = answer.document()
    paths = {
        (change.category, change.source): change.detail.get("path", [])
        for change in answer.changes
        if change.category in (Category.REACH_ADDED, Category.REACH_REMOVED)
    }
    lists = {key: value for key, value in document.items() if isinstance(value, list)}
    return {
        "run": answer.run.pk if answer.run else None,
        "method": answer.method,
        "how": answer.how,
        "seconds": answer.seconds,
        "counts": {key: len(value) for key, value in lists.items()},
        "lists": {key: value[:limit] for key, value in lists.items()},
        "reach_paths": {
            key: [[source, paths.get((category, source), [])] for source in lists[key][:limit]]
            for key, category in (
                ("admin_reach_added", Category.REACH_ADDED),
                ("admin_reach_removed", Category.REACH_REMOVED),
            )
        },
    }
