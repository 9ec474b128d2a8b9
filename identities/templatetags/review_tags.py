"""Template helpers of the review pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone

from identities.queries import changes

register = template.Library()


@register.simple_tag
def edge_query(query: str, item: Any) -> str:
    """The Changes page's query (its runs and filters) with this change's edge."""
    params = QueryDict(query, mutable=True)
    params["source"] = item.source
    params["target"] = item.target
    return params.urlencode()


@register.inclusion_tag("partials/new_since_last_sync.html")
def new_since_last_sync(arn: str) -> dict[str, Any]:
    """What the last analysis found new about this principal (a mark on its page)."""
    return {"items": changes.new_since_last_sync(arn, timezone.now()), "arn": arn}
