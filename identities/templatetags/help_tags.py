"""The help of an edge or finding kind (`identities.help`) for templates."""

from __future__ import annotations

from django import template

from identities.help import Help, edge_help, finding_help

register = template.Library()


@register.filter(name="edge_help")
def edge_help_filter(kind: str) -> Help | None:
    return edge_help(kind)


@register.filter(name="finding_help")
def finding_help_filter(kind: str) -> Help | None:
    return finding_help(kind)
