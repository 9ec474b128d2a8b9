"""Sensitive targets: the roles staff marked sensitive, and who can reach one.

Staff write rules (`SensitiveTarget`): a role ARN, a role-name glob (``*break-glass*``) or a tag
(``env=prod``, the value may be a glob). The analysis reads them when it runs
(`load_sensitive_rules`), matches them against the estate's roles (`match_sensitive_roles`, pure)
and searches the same graph it searches for administrators for the principals that can reach a
sensitive role (the nearest, with its chain), storing both (`store_sensitive`). Every reach
question (the Access page, Changes, notifications, choke points) reads them as it reads the paths
to administrators. A change of the rules queues an analysis.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from identities.analysis.estate import Actor, Estate
from identities.analysis.reach import Reached
from identities.analysis.store import PATH_FIELDS, path_rows
from identities.db import delete_all, insert_rows
from identities.models import SensitivePath, SensitiveRole, SensitiveTarget

logger = logging.getLogger(__name__)

ARN, NAME_GLOB, TAG = "arn", "name_glob", "tag"


@dataclass(frozen=True)
class SensitiveRule:
    """One rule as the analysis reads it."""

    kind: str  # ARN | NAME_GLOB | TAG
    value: str
    reason: str = ""

    @property
    def text(self) -> str:
        return (
            f"{self.kind} {self.value}: {self.reason}"
            if self.reason
            else f"{self.kind} {self.value}"
        )

    def matches(self, role: Actor) -> bool:
        """Whether this rule marks ``role`` (globs are case-sensitive, as IAM names are)."""
        if self.kind == ARN:
            return role.arn == self.value
        if self.kind == NAME_GLOB:
            return fnmatch.fnmatchcase(role.name, self.value)
        key, _, pattern = self.value.partition("=")
        return any(
            fnmatch.fnmatchcase(tag_key, key) and fnmatch.fnmatchcase(tag_value, pattern or "*")
            for tag_key, tag_value in role.tags.items()
        )


def parse_tag_rule(value: str) -> tuple[str, str]:
    """``KEY=VALUE`` (or ``KEY`` alone: any value) split; raises ValueError without a key."""
    key, _, pattern = value.partition("=")
    if not key.strip():
        raise ValueError(f"{value!r}: a tag rule is KEY=VALUE (or KEY), with a key")
    return key.strip(), pattern.strip()


def load_sensitive_rules() -> list[SensitiveRule]:
    """The staff's rules as they are now (read once per analysis)."""
    return [
        SensitiveRule(kind, value, reason)
        for kind, value, reason in SensitiveTarget.objects.order_by("pk").values_list(
            "kind", "value", "reason"
        )
    ]


def match_sensitive_roles(
    rules: Sequence[SensitiveRule], roles: Iterable[Actor]
) -> dict[str, tuple[Actor, tuple[str, ...]]]:
    """Role ARN -> (the role, the texts of the rules that mark it), for every marked role."""
    found: dict[str, tuple[Actor, tuple[str, ...]]] = {}
    if not rules:
        return found
    for role in roles:
        matched = tuple(rule.text for rule in rules if rule.matches(role))
        if matched:
            found[role.arn] = (role, matched)
    return found


def store_sensitive(
    estate: Estate,
    sensitive: Mapping[str, tuple[Actor, tuple[str, ...]]],
    paths: Mapping[str, tuple[Reached, tuple[str, ...]]],
    source_kinds: Mapping[str, str],
) -> int:
    """Replace the stored sensitive roles and paths (inside the analysis' transaction);
    returns the number of paths. ``source_kinds`` names the kind of non-principal sources."""
    delete_all((SensitivePath, SensitiveRole))
    insert_rows(
        SensitiveRole,
        ["role_id", "arn", "rules"],
        (
            {"role_id": role.pk, "arn": arn, "rules": list(texts)}
            for arn, (role, texts) in sorted(sensitive.items())
        ),
    )
    if not paths:
        return 0
    target_pk = dict(SensitiveRole.objects.values_list("arn", "pk"))
    insert_rows(
        SensitivePath,
        [*PATH_FIELDS, "target_id"],
        path_rows(estate, paths, source_kinds, "target_id", target_pk),
    )
    logger.info("sensitive: %s roles, %s principals reach one", len(sensitive), len(paths))
    return len(paths)
