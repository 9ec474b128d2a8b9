"""Template filters of the AWS sync pages."""

from __future__ import annotations

import logging
from typing import Any

from django import template

from identities.models import SyncRun
from identities.queries.sync import run_change_total, total_changes

logger = logging.getLogger(__name__)

register = template.Library()


@register.filter
def changes_total(change_counts: dict[str, dict[str, int]] | None) -> int:
    """Added + removed + changed entries of a run's `change_counts`."""
    return total_changes(change_counts)


@register.filter
def run_changes(run: SyncRun) -> int:
    """A run's change total, one definition everywhere (see `run_change_total`)."""
    return run_change_total(run)


@register.filter
def words(name: str) -> str:
    """A snake_case key as words: `inline_policies` → `inline policies`."""
    return str(name).replace("_", " ")


@register.filter
def seconds(value: Any) -> str:
    """A duration in seconds as `42.0 s` or `3 min 05 s`; an em dash when unknown."""
    if value is None:
        return "—"
    total = float(value)
    if total < 60:
        return f"{total:.1f} s"
    minutes, rest = divmod(int(round(total)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
