"""Who can do this? `answer_who_can` is the one reader of the question "who may ACTION on
RESOURCE?" for the page, its CSV, the ``who_can`` command and the API. Who may
``sts:AssumeRole`` on a role is the stored access edges into it; any other question is the
engine's answer (`identities.analysis.who_can`), computed once per analysis run and question
and kept in the shared cache (`shared_cache.shared_for_run`) for every process.

The engine reads and parses the whole estate, so a question costs seconds the first time; its
answer depends only on the estate, which changes with a sync or an import, and each of those
ends with a new analysis run, whose entries are new ones. Time conditions (``aws:CurrentTime``)
are evaluated when the question is first asked during a run.

A question the engine has not answered for the run is answered in a background thread when
the estate is large (`answers_in_background`: reading and parsing it takes seconds): the page
shows that it is working and asks again (`start_answering`, `answered_summary`).

The summaries (by account, by the statements that grant) and the selection of one list are
plain functions of the answer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connections
from django.utils import timezone

from identities.analysis.estate import ASSUME_ROLE
from identities.analysis.who_can import Allowed, who_can
from identities.arns import account_of
from identities.models import IamRole
from identities.queries.access import access_into
from identities.queries.estate import estate_totals
from identities.queries.shared_cache import (
    claim_for_run,
    current_key,
    release_for_run,
    shared_for_run,
    store_for_run,
    stored_for_run,
    warmer,
)

logger = logging.getLogger(__name__)

# The kinds of principal a "who can" answer lists.
PRINCIPAL_KINDS = ("user", "role")


def answer_who_can(action: str, resource: str, *, now: datetime) -> list[Allowed]:
    """Every user and role allowed ``action`` on ``resource``, sorted by ARN: for
    ``sts:AssumeRole`` on a role of the estate its stored access edges (`assume_role_answer`),
    else the engine's answer, once per analysis run and question for every process."""
    stored = assume_role_answer(action, resource)
    if stored is not None:
        return stored

    def compute() -> list[Allowed]:
        return who_can(action, resource, now=now)

    # Not in this process's memory: an answer can hold tens of thousands of principals, and
    # a process would keep every question asked during a run.
    return shared_for_run(_answer_name(action, resource), compute, in_memory=False)


def assume_role_answer(action: str, resource: str) -> list[Allowed] | None:
    """Who may ``sts:AssumeRole`` on the role ``resource``: the users and roles of every
    account with a stored access edge into it (`access.access_into`, access groups counted per
    member), as the role's page lists them; None for another question or an unknown role.

    The edges hold the role's trust policy as well as each principal's own permissions, which
    the engine's identity-based answer would lack."""
    if action.casefold() != ASSUME_ROLE.casefold() or not resource.startswith("arn:"):
        return None
    role = IamRole.objects.filter(arn=resource).first()
    if role is None:
        return None
    found: dict[str, Allowed] = {}
    for edge in access_into(role):
        if edge.source_kind in PRINCIPAL_KINDS and edge.action == ASSUME_ROLE:
            found.setdefault(
                edge.source,
                Allowed(
                    edge.source,
                    edge.source_kind,
                    account_of(edge.source),
                    edge.condition_keys if edge.conditional else (),
                    edge.granted_by,
                ),
            )
    return sorted(found.values(), key=lambda allowed: allowed.principal)


def summarise_who_can(action: str, resource: str, *, now: datetime) -> WhoCanSummary:
    """`summarise` of `answer_who_can`, kept beside it: a page shows the summary without
    reading every principal back."""

    def compute() -> WhoCanSummary:
        return summarise(answer_who_can(action, resource, now=now))

    return shared_for_run(_summary_name(action, resource), compute, in_memory=False)


# Users and roles from which a question the engine has not answered for the run is answered
# in the background: the engine reads and parses the whole estate, about 5 s of CPU for
# 75,000 principals (well under a second for a few thousand).
BACKGROUND_FROM = 5000
# A background answer not finished after this long (its process may have ended) is started
# again by the next request.
BACKGROUND_SECONDS = 120


def _answer_name(action: str, resource: str) -> str:
    return f"who-can:{action} {resource}"


def _summary_name(action: str, resource: str) -> str:
    return f"who-can-summary:{action} {resource}"


def answered_summary(action: str, resource: str) -> WhoCanSummary | None:
    """The summary of the question if it is answered for the current run, else None (never
    computed here)."""
    found = stored_for_run(_summary_name(action, resource))
    return found if isinstance(found, WhoCanSummary) else None


def answered(action: str, resource: str) -> list[Allowed] | None:
    """The engine's answer to the question if it is kept for the current run, else None
    (never computed here; a question `assume_role_answer` answers is never kept)."""
    found = stored_for_run(_answer_name(action, resource))
    return found if isinstance(found, list) else None


def answers_in_background(action: str, resource: str) -> bool:
    """Whether the page answers the question, when not yet answered for the current run, in
    the background: the engine's question (`assume_role_answer` reads stored edges) on an
    estate of `BACKGROUND_FROM` users and roles or more. Without a run an answer is not kept:
    asked in the request."""
    if current_key() is None or _is_stored(action, resource):
        return False
    totals = estate_totals()
    return totals["users"] + totals["roles"] >= BACKGROUND_FROM


def _is_stored(action: str, resource: str) -> bool:
    """Whether `assume_role_answer` answers the question (from stored edges)."""
    return (
        action.casefold() == ASSUME_ROLE.casefold()
        and resource.startswith("arn:")
        and IamRole.objects.filter(arn=resource).exists()
    )


def start_answering(action: str, resource: str, *, now: datetime) -> bool:
    """Answer the question (`summarise_who_can`) in a thread of this process unless a process
    is answering it already; whether this call started it."""
    name = _summary_name(action, resource)
    if not claim_for_run(name, BACKGROUND_SECONDS):
        return False
    thread = threading.Thread(
        target=_answer, args=(action, resource, now), name=f"who-can {action}", daemon=True
    )
    thread.start()
    return True


def answer_failed(action: str, resource: str) -> bool:
    """Whether answering the question in the background failed lately (`BACKGROUND_SECONDS`;
    the log says why): the page says so rather than ask again."""
    return bool(stored_for_run(_failed_name(action, resource), False))


def _failed_name(action: str, resource: str) -> str:
    return f"who-can-failed:{action} {resource}"


def _answer(action: str, resource: str, now: datetime) -> None:
    try:
        summarise_who_can(action, resource, now=now)
    except Exception:
        logger.exception("who can %s on %s could not be answered", action, resource)
        store_for_run(_failed_name(action, resource), True, BACKGROUND_SECONDS)
    finally:
        release_for_run(_summary_name(action, resource))
        connections.close_all()  # this thread's own


# Questions answered when an analysis finishes (`warm_who_can`), so that no request pays for
# them: who can pass any role to a service, the question escalations turn on.
WARMED_QUESTIONS = (("iam:PassRole", "*"),)


@warmer("who-can")
def warm_who_can() -> None:
    """`summarise_who_can` (and so `answer_who_can`) of each of `WARMED_QUESTIONS`."""
    now = timezone.now()
    for action, resource in WARMED_QUESTIONS:
        summarise_who_can(action, resource, now=now)


@dataclass(frozen=True)
class AccountCount:
    """The principals of one account in an answer."""

    account_id: str
    users: int
    roles: int
    conditional: int

    @property
    def total(self) -> int:
        return self.users + self.roles


@dataclass(frozen=True)
class GrantCount:
    """The principals to whom the same statements grant the action; ``key`` names them in a
    URL."""

    key: str
    granted_by: tuple[str, ...]
    principals: int
    accounts: int
    conditional: int


@dataclass(frozen=True)
class WhoCanSummary:
    total: int
    users: int
    roles: int
    conditional: int
    by_account: tuple[AccountCount, ...]
    by_grant: tuple[GrantCount, ...]


def grant_key(granted_by: Iterable[str]) -> str:
    """A short stable name for a set of statement references."""
    return hashlib.sha256("\n".join(granted_by).encode()).hexdigest()[:12]


def summarise(found: Sequence[Allowed]) -> WhoCanSummary:
    """Counts of an answer: in all, per account (most principals first) and per granting
    statements (most principals first)."""
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    grants: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    grant_accounts: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for allowed in found:
        counts = kinds[allowed.account_id]
        counts[allowed.kind] += 1
        counts["conditional"] += allowed.conditional
        grant = grants[allowed.granted_by]
        grant["principals"] += 1
        grant["conditional"] += allowed.conditional
        grant_accounts[allowed.granted_by].add(allowed.account_id)
    by_account = sorted(
        (
            AccountCount(account, c["user"], c["role"], c["conditional"])
            for account, c in kinds.items()
        ),
        key=lambda row: (-row.total, row.account_id),
    )
    by_grant = sorted(
        (
            GrantCount(
                grant_key(refs),
                refs,
                c["principals"],
                len(grant_accounts[refs]),
                c["conditional"],
            )
            for refs, c in grants.items()
        ),
        key=lambda row: (-row.principals, row.granted_by),
    )
    return WhoCanSummary(
        total=len(found),
        users=sum(row.users for row in by_account),
        roles=sum(row.roles for row in by_account),
        conditional=sum(row.conditional for row in by_account),
        by_account=tuple(by_account),
        by_grant=tuple(by_grant),
    )


def select_allowed(
    found: Iterable[Allowed], *, account: str = "", grant: str = "", q: str = ""
) -> list[Allowed]:
    """The principals of one account and/or granted by one set of statements (`grant_key`),
    whose ARN contains ``q`` (any case)."""
    needle = q.casefold()
    keys: dict[tuple[str, ...], str] = {}

    def key_of(granted_by: tuple[str, ...]) -> str:
        found_key = keys.get(granted_by)
        if found_key is None:
            found_key = keys[granted_by] = grant_key(granted_by)
        return found_key

    return [
        allowed
        for allowed in found
        if (not account or allowed.account_id == account)
        and (not grant or key_of(allowed.granted_by) == grant)
        and needle in allowed.principal.casefold()
    ]
