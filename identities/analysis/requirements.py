"""What a conditional edge requires, in words, for each condition key it depends on.

The engine reports the keys that left a decision open; this module reads the Condition blocks of
the statements behind the edge to say what those keys must be (``MFA = true``, ``ExternalId =
…``, ``SourceIp in 203.0.113.0/24``). A key the granting Allow statements test is described
from them (several granting statements: any one suffices, so "or"); a key only another
statement tests (a Deny, a permissions boundary, an SCP or RCP) is described from that
statement, a Deny's as ``not (…)``.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from identities.analysis.estate import UNKNOWN_DOCUMENT_KEY
from identities.analysis.subjects import Subject, Target
from identities.policy import Effect, Statement
from identities.policy.describe import condition_key, describe_condition

UNKNOWN_DOCUMENT_TEXT = "a policy document the bundle does not hold allows it"


class Requirements:
    """Condition requirements of edges, each statement's conditions put in words once."""

    def __init__(self) -> None:
        self._texts: dict[int, dict[str, str]] = {}
        self._keep: dict[int, Statement] = {}  # keeps each statement whose id() is a memo key

    def of(
        self,
        keys: Sequence[str],
        granting: Sequence[Statement],
        others: Callable[[], Iterable[Statement]],
    ) -> dict[str, str]:
        """``key -> requirement`` for each of ``keys`` (as the edge lists them) that a
        statement tests; ``others`` yields the request's other statements, read only for keys
        the granting statements do not test."""
        wanted = {key.casefold(): key for key in keys}
        allows: dict[str, dict[str, None]] = {}
        for statement in granting:
            for folded, text in self._statement(statement).items():
                if folded in wanted:
                    allows.setdefault(folded, {})[text] = None
        rest: dict[str, dict[str, None]] = {}
        missing = set(wanted) - set(allows)
        if missing:
            granted = {id(statement) for statement in granting}
            for statement in others():
                if id(statement) in granted:
                    continue
                for folded, text in self._statement(statement).items():
                    if folded in missing:
                        shown = text if statement.effect is Effect.ALLOW else f"not ({text})"
                        rest.setdefault(folded, {})[shown] = None
        found: dict[str, str] = {}
        for folded, key in wanted.items():
            if key == UNKNOWN_DOCUMENT_KEY:
                found[key] = UNKNOWN_DOCUMENT_TEXT
                continue
            parts = list(allows.get(folded, ()))
            if len(parts) > 1:
                parts = [" or ".join(f"({part})" if " and " in part else part for part in parts)]
            parts.extend(rest.get(folded, ()))
            if parts:
                found[key] = " and ".join(parts)
        return found

    def _statement(self, statement: Statement) -> dict[str, str]:
        """Folded key -> the statement's conditions on it in words (AND-ed)."""
        found = self._texts.get(id(statement))
        if found is None:
            found = {}
            for condition in statement.conditions:
                folded = condition_key(condition).casefold()
                text = describe_condition(condition)
                found[folded] = f"{found[folded]} and {text}" if folded in found else text
            self._texts[id(statement)] = found
            self._keep[id(statement)] = statement
        return found


def request_statements(
    subject: Subject,
    target: Target,
    action: str,
    trust: Sequence[Statement],
    identity: Sequence[Statement],
) -> Iterator[Statement]:
    """Every statement the engine reads for ``subject`` assuming ``target``: trust, identity,
    boundary, SCPs and RCPs."""
    yield from trust
    yield from identity
    yield from subject.boundary or ()
    for levels in (subject.scp_levels, target.account.rcp_levels):
        for level in levels:
            for doc in level:
                yield from doc.statements_for(action)
